/* Symmetric eigendecomposition by LAPACK's divide and conquer (dsyevd), which OpenBLAS
 * ships. LAPACK is column-major; a symmetric matrix reads the same either way, and the
 * eigenvectors LAPACK leaves in its columns are the rows of the row-major result. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

/* The Fortran symbol; the trailing lengths are gfortran's hidden CHARACTER lengths. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

/* dsyevd on the n x n matrix a; lwork = liwork = -1 asks for the workspace sizes. */
static int syevd(const char *jobz, int n, double *a, double *vals, double *work, int lwork,
                 int *iwork, int liwork) {
    int info;
    dsyevd_(jobz, "U", &n, a, &n, vals, work, &lwork, iwork, &liwork, &info, 1, 1);
    assert(info >= 0); /* a negative info names an argument passed wrongly here */
    return info;
}

wg_status met_sym_eigen(double *a, int n, double *vals, double *vecs) {
    if (n == 0) return WG_OK;
    const char *jobz = vecs ? "V" : "N";
    double lwork;
    int liwork;
    syevd(jobz, n, a, vals, &lwork, -1, &liwork, -1);
    double *work = NULL;
    int *iwork = NULL;
    wg_status s = met_alloc((void **)&work, (size_t)lwork, sizeof *work, "symmetric eigensolver");
    if (s == WG_OK)
        s = met_alloc((void **)&iwork, (size_t)liwork, sizeof *iwork, "symmetric eigensolver");
    if (s == WG_OK) {
        int info = syevd(jobz, n, a, vals, work, (int)lwork, iwork, liwork);
        if (info > 0)
            s = wg_fail(WG_ERR_NUMERIC, "symmetric eigensolver: dsyevd did not converge (%d)",
                        info);
        else if (vecs)
            memcpy(vecs, a, (size_t)n * n * sizeof *vecs);
    }
    free(work);
    free(iwork);
    return s;
}

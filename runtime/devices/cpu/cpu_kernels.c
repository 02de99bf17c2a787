/* Instantiates cpu_kernels_template.h and cpu_fused_template.h for float and double. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>

#include "cpu_internal.h"
#include "fuse.h"
#include "wgan/philox.h"

#define REAL float
#define FN(name) name##_f32
#define RF(name) name##f
#define GEMM cblas_sgemm
#include "cpu_kernels_template.h"
#include "cpu_fused_template.h"
#undef REAL
#undef FN
#undef RF
#undef GEMM

#define REAL double
#define FN(name) name##_f64
#define RF(name) name
#define GEMM cblas_dgemm
#include "cpu_kernels_template.h"
#include "cpu_fused_template.h"
#undef REAL
#undef FN
#undef RF
#undef GEMM

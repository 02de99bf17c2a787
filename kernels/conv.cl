/* Convolution as GEMM over the whole batch. The column matrix has one row per (c, r, s)
 * and one column per (n, p, q): col[(c R + r) S + s][(n P + p) Q + q]. `conv` holds
 * (stride_h, stride_w, pad_h, pad_w). */

/* 2-D range: dimension 0 over the N*P*Q columns, dimension 1 over the C*R*S rows. */
__kernel void wg_im2col(__global REAL *col, ulong co, __global const REAL *x, ulong xo,
                        int C, int H, int W, int R, int S, int P, int Q, int npq,
                        int4 conv) {
    int j = get_global_id(0), row = get_global_id(1);
    if (j >= npq) return;
    int q = j % Q, t = j / Q;
    int p = t % P, n = t / P;
    int s = row % S;
    t = row / S;
    int r = t % R, c = t / R;
    int h = p * conv.x - conv.z + r, w = q * conv.y - conv.w + s;
    REAL v = REAL_C(0.0);
    if (h >= 0 && h < H && w >= 0 && w < W) v = x[xo + ((long)(n * C + c) * H + h) * W + w];
    col[co + (long)row * npq + j] = v;
}

/* The adjoint of im2col: x[n, c, h, w] sums every column entry that im2col read from
 * it. A gather, so no atomics: one work item per image element. */
__kernel void wg_col2im(__global REAL *x, ulong xo, __global const REAL *col, ulong co, int n_x,
                        int C, int H, int W, int R, int S, int P, int Q, int npq, int4 conv) {
    int i = get_global_id(0);
    if (i >= n_x) return;
    int w = i % W, t = i / W;
    int h = t % H;
    t /= H;
    int c = t % C, n = t / C;
    REAL acc = REAL_C(0.0);
    int hp = h + conv.z, wq = w + conv.w;
    /* r must satisfy (hp - r) % stride_h == 0 with 0 <= (hp - r) / stride_h < P */
    for (int r = hp % conv.x; r < R; r += conv.x) {
        int p = (hp - r) / conv.x;
        if (p < 0) break;
        if (p >= P) continue;
        for (int s = wq % conv.y; s < S; s += conv.y) {
            int q = (wq - s) / conv.y;
            if (q < 0) break;
            if (q >= Q) continue;
            acc += col[co + ((long)(c * R + r) * S + s) * npq + (n * P + p) * Q + q];
        }
    }
    x[xo + i] = acc;
}

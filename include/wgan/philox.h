/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), shared
 * verbatim by the C backends and the OpenCL kernels so every device draws the same
 * bits for the same (seed, stream, step, element).
 *
 * A draw is named by a key string ("critic_step/lipschitz.gradient_penalty/alpha"),
 * never by the order in which draws were made: its 64-bit stream is
 * wg_philox_stream(key), FNV-1a over the key's bytes followed by MurmurHash3's fmix64
 * finaliser. Element i of a draw at step t uses the block counter (i_lo, i_hi, t_lo,
 * t_hi) under the key seed ^ stream (low word first). For a fixed seed, distinct
 * streams give distinct keys, so two draws share numbers only when their key strings
 * hash alike: about 2^-64 per pair, and the graph refuses two draws of one stream.
 *
 * Uniform takes word 0, normal takes words 0 and 1 (Box-Muller, cosine branch).
 * Uniform values are ((x >> 8) + 0.5) / 2^24, in (0, 1), so log() of one is always
 * finite. */
#ifndef WGAN_PHILOX_H
#define WGAN_PHILOX_H

#ifdef __OPENCL_VERSION__
typedef uint wg_u32;
typedef ulong wg_u64;
#define WG_PHILOX_INLINE inline
#else
#include <stdint.h>
typedef uint32_t wg_u32;
typedef uint64_t wg_u64;
#define WG_PHILOX_INLINE static inline
#endif

/* The step of host-side draws made once per run (parameter initialisation, the fixed
 * noise of pictures and evaluations): a step no session reaches. */
#define WG_PHILOX_HOST_STEP (~(wg_u64)0)

typedef struct wg_philox_block {
    wg_u32 x[4];
} wg_philox_block;

WG_PHILOX_INLINE wg_philox_block wg_philox4x32(wg_u32 c0, wg_u32 c1, wg_u32 c2, wg_u32 c3,
                                               wg_u32 k0, wg_u32 k1) {
    const wg_u32 m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
    const wg_u32 w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
    for (int round = 0; round < 10; round++) {
        wg_u64 p0 = (wg_u64)m0 * c0, p1 = (wg_u64)m1 * c2;
        wg_u32 hi0 = (wg_u32)(p0 >> 32), lo0 = (wg_u32)p0;
        wg_u32 hi1 = (wg_u32)(p1 >> 32), lo1 = (wg_u32)p1;
        wg_u32 n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += w0;
        k1 += w1;
    }
    wg_philox_block b;
    b.x[0] = c0;
    b.x[1] = c1;
    b.x[2] = c2;
    b.x[3] = c3;
    return b;
}

WG_PHILOX_INLINE wg_philox_block wg_philox_element(wg_u64 element, wg_u64 stream, wg_u64 step,
                                                   wg_u64 seed) {
    const wg_u64 key = seed ^ stream;
    return wg_philox4x32((wg_u32)element, (wg_u32)(element >> 32), (wg_u32)step,
                         (wg_u32)(step >> 32), (wg_u32)key, (wg_u32)(key >> 32));
}

/* 24-bit uniform in (0, 1), exactly representable in float. */
WG_PHILOX_INLINE float wg_philox_unit(wg_u32 bits) {
    return ((float)(bits >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

#ifndef __OPENCL_VERSION__
/* The stream of the draw named `key` (a NUL-terminated string). */
WG_PHILOX_INLINE wg_u64 wg_philox_stream(const char *key) {
    wg_u64 h = 0xcbf29ce484222325u; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    h ^= h >> 33; /* fmix64: every input bit reaches every output bit */
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}
#endif

#endif

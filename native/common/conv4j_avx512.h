/*
 * Helpers of the AVX-512 variants (the files named *_avx512.c, compiled with -mavx512f -mfma and
 * called only where conv4j_cpu_has_avx512()).
 */
#ifndef CONV4J_AVX512_H
#define CONV4J_AVX512_H

#ifndef __AVX512F__
#error "compile the AVX-512 variants with -mavx512f -mfma"
#endif

#include <immintrin.h>
#include "common/conv4j_common.h"

/* the first n of 16 lanes (none for n <= 0, all for n >= 16) */
static inline __mmask16 conv4j_lanes(long long n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* GCC's shuffle intrinsics start from an "undefined" vector, which it may report as uninitialized */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
/* transposes the 16 x 16 block in r */
static inline void conv4j_transpose16(__m512 *r) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
        r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD);
    }
}
#pragma GCC diagnostic pop

/* One row of a column matrix for column stride 2: dst[j] = src[2j + iw0] for j in [lo, hi), 0
   elsewhere in [0, ow), src being an input row of w floats. Two loads and a permute give 16
   outputs; the lanes masked off (outside the row) are never read. In im2col_avx512.c; the depthwise
   weight gradient pads its rows with it. */
void conv4j_stride2_row(float *dst, const float *src, int w, int iw0, int lo, int hi, int ow);

#endif

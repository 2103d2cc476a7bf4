/*
 * Helpers of the AVX2 variants (the files named *_avx2.c, compiled with -mavx2 -mfma and called only
 * where conv4j_cpu_has_avx2()).
 */
#ifndef CONV4J_AVX2_H
#define CONV4J_AVX2_H

#ifndef __AVX2__
#error "compile the AVX2 variants with -mavx2 -mfma"
#endif

#include <immintrin.h>
#include "common/conv4j_common.h"

/* the first n of 8 lanes as a maskload/maskstore mask (none for n <= 0, all for n >= 8) */
static inline __m256i conv4j_lanes8(long long n) {
    const int k = n >= 8 ? 8 : n <= 0 ? 0 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* transposes the 8 x 8 block in r */
static inline void conv4j_transpose8(__m256 *r) {
    __m256 t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        r[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm256_permute2f128_ps(r[i], r[4 + i], 0x20);
        t[4 + i] = _mm256_permute2f128_ps(r[i], r[4 + i], 0x31);
    }
    for (int i = 0; i < 8; i++) r[i] = t[i];
}

#endif

/*
 * Runtime ISA dispatch for the hand-vectorized kernels (depthwise, direct, channel sums): the same
 * C compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 with FMA) and baseline x86-64, and the loader
 * picks the best one the CPU has (GCC ifunc), so the library runs on any x86-64 CPU without
 * -march=native. The "arch=" levels matter: GCC's plain "avx512f" or "avx2" clones leave out FMA,
 * which halves the multiply-add throughput. Defining the macro beforehand builds one variant only
 * (to time it).
 */
#ifndef CONV4J_DISPATCH_H
#define CONV4J_DISPATCH_H

#ifndef CONV4J_MULTIVERSION
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define CONV4J_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CONV4J_MULTIVERSION
#endif
#endif

/* Kernels written for AVX-512 with intrinsics: compiled for it, called only where conv4j_has_avx512(). */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>
#define CONV4J_AVX512 __attribute__((target("avx512f,fma")))

/* CONV4J_NO_AVX512 set in the environment turns these kernels off, to compare or test the others. */
static inline int conv4j_has_avx512(void) {
    static int known = -1; /* racing threads store the same value */
    int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512f") && !getenv("CONV4J_NO_AVX512") ? 1 : 0;
        __atomic_store_n(&known, v, __ATOMIC_RELAXED);
    }
    return v;
}

/* the first n of 16 lanes (none for n <= 0, all for n >= 16) */
static inline __mmask16 conv4j_lanes(long long n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* GCC's shuffle intrinsics start from an "undefined" vector, which g++ reports as uninitialized */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
/* transposes the 16 x 16 block in r */
CONV4J_AVX512
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
#else
static inline int conv4j_has_avx512(void) { return 0; }
#endif

#endif

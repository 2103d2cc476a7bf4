/*
 * What every kernel file shares. The kernels are compiled as separate files into one library in which
 * only the entry points of conv4j.h are visible (-fvisibility=hidden): everything else has external
 * linkage inside the library, so families call each other without an export list.
 */
#ifndef CONV4J_COMMON_H
#define CONV4J_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Plain C compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 with FMA) and baseline x86-64, the
 * dynamic loader picking the best one the CPU has (GCC ifunc): for the generic kernels, whose loops
 * gcc vectorizes. The "arch=" levels matter: GCC's plain "avx512f" or "avx2" clones leave out FMA,
 * which halves the multiply-add throughput. Defining the macro beforehand builds one variant only
 * (to time it).
 */
#ifndef CONV4J_MULTIVERSION
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define CONV4J_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CONV4J_MULTIVERSION
#endif
#endif

/* Internal functions that GCC would export anyway: those compiled for several ISA levels (their ifunc
   symbols ignore -fvisibility=hidden). */
#define CONV4J_HIDDEN __attribute__((visibility("hidden")))

typedef float conv4j_v16 __attribute__((vector_size(64), aligned(4), may_alias));
typedef int conv4j_i16 __attribute__((vector_size(64)));

/* The output positions j in [*lo, *hi) whose input position j*s + i0 lies inside [0, n), for out
   outputs: splitting a row this way leaves the inner loops without bounds tests, so they vectorize. */
static inline void conv4j_valid_cols(int i0, int s, int n, int out, int *lo, int *hi) {
    /* 64-bit: with a huge padding and a huge stride, -i0 + s would wrap around in 32 bits (and
       im2col would write before its buffer) */
    long long a, b, x0 = i0;
    if (s == 1) { /* no division: this runs once per kernel column of every call */
        a = x0 >= 0 ? 0 : -x0;
        b = (long long)n - x0;
    } else {
        a = x0 >= 0 ? 0 : (-x0 + s - 1) / s;
        b = x0 > n - 1 ? 0 : ((long long)n - 1 - x0) / s + 1;
    }
    if (a > out) a = out;
    if (b > out) b = out;
    if (b < a) b = a;
    *lo = (int)a;
    *hi = (int)b;
}

/* IEEE semantics: padding is zeros that are multiplied, so a NaN or infinite weight (or output
   gradient) meets 0 there and makes NaN, as in the definition on the explicitly padded input. The
   fast paths skip padded taps, which only matters when a value is not finite; this tells when. */
static inline int conv4j_all_finite(const float *p, size_t n) {
    /* exponent bits all set: NaN or +-Inf. Integer tests in blocks vectorize, where a float test
       with an early exit ran one element at a time. */
    for (size_t i = 0; i < n; i += 1024) {
        size_t e = n - i < 1024 ? n - i : 1024;
        unsigned bad = 0;
        for (size_t k = 0; k < e; k++) {
            uint32_t b;
            memcpy(&b, p + i + k, sizeof b);
            bad |= (b & 0x7f800000u) == 0x7f800000u;
        }
        if (bad) return 0;
    }
    return 1;
}

/* The largest magnitude among n floats, as bits with the sign cleared: an integer max, which
   vectorizes (a float max would not, without reassociation). Bits from CONV4J_NONFINITE up mean an
   infinity or a NaN; below, they order like the magnitudes. conv4j_scan_top is the same over long
   stretches, compiled for each ISA level. */
#define CONV4J_NONFINITE 0x7f800000u
static inline uint32_t conv4j_top_bits(const float *v, size_t n) {
    uint32_t top = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t bits;
        memcpy(&bits, v + j, sizeof bits);
        bits &= 0x7fffffffu;
        top = bits > top ? bits : top;
    }
    return top;
}
CONV4J_HIDDEN uint32_t conv4j_scan_top(const float *v, size_t n);

#endif

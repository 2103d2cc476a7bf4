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

#endif

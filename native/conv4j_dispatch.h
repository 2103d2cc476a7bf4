/*
 * Runtime ISA dispatch for the hand-vectorized kernels: the same C body compiled three times, for
 * AVX-512 (with FMA), AVX2 (with FMA) and baseline x86-64, and picked once per call by what the CPU
 * reports, so the library runs on any x86-64 CPU without -march=native. GCC's target_clones would
 * be shorter, but its "avx512f" clone leaves out FMA, which halves the multiply-add throughput; and
 * ISO C mode turns contraction off, so the FMA versions ask for a*b+c to be fused explicitly (their
 * results may then differ from the baseline's in the last bit).
 *
 *   CONV4J_DISPATCH(name, (params), (args)) defines name(params), calling name_body(args), an
 *   always_inline function, compiled for the best ISA available.
 */
#ifndef CONV4J_DISPATCH_H
#define CONV4J_DISPATCH_H

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)

/* 2: AVX-512F/VL with FMA, 1: AVX2 with FMA, 0: baseline. */
static inline int conv4j_isa(void) {
    static int level = -1;
    int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (l < 0) {
        __builtin_cpu_init();
        int fma = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
        l = fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 2 : fma ? 1 : 0;
        __atomic_store_n(&level, l, __ATOMIC_RELAXED);
    }
    return l;
}

#define CONV4J_DISPATCH(name, params, args)                                                           \
    __attribute__((target("avx512f,avx512vl,avx2,fma"), optimize("fp-contract=fast"), noinline))        \
    static void name##_avx512 params { name##_body args; }                                            \
    __attribute__((target("avx2,fma"), optimize("fp-contract=fast"), noinline))                         \
    static void name##_avx2 params { name##_body args; }                                              \
    __attribute__((noinline)) static void name##_base params { name##_body args; }                    \
    static inline void name params {                                                                  \
        switch (conv4j_isa()) {                                                                       \
        case 2: name##_avx512 args; break;                                                            \
        case 1: name##_avx2 args; break;                                                              \
        default: name##_base args; break;                                                             \
        }                                                                                             \
    }

#else

#define CONV4J_DISPATCH(name, params, args) \
    static inline void name params { name##_body args; }

#endif

#endif

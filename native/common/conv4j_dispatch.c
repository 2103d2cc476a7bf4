/* The variant of each kernel family, chosen once when the library loads (see conv4j_dispatch.h). */
#include <stdlib.h>
#include "conv4j.h"
#include "common/conv4j_dispatch.h"
#include "im2col/im2col.h"
#include "gemm/gemm.h"
#include "depthwise/depthwise.h"

const conv4j_im2col_ops *conv4j_im2col = &conv4j_im2col_generic;
const conv4j_gemm_ops *conv4j_gemm = &conv4j_gemm_generic;
const conv4j_dw_ops *conv4j_dw = &conv4j_dw_generic;

int conv4j_cpu_has_avx512(void) {
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init(); /* needed before the loader has run the library's other initializers */
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

int conv4j_cpu_has_avx2(void) {
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int runs(conv4j_isa isa) {
    return isa == CONV4J_ISA_GENERIC || (isa == CONV4J_ISA_AVX512 && conv4j_cpu_has_avx512())
           || (isa == CONV4J_ISA_AVX2 && conv4j_cpu_has_avx2());
}

/* (im2col has no AVX2 variant and takes its generic one there) */
const conv4j_im2col_ops *conv4j_im2col_variant(conv4j_isa isa) {
    return !runs(isa) ? NULL : isa == CONV4J_ISA_AVX512 ? &conv4j_im2col_avx512 : &conv4j_im2col_generic;
}

const conv4j_gemm_ops *conv4j_gemm_variant_ops(conv4j_isa isa) {
    return !runs(isa) ? NULL : isa == CONV4J_ISA_AVX512 ? &conv4j_gemm_avx512 : isa == CONV4J_ISA_AVX2 ? &conv4j_gemm_avx2 : &conv4j_gemm_generic;
}

const conv4j_dw_ops *conv4j_dw_variant(conv4j_isa isa) {
    return !runs(isa) ? NULL : isa == CONV4J_ISA_AVX512 ? &conv4j_dw_avx512 : isa == CONV4J_ISA_AVX2 ? &conv4j_dw_avx2 : &conv4j_dw_generic;
}

static conv4j_isa chosen = CONV4J_ISA_GENERIC;

int conv4j_use_isa(int isa) {
    if (isa != CONV4J_ISA_GENERIC && isa != CONV4J_ISA_AVX512 && isa != CONV4J_ISA_AVX2) return 0;
    const conv4j_im2col_ops *i = conv4j_im2col_variant((conv4j_isa)isa);
    const conv4j_gemm_ops *g = conv4j_gemm_variant_ops((conv4j_isa)isa);
    const conv4j_dw_ops *d = conv4j_dw_variant((conv4j_isa)isa);
    if (!i || !g || !d) return 0;
    conv4j_im2col = i;
    conv4j_gemm = g;
    conv4j_dw = d;
    chosen = (conv4j_isa)isa;
    return 1;
}

int conv4j_isa_in_use(void) {
    return chosen;
}

/* Runs when the library is loaded, before any kernel can be called. */
__attribute__((constructor)) static void conv4j_choose_variants(void) {
    conv4j_use_isa(conv4j_cpu_has_avx512() && !getenv("CONV4J_NO_AVX512")               ? CONV4J_ISA_AVX512
                   : conv4j_cpu_has_avx2() && !getenv("CONV4J_NO_AVX2")                 ? CONV4J_ISA_AVX2
                                                                                        : CONV4J_ISA_GENERIC);
}

/*
 * Which variant of each kernel family runs. Families with hand-written AVX-512 kernels (im2col,
 * gemm, depthwise) come as a table of functions per variant, each variant a file compiled for its
 * instruction set: the generic one for any x86-64, the AVX-512 one with -mavx512f -mfma. The
 * channel-blocked kernel also has an AVX2 variant (-mavx2 -mfma); the families without one run their
 * generic variant on such CPUs. The instruction set is chosen once, when the library loads: AVX-512
 * where the CPU has it and the environment variable CONV4J_NO_AVX512 is not set, else AVX2 (with FMA)
 * where the CPU has it and CONV4J_NO_AVX2 is not set, else generic (the tests use the switches to run
 * the paths other CPUs take). Kernels then call through the tables without asking again.
 */
#ifndef CONV4J_DISPATCH_H
#define CONV4J_DISPATCH_H

typedef enum { CONV4J_ISA_GENERIC = 0, CONV4J_ISA_AVX512 = 1, CONV4J_ISA_AVX2 = 2 } conv4j_isa;

/* Whether the CPU runs the AVX-512 variants (AVX-512F; every such CPU also has FMA). */
int conv4j_cpu_has_avx512(void);
/* Whether the CPU runs the AVX2 variants (AVX2 and FMA). */
int conv4j_cpu_has_avx2(void);

struct conv4j_im2col_ops;
struct conv4j_gemm_ops;
struct conv4j_dw_ops;

/* The chosen tables. */
extern const struct conv4j_im2col_ops *conv4j_im2col;
extern const struct conv4j_gemm_ops *conv4j_gemm;
extern const struct conv4j_dw_ops *conv4j_dw;

/* Every family's table for an instruction set, or null where this CPU cannot run it. */
const struct conv4j_im2col_ops *conv4j_im2col_variant(conv4j_isa isa);
const struct conv4j_gemm_ops *conv4j_gemm_variant_ops(conv4j_isa isa);
const struct conv4j_dw_ops *conv4j_dw_variant(conv4j_isa isa);

#endif

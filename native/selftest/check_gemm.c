/* The products of one gemm variant against their definition. */
#include "selftest.h"

/* C = beta C + op(A) op(B) with padded leading dimensions, C's padding left untouched: through the
   variant's choice of kernel, or (kind) on one kernel whatever the size. */
static int check_product(const conv4j_gemm_ops *ops, float *pack, int t, int kind, int m, int n, int k) {
    int ta = rand() % 2, tb = rand() % 2;
    float beta = t % 3 == 0 ? 0.f : t % 3 == 1 ? 1.f : 0.5f;
    int lda = (ta ? m : k) + rand() % 3, ldb = (tb ? k : n) + rand() % 3, ldc = n + rand() % 3;
    float *a = rnd((size_t)lda * (ta ? k : m)), *b = rnd((size_t)ldb * (tb ? n : k)), *c = beta == 0.f ? nans((size_t)ldc * m) : rnd((size_t)ldc * m);
    for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++) c[(size_t)i * ldc + j] = 7.f; /* C's padding */
    double *ref = malloc(sizeof(double) * (size_t)ldc * m);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++) {
            double r = c[(size_t)i * ldc + j];
            if (j < n) {
                r = beta == 0.f ? 0. : r * beta;
                for (int p = 0; p < k; p++)
                    r += (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) * (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            }
            ref[(size_t)i * ldc + j] = r;
        }
    if (kind == CONV4J_GEMM_OPENBLAS) {
        ops->sgemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, pack);
    } else {
        ops->run((conv4j_gemm_kind)kind, ta, tb, m, n, k, a, lda, b, ldb, NULL, beta, c, ldc, pack);
    }
    char what[160];
    snprintf(what, sizeof what, "%s sgemm (kernel %d, m=%d n=%d k=%d ta=%d tb=%d beta=%g)", ops->isa, kind, m, n, k, ta, tb, beta);
    int bad = check_all(what, t, c, ref, (size_t)ldc * m, 1e-5 * (1 + sqrt((double)k)));
    free(a); free(b); free(c); free(ref);
    return bad;
}

int check_gemm(const conv4j_gemm_ops *ops) {
    float *pack = ops->pack_floats ? malloc(sizeof(float) * (size_t)ops->pack_floats) : NULL;
    int cases = 0;
    /* wide and narrow, every transpose, edges of every block size, beta 0, 1 and in between */
    for (int t = 0; t < 60 && !failures; t++, cases++) {
        int m = rnd_int(1, t % 4 == 0 ? 600 : 40), n = t % 2 ? CONV4J_GEMM_MIN_N + rand() % 600 : rnd_int(1, CONV4J_GEMM_MIN_N);
        check_product(ops, pack, t, CONV4J_GEMM_OPENBLAS, m, n, rnd_int(1, t % 3 == 0 ? 700 : 300));
    }
    /* each of the variant's own kernels, on any size */
    for (int t = 0; ops->run && t < 60 && !failures; t++, cases++) {
        check_product(ops, pack, t, t % 2 ? CONV4J_GEMM_WIDE : CONV4J_GEMM_NARROW_T, rnd_int(1, t % 5 ? 50 : 530),
                      rnd_int(1, t % 3 ? 70 : 500), rnd_int(1, t % 4 ? 40 : 600));
    }
    free(pack);
    return cases;
}

/* The wide kernel gathering its B, the column matrix of a band (or its transpose), from the image:
   strides 1 to 3 (1 and 2 transposed), dilation, padding, short rows (many runs per panel),
   kernels wider than the masks kept per panel, bands starting inside the image. */
static int check_gathered(const conv4j_gemm_ops *ops, float *pack, int t) {
    const int tb = t % 2;
    conv4j_columns s;
    s.cn = rnd_int(1, 4); s.kh = rnd_int(1, 5); s.kw = t % 7 == 0 && !tb ? rnd_int(17, 20) : rnd_int(1, 5);
    s.sh = rnd_int(1, 3); s.sw = tb ? rnd_int(1, 2) : rnd_int(1, 3); s.dh = rnd_int(1, 2); s.dw = rnd_int(1, 2);
    s.pt = rnd_int(0, 3); s.pl = rnd_int(0, 3);
    int pb = rnd_int(0, 3), pr = rnd_int(0, 3);
    s.h = s.dh * (s.kh - 1) + rnd_int(1, 14);
    s.w = s.dw * (s.kw - 1) + rnd_int(1, t % 3 ? 60 : 8);
    const int oh = (s.h + s.pt + pb - s.dh * (s.kh - 1) - 1) / s.sh + 1;
    s.ow = (s.w + s.pl + pr - s.dw * (s.kw - 1) - 1) / s.sw + 1;
    s.oh0 = rnd_int(0, oh - 1);
    s.rows = rnd_int(1, oh - s.oh0);
    float *x = rnd((size_t)s.cn * s.h * s.w);
    s.x = x;
    /* B: K x P (P = rows*ow), or its transpose; C = A B: m x P, or m x K with A m x P */
    const int K = s.cn * s.kh * s.kw, P = s.rows * s.ow, m = rnd_int(1, 30), k = tb ? P : K, n = tb ? K : P;
    float *a = rnd((size_t)m * k), *c = nans((size_t)m * n);
    double *ref = malloc(sizeof(double) * (size_t)m * n);
    for (int i = 0; i < m; i++)
        for (int e = 0; e < n; e++) {
            double sum = 0;
            for (int l = 0; l < k; l++) {
                const int r = tb ? e : l, j = tb ? l : e;
                const int ch = r / (s.kh * s.kw), p = r / s.kw % s.kh, q = r % s.kw, row = j / s.ow, col = j % s.ow;
                long long ih = (long long)(s.oh0 + row) * s.sh - s.pt + (long long)p * s.dh;
                long long iw = (long long)col * s.sw - s.pl + (long long)q * s.dw;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                sum += (double)a[(size_t)i * k + l] * x[((size_t)ch * s.h + ih) * s.w + iw];
            }
            ref[(size_t)i * n + e] = sum;
        }
    ops->run(CONV4J_GEMM_WIDE, 0, tb, m, n, k, a, k, NULL, 0, &s, 0.f, c, n, pack);
    char what[200];
    snprintf(what, sizeof what, "%s gathering sgemm (tb=%d, %dx%d input, kernel %dx%d, stride %d,%d, band %d+%d)", ops->isa,
             tb, s.h, s.w, s.kh, s.kw, s.sh, s.sw, s.oh0, s.rows);
    int bad = check_all(what, t, c, ref, (size_t)m * n, 1e-5 * (1 + sqrt((double)k)));
    free(x); free(a); free(c); free(ref);
    return bad;
}

int check_gemm_columns(const conv4j_gemm_ops *ops) {
    if (!ops->run) return 0;
    float *pack = malloc(sizeof(float) * (size_t)ops->pack_floats);
    int cases = 0;
    for (int t = 0; t < 60 && !failures; t++, cases++) check_gathered(ops, pack, t);
    free(pack);
    return cases;
}

/* The self-test's driver and the definition it checks against (selftest.h). */
#include "selftest.h"

int failures = 0;

int rnd_int(int lo, int hi) {
    return lo + rand() % (hi - lo + 1);
}

float *rnd(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = (float)rand() / RAND_MAX * 2.f - 1.f;
    return p;
}

float *nans(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

float *copy(const float *p, size_t n) {
    float *q = malloc(sizeof(float) * (n ? n : 1));
    memcpy(q, p, sizeof(float) * n);
    return q;
}

int differs(double got, double ref, double tol) {
    if (isnan(ref) || isnan(got)) return isnan(ref) != isnan(got);
    if (isinf(ref) || isinf(got)) return got != ref;
    return !(fabs(got - ref) <= tol * (1 + fabs(ref)));
}

int check_all(const char *what, int test, const float *got, const double *ref, size_t n, double tol) {
    for (size_t e = 0; e < n; e++) {
        if (differs(got[e], ref[e], tol)) {
            fprintf(stderr, "%s, case %d: element %zu is %g, the definition gives %g\n", what, test, e, got[e], ref[e]);
            failures++;
            return 1;
        }
    }
    return 0;
}

int conv_resolve(conv *g) {
    long long spanH = (long long)g->h + g->pt + g->pb - (long long)g->dh * (g->kh - 1) - 1;
    long long spanW = (long long)g->w + g->pl + g->pr - (long long)g->dw * (g->kw - 1) - 1;
    if (spanH < 0 || spanW < 0) return 0;
    g->oh = (int)(spanH / g->sh + 1);
    g->ow = (int)(spanW / g->sw + 1);
    return 1;
}

conv4j_conv_shape conv_shape(const conv *g, int c, int o) {
    conv4j_conv_shape s = {g->n, c, g->h, g->w, o, g->kh, g->kw, g->oh, g->ow, g->sh, g->sw, g->pt, g->pl, g->dh, g->dw,
                           g->o / g->c};
    return s;
}

double conv_input(const conv *g, const float *x, int n, int c, long long i, long long j, int p, int q) {
    long long ih = i * g->sh - g->pt + (long long)p * g->dh, iw = j * g->sw - g->pl + (long long)q * g->dw;
    if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) return 0.;
    return x[(((size_t)n * g->c + c) * g->h + ih) * g->w + iw];
}

double conv_forward(const conv *g, const float *x, const float *w, int n, int o, int i, int j) {
    const int cg = g->c / g->groups, og = g->o / g->groups, c0 = o / og * cg;
    double s = 0;
    for (int c = 0; c < cg; c++)
        for (int p = 0; p < g->kh; p++)
            for (int q = 0; q < g->kw; q++)
                s += w[(((size_t)o * cg + c) * g->kh + p) * g->kw + q] * conv_input(g, x, n, c0 + c, i, j, p, q);
    return s;
}

void conv_input_gradient(const conv *g, const float *gy, const float *w, double *gx) {
    const int cg = g->c / g->groups, og = g->o / g->groups;
    memset(gx, 0, sizeof(double) * (size_t)g->n * g->c * g->h * g->w);
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->o; o++)
            for (int c = 0; c < cg; c++)
                for (int p = 0; p < g->kh; p++)
                    for (int q = 0; q < g->kw; q++) {
                        const double k = w[(((size_t)o * cg + c) * g->kh + p) * g->kw + q];
                        for (int i = 0; i < g->oh; i++)
                            for (int j = 0; j < g->ow; j++) {
                                long long ih = (long long)i * g->sh - g->pt + (long long)p * g->dh;
                                long long iw = (long long)j * g->sw - g->pl + (long long)q * g->dw;
                                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                                gx[(((size_t)n * g->c + o / og * cg + c) * g->h + ih) * g->w + iw] +=
                                    k * gy[(((size_t)n * g->o + o) * g->oh + i) * g->ow + j];
                            }
                    }
}

void conv_weight_gradient(const conv *g, const float *x, const float *gy, double *gw) {
    const int cg = g->c / g->groups, og = g->o / g->groups;
    for (int o = 0; o < g->o; o++)
        for (int c = 0; c < cg; c++)
            for (int p = 0; p < g->kh; p++)
                for (int q = 0; q < g->kw; q++) {
                    double s = 0;
                    for (int n = 0; n < g->n; n++)
                        for (int i = 0; i < g->oh; i++)
                            for (int j = 0; j < g->ow; j++)
                                s += (double)gy[(((size_t)n * g->o + o) * g->oh + i) * g->ow + j]
                                     * conv_input(g, x, n, o / og * cg + c, i, j, p, q);
                    gw[(((size_t)o * cg + c) * g->kh + p) * g->kw + q] = s;
                }
}

size_t at(int layout, int c, int h, int w, int ci, int hi, int wi) {
    switch (layout) {
    case CONV4J_LAYOUT_NHWC: return ((size_t)hi * w + wi) * c + ci;
    case CONV4J_LAYOUT_NCHW16C: return (((size_t)(ci >> 4) * h + hi) * w + wi) * 16 + (ci & 15);
    default: return ((size_t)ci * h + hi) * w + wi;
    }
}

size_t image(int layout, int c, int h, int w) {
    return (size_t)(layout == CONV4J_LAYOUT_NCHW16C ? (c + 15) / 16 * 16 : c) * h * w;
}

/* An NCHW batch in a layout (padding channels 0). */
float *relayout(const float *src, int layout, int n, int c, int h, int w) {
    const size_t img = image(layout, c, h, w);
    float *dst = calloc((size_t)n * img, sizeof(float));
    for (int b = 0; b < n; b++)
        for (int ci = 0; ci < c; ci++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    dst[b * img + at(layout, c, h, w, ci, i, j)] = src[(((size_t)b * c + ci) * h + i) * w + j];
    return dst;
}

static const char *isa_name(int isa) {
    return isa == CONV4J_ISA_AVX512 ? "avx512" : isa == CONV4J_ISA_AVX2 ? "avx2" : "generic";
}

/* Every check, for the variants of one instruction set. */
static void check_variant(int isa) {
    const conv4j_im2col_ops *im = conv4j_im2col_variant((conv4j_isa)isa);
    const conv4j_gemm_ops *gm = conv4j_gemm_variant_ops((conv4j_isa)isa);
    const conv4j_dw_ops *dw = conv4j_dw_variant((conv4j_isa)isa);
    if (!conv4j_use_isa(isa) || !im || !gm || !dw) {
        fprintf(stderr, "the %s variants cannot run here\n", isa_name(isa));
        failures++;
        return;
    }
    int n[15] = {0};
    n[0] = check_im2col(im);
    if (!failures) n[1] = check_index_wrap(im);
    if (!failures) n[2] = check_gemm(gm);
    if (!failures) n[3] = check_gemm_columns(gm);
    if (!failures) n[4] = check_bands();
    if (!failures) n[5] = check_depthwise_forward(dw);
    if (!failures) n[6] = check_depthwise_data(dw);
    if (!failures) n[7] = check_depthwise_weights(dw);
    if (!failures) n[12] = check_depthwise_layouts(dw);
    if (!failures) n[8] = check_direct();
    if (!failures) n[9] = check_winograd();
    if (!failures) n[10] = check_vector();
    if (!failures) n[11] = check_blocked();
    if (!failures) n[13] = check_volume();
    printf("  %-7s im2col/col2im %d (index wrap %d), gemm %d (gathering %d), bands %d, depthwise %d/%d/%d (in layouts %d), direct %d, "
           "winograd %d, whole arrays %d, blocked %d, 3-D %d: %s\n", isa_name(isa), n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[12], n[8],
           n[9], n[10], n[11], n[13], failures ? "FAILED" : "all match");
}

int main(void) {
    srand(42);
    const int chosen = conv4j_isa_in_use(), no512 = getenv("CONV4J_NO_AVX512") != NULL, no2 = getenv("CONV4J_NO_AVX2") != NULL;
    const int has512 = conv4j_cpu_has_avx512() && !no512, has2 = conv4j_cpu_has_avx2() && !no2;
    const int expect = has512 ? CONV4J_ISA_AVX512 : has2 ? CONV4J_ISA_AVX2 : CONV4J_ISA_GENERIC;
    printf("conv4j native self-test: the %s variants chosen at load%s%s\n", isa_name(chosen),
           no512 ? " (CONV4J_NO_AVX512 is set)" : "", no2 ? " (CONV4J_NO_AVX2 is set)" : "");
    if (chosen != expect) {
        fprintf(stderr, "the CPU and the switches call for the %s variants, but the %s ones were chosen\n", isa_name(expect),
                isa_name(chosen));
        return 1;
    }
    /* every variant this CPU runs that the switches leave on */
    check_variant(CONV4J_ISA_GENERIC);
    if (has2 && !failures) check_variant(CONV4J_ISA_AVX2);
    if (has512 && !failures) check_variant(CONV4J_ISA_AVX512);
    conv4j_use_isa(chosen);
    printf("conv4j native self-test: %s\n", failures ? "FAILED" : "all match");
    return failures ? 1 : 0;
}

/*
 * Standalone check of the kernels in this folder, built and run by cppbuild.sh: random
 * convolutions through conv4j_forward_band / backward bands / depthwise kernels against direct
 * loops in double. Exits non-zero on the first mismatch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv4j_kernels.h"

static float frand(void) { return (float)rand() / RAND_MAX * 2.f - 1.f; }

static float *rnd(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

/* y[o][i][j] of one image, group-aware, by the definition. */
static double direct(const float *x, const float *w, int C, int H, int W, int O, int G, int KH, int KW,
                     int sh, int sw, int pt, int pl, int dh, int dw, int o, int i, int j) {
    int cg = C / G, og = O / G, c0 = (o / og) * cg;
    double s = 0;
    for (int c = 0; c < cg; c++)
        for (int p = 0; p < KH; p++)
            for (int q = 0; q < KW; q++) {
                int ih = i * sh - pt + p * dh, iw = j * sw - pl + q * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += (double)x[((size_t)(c0 + c) * H + ih) * W + iw] * w[(((size_t)o * cg + c) * KH + p) * KW + q];
            }
    return s;
}

/* The depthwise input gradient of gy, overwriting or adding to gx, against its definition: 0 if it matches. */
static int check_dw_input_gradient(const float *gy, const float *w, int C, int H, int W, int O, int og, int KH, int KW,
                                   int OH, int OW, int sh, int sw, int pt, int pl, int dh, int dw, int accumulate) {
    float *gx = rnd((size_t)C * H * W);
    double *ref = malloc(sizeof(double) * (size_t)C * H * W);
    int failures = 0;
    for (size_t e = 0; e < (size_t)C * H * W; e++) ref[e] = accumulate ? gx[e] : 0.;
    for (int o = 0; o < O; o++)
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++)
                for (int p = 0; p < KH; p++)
                    for (int q = 0; q < KW; q++) {
                        int ih = i * sh - pt + p * dh, iw = j * sw - pl + q * dw;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        ref[((size_t)(o / og) * H + ih) * W + iw] += (double)w[((size_t)o * KH + p) * KW + q] * gy[((size_t)o * OH + i) * OW + j];
                    }
    conv4j_dw_backward_data(gy, 0, w, 0, gx, 0, H, W, KH, KW, OH, OW, sh, sw, pt, pl, dh, dw, og, 0, C, accumulate);
    for (size_t e = 0; e < (size_t)C * H * W && !failures; e++) {
        if (fabs(gx[e] - ref[e]) > 1e-4 * (1 + fabs(ref[e]))) {
            fprintf(stderr, "depthwise input gradient mismatch (%dx%d, stride %d, element %zu): %g vs %g\n", H, W, sw, e, gx[e], ref[e]);
            failures++;
        }
    }
    free(gx); free(ref);
    return failures;
}

int main(void) {
    srand(42);
    int failures = 0, runs = 0;
    for (int t = 0; t < 300; t++) {
        int G = 1 + rand() % 3, cg = 1 + rand() % 4, og = 1 + rand() % 4;
        if (t % 5 == 0) { G = 2 + rand() % 4; cg = 1; }
        int C = G * cg, O = G * og, H = 1 + rand() % 12, W = 1 + rand() % 12;
        int KH = 1 + rand() % 4, KW = 1 + rand() % 4, sh = 1 + rand() % 3, sw = 1 + rand() % 3;
        int dh = 1 + rand() % 2, dw = 1 + rand() % 2, pt = rand() % 3, pb = rand() % 3, pl = rand() % 3, pr = rand() % 3;
        int spanH = H + pt + pb - dh * (KH - 1) - 1, spanW = W + pl + pr - dw * (KW - 1) - 1;
        if (spanH < 0 || spanW < 0) continue;
        int OH = spanH / sh + 1, OW = spanW / sw + 1, K = cg * KH * KW, P = OH * OW;
        float *x = rnd((size_t)C * H * W), *w = rnd((size_t)O * K), *b = rnd(O);
        float *y = rnd((size_t)O * P), *col = rnd((size_t)K * P);
        runs++;
        if (cg == 1 && G > 1) {
            conv4j_dw_forward(x, 0, w, 0, b, 0, y, 0, H, W, KH, KW, OH, OW, sh, sw, pt, pl, dh, dw, og, 0, O);
        } else {
            int rows = 1 + rand() % OH;
            for (int g = 0; g < G; g++)
                for (int r0 = 0; r0 < OH; r0 += rows)
                    conv4j_forward_band(x, (long long)g * cg * H * W, w, (long long)g * og * K, b, (long long)g * og,
                                        y, (long long)g * og * P, col, NULL, 0, 0, cg, H, W, og, KH, KW, OH, OW,
                                        sh, sw, pt, pl, dh, dw, r0, r0 + rows > OH ? OH - r0 : rows);
        }
        for (int o = 0; o < O && !failures; o++)
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++) {
                    double ref = b[o] + direct(x, w, C, H, W, O, G, KH, KW, sh, sw, pt, pl, dh, dw, o, i, j);
                    double got = y[((size_t)o * OH + i) * OW + j];
                    if (fabs(got - ref) > 1e-4 * (1 + fabs(ref))) {
                        fprintf(stderr, "mismatch at case %d o=%d i=%d j=%d: %g vs %g\n", t, o, i, j, got, ref);
                        failures++;
                        break;
                    }
                }
        if (cg == 1 && G > 1 && !failures) failures += check_dw_input_gradient(y, w, C, H, W, O, og, KH, KW, OH, OW, sh, sw, pt, pl, dh, dw, t % 2);
        free(x); free(w); free(b); free(y); free(col);
        if (failures) break;
    }
    /* col2im against its definition, for kernels up to 9 wide (the stride-2 paths for wide kernels),
       strides 1 to 3, dilation, padding, bands, rows of up to 70 */
    int scatters = 0;
    for (int t = 0; t < 60 && !failures; t++) {
        int cn = 1 + rand() % 3, KH = 1 + rand() % 9, KW = 1 + rand() % 9, sh = 1 + rand() % 3, sw = t % 2 ? 2 : 1 + rand() % 3;
        int dh = 1 + rand() % 2, dw = 1 + rand() % 2, pt = rand() % 4, pl = rand() % 4, pb = rand() % 4, pr = rand() % 4;
        int H = dh * (KH - 1) + 1 + rand() % 12, W = dw * (KW - 1) + 1 + rand() % 70;
        int OH = (H + pt + pb - dh * (KH - 1) - 1) / sh + 1, OW = (W + pl + pr - dw * (KW - 1) - 1) / sw + 1;
        int oh0 = rand() % OH, rows = 1 + rand() % (OH - oh0);
        size_t n = (size_t)cn * KH * KW * rows * OW;
        float *colm = rnd(n), *gx = rnd((size_t)cn * H * W);
        double *ref = malloc(sizeof(double) * (size_t)cn * H * W);
        for (size_t e = 0; e < (size_t)cn * H * W; e++) ref[e] = gx[e];
        for (int c = 0; c < cn; c++)
            for (int p = 0; p < KH; p++)
                for (int q = 0; q < KW; q++)
                    for (int r = 0; r < rows; r++)
                        for (int j = 0; j < OW; j++) {
                            int ih = (oh0 + r) * sh - pt + p * dh, iw = j * sw - pl + q * dw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            ref[((size_t)c * H + ih) * W + iw] += colm[(((size_t)(c * KH + p) * KW + q) * rows + r) * OW + j];
                        }
        conv4j_col2im(colm, cn, H, W, KH, KW, pt, pl, sh, sw, dh, dw, oh0, rows, OW, gx);
        for (size_t e = 0; e < (size_t)cn * H * W && !failures; e++) {
            if (fabs(gx[e] - ref[e]) > 1e-5 * (1 + fabs(ref[e]))) {
                fprintf(stderr, "col2im mismatch at case %d (%dx%d, kernel %dx%d, stride %d,%d, element %zu): %g vs %g\n",
                        t, H, W, KH, KW, sh, sw, e, gx[e], ref[e]);
                failures++;
            }
        }
        scatters++;
        free(colm); free(gx); free(ref);
    }
    /* the depthwise input gradient on rows wide enough for its phase rows (32 outputs and more) */
    for (int t = 0; t < 12 && !failures; t++) {
        int C = 1 + rand() % 3, mult = 1 + rand() % 2, O = C * mult, H = 1 + rand() % 9, W = 60 + rand() % 90;
        int K = 1 + rand() % 4, s = 2 + rand() % 2, d = 1 + rand() % 2, pt = rand() % 3, pl = rand() % 3;
        int OH = (H + 2 * pt - d * (K - 1) - 1), OW = (W + 2 * pl - d * (K - 1) - 1);
        if (OH < 0 || OW < 0) continue;
        OH = OH / s + 1; OW = OW / s + 1;
        float *w = rnd((size_t)O * K * K), *gy = rnd((size_t)O * OH * OW);
        failures += check_dw_input_gradient(gy, w, C, H, W, O, mult, K, K, OH, OW, s, s, pt, pl, d, d, t % 2);
        free(w); free(gy);
    }
    /* the depthwise weight gradient, 3x3 and others, stride 1 and 2, against its definition */
    int dwg = 0;
    for (int t = 0; t < 40 && !failures; t++) {
        int n = 1 + rand() % 2, C = 1 + rand() % 3, mult = 1 + rand() % 2, O = C * mult, H = 1 + rand() % 40, W = 1 + rand() % 40;
        int KH = t % 4 ? 3 : 1 + rand() % 4, KW = t % 4 ? 3 : 1 + rand() % 4, s = t % 5 ? 1 : 2, dh = 1 + rand() % 2, dw = 1 + rand() % 2;
        int pt = rand() % 3, pl = rand() % 3, pb = rand() % 3, pr = rand() % 3;
        int spanH = H + pt + pb - dh * (KH - 1) - 1, spanW = W + pl + pr - dw * (KW - 1) - 1;
        if (spanH < 0 || spanW < 0) continue;
        int OH = spanH / s + 1, OW = spanW / s + 1;
        float *x = rnd((size_t)n * C * H * W), *gy = rnd((size_t)n * O * OH * OW), *gw = rnd((size_t)O * KH * KW);
        float *before = malloc(sizeof(float) * (size_t)O * KH * KW);
        memcpy(before, gw, sizeof(float) * (size_t)O * KH * KW);
        conv4j_dw_backward_weights(x, gy, gw, 0, n, C, O, H, W, KH, KW, OH, OW, s, s, pt, pl, dh, dw, mult, 0, O, t % 2);
        for (int o = 0; o < O && !failures; o++)
            for (int p = 0; p < KH; p++)
                for (int q = 0; q < KW; q++) {
                    double ref = t % 2 ? before[((size_t)o * KH + p) * KW + q] : 0.;
                    for (int b = 0; b < n; b++)
                        for (int i = 0; i < OH; i++)
                            for (int j = 0; j < OW; j++) {
                                int ih = i * s - pt + p * dh, iw = j * s - pl + q * dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                ref += (double)gy[(((size_t)b * O + o) * OH + i) * OW + j] * x[(((size_t)b * C + o / mult) * H + ih) * W + iw];
                            }
                    double got = gw[((size_t)o * KH + p) * KW + q];
                    if (fabs(got - ref) > 1e-4 * (1 + fabs(ref))) {
                        fprintf(stderr, "depthwise weight gradient mismatch at case %d: %g vs %g\n", t, got, ref);
                        failures++;
                    }
                }
        free(x); free(gy); free(gw); free(before);
        dwg++;
    }
    /* bias gradient: channel sums over the batch and the plane, against a plain double loop */
    for (int t = 0; t < 20 && !failures; t++) {
        int n = 1 + rand() % 3, c = 1 + rand() % 5, plane = 1 + rand() % 70;
        float *g = rnd((size_t)n * c * plane), out[5];
        conv4j_channel_sums(g, n, c, plane, 0, c, out, 0);
        for (int i = 0; i < c; i++) {
            double ref = 0;
            for (int k = 0; k < n; k++)
                for (int j = 0; j < plane; j++) ref += g[((size_t)k * c + i) * plane + j];
            if (fabs(out[i] - ref) > 1e-4 * (1 + fabs(ref))) {
                fprintf(stderr, "channel sum mismatch: %g vs %g\n", out[i], ref);
                failures++;
            }
        }
        free(g);
    }
    /* forward bands of 256 columns and more, whose products conv4j's kernel runs gathering the column
       matrix from the image as it packs it: strides 1 to 3, dilation, padding, short rows (many runs
       per panel), kernels wider than the masks kept per panel, bands starting inside the image */
    long long packed = conv4j_gemm_pack_size();
    float *pack = packed ? malloc(sizeof(float) * (size_t)packed) : NULL;
    int gathered = 0, wide = 0, reused = 0;
    for (int t = 0; t < 60 && !failures; t++) {
        int cg = 1 + rand() % 5, O = 1 + rand() % 40, KH = 1 + rand() % 5, KW = t % 6 == 0 ? 17 + rand() % 4 : 1 + rand() % 5;
        int sh = 1 + rand() % 3, sw = 1 + rand() % 3, dh = 1 + rand() % 2, dw = 1 + rand() % 2;
        int pt = rand() % 4, pb = rand() % 4, pl = rand() % 4, pr = rand() % 4;
        int W = (t % 3 == 0 ? 3 + rand() % 8 : 20 + rand() % 60) + dw * (KW - 1);
        int spanW = W + pl + pr - dw * (KW - 1) - 1, OW = spanW / sw + 1;
        int OHwant = 256 / OW + 2 + rand() % 4, H = (OHwant - 1) * sh + dh * (KH - 1) + 1;
        int spanH = H + pt + pb - dh * (KH - 1) - 1, OH = spanH / sh + 1, K = cg * KH * KW, P = OH * OW;
        float *x = rnd((size_t)cg * H * W), *w = rnd((size_t)O * K), *b = t % 2 ? rnd(O) : NULL, *y = rnd((size_t)O * P);
        float *col = rnd((size_t)K * P); /* for bands that build the matrix */
        int rows = t % 4 == 0 ? (OH + 1) / 2 : OH;
        /* two blocks of output channels per band; the second reuses the column matrix where the
           first built it (every third case without the packing buffer, so that it does) */
        float *pk = t % 3 == 2 ? NULL : pack;
        int o1 = O / 2;
        for (int r0 = 0; r0 < OH; r0 += rows) {
            int r = r0 + rows > OH ? OH - r0 : rows, built = 0;
            if (o1 > 0) {
                gathered += conv4j_gemm_variant(0, 0, o1, r * OW, K, pk) == 1;
                built = conv4j_forward_band(x, 0, w, 0, b, 0, y, 0, col, pk, 0, 0, cg, H, W, o1, KH, KW, OH, OW,
                                            sh, sw, pt, pl, dh, dw, r0, r);
            }
            reused += built;
            gathered += conv4j_gemm_variant(0, 0, O - o1, r * OW, K, pk) == 1;
            conv4j_forward_band(x, 0, w, (long long)o1 * K, b, o1, y, (long long)o1 * P, col, pk, 0, built, cg, H, W, O - o1,
                                KH, KW, OH, OW, sh, sw, pt, pl, dh, dw, r0, r);
        }
        wide++;
        for (int o = 0; o < O && !failures; o++)
            for (int i = 0; i < OH && !failures; i++)
                for (int j = 0; j < OW; j++) {
                    double ref = (b ? b[o] : 0.) + direct(x, w, cg, H, W, O, 1, KH, KW, sh, sw, pt, pl, dh, dw, o, i, j);
                    double got = y[((size_t)o * OH + i) * OW + j];
                    if (fabs(got - ref) > 1e-4 * (1 + fabs(ref))) {
                        fprintf(stderr, "gathered forward mismatch at case %d (%dx%d, kernel %dx%d, stride %d,%d) o=%d i=%d j=%d: %g vs %g\n",
                                t, H, W, KH, KW, sh, sw, o, i, j, got, ref);
                        failures++;
                        break;
                    }
                }
        free(x); free(w); free(b); free(y); free(col);
    }
    if ((packed && gathered < 40) || reused < 10) {
        fprintf(stderr, "only %d bands ran on the gathering kernel and %d reused a column matrix\n", gathered, reused);
        failures++;
    }
    /* weight gradients of channel blocks of 256 matrix rows and more, whose products conv4j's kernel
       runs gathering the column matrix's transpose from the image: strides 1 to 3, dilation,
       padding, short and long rows, bands, overwrite and accumulate */
    int gatheredT = 0, weightBands = 0;
    for (int t = 0; t < 30 && !failures; t++) {
        int KH = 1 + rand() % 5, KW = 1 + rand() % 5, cg = 2 + (260 / (KH * KW)) + rand() % 8, c0 = rand() % 2, cn = cg - c0;
        int O = 1 + rand() % 20, sh = 1 + rand() % 3, sw = 1 + rand() % 3, dh = 1 + rand() % 2, dw = 1 + rand() % 2;
        int pt = rand() % 3, pb = rand() % 3, pl = rand() % 3, pr = rand() % 3;
        int H = dh * (KH - 1) + 1 + rand() % 20, W = dw * (KW - 1) + 1 + rand() % (t % 3 ? 40 : 8);
        int OH = (H + pt + pb - dh * (KH - 1) - 1) / sh + 1, OW = (W + pl + pr - dw * (KW - 1) - 1) / sw + 1;
        int K = cg * KH * KW, kb = cn * KH * KW, P = OH * OW, accumulate = t % 2;
        float *x = rnd((size_t)cg * H * W), *gy = rnd((size_t)O * P), *gw = rnd((size_t)O * K), *col = rnd((size_t)kb * P);
        float *before = malloc(sizeof(float) * (size_t)O * K);
        memcpy(before, gw, sizeof(float) * (size_t)O * K);
        int rows = t % 4 == 0 ? (OH + 1) / 2 : OH;
        for (int r0 = 0; r0 < OH; r0 += rows) {
            int r = r0 + rows > OH ? OH - r0 : rows;
            gatheredT += conv4j_gemm_variant(0, 1, O, kb, r * OW, pack) == 1 && (sw == 1 || sw == 2);
            conv4j_backward_weights_band(x, (long long)c0 * H * W, gy, 0, gw, (long long)c0 * KH * KW, col, pack, 0,
                                         accumulate || r0 > 0 ? 1.f : 0.f, cg, cn, H, W, O, KH, KW, OH, OW,
                                         sh, sw, pt, pl, dh, dw, r0, r);
        }
        weightBands++;
        for (int o = 0; o < O && !failures; o++)
            for (int e = 0; e < K && !failures; e++) {
                int c = e / (KH * KW), p = e / KW % KH, q = e % KW;
                double ref = before[(size_t)o * K + e];
                if (c >= c0) {
                    ref = accumulate ? ref : 0.;
                    for (int i = 0; i < OH; i++)
                        for (int j = 0; j < OW; j++) {
                            int ih = i * sh - pt + p * dh, iw = j * sw - pl + q * dw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            ref += (double)gy[(size_t)o * P + (size_t)i * OW + j] * x[((size_t)c * H + ih) * W + iw];
                        }
                }
                double got = gw[(size_t)o * K + e];
                if (fabs(got - ref) > 1e-4 * (1 + fabs(ref))) {
                    fprintf(stderr, "gathered weight gradient mismatch at case %d (%dx%d, kernel %dx%d, stride %d,%d) o=%d entry %d: %g vs %g\n",
                            t, H, W, KH, KW, sh, sw, o, e, got, ref);
                    failures++;
                }
            }
        free(x); free(gy); free(gw); free(col); free(before);
    }
    if (packed && gatheredT < 15) {
        fprintf(stderr, "only %d weight-gradient bands ran on the gathering kernel\n", gatheredT);
        failures++;
    }
    /* conv4j_sgemm, on its own kernels where the CPU has them: wide and narrow, every transpose, edges of every block
       size, beta 0, 1 and in between, padded leading dimensions; C's padding must stay untouched */
    int products = 0;
    for (int t = 0; t < 80 && !failures; t++) {
        int m = 1 + rand() % (t % 4 == 0 ? 600 : 40);
        int n = t % 2 ? CONV4J_GEMM_MIN_N + rand() % 600 : 1 + rand() % CONV4J_GEMM_MIN_N;
        int k = 1 + rand() % (t % 3 == 0 ? 700 : 300);
        int ta = rand() % 2, tb = rand() % 2;
        float beta = t % 3 == 0 ? 0.f : t % 3 == 1 ? 1.f : 0.5f;
        int lda = (ta ? m : k) + rand() % 3, ldb = (tb ? k : n) + rand() % 3, ldc = n + rand() % 3;
        float *a = rnd((size_t)lda * (ta ? k : m)), *bm = rnd((size_t)ldb * (tb ? n : k)), *c = rnd((size_t)ldc * m);
        float *c0 = malloc(sizeof(float) * (size_t)ldc * m);
        memcpy(c0, c, sizeof(float) * (size_t)ldc * m);
        conv4j_sgemm(ta, tb, m, n, k, a, lda, bm, ldb, beta, c, ldc, pack);
        products++;
        for (int i = 0; i < m && !failures; i++)
            for (int j = 0; j < ldc; j++) {
                double ref = c0[(size_t)i * ldc + j];
                if (j < n) {
                    ref *= beta;
                    for (int p = 0; p < k; p++)
                        ref += (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p])
                               * (tb ? bm[(size_t)j * ldb + p] : bm[(size_t)p * ldb + j]);
                }
                double got = c[(size_t)i * ldc + j];
                if (fabs(got - ref) > 1e-4 * (1 + sqrt((double)k))) {
                    fprintf(stderr, "sgemm mismatch m=%d n=%d k=%d ta=%d tb=%d at %d,%d: %g vs %g\n", m, n, k, ta, tb, i, j, got, ref);
                    failures++;
                    break;
                }
            }
        free(a); free(bm); free(c); free(c0);
    }
    free(pack);
    printf("conv4j native self-test: %d convolutions, %d wide forward bands (%d blocks gathering the column matrix, %d reusing one), %d weight gradients of "
           "wide channel blocks (%d bands gathering), %d col2im, %d depthwise weight gradients, 20 bias gradients and %d products (%s), %s\n",
           runs, wide, gathered, reused, weightBands, gatheredT, scatters, dwg, products,
           packed ? "on conv4j's AVX-512 kernels where faster" : "all in OpenBLAS", failures ? "FAILED" : "all match");
    return failures ? 1 : 0;
}

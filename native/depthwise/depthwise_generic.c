/*
 * The depthwise algorithms for any x86-64 CPU besides the row kernels (depthwise.h): the
 * definition, the input gradient tap by tap and by phase rows, the weight gradient in 16 lanes.
 */
#include <stdlib.h>
#include "depthwise/depthwise.h"

void conv4j_dw_definition(const conv4j_conv_shape *s, const float *xc, const float *wk, float init, float *yc,
                          const float *gyc, double *sums, int t0, int t1) {
    const int h = s->h, w = s->w, kw = s->kw;
    for (int i = 0; i < s->oh; i++) {
        for (int j = 0; j < s->ow; j++) {
            float acc = init;
            const float g = gyc ? gyc[(size_t)i * s->ow + j] : 0.f;
            for (int t = t0; t < t1; t++) {
                const int p = t / kw, q = t - p * kw;
                const long long ih = (long long)i * s->sh - s->pt + (long long)p * s->dh;
                const long long iw = (long long)j * s->sw - s->pl + (long long)q * s->dw;
                const float v = ih >= 0 && ih < h && iw >= 0 && iw < w ? xc[(size_t)ih * w + iw] : 0.f;
                if (wk) {
                    acc += wk[t] * v;
                } else {
                    sums[t - t0] += (double)(g * v);
                }
            }
            if (wk) yc[(size_t)i * s->ow + j] = acc;
        }
    }
}

/* Adds one output channel's share of the input gradient to its input channel's plane, tap by tap. */
CONV4J_MULTIVERSION
static void conv4j_dw_backward_data_plane(const float *gyc, const float *wk, float *gxc,
                                          int h, int w, int kh, int kw, int oh, int ow,
                                          int sh, int sw, int pt, int pl, int dh, int dw) {
    for (int i = 0; i < oh; i++) {
        const float *gr = gyc + (size_t)i * ow;
        for (int p = 0; p < kh; p++) {
            int ih = i * sh - pt + p * dh;
            if ((unsigned)ih >= (unsigned)h) continue;
            for (int q = 0; q < kw; q++) {
                const float wv = wk[p * kw + q];
                int iw0 = q * dw - pl, lo, hi;
                conv4j_valid_cols(iw0, sw, w, ow, &lo, &hi);
                float *dst = gxc + (size_t)ih * w + iw0;
                if (sw == 1) {
                    for (int j = lo; j < hi; j++) dst[j] += wv * gr[j];
                } else {
                    for (int j = lo; j < hi; j++) dst[(size_t)j * sw] += wv * gr[j];
                }
            }
        }
    }
}

/* Row of gx (w floats) from its sw phase rows (buf, rows of plen floats, first data column at
   margin): written, or added to with add. Overwriting, the row is written once: clearing gx first
   cost a pass over memory. Inlined into each ISA level's clone of its caller. */
__attribute__((always_inline)) static inline void conv4j_dw_phases_store(float *row, const float *buf, long long plen,
                                                                        int margin, int w, int sw, int add) {
    int iw = 0;
    if (sw == 2) { /* 32 columns from 16 of each phase; buf's rows have room past w / 2 */
        const float *e = buf + margin, *od = buf + plen + margin;
        for (; iw < w; iw += 32) {
            conv4j_v16 a = *(const conv4j_v16 *)(e + iw / 2), b = *(const conv4j_v16 *)(od + iw / 2);
            conv4j_v16 v[2] = {__builtin_shuffle(a, b, (conv4j_i16){0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}),
                               __builtin_shuffle(a, b, (conv4j_i16){8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31})};
            if (iw + 32 <= w) {
                conv4j_v16 *r = (conv4j_v16 *)(row + iw);
                if (add) {
                    v[0] += r[0];
                    v[1] += r[1];
                }
                r[0] = v[0];
                r[1] = v[1];
            } else {
                const float *t = (const float *)v;
                for (int l = 0; l < w - iw; l++) row[iw + l] = add ? row[iw + l] + t[l] : t[l];
            }
        }
    }
    for (long long k = iw / sw; (long long)k * sw < w; k++) { /* iw is a multiple of sw: no division per column */
        for (int f = 0; f < sw && k * sw + f < w; f++) {
            float v = buf[f * plen + margin + k];
            row[k * sw + f] = add ? row[k * sw + f] + v : v;
        }
    }
}

/* Adds one output channel's share of the input gradient to its input channel's plane, for strides
   above 1: each gx row is built in sw phase rows (phase f holds columns f, f + sw, ...; buf, sw rows
   of plen floats, first data column at margin), where each tap adds a whole gy row with one
   contiguous multiply-add, and is then interleaved into gx. Tap by tap straight into gx, the
   strided adds ran at 2 GFLOP/s. Columns that fall on padding are dropped, as in the definition. */
CONV4J_MULTIVERSION
static void conv4j_dw_backward_data_phased(const float *__restrict__ gyc, const float *wk, float *__restrict__ gxc,
                                           float *__restrict__ buf, long long plen, int margin,
                                           int h, int w, int kh, int kw, int oh, int ow,
                                           int sh, int sw, int pt, int pl, int dh, int dw, int add) {
    for (int ih = 0; ih < h; ih++) {
        int any = 0;
        float *row = gxc + (size_t)ih * w;
        for (int p = 0; p < kh; p++) {
            long long num = (long long)ih + pt - (long long)p * dh;
            if (num < 0 || num % sh || num / sh >= oh) continue;
            if (!any) memset(buf, 0, sizeof(float) * (size_t)(sw * plen));
            any = 1;
            const float *__restrict__ gr = gyc + (size_t)(num / sh) * ow;
            for (int q = 0; q < kw; q++) {
                long long c = (long long)q * dw - pl;  /* gx column of gy column 0 */
                long long f = ((c % sw) + sw) % sw, o = (c - f) / sw;
                float *__restrict__ dst = buf + f * plen + margin + o;
                const float wv = wk[p * kw + q];
                for (int j = 0; j < ow; j++) dst[j] += wv * gr[j];
            }
        }
        if (!any) {
            if (!add) memset(row, 0, sizeof(float) * (size_t)w);
            continue;
        }
        conv4j_dw_phases_store(row, buf, plen, margin, w, sw, add);
    }
}

void conv4j_dw_data_taps_channel(const conv4j_conv_shape *s, const float *gyc, const float *wk, float *gxc, int add) {
    if (!add) memset(gxc, 0, sizeof(float) * (size_t)s->h * s->w);
    conv4j_dw_backward_data_plane(gyc, wk, gxc, s->h, s->w, s->kh, s->kw, s->oh, s->ow, s->sh, s->sw, s->pt, s->pl, s->dh, s->dw);
}

void conv4j_dw_data_taps(const conv4j_dw_params *p, const float *gy, const float *wt, float *gx) {
    const conv4j_conv_shape *s = &p->s;
    for (int c = p->first; c < p->first + p->count; c++) {
        int add = p->accumulate;
        for (int oc = c * s->mult; oc < (c + 1) * s->mult; oc++, add = 1) {
            conv4j_dw_data_taps_channel(s, gy + (size_t)oc * s->oh * s->ow, wt + (size_t)oc * s->kh * s->kw,
                                        gx + (size_t)c * s->h * s->w, add);
        }
    }
}

int conv4j_dw_data_phased(const conv4j_dw_params *p, const float *gy, const float *wt, float *gx) {
    const conv4j_conv_shape *s = &p->s;
    const int sw = s->sw, margin = (s->pl + sw - 1) / sw;
    /* phase rows with room for every tap's offset; small (16 MiB) whatever the stride or dilation */
    long long plen = (long long)s->ow + ((long long)(s->kw - 1) * s->dw) / sw + 1;
    if (plen < (s->w - 1LL) / sw + 1) plen = (s->w - 1LL) / sw + 1;
    plen += margin + 16;
    if (plen > (1LL << 22) / sw) return 0;
    float *phased = (float *)malloc(sizeof(float) * (size_t)(sw * plen));
    if (!phased) return 0;
    for (int c = p->first; c < p->first + p->count; c++) {
        int add = p->accumulate;
        for (int oc = c * s->mult; oc < (c + 1) * s->mult; oc++, add = 1) {
            conv4j_dw_backward_data_phased(gy + (size_t)oc * s->oh * s->ow, wt + (size_t)oc * s->kh * s->kw,
                                           gx + (size_t)c * s->h * s->w, phased, plen, margin, s->h, s->w, s->kh, s->kw,
                                           s->oh, s->ow, s->sh, sw, s->pt, s->pl, s->dh, s->dw, add);
        }
    }
    free(phased);
    return 1;
}

/* The weight gradient of output channel oc by the definition, padding included (its output gradient
   is not all finite): 64 taps at a time, each summed over the batch in a fixed order. */
void conv4j_dw_weights_definition(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc) {
    const conv4j_conv_shape *s = &p->s;
    const int taps = s->kh * s->kw;
    for (int t0 = 0; t0 < taps; t0 += 64) {
        const int t1 = taps - t0 < 64 ? taps : t0 + 64;
        double sums[64] = {0};
        for (int n = 0; n < s->n; n++) {
            conv4j_dw_definition(s, x + ((size_t)n * s->c + oc / s->mult) * s->h * s->w, NULL, 0.f, NULL,
                                 gy + ((size_t)n * s->o + oc) * s->oh * s->ow, sums, t0, t1);
        }
        for (int t = t0; t < t1; t++) gk[t] = (float)(p->accumulate ? gk[t] + sums[t - t0] : sums[t - t0]);
    }
}

void conv4j_dw_weights_channel(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc,
                               conv4j_dw_taps_fn taps) {
    const conv4j_conv_shape *s = &p->s;
    const size_t plane = (size_t)s->oh * s->ow;
    int finite = 1;
    for (int n = 0; n < s->n && finite; n++) finite = conv4j_all_finite(gy + ((size_t)n * s->o + oc) * plane, plane);
    if (finite) {
        taps(p, x, gy, gk, oc);
    } else {
        conv4j_dw_weights_definition(p, x, gy, gk, oc);
    }
}

/* The weight gradient of output channel oc tap by tap: 16 running sums per image, each in a fixed
   order, so the loop vectorizes without reassociating anything (a single float sum ran at 2.5
   GFLOP/s on MobileNet's 3x3 layer), added image by image in double. */
CONV4J_MULTIVERSION
void conv4j_dw_weights_lanes(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc) {
    const conv4j_conv_shape *s = &p->s;
    const int h = s->h, w = s->w, oh = s->oh, ow = s->ow, sw = s->sw;
    for (int kp = 0; kp < s->kh; kp++) {
        for (int kq = 0; kq < s->kw; kq++) {
            int iw0 = kq * s->dw - s->pl, lo, hi;
            conv4j_valid_cols(iw0, sw, w, ow, &lo, &hi);
            float lane[16] = {0};
            double sum = 0;
            for (int n = 0; n < s->n; n++) {
                const float *xc = x + ((size_t)n * s->c + oc / s->mult) * h * w;
                const float *gyc = gy + ((size_t)n * s->o + oc) * oh * ow;
                for (int i = 0; i < oh; i++) {
                    long long ih = (long long)i * s->sh - s->pt + (long long)kp * s->dh;
                    if (ih < 0 || ih >= h) continue;
                    const float *src = xc + (size_t)ih * w + iw0, *gr = gyc + (size_t)i * ow;
                    int j = lo;
                    if (sw == 1) {
                        for (; j + 16 <= hi; j += 16) {
                            for (int l = 0; l < 16; l++) lane[l] += gr[j + l] * src[j + l];
                        }
                    }
                    for (int l = 0; j < hi; j++, l = (l + 1) & 15) lane[l] += gr[j] * src[(size_t)j * sw];
                }
                for (int l = 0; l < 16; l++) { /* image by image into double, as the other passes */
                    sum += lane[l];
                    lane[l] = 0.f;
                }
            }
            gk[kp * s->kw + kq] = (float)(p->accumulate ? gk[kp * s->kw + kq] + sum : sum);
        }
    }
}

const conv4j_dw_ops conv4j_dw_generic = {"generic", conv4j_dw_plane_multi, NULL, NULL, NULL, {{0, 0}, {0, 0}, {0, 0}}, NULL, NULL, NULL};

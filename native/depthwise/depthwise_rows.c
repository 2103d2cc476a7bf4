/*
 * The depthwise row kernels (depthwise.h), for any x86-64 CPU: loops along output rows, so the
 * innermost loop is a plain vector loop over one row without bounds tests. The plane loop
 * (depthwise_plane.h) is the chosen variant's, so its dispatch happens once per channel.
 */
#include <stdlib.h>
#include "common/conv4j_dispatch.h"
#include "depthwise/depthwise.h"

/* 16 floats to a vector, two vectors a row: compiled for each ISA level; the AVX-512 one is the
   AVX-512 variant's plane, the baseline one the generic variant's (depthwise_rows_avx2.c has AVX2's). */
#define CONV4J_DW_PLANE conv4j_dw_plane_multi
#define CONV4J_DW_PLANE_ATTR CONV4J_MULTIVERSION CONV4J_HIDDEN
#define DW_L 16
#define DW_V 2
#include "depthwise/depthwise_plane.h"

static inline long long conv4j_gcd(long long a, long long b) {
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* A layout and its scratch for planes of one geometry; small ones live in the struct (on the
   caller's stack), larger ones are allocated. ok is 0 when an allocation failed or the rows would not
   fit in memory: the caller then takes the definition's path. */
typedef struct {
    conv4j_dw_layout L;
    int ok;
    int stack_ints[4 * 16];
    long long stack_off[16];
    float *stack_rowp[64];
    float stack_buf[4096 + 16];
    int *ints;
    long long *off;
    float **rowp, *heap;
} conv4j_dw_setup;

/* The bands: four output rows per band, unless the rows they read are far apart (a stride or
   dilation far larger than the kernel): then one row at a time, copying only the rows it reads. */
static void conv4j_dw_bands_plan(conv4j_dw_layout *L, int kh, int oh, int sh, int dh) {
    L->rows = oh < 4 ? oh : 4;
    L->step = conv4j_gcd(sh, dh);
    L->nb = ((L->rows - 1LL) * sh + (kh - 1LL) * dh) / L->step + 1;
    L->reuse = 1;
    if (L->nb > 4LL * kh) {
        L->rows = 1;
        L->step = dh;
        L->nb = kh;
        L->reuse = sh % dh == 0;
    }
    L->a = L->reuse ? (int)(sh / L->step) : 0;
    L->c = (int)(dh / L->step);
}

/* The phases the kernel columns read (at most min(sw, kw)), each kernel column's offset in a scratch
   row, and the columns of each phase inside the image. 0 if the rows would not fit in memory. */
static int conv4j_dw_phases_plan(conv4j_dw_setup *S, int w, int kw, int ow, int sw, int pl, int dw) {
    conv4j_dw_layout *L = &S->L;
    int *phase = S->ints, *fq = S->ints + kw, *lo = S->ints + 2 * kw, *hi = S->ints + 3 * kw;
    L->nph = 0;
    long long kmax = 0;
    for (int q = 0; q < kw; q++) {
        int r = (int)((long long)q * dw % sw), f = 0;
        while (f < L->nph && phase[f] != r) f++;
        if (f == L->nph) phase[L->nph++] = r;
        fq[q] = f;
        if ((long long)q * dw / sw > kmax) kmax = (long long)q * dw / sw;
    }
    /* room for the vectors that pass ow, reading zeros */
    L->len = ((ow + 15LL) / 16 * 16 + kmax + 15) / 16 * 16;
    for (int q = 0; q < kw; q++) S->off[q] = fq[q] * L->len + (long long)q * dw / sw;
    if (L->len >= (1LL << 30)) return 0; /* the definition: such rows would not fit in memory */
    for (int f = 0; f < L->nph; f++) conv4j_valid_cols(phase[f] - pl, sw, w, (int)L->len, &lo[f], &hi[f]);
    L->phase = phase; L->lo = lo; L->hi = hi; L->off = S->off; L->rowp = S->rowp;
    return 1;
}

static void conv4j_dw_setup_init(conv4j_dw_setup *S, int w, int kh, int kw, int oh, int ow,
                                 int sh, int sw, int pl, int dh, int dw) {
    conv4j_dw_layout *L = &S->L;
    conv4j_dw_bands_plan(L, kh, oh, sh, dh);
    /* small arrays: per kernel column, and the band's row pointers */
    S->ints = kw <= 16 ? S->stack_ints : (int *)malloc(sizeof(int) * 4 * (size_t)kw);
    S->off = kw <= 16 ? S->stack_off : (long long *)malloc(sizeof(long long) * (size_t)kw);
    S->rowp = L->nb <= 64 ? S->stack_rowp : (float **)malloc(sizeof(float *) * (size_t)L->nb);
    S->heap = NULL;
    int ok = S->ints && S->off && S->rowp && conv4j_dw_phases_plan(S, w, kw, ow, sw, pl, dw);
    /* the scratch rows, 64-byte aligned, zero where nothing is copied */
    size_t need = ok ? (size_t)(L->nb * L->nph * L->len) : 0;
    if (need + 16 > 4096 + 16) S->heap = (float *)malloc(sizeof(float) * (need + 16));
    L->buf = need + 16 > 4096 + 16 ? S->heap : S->stack_buf;
    ok = ok && L->buf;
    if (ok) {
        L->buf = (float *)(((size_t)L->buf + 63) & ~(size_t)63);
        memset(L->buf, 0, sizeof(float) * need);
    }
    S->ok = ok;
}

static void conv4j_dw_setup_free(conv4j_dw_setup *S) {
    free(S->heap);
    if (S->ints != S->stack_ints) free(S->ints);
    if (S->off != S->stack_off) free(S->off);
    if (S->rowp != S->stack_rowp) free(S->rowp);
}

/* Output channels [first, first + count) of one image; channels whose weights are not all finite by
   the definition. */
void conv4j_dw_forward_rows(const conv4j_dw_params *p, const float *x, const float *wt, const float *bias, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const int taps = s->kh * s->kw;
    conv4j_dw_setup S;
    conv4j_dw_setup_init(&S, s->w, s->kh, s->kw, s->oh, s->ow, s->sh, s->sw, s->pl, s->dh, s->dw);
    for (int oc = p->first; oc < p->first + p->count; oc++) {
        const float *xc = x + (size_t)(oc / s->mult) * s->h * s->w;
        const float *wk = wt + (size_t)oc * taps;
        float *yc = y + (size_t)oc * s->oh * s->ow;
        const float init = bias ? bias[oc] : 0.f;
        if (!S.ok || !conv4j_all_finite(wk, (size_t)taps)) {
            conv4j_dw_definition(s, xc, wk, init, yc, NULL, NULL, 0, taps);
            continue;
        }
        conv4j_dw->plane(&S.L, xc, wk, init, 0, yc, s->h, s->w, s->kh, s->kw, s->oh, s->ow, s->sh, s->sw, s->pt, s->pl);
    }
    conv4j_dw_setup_free(&S);
}

/* Input gradient of stride 1 of input channels [first, first + count) of one image: the forward row
   kernels over gy with the kernels turned by 180 degrees, padded by (k-1)·d - p. Channels whose
   weights are not all finite go tap by tap: that padding would meet them as 0 · Inf, where the
   definition has no product at all. */
void conv4j_dw_data_turned(const conv4j_dw_params *p, const float *gy, const float *wt, float *gx) {
    const conv4j_conv_shape *s = &p->s;
    const int h = s->h, w = s->w, kh = s->kh, kw = s->kw, oh = s->oh, ow = s->ow, taps = kh * kw;
    const int ptt = (kh - 1) * s->dh - s->pt, plt = (kw - 1) * s->dw - s->pl;
    conv4j_dw_setup S;
    conv4j_dw_setup_init(&S, ow, kh, kw, h, w, 1, 1, plt, s->dh, s->dw);
    float stack_k[64], *turned = taps <= 64 ? stack_k : (float *)malloc(sizeof(float) * (size_t)taps);
    for (int c = p->first; c < p->first + p->count; c++) {
        float *gxc = gx + (size_t)c * h * w;
        int add = p->accumulate;
        for (int oc = c * s->mult; oc < (c + 1) * s->mult; oc++, add = 1) {
            const float *wk = wt + (size_t)oc * taps;
            const float *gyc = gy + (size_t)oc * oh * ow;
            if (S.ok && turned && conv4j_all_finite(wk, (size_t)taps)) {
                for (int t = 0; t < taps; t++) turned[t] = wk[taps - 1 - t];
                conv4j_dw->plane(&S.L, gyc, turned, 0.f, add, gxc, oh, ow, kh, kw, h, w, 1, 1, ptt, plt);
            } else {
                conv4j_dw_data_taps_channel(s, gyc, wk, gxc, add);
            }
        }
    }
    conv4j_dw_setup_free(&S);
    if (turned != stack_k) free(turned);
}

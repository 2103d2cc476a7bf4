/* vol2col and col2vol (volume.h). */
#include "volume/volume.h"

/* The input row that tap (a, p) reads for output row t of the band, or null in the padding. The
   output plane and row are carried from row to row (zo, yo) rather than divided out each time. */
static inline const float *conv4j_vol_row(const conv4j_volume *s, const float *xc, int zo, int yo, int a, int p) {
    const long long iz = (long long)zo * s->sd - s->pf + (long long)a * s->dd;
    const long long iy = (long long)yo * s->sh - s->pt + (long long)p * s->dh;
    if (iz < 0 || iz >= s->d || iy < 0 || iy >= s->h) return NULL;
    return xc + ((size_t)iz * s->h + (size_t)iy) * s->w;
}

void conv4j_vol2col(const conv4j_volume *s, float *__restrict col) {
    const int ow = s->ow, sw = s->sw;
    const size_t volume = (size_t)s->d * s->h * s->w;
    for (int c = 0; c < s->cn; c++) {
        const float *xc = s->x + (size_t)c * volume;
        for (int a = 0; a < s->kd; a++)
            for (int p = 0; p < s->kh; p++)
                for (int q = 0; q < s->kw; q++) {
                    /* output columns [lo, hi) read inside the row, the others the padding */
                    const int iw0 = q * s->dw - s->pl;
                    int lo, hi;
                    conv4j_valid_cols(iw0, sw, s->w, ow, &lo, &hi);
                    int zo = s->r0 / s->oh, yo = s->r0 % s->oh;
                    for (int r = 0; r < s->rows; r++, col += ow) {
                        const float *row = conv4j_vol_row(s, xc, zo, yo, a, p);
                        if (++yo == s->oh) {
                            yo = 0;
                            zo++;
                        }
                        if (!row) {
                            memset(col, 0, sizeof(float) * (size_t)ow);
                            continue;
                        }
                        for (int j = 0; j < lo; j++) col[j] = 0.f;
                        if (sw == 1) {
                            memcpy(col + lo, row + ((long long)lo + iw0), sizeof(float) * (size_t)(hi - lo));
                        } else {
                            for (int j = lo; j < hi; j++) col[j] = row[(long long)j * sw + iw0];
                        }
                        for (int j = hi; j < ow; j++) col[j] = 0.f;
                    }
                }
    }
}

void conv4j_col2vol(const conv4j_volume *s, const float *__restrict col, float *__restrict x) {
    const int ow = s->ow, sw = s->sw;
    const size_t volume = (size_t)s->d * s->h * s->w;
    for (int c = 0; c < s->cn; c++) {
        float *xc = x + (size_t)c * volume;
        for (int a = 0; a < s->kd; a++)
            for (int p = 0; p < s->kh; p++)
                for (int q = 0; q < s->kw; q++) {
                    const int iw0 = q * s->dw - s->pl;
                    int lo, hi;
                    conv4j_valid_cols(iw0, sw, s->w, ow, &lo, &hi);
                    int zo = s->r0 / s->oh, yo = s->r0 % s->oh;
                    for (int r = 0; r < s->rows; r++, col += ow) {
                        float *row = (float *)conv4j_vol_row(s, xc, zo, yo, a, p);
                        if (++yo == s->oh) {
                            yo = 0;
                            zo++;
                        }
                        if (!row) continue;
                        if (sw == 1) {
                            float *__restrict dst = row + ((long long)lo + iw0);
                            for (int j = 0; j < hi - lo; j++) dst[j] += col[lo + j];
                        } else {
                            for (int j = lo; j < hi; j++) row[(long long)j * sw + iw0] += col[j];
                        }
                    }
                }
    }
}

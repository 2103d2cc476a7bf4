/*
 * The depthwise passes (conv4j.h): each picks its algorithm by shape, among those of the variant
 * chosen when the library loaded (depthwise.h).
 */
#include "common/conv4j_dispatch.h"
#include "depthwise/depthwise.h"

void conv4j_dw_forward(const conv4j_dw_params *p, const float *x, const float *w, const float *bias, float *y) {
    const conv4j_dw_ops *ops = conv4j_dw;
    x += p->off[0]; w += p->off[1]; y += p->off[3];
    if (bias) bias += p->off[2];
    if (p->s.oh <= 0 || p->s.ow <= 0) return;
    /* short rows: 16 channels to a vector */
    if (ops->forward_vec && conv4j_dw_short(ops, p->s.ow, p->s.sw, 0) && ops->forward_vec(p, x, w, bias, y)) return;
    conv4j_dw_forward_rows(p, x, w, bias, y);
}

/* With stride 1 the input gradient is a depthwise convolution of gy with the kernels turned by 180
   degrees and padded by (k-1)·d - p, so it runs on the forward pass's row kernels (3x faster than
   tap by tap on MobileNet's 3x3 layer); larger strides build each row of gx in phase rows, where each
   tap adds a whole row of gy at once (on rows of fewer than 32 outputs that measured no faster:
   MobileNet's 28x28 and 56x56 stride-2 layers). */
void conv4j_dw_backward_data(const conv4j_dw_params *p, const float *gy, const float *w, float *gx) {
    const conv4j_dw_ops *ops = conv4j_dw;
    const conv4j_conv_shape *s = &p->s;
    gy += p->off[0]; w += p->off[1]; gx += p->off[2];
    if (ops->data_vec && s->mult == 1 && s->oh > 0 && conv4j_dw_short(ops, s->ow, s->sw, 1) && ops->data_vec(p, gy, w, gx)) return;
    if (s->sh == 1 && s->sw == 1 && s->oh > 0 && s->ow > 0) {
        conv4j_dw_data_turned(p, gy, w, gx);
    } else if (!(s->oh > 0 && s->ow >= 32 && conv4j_dw_data_phased(p, gy, w, gx))) {
        conv4j_dw_data_taps(p, gy, w, gx);
    }
}

/* Short rows go channels to a vector, except 3x3 stride 1 where the variant has the nine-tap pass,
   which was faster;
   channels whose output gradient is not all finite go by the definition. */
void conv4j_dw_backward_weights(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    const conv4j_dw_ops *ops = conv4j_dw;
    const conv4j_conv_shape *s = &p->s;
    x += p->off[0]; gy += p->off[1]; gw += p->off[2];
    const int three1 = s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1;
    if (ops->weights_vec && s->oh > 0 && conv4j_dw_short(ops, s->ow, s->sw, 2) && !(three1 && ops->weights_nine) && ops->weights_vec(p, x, gy, gw)) return;
    if (ops->weights_nine && conv4j_dw_nine_applies(s) && ops->weights_nine(p, x, gy, gw)) return;
    const conv4j_dw_taps_fn taps = ops->weights_dot && s->sw == 1 ? ops->weights_dot : conv4j_dw_weights_lanes;
    for (int oc = p->first; oc < p->first + p->count; oc++) {
        conv4j_dw_weights_channel(p, x, gy, gw + (size_t)oc * s->kh * s->kw, oc, taps);
    }
}

void conv4j_dw_forward_layouts(const conv4j_blk_params *p, const float *x, const float *w, const float *bias, const float *res,
                               float *y, float *scratch) {
    const conv4j_dw_ops *ops = conv4j_dw;
    if (!ops->forward_layouts || p->s.o != p->s.c || p->s.oh <= 0 || p->s.ow <= 0 || p->rows <= 0 || p->gn <= 0) return;
    ops->forward_layouts(p, x + p->off[0], w + p->off[1], bias ? bias + p->off[2] : NULL, res ? res + p->off[4] : NULL,
                         y + p->off[3], scratch);
}

long long conv4j_dw_layouts_scratch(const conv4j_blk_params *p, int rows) {
    return conv4j_dw_layouts_floats(&p->s, rows);
}

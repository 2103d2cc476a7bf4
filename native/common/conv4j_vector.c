/* Whole-array helpers of the entry points (conv4j.h), and the sizes of the parameter structs. */
#include "conv4j.h"
#include "common/conv4j_common.h"

void conv4j_fill(float *p, long long off, long long n, float v) {
    p += off;
    if (v == 0.f) {
        memset(p, 0, sizeof(float) * (size_t)n);
    } else {
        for (long long i = 0; i < n; i++) p[i] = v;
    }
}

CONV4J_MULTIVERSION
uint32_t conv4j_scan_top(const float *v, size_t n) {
    return conv4j_top_bits(v, n);
}

int conv4j_max_bits(const float *p, long long off, long long n) {
    return (int)conv4j_scan_top(p + off, (size_t)n);
}

/* out[i] (+)= sum over n < batch and j < plane of in[(n*channels + c0 + i)*plane + j], i < cn.
   Each plane is summed in 16 float lanes (each lane in index order, so the loop vectorizes without
   reassociating anything), the lanes and planes are then added in double in a fixed order: the
   result does not depend on how channels are split across threads. */
CONV4J_MULTIVERSION
void conv4j_channel_sums(const float *in, int batch, int channels, int plane, int c0, int cn, float *out, int accumulate) {
    for (int i = 0; i < cn; i++) {
        double s = 0;
        for (int n = 0; n < batch; n++) {
            const float *p = in + ((size_t)n * channels + c0 + i) * plane;
            float lane[16] = {0};
            int j = 0;
            for (; j + 16 <= plane; j += 16) {
                for (int l = 0; l < 16; l++) lane[l] += p[j + l];
            }
            for (int l = 0; j < plane; j++, l++) lane[l] += p[j];
            for (int l = 0; l < 16; l++) s += lane[l];
        }
        out[c0 + i] = (float)(accumulate ? out[c0 + i] + s : s);
    }
}

int conv4j_params_size(int family) {
    switch (family) {
    case 0: return (int)sizeof(conv4j_band_params);
    case 1: return (int)sizeof(conv4j_dw_params);
    case 2: return (int)sizeof(conv4j_direct_params);
    case 3: return (int)sizeof(conv4j_wino_params);
    case 4: return (int)sizeof(conv4j_blk_params);
    case 5: return (int)sizeof(conv4j_vol_params);
    default: return 0;
    }
}

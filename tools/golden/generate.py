#!/usr/bin/python3
"""Writes conv4j's own golden vectors: tools/golden/src/test/resources/golden.

    /usr/bin/python3 tools/golden/generate.py [OUTDIR]

Needs PyTorch and NumPy (Debian: apt-get install python3-torch python3-numpy; written against
PyTorch 1.13 and NumPy 1.24). Every case has a seed derived from its name, so a run reproduces the
committed files byte for byte (`--check` regenerates into a temporary folder and compares).

The format is that of the golden set beside the repository (../shared/golden, see README.md in
the output folder): inputs are float32 values; the outputs and gradients are computed in float64
from exactly those values and rounded to float32 once; asymmetric padding is applied as explicit
zero padding before an unpadded convolution. Every result is also computed a second, independent
way (float64 NumPy loops over the definition) and the two must agree.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

FORMAT_VERSION = 1
INT_RANGE = {"x": 3, "w": 2, "b": 3, "gy": 3}


def case(name, family, n, c, h, w, o, kh, kw, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
         groups=1, bias=True, scale=None, ints=False, note=None):
    return dict(name=name, family=family, N=n, C=c, H=h, W=w, O=o, KH=kh, KW=kw, stride=list(stride),
                padding=list(padding), dilation=list(dilation), groups=groups, bias=bias,
                scale=scale or {}, ints=ints, note=note)


def cases():
    """Every case; names are unique. Families say what each covers (README.md lists them)."""
    p1 = (1, 1, 1, 1)
    return [
        # kernel sizes, non-square and even kernels
        case("k1x1_c3o4", "kernel", 1, 3, 8, 8, 4, 1, 1),
        case("k3x3_p1_n2", "kernel", 2, 3, 8, 8, 4, 3, 3, padding=p1),
        case("k3x3_p0_7x9_nobias", "kernel", 1, 3, 7, 9, 5, 3, 3, bias=False),
        case("k5x5_p2", "kernel", 1, 3, 9, 9, 4, 5, 5, padding=(2, 2, 2, 2)),
        case("k7x7_p0_12x9", "kernel", 1, 2, 12, 9, 3, 7, 7, bias=False),
        case("k1x3_p0x1", "kernel", 1, 3, 6, 8, 4, 1, 3, padding=(0, 0, 1, 1)),
        case("k3x1_p1x0", "kernel", 1, 3, 8, 6, 4, 3, 1, padding=(1, 1, 0, 0)),
        case("k2x4_p0_n2", "kernel", 2, 3, 7, 9, 4, 2, 4),
        case("k4x2_pasym", "kernel", 1, 3, 7, 6, 3, 4, 2, padding=(1, 2, 0, 1)),
        # strides, non-square strides, sizes where (H + pad - extent) is not a multiple of the stride (floor)
        case("s2_k3_p1_exact", "stride", 2, 3, 9, 9, 4, 3, 3, stride=(2, 2), padding=p1),
        case("s2_k3_p1_floor", "stride", 1, 3, 10, 10, 4, 3, 3, stride=(2, 2), padding=p1),
        case("s3_k3_p0_floor_11x13", "stride", 1, 3, 11, 13, 4, 3, 3, stride=(3, 3)),
        case("s4_k3_p1_floor_9x14", "stride", 1, 2, 9, 14, 3, 3, 3, stride=(4, 4), padding=p1),
        case("s2_k5_p2_floor", "stride", 1, 3, 12, 12, 4, 5, 5, stride=(2, 2), padding=(2, 2, 2, 2)),
        case("s2x1_k3_p1", "stride", 1, 3, 9, 8, 4, 3, 3, stride=(2, 1), padding=p1),
        case("s1x2_k3_p1_nobias", "stride", 1, 3, 8, 9, 4, 3, 3, stride=(1, 2), padding=p1, bias=False),
        case("s1x3_k2x4", "stride", 1, 2, 7, 13, 3, 2, 4, stride=(1, 3)),
        case("s2_k1_downsample", "stride", 1, 4, 7, 7, 4, 1, 1, stride=(2, 2)),
        case("s3_k1_floor", "stride", 1, 3, 8, 8, 2, 1, 1, stride=(3, 3)),
        case("s2_k2_patchify", "stride", 1, 3, 8, 8, 4, 2, 2, stride=(2, 2)),
        case("s5_k3_stride_exceeds_kernel", "stride", 1, 2, 13, 11, 3, 3, 3, stride=(5, 5),
             note="stride larger than the kernel: input rows and columns no window reaches get a zero gradient"),
        # symmetric and asymmetric zero padding, padding larger than the kernel
        case("p2_k3", "padding", 1, 3, 6, 6, 4, 3, 3, padding=(2, 2, 2, 2)),
        case("pasym_0101_s2", "padding", 1, 3, 8, 8, 4, 3, 3, stride=(2, 2), padding=(0, 1, 0, 1)),
        case("pasym_2013", "padding", 1, 2, 7, 6, 3, 3, 3, padding=(2, 0, 1, 3)),
        case("pasym_1020_k5_nobias", "padding", 2, 2, 8, 8, 3, 5, 5, padding=(1, 0, 2, 0), bias=False),
        case("p2x0_k5x1", "padding", 1, 3, 6, 5, 2, 5, 1, padding=(2, 2, 0, 0)),
        case("p4_k3_pad_exceeds_kernel", "padding", 1, 2, 5, 6, 3, 3, 3, padding=(4, 3, 4, 5),
             note="padding wider than the kernel: whole output rows and columns see only zeros (bias alone)"),
        # dilation, non-square dilation, dilation with stride
        case("d2_k3_p2", "dilation", 1, 3, 10, 10, 4, 3, 3, padding=(2, 2, 2, 2), dilation=(2, 2)),
        case("d3_k3_p0", "dilation", 1, 3, 12, 12, 4, 3, 3, dilation=(3, 3)),
        case("d2x1_k3", "dilation", 1, 3, 9, 9, 4, 3, 3, padding=(2, 2, 1, 1), dilation=(2, 1)),
        case("d1x3_k2x3_nobias", "dilation", 1, 2, 8, 12, 3, 2, 3, dilation=(1, 3), bias=False),
        case("d2_s2_floor", "dilation", 1, 3, 12, 11, 4, 3, 3, stride=(2, 2), padding=p1, dilation=(2, 2)),
        case("d3_s3_p3", "dilation", 1, 2, 14, 14, 2, 3, 3, stride=(3, 3), padding=(3, 3, 3, 3), dilation=(3, 3)),
        # grouped convolutions
        case("g2_c4o6", "groups", 1, 4, 7, 7, 6, 3, 3, padding=p1, groups=2),
        case("g2_c4o4_s2_n2", "groups", 2, 4, 8, 8, 4, 3, 3, stride=(2, 2), padding=p1, groups=2),
        case("g4_c16o16", "groups", 1, 16, 6, 6, 16, 3, 3, padding=p1, groups=4),
        case("g4_c8o4_nobias", "groups", 1, 8, 6, 6, 4, 3, 3, groups=4, bias=False),
        case("g4_c4o8_k1", "groups", 1, 4, 5, 5, 8, 1, 1, groups=4),
        case("g3_c6o9_k3x2_pasym", "groups", 2, 6, 7, 8, 9, 3, 2, padding=(0, 2, 1, 0), groups=3),
        case("g2_c32o32_k3_direct", "groups", 1, 32, 6, 8, 32, 3, 3, padding=p1, groups=2,
             note="16 output channels per group, stride 1: the blas engine's direct kernel, per group"),
        # depthwise (groups == C), with and without a channel multiplier; small planes, wide rows, strides
        case("dw_c16_k3_p1", "depthwise", 1, 16, 8, 8, 16, 3, 3, padding=p1, groups=16),
        case("dw_c16_k3_p1_w40", "depthwise", 1, 16, 6, 40, 16, 3, 3, padding=p1, groups=16,
             note="stride-1 rows of 40 outputs: the depthwise row kernels"),
        case("dw_c16_k3_s2_w130", "depthwise", 1, 16, 3, 130, 16, 3, 3, stride=(2, 2), padding=p1, groups=16,
             note="strided rows of 65 outputs: the depthwise row kernels forward and backward"),
        case("dw_c16_s2_pasym", "depthwise", 1, 16, 8, 8, 16, 3, 3, stride=(2, 2), padding=(0, 1, 0, 1), groups=16),
        case("dw_c8_k5_s2_p2_nobias", "depthwise", 1, 8, 10, 10, 8, 5, 5, stride=(2, 2), padding=(2, 2, 2, 2),
             groups=8, bias=False),
        case("dw_c3_mult2_s2", "depthwise", 2, 3, 9, 9, 6, 3, 3, stride=(2, 2), padding=p1, groups=3),
        case("dw_c4_mult3_k3_p1", "depthwise", 1, 4, 7, 9, 12, 3, 3, padding=p1, groups=4),
        case("dw_c16_mult2_k3_p1", "depthwise", 1, 16, 6, 20, 32, 3, 3, padding=p1, groups=16),
        case("dw_c16_k3_d2_p2", "depthwise", 1, 16, 9, 9, 16, 3, 3, padding=(2, 2, 2, 2), dilation=(2, 2),
             groups=16),
        case("dw_c24_k5x3_p2x1_n2", "depthwise", 2, 24, 7, 11, 24, 5, 3, padding=(2, 2, 1, 1), groups=24),
        # 1x1 (pointwise) layers
        case("pw_c24o20_16x16", "pointwise", 1, 24, 16, 16, 20, 1, 1,
             note="1x1 stride 1, 256 columns: no im2col, wide products"),
        case("pw_c8o40_5x7_nobias", "pointwise", 1, 8, 5, 7, 40, 1, 1, bias=False),
        case("pw_c16o8_s2_p1", "pointwise", 1, 16, 9, 8, 8, 1, 1, stride=(2, 2), padding=p1,
             note="1x1 with stride and padding: the padded border is all bias"),
        # 3x3 stride 1, one group, at least 16 channels: Winograd applies (AUTO takes F(4x4) from 32 4x4 blocks
        # when there are more than 16 output channels; at most 16 go to the direct kernel)
        case("wino_c16o24_16x16_n2", "winograd", 2, 16, 16, 16, 24, 3, 3, padding=p1,
             note="AUTO runs Winograd F(4x4) here (32 output blocks of 4x4, more than 16 output channels)"),
        case("wino_c16o17_19x30_p0_nobias", "winograd", 1, 16, 19, 30, 17, 3, 3, bias=False,
             note="17x28 outputs: partial tiles at the bottom edge"),
        case("wino_c24o20_20x28_pasym", "winograd", 1, 24, 20, 28, 20, 3, 3, padding=(2, 0, 1, 0),
             note="20x27 outputs, asymmetric padding"),
        case("wino_c16o17_11x9_few_tiles", "winograd", 1, 16, 11, 9, 17, 3, 3, padding=p1,
             note="too few tiles for AUTO to take Winograd: im2col; forced Winograd in GoldenWinogradTest"),
        # stride 1, at most 16 output channels per group: the blas engine's direct kernel under AUTO
        case("direct_c8o16_8x40", "direct", 1, 8, 8, 40, 16, 3, 3, padding=p1),
        case("direct_c5o9_k5_p2_n3", "direct", 3, 5, 9, 11, 9, 5, 5, padding=(2, 2, 2, 2)),
        case("direct_c16o8_k3_d2_pasym", "direct", 1, 16, 10, 13, 8, 3, 3, padding=(2, 1, 0, 3), dilation=(2, 2)),
        case("direct_c3o1_k7x3", "direct", 2, 3, 10, 8, 1, 7, 3, padding=(3, 3, 1, 1), bias=False),
        # im2col + GEMM: more than 16 output channels, long kernels, wide products, strided gathers
        case("gemm_c3o20_16x16", "gemm", 1, 3, 16, 16, 20, 3, 3, padding=p1,
             note="20 output channels, 256 columns: im2col + GEMM with wide products"),
        case("gemm_c4o16_s2_33x33", "gemm", 1, 4, 33, 33, 16, 3, 3, stride=(2, 2), padding=p1,
             note="stride 2, 17x17 outputs: the column matrix gathered with stride 2"),
        case("gemm_c64o8_k576", "gemm", 1, 64, 6, 7, 8, 3, 3, padding=p1,
             note="C*KH*KW = 576 rows: beyond the direct kernel"),
        case("gemm_c8o18_k3x5_s1x2_n2", "gemm", 2, 8, 9, 17, 18, 3, 5, stride=(1, 2), padding=(1, 1, 2, 2)),
        # the window covers the whole padded input (1x1 output) or one output row
        case("full_k7_p1_5x5", "out1x1", 1, 3, 5, 5, 4, 7, 7, padding=p1),
        case("full_k6x4_n2", "out1x1", 2, 3, 6, 4, 4, 6, 4),
        case("full_d2_k3", "out1x1", 1, 2, 5, 5, 3, 3, 3, dilation=(2, 2)),
        case("full_s3_k3_4x4_nobias", "out1x1", 1, 2, 4, 4, 3, 3, 3, stride=(3, 3), bias=False),
        case("row_k3x5_one_output_row", "out1x1", 1, 3, 3, 12, 4, 3, 5),
        # batch sizes and channel counts
        case("n5_c3", "batch_channels", 5, 3, 6, 6, 4, 3, 3, padding=p1),
        case("c1_o1_n2", "batch_channels", 2, 1, 7, 7, 1, 3, 3, padding=p1),
        case("c1_o16_k5", "batch_channels", 1, 1, 9, 9, 16, 5, 5, padding=(2, 2, 2, 2)),
        case("c16_o1", "batch_channels", 1, 16, 5, 5, 1, 3, 3),
        case("n3_h1_w9_k1x3", "batch_channels", 3, 4, 1, 9, 5, 1, 3, padding=(0, 0, 1, 1),
             note="one input row"),
        # values of large and small magnitude
        case("big_xw_1e3", "magnitude", 1, 3, 6, 6, 4, 3, 3, padding=p1,
             scale={"x": 1e3, "w": 1e3, "b": 1e6}),
        case("big_x_1e3_s2", "magnitude", 2, 4, 8, 8, 4, 3, 3, stride=(2, 2), padding=p1, scale={"x": 1e3}),
        case("tiny_xw_1e-3", "magnitude", 1, 3, 6, 6, 4, 3, 3, padding=p1,
             scale={"x": 1e-3, "w": 1e-3, "b": 1e-6}),
        case("tiny_x_big_w_nobias", "magnitude", 1, 3, 6, 6, 4, 3, 3, bias=False, scale={"x": 1e-3, "w": 1e3}),
        case("big_gy_1e3_s2", "magnitude", 1, 3, 7, 7, 4, 3, 3, stride=(2, 2), scale={"gy": 1e3}),
        case("huge_xw_1e17_k5_s2", "magnitude", 1, 3, 9, 9, 4, 5, 5, stride=(2, 2), padding=(2, 2, 2, 2),
             scale={"x": 1e17, "w": 1e17, "b": 1e34, "gy": 1e17},
             note="products near 1e34, sums within float32's range (3.4e38)"),
        # small integers: every input, output and gradient, and every partial sum, exact in float32
        case("exact_int_k3_s2_g2", "exact_int", 1, 4, 7, 7, 4, 3, 3, stride=(2, 2), padding=p1, groups=2,
             ints=True),
        case("exact_int_k2x3_d2_pasym", "exact_int", 2, 2, 6, 7, 3, 2, 3, padding=(1, 0, 0, 2), dilation=(2, 2),
             ints=True),
        case("exact_int_dw_c16_k3_p1", "exact_int", 1, 16, 6, 9, 16, 3, 3, padding=p1, groups=16, ints=True),
        case("exact_int_wino_c16o20_16x16_n2", "exact_int", 2, 16, 16, 16, 20, 3, 3, padding=p1, ints=True,
             note="3x3 stride 1 with 16 channels: Winograd F(4x4) under AUTO, which must stay exact"),
        case("exact_int_wino_c16o16_6x10_nobias", "exact_int", 1, 16, 6, 10, 16, 3, 3, bias=False, ints=True),
        # scaled-down common layers
        case("lenet_c1_mini_n2", "anchors_mini", 2, 1, 16, 16, 6, 5, 5),
        case("lenet_c2_mini", "anchors_mini", 2, 6, 8, 8, 16, 5, 5),
        case("r50_conv1_mini", "anchors_mini", 1, 3, 20, 20, 8, 7, 7, stride=(2, 2), padding=(3, 3, 3, 3)),
        case("mbv1_dw_mini", "anchors_mini", 1, 32, 8, 8, 32, 3, 3, padding=p1, groups=32),
        # several features at once (combo_all: the same parameters as the set beside the repository's)
        case("combo_all", "combo", 2, 6, 11, 9, 4, 3, 2, stride=(2, 3), padding=(1, 2, 0, 1), dilation=(2, 1),
             groups=2),
        case("combo_g4_asym_nobias", "combo", 3, 4, 9, 10, 8, 3, 5, stride=(1, 2), padding=(2, 1, 0, 2),
             dilation=(1, 2), groups=4, bias=False),
        case("combo_dw_mult2_s2x3_d2", "combo", 2, 6, 13, 14, 12, 3, 3, stride=(2, 3), padding=(2, 0, 1, 3),
             dilation=(2, 2), groups=6),
    ]


FAMILIES = {
    "kernel": "kernel sizes, non-square and even kernels",
    "stride": "strides > 1, non-square strides, sizes where (H+pad-extent) is not a multiple of the stride, "
              "a stride larger than the kernel",
    "padding": "symmetric and asymmetric zero padding, padding wider than the kernel",
    "dilation": "dilation > 1, non-square dilation, dilation with stride",
    "groups": "grouped convolutions",
    "depthwise": "groups == C, with and without a channel multiplier; small planes, long rows, strides, dilation",
    "pointwise": "1x1 kernels, with and without stride and padding",
    "winograd": "3x3 stride 1, one group, at least 16 input and output channels: Winograd applies (AUTO takes it "
                "for the larger ones)",
    "direct": "stride 1, at most 16 output channels per group: the blas engine's direct kernel",
    "gemm": "im2col + GEMM: wide products, strided gathers, long kernels",
    "out1x1": "the window covers the whole padded input (1x1 output) or one output row",
    "batch_channels": "batch sizes and channel counts",
    "magnitude": "values of large and small magnitude",
    "exact_int": "small integers: every input, output, gradient and partial sum is exact in float32",
    "anchors_mini": "scaled-down versions of common layers",
    "combo": "several features at once",
}


def out_size(size, before, after, k, s, d):
    return (size + before + after - d * (k - 1) - 1) // s + 1


def seed_of(name):
    return int.from_bytes(hashlib.sha256(("conv4j golden " + name).encode()).digest()[:4], "little")


def draw(rng, shape, scale, ints, key):
    if ints:
        r = INT_RANGE[key]
        return rng.integers(-r, r + 1, size=shape).astype(np.float32)
    return (rng.uniform(-1.0, 1.0, size=shape) * scale).astype(np.float32)


def torch_reference(c, x, w, b, gy):
    """y, gx, gw, gb in float64 by PyTorch (autograd), from the float32 values."""
    t, bo, l, r = c["padding"]
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True) if b is not None else None
    y = F.conv2d(F.pad(xt, (l, r, t, bo)), wt, bt, stride=tuple(c["stride"]), dilation=tuple(c["dilation"]),
                 groups=c["groups"])
    (y * torch.tensor(gy, dtype=torch.float64)).sum().backward()
    return (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), None if bt is None else bt.grad.numpy())


def numpy_reference(c, x, w, b, gy):
    """The same four results from the definition, in float64 NumPy: the independent check."""
    n, ch, h, wd = x.shape
    o, cg, kh, kw = w.shape
    g = c["groups"]
    og = o // g
    t, bo, l, r = c["padding"]
    sh, sw = c["stride"]
    dh, dw = c["dilation"]
    oh, ow = gy.shape[2], gy.shape[3]
    xp = np.zeros((n, ch, h + t + bo, wd + l + r))
    xp[:, :, t:t + h, l:l + wd] = x
    gyd = gy.astype(np.float64)
    wd64 = w.astype(np.float64)
    y = np.zeros((n, o, oh, ow))
    gxp = np.zeros_like(xp)
    gw = np.zeros((o, cg, kh, kw))
    for grp in range(g):
        xs = xp[:, grp * cg:(grp + 1) * cg]
        gys = gyd[:, grp * og:(grp + 1) * og]
        ws = wd64[grp * og:(grp + 1) * og]
        for p in range(kh):
            for q in range(kw):
                # the input patch each output position sees through tap (p, q): (n, cg, oh, ow)
                patch = xs[:, :, p * dh:p * dh + (oh - 1) * sh + 1:sh, q * dw:q * dw + (ow - 1) * sw + 1:sw]
                y[:, grp * og:(grp + 1) * og] += np.einsum("ncij,oc->noij", patch, ws[:, :, p, q])
                gw[grp * og:(grp + 1) * og, :, p, q] += np.einsum("ncij,noij->oc", patch, gys)
                gxp[:, grp * cg:(grp + 1) * cg, p * dh:p * dh + (oh - 1) * sh + 1:sh,
                    q * dw:q * dw + (ow - 1) * sw + 1:sw] += np.einsum("noij,oc->ncij", gys, ws[:, :, p, q])
    gb = None
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
        gb = gyd.sum(axis=(0, 2, 3))
    return y, gxp[:, :, t:t + h, l:l + wd], gw, gb


def check_exact_bounds(c, x, w, b, gy):
    """For integer cases: the largest partial sum any summation order can reach stays below 2^24."""
    ax = None if x is None else np.abs(x)
    bound = numpy_reference(c, ax, np.abs(w), None if b is None else np.abs(b), np.abs(gy))
    for name, v in zip(("y", "gx", "gw", "gb"), bound):
        if v is not None:
            top = np.abs(v).max()
            if top >= 2 ** 24:
                raise SystemExit(f"{c['name']}: {name} partial sums reach {top}, not exact in float32")


def generate_case(c, root):
    sh, sw = c["stride"]
    t, bo, l, r = c["padding"]
    dh, dw = c["dilation"]
    g = c["groups"]
    if c["C"] % g or c["O"] % g:
        raise SystemExit(f"{c['name']}: groups {g} must divide C {c['C']} and O {c['O']}")
    oh = out_size(c["H"], t, bo, c["KH"], sh, dh)
    ow = out_size(c["W"], l, r, c["KW"], sw, dw)
    if oh < 1 or ow < 1:
        raise SystemExit(f"{c['name']}: empty output")
    x_shape = [c["N"], c["C"], c["H"], c["W"]]
    w_shape = [c["O"], c["C"] // g, c["KH"], c["KW"]]
    y_shape = [c["N"], c["O"], oh, ow]
    seed = seed_of(c["name"])
    scale = {"x": 1.0, "w": 1.0 / np.sqrt(c["C"] // g * c["KH"] * c["KW"]), "b": 1.0, "gy": 1.0}
    scale.update(c["scale"])
    if not c["bias"]:
        scale["b"] = None
    rng = np.random.default_rng(seed)
    ints = c["ints"]
    x = draw(rng, x_shape, scale["x"], ints, "x")
    w = draw(rng, w_shape, scale["w"], ints, "w")
    b = draw(rng, [c["O"]], scale["b"], ints, "b") if c["bias"] else None
    gy = draw(rng, y_shape, scale["gy"], ints, "gy")

    ref = torch_reference(c, x, w, b, gy)
    alt = numpy_reference(c, x, w, b, gy)
    for name, a, e in zip(("y", "gx", "gw", "gb"), ref, alt):
        if a is None:
            continue
        err = np.abs(a - e).max() / max(np.abs(e).max(), 1e-300)
        if not err <= 1e-12:
            raise SystemExit(f"{c['name']}: PyTorch and the definition disagree on {name} by {err:.3e}")
    if ints:
        check_exact_bounds(c, x, w, b, gy)
        for name, a in zip(("y", "gx", "gw", "gb"), ref):
            if a is not None and not np.array_equal(a, np.round(a)):
                raise SystemExit(f"{c['name']}: {name} is not integer-valued")
    y, gx, gw, gb = (None if a is None else a.astype(np.float32) for a in ref)
    if not all(np.isfinite(a).all() for a in (x, w, y, gy, gx, gw) if a is not None):
        raise SystemExit(f"{c['name']}: a value is not finite")

    arrays = [("x", x), ("w", w), ("b", b), ("y", y), ("gy", gy), ("gx", gx), ("gw", gw), ("gb", gb)]
    arrays = [(k, a) for k, a in arrays if a is not None]
    d = os.path.join(root, c["name"])
    os.makedirs(d)
    sums = {}
    size = 0
    for k, a in arrays:
        path = os.path.join(d, k + ".npy")
        np.save(path, np.ascontiguousarray(a, dtype="<f4"), allow_pickle=False)
        with open(path, "rb") as f:
            data = f.read()
        sums[k + ".npy"] = hashlib.sha256(data).hexdigest()
        size += len(data)
    meta = {
        "name": c["name"], "family": c["family"],
        "stride": c["stride"], "padding": c["padding"], "dilation": c["dilation"], "groups": g, "bias": c["bias"],
        "N": c["N"], "C": c["C"], "H": c["H"], "W": c["W"], "O": c["O"], "KH": c["KH"], "KW": c["KW"],
        "OH": oh, "OW": ow,
        "x_shape": x_shape, "w_shape": w_shape, "b_shape": [c["O"]] if c["bias"] else None, "y_shape": y_shape,
        "dtype": "float32",
        "files": [k + ".npy" for k, _ in arrays],
        "data": {
            "distribution": "integers" if ints else "uniform(-1,1)*scale",
            "scale": {k: (float(v) if v is not None else None) for k, v in scale.items()}
            if not ints else {k: (INT_RANGE[k] if k != "b" or c["bias"] else None) for k in ("x", "w", "b", "gy")},
            "seed": seed,
        },
    }
    if ints:
        meta["data"]["note"] = "integers drawn uniformly from [-scale, scale]"
    if c["note"]:
        meta["note"] = c["note"]
    write_json(os.path.join(d, "case.json"), meta)
    entry = {k: meta[k] for k in ("name", "family", "stride", "padding", "dilation", "groups", "bias",
                                  "x_shape", "w_shape", "y_shape")}
    entry.update({"dir": c["name"], "bytes": size, "sha256": sums})
    return entry


def dumps(v, indent=0):
    """JSON as the set beside the repository writes it: objects one key a line, arrays of numbers inline."""
    pad = "  " * indent
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [f'{pad}  {json.dumps(k)}: {dumps(x, indent + 1)}' for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
        items = [pad + "  " + dumps(x, indent + 1) for x in v]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if isinstance(v, list):
        return "[" + ", ".join(json.dumps(x) for x in v) + "]"
    return json.dumps(v)


def write_json(path, v):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(dumps(v) + "\n")


def readme(entries):
    lines = [
        "# conv4j's own golden cases for 2-D convolution (NCHW, forward and backward)",
        "",
        "Written by `tools/golden/generate.py` (do not edit by hand; run it again instead:",
        "`/usr/bin/python3 tools/golden/generate.py`, and `--check` to confirm that the files are",
        "reproduced byte for byte). PyTorch " + torch.__version__ + " in float64 from float32 inputs: the inputs are",
        "float32 values, the outputs and gradients were computed in float64 from exactly those values",
        "and rounded to float32 once; asymmetric padding was applied as explicit zero padding before an",
        "unpadded convolution. Each result was also computed from the definition in float64 NumPy, and the",
        "two agreed to 1e-12. `manifest.json` lists every case with its parameters and the sha256 of",
        "every file.",
        "",
        "The format is that of the golden set beside the repository (`../shared/golden`):",
        "",
        "| file | shape | meaning |",
        "| --- | --- | --- |",
        "| `x.npy`  | (N, C, H, W) | input |",
        "| `w.npy`  | (O, C/groups, KH, KW) | weight |",
        "| `b.npy`  | (O,) | bias; absent when `\"bias\": false` |",
        "| `y.npy`  | (N, O, OH, OW) | forward output `conv2d(x, w, b)` |",
        "| `gy.npy` | (N, O, OH, OW) | upstream gradient (random) |",
        "| `gx.npy` | (N, C, H, W) | dL/dx for L = sum(y * gy) |",
        "| `gw.npy` | (O, C/groups, KH, KW) | dL/dw |",
        "| `gb.npy` | (O,) | dL/db; absent when `\"bias\": false` |",
        "| `case.json` | | parameters (`stride` [sh, sw], `padding` [top, bottom, left, right], `dilation` [dh, dw], `groups`, `bias`), shapes, data |",
        "",
        "Arrays are float32, little-endian, C order, `numpy.save` format version 1.0. Semantics:",
        "cross-correlation, `y[n,o,i,j] = b[o] + sum_{c,p,q} xpad[n, g*C/G + c, i*sh + p*dh, j*sw + q*dw] * w[o,c,p,q]`",
        "with `g = o / (O/G)`; output size by floor, `OH = floor((H + top + bottom - dh*(KH-1) - 1) / sh) + 1`.",
        "",
        "Values: uniform in (-1, 1) times a scale (the weight's default scale is 1/sqrt(C/G*KH*KW)); the",
        "`magnitude` cases use other scales (up to 1e17 for inputs and weights), and the `exact_int` cases",
        "small integers (x, b, gy in [-3, 3], w in [-2, 2]) such that every result and every partial sum",
        "is exact in float32: they must match exactly. Each case's seed is derived from its name.",
        "",
        "## Case families",
        "",
    ]
    by_family = {}
    for e in entries:
        by_family.setdefault(e["family"], []).append(e["name"])
    for fam, names in by_family.items():
        lines.append(f"* `{fam}` ({len(names)}) - {FAMILIES[fam]}: {', '.join(names)}")
    return "\n".join(lines) + "\n"


def generate(root):
    torch.set_num_threads(1)
    all_cases = cases()
    names = [c["name"] for c in all_cases]
    if len(set(names)) != len(names):
        raise SystemExit("case names must be unique")
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    entries = [generate_case(c, root) for c in all_cases]
    manifest = {
        "format_version": FORMAT_VERSION,
        "set": "conv4j",
        "generator": "tools/golden/generate.py: PyTorch " + torch.__version__
                     + " torch.nn.functional.conv2d + autograd, float64 from float32 inputs",
        "layout": "NCHW; weight (O, C/groups, KH, KW); padding [top, bottom, left, right]",
        "dtype": "float32",
        "count": len(entries),
        "total_bytes": sum(e["bytes"] for e in entries),
        "cases": entries,
    }
    write_json(os.path.join(root, "manifest.json"), manifest)
    with open(os.path.join(root, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(readme(entries))
    with open(os.path.join(root, ".gitattributes"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# byte for byte as written (the manifest holds their sha256)\n*.npy binary\n*.json text eol=lf\n"
                "*.md text eol=lf\n")
    return manifest


def same_tree(a, b):
    def files(root):
        out = {}
        for d, _, fs in os.walk(root):
            for f in fs:
                p = os.path.join(d, f)
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, root)] = fh.read()
        return out
    fa, fb = files(a), files(b)
    diff = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
    return diff


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "src", "test", "resources", "golden")
    args = [a for a in argv if a != "--check"]
    root = os.path.abspath(args[0]) if args else default
    if "--check" in argv:
        with tempfile.TemporaryDirectory() as tmp:
            generate(os.path.join(tmp, "golden"))
            diff = same_tree(root, os.path.join(tmp, "golden"))
        if diff:
            print("differs from a fresh run: " + ", ".join(diff[:20]), file=sys.stderr)
            return 1
        print(f"{root}: reproduced byte for byte")
        return 0
    m = generate(root)
    print(f"{m['count']} cases, {m['total_bytes']} bytes of arrays, in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""Writes conv4j's golden vectors for the other convolution ops: tools/golden/src/test/resources/golden-ops.

    /usr/bin/python3 tools/golden/generate_ops.py [OUTDIR]
    /usr/bin/python3 tools/golden/generate_ops.py --check [OUTDIR]

The ops: 1-D and 3-D convolution, and 1-D, 2-D and 3-D transposed convolution, forward and backward.
The conventions are those of generate.py beside this file (2-D convolution), from which the helpers
come: float32 inputs; outputs and gradients computed by PyTorch in float64 from exactly those values
and rounded to float32 once; every result computed a second, independent way (float64 NumPy loops
over the definition) and the two must agree; a seed derived from each case's name, so a run
reproduces the committed files byte for byte (`--check` regenerates into a temporary folder and
compares). The README.md written into the output folder states the format and the semantics.
"""

import hashlib
import itertools
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # importing generate.py beside this file leaves no __pycache__ in the tree
from generate import FORMAT_VERSION, INT_RANGE, draw, out_size, same_tree, seed_of, write_json

OPS = {
    # op: (spatial dimensions, transposed)
    "conv1d": (1, False),
    "conv3d": (3, False),
    "conv_transpose1d": (1, True),
    "conv_transpose2d": (2, True),
    "conv_transpose3d": (3, True),
}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TOL = 1e-12


def case(name, op, family, n, c, o, size, kernel, stride=None, padding=None, dilation=None, output_padding=None,
         groups=1, bias=True, scale=None, ints=False, note=None):
    """c input channels, o output channels; size and kernel one entry per spatial dimension; padding
    (begin, end) per dimension, flattened; output_padding for the transposed ops only."""
    nd, transposed = OPS[op]
    return dict(name=name, op=op, family=family, N=n, C=c, O=o, size=list(size), kernel=list(kernel),
                stride=list(stride or [1] * nd), padding=list(padding or [0] * (2 * nd)),
                dilation=list(dilation or [1] * nd),
                output_padding=list(output_padding or [0] * nd) if transposed else None,
                groups=groups, bias=bias, scale=scale or {}, ints=ints, note=note)


def cases():
    """Every case; names are unique and start with the op's prefix (c1d, c3d, t1d, t2d, t3d)."""
    c1, c3, t1, t2, t3 = "conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"
    return [
        # ---- conv1d: x (N, C, L), w (O, C/groups, K)
        case("c1d_k3_p1", c1, "kernel", 1, 3, 4, [10], [3], padding=[1, 1]),
        case("c1d_k1_c4o6", c1, "kernel", 1, 4, 6, [8], [1]),
        case("c1d_k4_pasym_1_2", c1, "padding", 1, 3, 4, [9], [4], padding=[1, 2],
             note="even kernel, asymmetric padding"),
        case("c1d_s2_k3_p1_floor", c1, "stride", 1, 3, 4, [10], [3], stride=[2], padding=[1, 1],
             note="(L + pad - extent) not a multiple of the stride: floor"),
        case("c1d_s4_k2_stride_exceeds_kernel", c1, "stride", 1, 2, 3, [12], [2], stride=[4],
             note="stride larger than the kernel: inputs no window reaches get a zero gradient"),
        case("c1d_p5_4_k3_pad_exceeds_kernel", c1, "padding", 1, 2, 3, [6], [3], padding=[5, 4],
             note="padding wider than the kernel: outputs at both ends see only zeros (bias alone)"),
        case("c1d_d3_k3_p3", c1, "dilation", 1, 3, 4, [12], [3], padding=[3, 3], dilation=[3]),
        case("c1d_d2_s3_k4", c1, "dilation", 1, 2, 3, [15], [4], stride=[3], dilation=[2]),
        case("c1d_g2_c4o6_p1", c1, "groups", 1, 4, 6, [9], [3], padding=[1, 1], groups=2),
        case("c1d_dw_c6_k5_p2", c1, "depthwise", 1, 6, 6, [11], [5], padding=[2, 2], groups=6),
        case("c1d_dw_c4_mult2_s2_nobias", c1, "depthwise", 1, 4, 8, [9], [3], stride=[2], padding=[1, 1],
             groups=4, bias=False, note="channel multiplier 2"),
        case("c1d_n2_k3_nobias", c1, "batch_bias", 2, 3, 5, [8], [3], bias=False),
        case("c1d_audio_c8o8_k3_d4_l64", c1, "realistic", 1, 8, 8, [64], [3], padding=[4, 4], dilation=[4],
             note="WaveNet/TCN-style dilated layer, output length = input length"),
        case("c1d_exact_int_s2_g2_pasym", c1, "exact_int", 2, 4, 6, [11], [3], stride=[2], padding=[2, 1],
             groups=2, ints=True),
        # ---- conv3d: x (N, C, D, H, W), w (O, C/groups, KD, KH, KW)
        case("c3d_k3_p1", c3, "kernel", 1, 2, 3, [5, 6, 7], [3, 3, 3], padding=[1, 1, 1, 1, 1, 1]),
        case("c3d_k1_c4o5", c3, "kernel", 1, 4, 5, [3, 4, 5], [1, 1, 1]),
        case("c3d_k2x3x4_p0", c3, "kernel", 1, 2, 3, [5, 6, 7], [2, 3, 4], note="even and unequal kernel sizes"),
        case("c3d_s1x2x3_k3_p1", c3, "stride", 1, 2, 3, [5, 7, 10], [3, 3, 3], stride=[1, 2, 3],
             padding=[1, 1, 1, 1, 1, 1], note="a different stride per dimension, floor in W"),
        case("c3d_s3_k2_stride_exceeds_kernel", c3, "stride", 1, 2, 2, [7, 8, 8], [2, 2, 2], stride=[3, 3, 3],
             note="stride larger than the kernel: inputs no window reaches get a zero gradient"),
        case("c3d_pasym_102031_k2", c3, "padding", 1, 2, 3, [4, 5, 6], [2, 2, 2], padding=[1, 0, 2, 0, 3, 1],
             note="asymmetric padding, wider than the kernel at the top and left: output rows and columns of "
                  "bias alone"),
        case("c3d_d2x1x2_k3", c3, "dilation", 1, 2, 3, [7, 5, 8], [3, 3, 3], padding=[2, 2, 1, 1, 0, 2],
             dilation=[2, 1, 2]),
        case("c3d_g2_c4o6_n2", c3, "groups", 2, 4, 6, [4, 5, 5], [3, 3, 3], padding=[1, 1, 1, 1, 1, 1], groups=2),
        case("c3d_dw_c4_k3_s2_nobias", c3, "depthwise", 1, 4, 4, [6, 7, 7], [3, 3, 3], stride=[2, 2, 2],
             padding=[1, 1, 1, 1, 1, 1], groups=4, bias=False),
        case("c3d_dw_c2_mult3_k2x3x3", c3, "depthwise", 1, 2, 6, [4, 6, 5], [2, 3, 3], padding=[0, 1, 1, 1, 1, 1],
             groups=2, note="channel multiplier 3"),
        case("c3d_video_c3o8_k3_8x12x12", c3, "realistic", 1, 3, 8, [8, 12, 12], [3, 3, 3],
             padding=[1, 1, 1, 1, 1, 1], note="C3D/I3D-style first layer (3x3x3, 'same'), scaled down"),
        case("c3d_exact_int_k2_s2_pasym", c3, "exact_int", 1, 3, 4, [5, 6, 5], [2, 3, 2], stride=[2, 1, 2],
             padding=[0, 1, 1, 1, 1, 0], ints=True),
        # ---- conv_transpose1d: x (N, C_in, L), w (C_in, C_out/groups, K)
        case("t1d_onnx_k3", t1, "onnx", 1, 1, 2, [3], [3], note="the shapes of ONNX's test_convtranspose_1d"),
        case("t1d_k3_s1_p0_c3o4", t1, "kernel", 1, 3, 4, [6], [3]),
        case("t1d_k1_s2_stride_exceeds_kernel", t1, "stride", 1, 3, 2, [5], [1], stride=[2],
             note="stride larger than the kernel: every other output is bias alone"),
        case("t1d_k4_s2_p1", t1, "stride", 1, 4, 3, [8], [4], stride=[2], padding=[1, 1],
             note="the classic x2 up-sampling"),
        case("t1d_k3_s2_p1_op1", t1, "output_padding", 1, 3, 4, [6], [3], stride=[2], padding=[1, 1],
             output_padding=[1], note="output length exactly 2 * input"),
        case("t1d_s1_d2_op1", t1, "output_padding", 1, 2, 3, [7], [3], padding=[1, 1], dilation=[2],
             output_padding=[1], note="output_padding >= stride, allowed as output_padding < dilation"),
        case("t1d_k3_s3_pasym_0_2", t1, "padding", 1, 3, 2, [5], [3], stride=[3], padding=[0, 2]),
        case("t1d_k2_s2_p3_crop_exceeds_kernel", t1, "crop", 1, 2, 3, [6], [2], stride=[2], padding=[3, 3],
             note="the crop removes all of the first and last inputs' contributions: their gradient is zero"),
        case("t1d_s3_k2_pasym_1_0_op2", t1, "crop", 1, 2, 2, [4], [2], stride=[3], padding=[1, 0],
             output_padding=[2],
             note="output_padding beyond the full output: the last outputs are bias alone"),
        case("t1d_d3_s2_k3_p2", t1, "dilation", 1, 3, 3, [6], [3], stride=[2], padding=[2, 2], dilation=[3]),
        case("t1d_g2_c4o6", t1, "groups", 1, 4, 6, [5], [3], stride=[2], padding=[1, 1], groups=2),
        case("t1d_dw_c4_k3_s2_p1_op1", t1, "depthwise", 1, 4, 4, [6], [3], stride=[2], padding=[1, 1],
             output_padding=[1], groups=4),
        case("t1d_dw_c3_mult2_k4_s2_p1", t1, "depthwise", 1, 3, 6, [5], [4], stride=[2], padding=[1, 1], groups=3,
             note="channel multiplier 2"),
        case("t1d_n2_nobias_k5_s3_p2_op2", t1, "batch_bias", 2, 3, 2, [5], [5], stride=[3], padding=[2, 2],
             output_padding=[2], bias=False),
        case("t1d_audio_k16_s8_p4_c8o4", t1, "realistic", 1, 8, 4, [8], [16], stride=[8], padding=[4, 4],
             note="HiFi-GAN-style x8 up-sampling layer (k16 s8 p4), scaled down: length 8 -> 64"),
        case("t1d_exact_int_k3_s2_g2_pasym", t1, "exact_int", 2, 4, 4, [6], [3], stride=[2], padding=[2, 0],
             output_padding=[1], groups=2, ints=True),
        # ---- conv_transpose2d: x (N, C_in, H, W), w (C_in, C_out/groups, KH, KW)
        case("t2d_onnx_basic_3x3", t2, "onnx", 1, 1, 2, [3, 3], [3, 3], note="the shapes of ONNX's test_convtranspose"),
        case("t2d_onnx_s3x2_op1", t2, "onnx", 1, 1, 2, [3, 3], [3, 3], stride=[3, 2], output_padding=[1, 1],
             note="the shapes of ONNX's test_convtranspose_pad"),
        case("t2d_onnx_s3x2_p1x2", t2, "onnx", 1, 1, 2, [3, 3], [3, 3], stride=[3, 2], padding=[1, 1, 2, 2],
             note="the shapes of ONNX's test_convtranspose_pads (ONNX pads [1, 2, 1, 2])"),
        case("t2d_onnx_d2_k2", t2, "onnx", 1, 1, 1, [3, 3], [2, 2], dilation=[2, 2],
             note="the shapes of ONNX's test_convtranspose_dilations"),
        case("t2d_onnx_group2", t2, "onnx", 1, 2, 2, [3, 3], [3, 3], groups=2,
             note="the shapes of ONNX's test_convtranspose_group_2"),
        case("t2d_onnx_autopad_same_s2", t2, "onnx", 1, 1, 2, [3, 3], [3, 3], stride=[2, 2], padding=[0, 1, 0, 1],
             note="the shapes of ONNX's test_convtranspose_autopad_same: output 2x the input, auto_pad "
                  "SAME_UPPER's padding (total 1: begin 0, end 1)"),
        case("t2d_k1_s2", t2, "stride", 1, 3, 4, [4, 5], [1, 1], stride=[2, 2],
             note="stride larger than the kernel: outputs between the inputs are bias alone"),
        case("t2d_k4x2_s1x3", t2, "stride", 1, 2, 3, [5, 4], [4, 2], stride=[1, 3], padding=[1, 1, 0, 0],
             note="non-square kernel and strides, stride larger than the kernel in W"),
        case("t2d_k3_s2_p1_op1", t2, "output_padding", 1, 3, 4, [5, 5], [3, 3], stride=[2, 2],
             padding=[1, 1, 1, 1], output_padding=[1, 1], note="output exactly 2x the input"),
        case("t2d_s1_d2_op1x0", t2, "output_padding", 1, 2, 3, [5, 6], [3, 3], padding=[1, 1, 2, 2],
             dilation=[2, 2], output_padding=[1, 0],
             note="output_padding >= stride, allowed as output_padding < dilation"),
        case("t2d_d2x3_s2x1_p2x1", t2, "dilation", 1, 3, 2, [4, 5], [3, 2], stride=[2, 1], padding=[2, 2, 1, 1],
             dilation=[2, 3]),
        case("t2d_pasym_1203_k3_s2", t2, "padding", 1, 3, 3, [4, 5], [3, 3], stride=[2, 2], padding=[1, 2, 0, 3],
             note="the end crop of 3 in W removes the last input column's contributions: its gradient is zero"),
        case("t2d_k2_s2_p3_crop_exceeds_kernel", t2, "crop", 1, 2, 2, [5, 5], [2, 2], stride=[2, 2],
             padding=[3, 3, 2, 4],
             note="the crop removes whole input rows' and columns' contributions: their gradient is zero"),
        case("t2d_s3x2_k2x3_pasym_op2x1", t2, "crop", 1, 2, 3, [3, 4], [2, 3], stride=[3, 2],
             padding=[1, 0, 0, 0], output_padding=[2, 1],
             note="output_padding beyond the full output: the last row and column are bias alone"),
        case("t2d_g2_c4o6_s2", t2, "groups", 1, 4, 6, [4, 4], [3, 3], stride=[2, 2], padding=[1, 1, 1, 1], groups=2),
        case("t2d_dw_c8_k4_s2_p1", t2, "depthwise", 1, 8, 8, [4, 4], [4, 4], stride=[2, 2], padding=[1, 1, 1, 1],
             groups=8),
        case("t2d_dw_c4_mult2_k3_s2_p1_op1", t2, "depthwise", 1, 4, 8, [4, 3], [3, 3], stride=[2, 2],
             padding=[1, 1, 1, 1], output_padding=[1, 1], groups=4, note="channel multiplier 2"),
        case("t2d_n2_nobias_k5_s3_p2_op2", t2, "batch_bias", 2, 3, 2, [3, 4], [5, 5], stride=[3, 3],
             padding=[2, 2, 2, 2], output_padding=[2, 1], bias=False),
        case("t2d_dcgan_k4_s2_p1_c16o8_8x8", t2, "realistic", 1, 16, 8, [8, 8], [4, 4], stride=[2, 2],
             padding=[1, 1, 1, 1], note="DCGAN generator / U-Net up-sampling layer (k4 s2 p1): 8x8 -> 16x16"),
        case("t2d_unet_k2_s2_c16o8_8x8_n2", t2, "realistic", 2, 16, 8, [8, 8], [2, 2], stride=[2, 2],
             note="U-Net up-convolution (k2 s2, no overlap): 8x8 -> 16x16"),
        case("t2d_exact_int_k3_s2_p1_g2", t2, "exact_int", 2, 4, 6, [4, 5], [3, 3], stride=[2, 2],
             padding=[1, 1, 1, 2], output_padding=[1, 0], groups=2, ints=True),
        # ---- conv_transpose3d: x (N, C_in, D, H, W), w (C_in, C_out/groups, KD, KH, KW)
        case("t3d_onnx_3d", t3, "onnx", 1, 1, 2, [3, 4, 5], [3, 3, 3],
             note="the shapes of ONNX's test_convtranspose_3d"),
        case("t3d_k2_s2_c4o2", t3, "stride", 1, 4, 2, [3, 4, 4], [2, 2, 2], stride=[2, 2, 2],
             note="3-D U-Net up-convolution (k2 s2), scaled down"),
        case("t3d_k3_s1x2x2_p1_op0x1x1", t3, "output_padding", 1, 2, 3, [3, 4, 3], [3, 3, 3], stride=[1, 2, 2],
             padding=[1, 1, 1, 1, 1, 1], output_padding=[0, 1, 1]),
        case("t3d_s1_d2_op1_k2", t3, "output_padding", 1, 2, 2, [3, 4, 4], [2, 2, 2], padding=[0, 0, 1, 1, 0, 0],
             dilation=[2, 2, 1], output_padding=[1, 1, 0],
             note="output_padding >= stride, allowed as output_padding < dilation"),
        case("t3d_pasym_100211_k3_s2", t3, "padding", 1, 2, 3, [3, 3, 4], [3, 3, 3], stride=[2, 2, 2],
             padding=[1, 0, 0, 2, 1, 1]),
        case("t3d_k1_s2_p1_crop_exceeds_kernel", t3, "crop", 1, 3, 2, [3, 4, 4], [1, 1, 1], stride=[2, 2, 2],
             padding=[1, 1, 1, 1, 1, 1],
             note="stride larger than the kernel, and the crop removes the first and last inputs' "
                  "contributions: their gradient is zero"),
        case("t3d_g2_c4o4_d2_nobias", t3, "groups", 1, 4, 4, [3, 3, 4], [2, 3, 2], stride=[1, 2, 1],
             padding=[1, 1, 1, 1, 0, 0], dilation=[2, 1, 2], groups=2, bias=False),
        case("t3d_dw_c3_mult2_k3_s2_p1", t3, "depthwise", 1, 3, 6, [3, 3, 3], [3, 3, 3], stride=[2, 2, 2],
             padding=[1, 1, 1, 1, 1, 1], groups=3, note="channel multiplier 2"),
        case("t3d_n2_k4_s2_p1", t3, "batch_bias", 2, 3, 2, [2, 3, 3], [4, 4, 4], stride=[2, 2, 2],
             padding=[1, 1, 1, 1, 1, 1]),
        case("t3d_exact_int_k2x3x2_s2_pasym", t3, "exact_int", 1, 2, 4, [3, 3, 4], [2, 3, 2], stride=[2, 1, 2],
             padding=[0, 1, 1, 1, 1, 0], output_padding=[1, 0, 0], groups=2, ints=True),
    ]


FAMILIES = {
    "kernel": "kernel sizes: 1, even, unequal per dimension",
    "stride": "strides > 1, unequal per dimension, floor output sizes, a stride larger than the kernel",
    "padding": "symmetric and asymmetric padding, padding wider than the kernel",
    "dilation": "dilation > 1, unequal per dimension, with stride",
    "groups": "grouped convolutions",
    "depthwise": "groups == C_in, with and without a channel multiplier",
    "batch_bias": "batch 2, no bias",
    "output_padding": "output_padding, including output_padding >= stride where dilation > output_padding",
    "crop": "the crop removes more than the kernel overlap (inputs with a zero gradient), or output_padding "
            "goes past the full output (outputs of bias alone)",
    "onnx": "the shapes and options of the ONNX conformance tests for ConvTranspose (random values)",
    "realistic": "scaled-down layers of common networks",
    "exact_int": "small integers: every input, output, gradient and partial sum is exact in float32",
}


def pairs(padding):
    return [(padding[2 * i], padding[2 * i + 1]) for i in range(len(padding) // 2)]


def torch_pad(padding):
    """F.pad's argument (last dimension first) from [begin0, end0, begin1, end1, ...]."""
    return [v for b, e in reversed(pairs(padding)) for v in (b, e)]


def full_size(size, k, s, d):
    return (size - 1) * s + d * (k - 1) + 1


def output_shape(c):
    nd, transposed = OPS[c["op"]]
    out = []
    for i in range(nd):
        pb, pe = pairs(c["padding"])[i]
        k, s, d = c["kernel"][i], c["stride"][i], c["dilation"][i]
        if transposed:
            out.append(full_size(c["size"][i], k, s, d) + c["output_padding"][i] - pb - pe)
        else:
            out.append(out_size(c["size"][i], pb, pe, k, s, d))
    return out


def bias_view(b, nd):
    return b.view([1, -1] + [1] * nd)


def torch_forward(c, xt, wt, bt):
    nd, transposed = OPS[c["op"]]
    kw = dict(stride=tuple(c["stride"]), dilation=tuple(c["dilation"]), groups=c["groups"])
    if not transposed:
        return CONV[nd](F.pad(xt, torch_pad(c["padding"])), wt, bt, **kw)
    full = CONV_T[nd](xt, wt, None, padding=0, output_padding=0, **kw)
    ext = F.pad(full, [v for op in reversed(c["output_padding"]) for v in (0, op)])
    out = output_shape(c)
    crop = tuple(slice(b, b + o) for (b, _), o in zip(pairs(c["padding"]), out))
    y = ext[(slice(None), slice(None)) + crop]
    return y if bt is None else y + bias_view(bt, nd)


def autograd(fn, x, w, b, gy):
    """y, gx, gw, gb in float64 by autograd for L = sum(y * gy)."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True) if b is not None else None
    y = fn(xt, wt, bt)
    (y * torch.tensor(gy, dtype=torch.float64)).sum().backward()
    return (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), None if bt is None else bt.grad.numpy())


def torch_reference(c, x, w, b, gy):
    """y, gx, gw, gb in float64 by PyTorch (autograd), from the float32 values."""
    return autograd(lambda xt, wt, bt: torch_forward(c, xt, wt, bt), x, w, b, gy)


def torch_builtin_padding(c, x, w, b, gy):
    """For a transposed op with symmetric padding: PyTorch's own padding and output_padding."""
    nd, _ = OPS[c["op"]]
    pad = tuple(p for p, _ in pairs(c["padding"]))
    return autograd(lambda xt, wt, bt: CONV_T[nd](xt, wt, bt, stride=tuple(c["stride"]), padding=pad,
                                                  output_padding=tuple(c["output_padding"]), groups=c["groups"],
                                                  dilation=tuple(c["dilation"])), x, w, b, gy)


def numpy_conv(c, x, w, b, gy):
    """Convolution from the definition in float64 NumPy (cross-correlation over the zero-padded input)."""
    nd = x.ndim - 2
    sp = "xyz"[:nd]  # einsum letters of the spatial dimensions
    n, ch = x.shape[:2]
    o, cg = w.shape[:2]
    g = c["groups"]
    og = o // g
    pads = pairs(c["padding"])
    out = gy.shape[2:]
    xp = np.zeros((n, ch) + tuple(x.shape[2 + i] + pads[i][0] + pads[i][1] for i in range(nd)))
    inner = tuple(slice(pads[i][0], pads[i][0] + x.shape[2 + i]) for i in range(nd))
    xp[(slice(None), slice(None)) + inner] = x
    gyd = gy.astype(np.float64)
    wd = w.astype(np.float64)
    y = np.zeros(gy.shape)
    gxp = np.zeros_like(xp)
    gw = np.zeros(w.shape)
    for grp in range(g):
        cs, os_ = slice(grp * cg, (grp + 1) * cg), slice(grp * og, (grp + 1) * og)
        for tap in itertools.product(*(range(k) for k in w.shape[2:])):
            # the inputs each output position sees through this tap: one strided slice per dimension
            win = tuple(slice(tap[i] * c["dilation"][i], tap[i] * c["dilation"][i] + (out[i] - 1) * c["stride"][i] + 1,
                              c["stride"][i]) for i in range(nd))
            patch = xp[(slice(None), cs) + win]
            wt = wd[(os_, slice(None)) + tap]
            y[:, os_] += np.einsum(f"nc{sp},oc->no{sp}", patch, wt)
            gw[(os_, slice(None)) + tap] += np.einsum(f"nc{sp},no{sp}->oc", patch, gyd[:, os_])
            gxp[(slice(None), cs) + win] += np.einsum(f"no{sp},oc->nc{sp}", gyd[:, os_], wt)
    gb = None
    if b is not None:
        y += b.astype(np.float64).reshape([1, -1] + [1] * nd)
        gb = gyd.sum(axis=(0,) + tuple(range(2, 2 + nd)))
    return y, gxp[(slice(None), slice(None)) + inner], gw, gb


def numpy_conv_transpose(c, x, w, b, gy):
    """Transposed convolution from the definition in float64 NumPy:
    y[n, g*Cout_g + co, o...] += x[n, ci, i...] * w[ci, co, k...] with o = i*s + k*d - pad_begin, kept when
    0 <= o < OUT in every dimension, for ci in group g."""
    nd = x.ndim - 2
    sp = "xyz"[:nd]  # einsum letters of the spatial dimensions
    cin = x.shape[1]
    cog = w.shape[1]
    g = c["groups"]
    cig = cin // g
    pads = pairs(c["padding"])
    out = gy.shape[2:]
    xd = x.astype(np.float64)
    gyd = gy.astype(np.float64)
    wd = w.astype(np.float64)
    y = np.zeros(gy.shape)
    gx = np.zeros(x.shape)
    gw = np.zeros(w.shape)
    for grp in range(g):
        cs, os_ = slice(grp * cig, (grp + 1) * cig), slice(grp * cog, (grp + 1) * cog)
        for tap in itertools.product(*(range(k) for k in w.shape[2:])):
            xi, yo = [], []
            for i in range(nd):
                s, shift = c["stride"][i], tap[i] * c["dilation"][i] - pads[i][0]
                # the inputs i whose o = i*s + shift falls inside [0, OUT)
                lo = max(0, -(shift // s))  # ceil(-shift / s)
                hi = min(x.shape[2 + i], (out[i] - 1 - shift) // s + 1)
                if lo >= hi:
                    break
                xi.append(slice(lo, hi))
                yo.append(slice(lo * s + shift, (hi - 1) * s + shift + 1, s))
            else:
                xs = xd[(slice(None), cs) + tuple(xi)]
                gys = gyd[(slice(None), os_) + tuple(yo)]
                wt = wd[(cs, slice(None)) + tap]
                y[(slice(None), os_) + tuple(yo)] += np.einsum(f"nc{sp},co->no{sp}", xs, wt)
                gx[(slice(None), cs) + tuple(xi)] += np.einsum(f"no{sp},co->nc{sp}", gys, wt)
                gw[(cs, slice(None)) + tap] += np.einsum(f"nc{sp},no{sp}->co", xs, gys)
    gb = None
    if b is not None:
        y += b.astype(np.float64).reshape([1, -1] + [1] * nd)
        gb = gyd.sum(axis=(0,) + tuple(range(2, 2 + nd)))
    return y, gx, gw, gb


def numpy_reference(c, x, w, b, gy):
    """The same four results from the definition, in float64 NumPy: the independent check."""
    return (numpy_conv_transpose if OPS[c["op"]][1] else numpy_conv)(c, x, w, b, gy)


def agree(c, what, ref, alt):
    for name, a, e in zip(("y", "gx", "gw", "gb"), ref, alt):
        if a is None and e is None:
            continue
        if a.shape != e.shape:
            raise SystemExit(f"{c['name']}: {what}: {name} shapes {a.shape} and {e.shape}")
        err = np.abs(a - e).max() / max(np.abs(e).max(), 1e-300)
        if not err <= TOL:
            raise SystemExit(f"{c['name']}: {what} disagree on {name} by {err:.3e}")


def check_exact_bounds(c, x, w, b, gy):
    """For integer cases: the largest partial sum any summation order can reach stays below 2^24."""
    bound = numpy_reference(c, np.abs(x), np.abs(w), None if b is None else np.abs(b), np.abs(gy))
    for name, v in zip(("y", "gx", "gw", "gb"), bound):
        if v is not None:
            top = np.abs(v).max()
            if top >= 2 ** 24:
                raise SystemExit(f"{c['name']}: {name} partial sums reach {top}, not exact in float32")


def validate(c):
    nd, transposed = OPS[c["op"]]
    name = c["name"]
    prefix = {"conv1d": "c1d_", "conv3d": "c3d_", "conv_transpose1d": "t1d_", "conv_transpose2d": "t2d_",
              "conv_transpose3d": "t3d_"}[c["op"]]
    if not name.startswith(prefix):
        raise SystemExit(f"{name}: a {c['op']} case's name starts with {prefix}")
    for key, length in (("size", nd), ("kernel", nd), ("stride", nd), ("dilation", nd), ("padding", 2 * nd)):
        if len(c[key]) != length:
            raise SystemExit(f"{name}: {key} needs {length} entries")
    if min(c["size"] + c["kernel"] + c["stride"] + c["dilation"]) < 1 or min(c["padding"]) < 0:
        raise SystemExit(f"{name}: sizes, kernel, stride and dilation are positive, padding not negative")
    g = c["groups"]
    if c["C"] % g or c["O"] % g:
        raise SystemExit(f"{name}: groups {g} must divide C {c['C']} and O {c['O']}")
    if transposed:
        if len(c["output_padding"]) != nd:
            raise SystemExit(f"{name}: output_padding needs {nd} entries")
        for op, s, d in zip(c["output_padding"], c["stride"], c["dilation"]):
            if not 0 <= op < max(s, d):
                raise SystemExit(f"{name}: output_padding {op} must be below max(stride, dilation) = {max(s, d)}")
    if min(output_shape(c)) < 1:
        raise SystemExit(f"{name}: empty output")


def generate_case(c, root):
    validate(c)
    nd, transposed = OPS[c["op"]]
    g = c["groups"]
    x_shape = [c["N"], c["C"]] + c["size"]
    w_shape = ([c["C"], c["O"] // g] if transposed else [c["O"], c["C"] // g]) + c["kernel"]
    y_shape = [c["N"], c["O"]] + output_shape(c)
    seed = seed_of(c["name"])
    fan = (c["C"] // g) * int(np.prod(c["kernel"]))
    scale = {"x": 1.0, "w": 1.0 / np.sqrt(fan), "b": 1.0, "gy": 1.0}
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
    if list(ref[0].shape) != y_shape:
        raise SystemExit(f"{c['name']}: PyTorch's output {list(ref[0].shape)}, not {y_shape}")
    agree(c, "PyTorch and the definition", ref, numpy_reference(c, x, w, b, gy))
    pads = pairs(c["padding"])
    if transposed and all(p == q for p, q in pads):
        agree(c, "the crop and PyTorch's own padding", ref, torch_builtin_padding(c, x, w, b, gy))
    if ints:
        check_exact_bounds(c, x, w, b, gy)
        for name, a in zip(("y", "gx", "gw", "gb"), ref):
            if a is not None and not np.array_equal(a, np.round(a)):
                raise SystemExit(f"{c['name']}: {name} is not integer-valued")
    y, gx, gw, gb = (None if a is None else a.astype(np.float32) for a in ref)
    if not all(np.isfinite(a).all() for a in (x, w, b, y, gy, gx, gw, gb) if a is not None):
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
    meta = {"name": c["name"], "op": c["op"], "family": c["family"],
            "stride": c["stride"], "padding": c["padding"], "dilation": c["dilation"]}
    if transposed:
        meta["output_padding"] = c["output_padding"]
    meta.update({
        "groups": g, "bias": c["bias"],
        "x_shape": x_shape, "w_shape": w_shape, "b_shape": [c["O"]] if c["bias"] else None, "y_shape": y_shape,
        "dtype": "float32",
        "files": [k + ".npy" for k, _ in arrays],
        "data": {
            "distribution": "integers" if ints else "uniform(-1,1)*scale",
            "scale": {k: (float(v) if v is not None else None) for k, v in scale.items()}
            if not ints else {k: (INT_RANGE[k] if k != "b" or c["bias"] else None) for k in ("x", "w", "b", "gy")},
            "seed": seed,
        },
    })
    if ints:
        meta["data"]["note"] = "integers drawn uniformly from [-scale, scale]"
    if c["note"]:
        meta["note"] = c["note"]
    write_json(os.path.join(d, "case.json"), meta)
    entry = {k: meta[k] for k in ("name", "op", "family", "stride", "padding", "dilation", "output_padding",
                                  "groups", "bias", "x_shape", "w_shape", "y_shape") if k in meta}
    entry.update({"dir": c["name"], "bytes": size, "sha256": sums})
    return entry


OP_TITLES = [
    ("conv1d", "c1d_", "1-D convolution"),
    ("conv3d", "c3d_", "3-D convolution"),
    ("conv_transpose1d", "t1d_", "1-D transposed convolution"),
    ("conv_transpose2d", "t2d_", "2-D transposed convolution"),
    ("conv_transpose3d", "t3d_", "3-D transposed convolution"),
]


def readme(entries):
    lines = [
        "# conv4j's golden cases for 1-D and 3-D convolution and 1-D, 2-D and 3-D transposed convolution",
        "",
        "Written by `tools/golden/generate_ops.py` (do not edit by hand; run it again instead:",
        "`/usr/bin/python3 tools/golden/generate_ops.py`, and `--check` to confirm that the files are",
        "reproduced byte for byte). PyTorch " + torch.__version__ + " in float64 from float32 inputs: the inputs are",
        "float32 values, the outputs and gradients were computed in float64 (autograd) from exactly those",
        "values and rounded to float32 once. Each result was also computed from the definition below in",
        "float64 NumPy loops, and the two agreed to 1e-12 (relative to the largest magnitude of each array).",
        "`manifest.json` lists every case with its parameters and the sha256 of every file. The conventions",
        "are those of the 2-D convolution set (`../golden`, written by `generate.py`).",
        "",
        "One folder per case; `case.json` gives `op` (`conv1d`, `conv3d`, `conv_transpose1d`,",
        "`conv_transpose2d` or `conv_transpose3d`), `name`, `family`, `note` (some cases), `stride`,",
        "`padding`, `dilation`, `output_padding` (transposed ops only), `groups`, `bias`, `x_shape`,",
        "`w_shape`, `b_shape` (null without bias), `y_shape`, `dtype`, `files` and `data` (distribution,",
        "scale, seed). `...` below stands for the spatial dimensions: (L) in 1-D, (H, W) in 2-D,",
        "(D, H, W) in 3-D.",
        "",
        "| file | shape | meaning |",
        "| --- | --- | --- |",
        "| `x.npy`  | (N, C_in, ...) | input |",
        "| `w.npy`  | convolution: (C_out, C_in/groups, K...); transposed: (C_in, C_out/groups, K...) | weight |",
        "| `b.npy`  | (C_out,) | bias; absent when `\"bias\": false` |",
        "| `y.npy`  | (N, C_out, OUT...) | forward output |",
        "| `gy.npy` | (N, C_out, OUT...) | upstream gradient (random) |",
        "| `gx.npy` | (N, C_in, ...) | dL/dx for L = sum(y * gy) |",
        "| `gw.npy` | as `w.npy` | dL/dw |",
        "| `gb.npy` | (C_out,) | dL/db; absent when `\"bias\": false` |",
        "",
        "Arrays are float32, little-endian, C order, `numpy.save` format version 1.0.",
        "",
        "Parameters, one entry per spatial dimension in dimension order: `stride` and `dilation` are",
        "[s] in 1-D, [sh, sw] in 2-D, [sd, sh, sw] in 3-D; `output_padding` likewise. `padding` is a",
        "(begin, end) pair per dimension, flattened: [left, right] in 1-D, [top, bottom, left, right] in",
        "2-D, [front, back, top, bottom, left, right] in 3-D; it may be asymmetric.",
        "",
        "## Semantics",
        "",
        "**conv1d, conv3d**: cross-correlation exactly as in the 2-D set. The input is zero-padded",
        "explicitly (pad_begin zeros before, pad_end after, in each dimension), then an unpadded",
        "convolution: `y[n, o, j...] = b[o] + sum_{c, k...} xpad[n, g*C_in/G + c, j*s + k*d ...] * w[o, c, k...]`",
        "with `g = o / (C_out/G)`, and per dimension `OUT = floor((IN + pad_begin + pad_end - d*(K-1) - 1) / s) + 1`.",
        "",
        "**conv_transpose1d/2d/3d**: the weight is in PyTorch's layout (C_in, C_out/groups, K...). Per",
        "dimension `OUT = (IN - 1)*s + d*(K - 1) + 1 + output_padding - pad_begin - pad_end`. Definition:",
        "",
        "    y[n, g*C_out/G + co, o...] = b[g*C_out/G + co]",
        "        + sum over ci = g*C_in/G ... (g+1)*C_in/G - 1, k..., and i... with o = i*s + k*d - pad_begin",
        "          in every dimension, of x[n, ci, i...] * w[ci, co, k...]",
        "",
        "for 0 <= o < OUT. Equivalently: let F be the full transposed output without padding, of size",
        "(IN - 1)*s + d*(K - 1) + 1 per dimension; extend it with output_padding zero positions at the",
        "end of each dimension; crop that to [pad_begin, pad_begin + OUT) in each dimension; add the bias",
        "per output channel. (The generator computes it this way, F by `conv_transpose{1,2,3}d` with",
        "padding 0, and the gradients by autograd through the crop.) So padding crops, and output_padding",
        "positions past F hold the bias alone. With symmetric padding this is PyTorch's",
        "`conv_transpose{1,2,3}d(x, w, b, stride, padding, output_padding, groups, dilation)`; the generator",
        "checked that equality, results and gradients, for every case with symmetric padding. ONNX's",
        "ConvTranspose with explicit pads [begin..., end...] crops the same way, asymmetric pads too",
        "(the `onnx` cases have the shapes of its conformance tests). Every case keeps PyTorch's bound",
        "output_padding < max(stride, dilation) in each dimension; output_padding >= stride occurs where",
        "dilation is larger.",
        "",
        "Values: uniform in (-1, 1) times a scale (the weight's is 1/sqrt(C_in/groups * prod(K)) for every",
        "op, the others 1); the `exact_int` cases are small integers (x, b, gy in [-3, 3], w in [-2, 2])",
        "such that every result and every partial sum is exact in float32: they must match exactly.",
        "Each case's seed is derived from its name (as in the 2-D set).",
        "",
        "## Cases",
        "",
    ]
    for op, prefix, title in OP_TITLES:
        mine = [e for e in entries if e["op"] == op]
        lines.append(f"### `{op}` ({title}, `{prefix}*`, {len(mine)} cases)")
        lines.append("")
        by_family = {}
        for e in mine:
            by_family.setdefault(e["family"], []).append(e["name"])
        for fam, names in by_family.items():
            lines.append(f"* `{fam}` - {FAMILIES[fam]}: {', '.join(names)}")
        lines.append("")
    return "\n".join(lines)


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
        "set": "conv4j-ops",
        "generator": "tools/golden/generate_ops.py: PyTorch " + torch.__version__
                     + " torch.nn.functional.conv1d/conv3d/conv_transpose1d/2d/3d + autograd, float64 from"
                     " float32 inputs",
        "layout": "NC + spatial dims; conv weight (O, C/groups, K...); transposed weight (C_in, C_out/groups, K...); "
                  "padding [begin, end] per spatial dim, flattened",
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


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "src", "test", "resources", "golden-ops")
    args = [a for a in argv if a != "--check"]
    root = os.path.abspath(args[0]) if args else default
    if "--check" in argv:
        with tempfile.TemporaryDirectory() as tmp:
            generate(os.path.join(tmp, "golden-ops"))
            diff = same_tree(root, os.path.join(tmp, "golden-ops"))
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

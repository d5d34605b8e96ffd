"""Triton convolution kernels: train.conv2d and its input and weight gradients, the
fused conv2d + relu forward and conv2d weight gradient + SGD update.

Layouts follow runtime/reference_ops.py: x NCHW, w OIHW, any stride, zero padding,
dilation and groups. Convolutions with C/G > 1 input channels per group run as
implicit GEMMs (the im2col matrix is gathered tile by tile, never stored), one grid
column per group:

    forward      y[(n,oh,ow), o]      = sum_(c,ki,kj) x[n, c, oh*s-p+ki*d, ...] w[o, (c,ki,kj)]
    grad input   dx[(n,h,w), c]       = sum_(o,ki,kj) dy[n, o, (h+p-ki*d)/s, ...] w[(o,ki,kj), c]
    grad weight  dW[o, (c,ki,kj)]     = sum_(n,oh,ow) dy[n, o, oh, ow] x[n, c, oh*s-p+ki*d, ...]

where a grad-input term exists only when (h + p - ki*d) is a multiple of s inside the
output. Depthwise convolutions (one input channel per group) use direct kernels that
loop over the taps. Accumulation is float32.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ...compiler.errors import InputError
from ...runtime import reference_ops
from .matmul import aot_case, gemm_configs, tile_ids, tuned
from .support import INTERPRET, block, elementwise_block, result, tensor

__all__ = ["load_input_taps", "conv2d_kernel", "conv2d_grad_input_kernel",
           "conv2d_grad_weight_kernel", "depthwise_conv2d_kernel",
           "depthwise_conv2d_grad_input_kernel", "depthwise_conv2d_grad_weight_kernel",
           "geometry", "DIRECT_BLOCK", "conv2d", "conv2d_relu", "conv2d_grad_input",
           "conv2d_grad_weight", "conv2d_grad_weight_sgd", "OPS", "FUSED", "AOT_CASES"]


@triton.jit
def load_input_taps(x_ptr, n, c, oh, ow, ki, kj, mask, C, H, W,
                    stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, other):
    """x[n, c, oh*s - p + ki*d, ow*s - p + kj*d] for broadcastable index tensors;
    positions in the zero padding, or where `mask` is false, read `other`."""
    ih = oh * stride_h - pad_h + ki * dil_h
    iw = ow * stride_w - pad_w + kj * dil_w
    inside = mask & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
    return tl.load(x_ptr + ((n * C + c) * H + ih) * W + iw, mask=inside, other=other)


# --------------------------------------------------------------------------
# Implicit GEMM kernels (any groups)
# --------------------------------------------------------------------------

@triton.jit
def conv2d_kernel(
        # Pointers: x [N,C,H,W], w [O,C/G,KH,KW], y [N,O,OH,OW], bias [O].
        x_ptr, w_ptr, y_ptr, bias_ptr,
        # Sizes; CG = C/G and OG = O/G channels per group.
        N, C, H, W, O, OH, OW, KH, KW, CG, OG,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # Epilogue switches and tile shape.
        HAS_BIAS: tl.constexpr, RELU: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
        GROUP_M: tl.constexpr):
    """Forward convolution of group program_id(1) as a [N*OH*OW, OG] x [CG*KH*KW] GEMM."""
    # 1. Output tile: rows are output positions (n, oh, ow), columns output channels.
    g = tl.program_id(1)
    M = N * OH * OW
    K = CG * KH * KW
    pid_m, pid_n = tile_ids(tl.program_id(0), M, OG, BLOCK_M, BLOCK_N, GROUP_M)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    n = rm // (OH * OW)
    p = rm % (OH * OW)
    oh = p // OW
    ow = p % OW
    o = g * OG + rn

    # 2. Accumulate over the taps (c, ki, kj) of the group's input channels.
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + rk
        c = k // (KH * KW)
        t = k % (KH * KW)
        a = load_input_taps(x_ptr, n[:, None], g * CG + c[None, :], oh[:, None], ow[:, None],
                            (t // KW)[None, :], (t % KW)[None, :],
                            (rm[:, None] < M) & (k[None, :] < K), C, H, W,
                            stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, 0.0)
        b = tl.load(w_ptr + o[None, :] * K + k[:, None],
                    mask=(k[:, None] < K) & (rn[None, :] < OG), other=0.0)
        acc = tl.dot(a, b, acc, input_precision="ieee")

    # 3. Epilogue: bias, relu, store to NCHW.
    if HAS_BIAS:
        acc += tl.load(bias_ptr + o, mask=rn < OG, other=0.0)[None, :]
    if RELU:
        acc = tl.maximum(acc, 0.0)
    y_ptrs = y_ptr + (n[:, None] * O + o[None, :]) * (OH * OW) + p[:, None]
    tl.store(y_ptrs, acc, mask=(rm[:, None] < M) & (rn[None, :] < OG))


@triton.jit
def conv2d_grad_input_kernel(
        # Pointers: dy [N,O,OH,OW], w [O,C/G,KH,KW], dx [N,C,H,W].
        dy_ptr, w_ptr, dx_ptr,
        # Sizes.
        N, C, H, W, O, OH, OW, KH, KW, CG, OG,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # Tile shape.
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
        GROUP_M: tl.constexpr):
    """Input gradient of group program_id(1) as a [N*H*W, CG] x [OG*KH*KW] GEMM."""
    # 1. Tile: rows are input positions (n, h, w), columns the group's input channels.
    g = tl.program_id(1)
    M = N * H * W
    K = OG * KH * KW
    pid_m, pid_n = tile_ids(tl.program_id(0), M, CG, BLOCK_M, BLOCK_N, GROUP_M)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    n = rm // (H * W)
    q = rm % (H * W)
    h = q // W
    w = q % W

    # 2. Accumulate over (o, ki, kj): input row h is read by output row oh through tap ki
    #    when h = oh*s - p + ki*d, i.e. when th = h + p - ki*d is a multiple of s.
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + rk
        o = g * OG + k // (KH * KW)
        t = k % (KH * KW)
        th = h[:, None] + pad_h - (t // KW)[None, :] * dil_h
        tw = w[:, None] + pad_w - (t % KW)[None, :] * dil_w
        th = tl.where(th >= 0, th, -stride_h)  # negatives are masked; keep division positive
        tw = tl.where(tw >= 0, tw, -stride_w)
        oh = th // stride_h
        ow = tw // stride_w
        valid = ((rm[:, None] < M) & (k[None, :] < K) & (th >= 0) & (tw >= 0)
                 & (th % stride_h == 0) & (tw % stride_w == 0) & (oh < OH) & (ow < OW))
        a = tl.load(dy_ptr + ((n[:, None] * O + o[None, :]) * OH + oh) * OW + ow,
                    mask=valid, other=0.0)
        b = tl.load(w_ptr + (o[:, None] * CG + rn[None, :]) * (KH * KW) + t[:, None],
                    mask=(k[:, None] < K) & (rn[None, :] < CG), other=0.0)
        acc = tl.dot(a, b, acc, input_precision="ieee")

    # 3. Store to NCHW.
    c = g * CG + rn
    dx_ptrs = dx_ptr + (n[:, None] * C + c[None, :]) * (H * W) + q[:, None]
    tl.store(dx_ptrs, acc, mask=(rm[:, None] < M) & (rn[None, :] < CG))


@triton.jit
def conv2d_grad_weight_kernel(
        # Pointers: dy [N,O,OH,OW], x [N,C,H,W], dW [O,C/G,KH,KW], param (dW's shape).
        dy_ptr, x_ptr, dw_ptr, param_ptr,
        # Sizes.
        N, C, H, W, O, OH, OW, KH, KW, CG, OG,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # SGD hyper-parameters (read only with SGD).
        lr, weight_decay,
        # Epilogue switch and tile shape.
        SGD: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
        GROUP_M: tl.constexpr):
    """Weight gradient of group program_id(1) as an [OG, CG*KH*KW] x [N*OH*OW] GEMM;
    with SGD the kernel stores param - lr * (dW + weight_decay * param) instead."""
    # 1. Tile: rows are the group's output channels, columns the taps (c, ki, kj).
    g = tl.program_id(1)
    NT = CG * KH * KW
    K = N * OH * OW
    pid_m, pid_n = tile_ids(tl.program_id(0), OG, NT, BLOCK_M, BLOCK_N, GROUP_M)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    o = g * OG + rm
    c = g * CG + rn // (KH * KW)
    t = rn % (KH * KW)

    # 2. Accumulate over the output positions (n, oh, ow).
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + rk
        n = k // (OH * OW)
        p = k % (OH * OW)
        a = tl.load(dy_ptr + (n[None, :] * O + o[:, None]) * (OH * OW) + p[None, :],
                    mask=(rm[:, None] < OG) & (k[None, :] < K), other=0.0)
        b = load_input_taps(x_ptr, n[:, None], c[None, :], (p // OW)[:, None],
                            (p % OW)[:, None], (t // KW)[None, :], (t % KW)[None, :],
                            (k[:, None] < K) & (rn[None, :] < NT), C, H, W,
                            stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, 0.0)
        acc = tl.dot(a, b, acc, input_precision="ieee")

    # 3. Epilogue: the gradient, or the SGD step on the parameter, in OIHW.
    offsets = o[:, None] * NT + rn[None, :]
    mask = (rm[:, None] < OG) & (rn[None, :] < NT)
    if SGD:
        param = tl.load(param_ptr + offsets, mask=mask, other=0.0)
        acc = param - lr * (acc + weight_decay * param)
    tl.store(dw_ptr + offsets, acc, mask=mask)


# --------------------------------------------------------------------------
# Direct depthwise kernels (C/G = 1: output channel o reads input channel o // MULT)
# --------------------------------------------------------------------------

@triton.jit
def depthwise_conv2d_kernel(
        # Pointers: x [N,C,H,W], w [O,1,KH,KW], y [N,O,OH,OW], bias [O].
        x_ptr, w_ptr, y_ptr, bias_ptr,
        # Sizes; MULT = O / C output channels per input channel.
        C, H, W, O, OH, OW, KH, KW, MULT,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # Epilogue switches and block of output positions.
        HAS_BIAS: tl.constexpr, RELU: tl.constexpr, BLOCK: tl.constexpr):
    """y[n, o] for one (n, o) = program_id(0) and BLOCK output positions."""
    no = tl.program_id(0)
    n = no // O
    o = no % O
    p = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = p < OH * OW
    oh = p // OW
    ow = p % OW
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for ki in range(KH):
        for kj in range(KW):
            xv = load_input_taps(x_ptr, n, o // MULT, oh, ow, ki, kj, mask, C, H, W,
                                 stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, 0.0)
            acc += xv * tl.load(w_ptr + (o * KH + ki) * KW + kj)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + o)
    if RELU:
        acc = tl.maximum(acc, 0.0)
    tl.store(y_ptr + no * (OH * OW) + p, acc, mask=mask)


@triton.jit
def depthwise_conv2d_grad_input_kernel(
        # Pointers: dy [N,O,OH,OW], w [O,1,KH,KW], dx [N,C,H,W].
        dy_ptr, w_ptr, dx_ptr,
        # Sizes: n = N*C*H*W inputs.
        n, C, H, W, O, OH, OW, KH, KW, MULT,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # Block of input elements.
        BLOCK: tl.constexpr):
    """BLOCK consecutive NCHW elements of dx (any channels: few programs for the many
    small late layers of mobile networks): the sum over each one's MULT output
    channels and the taps that read it."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    q = index % (H * W)
    c = (index // (H * W)) % C
    batch = index // (C * H * W)
    h = q // W
    w = q % W
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for j in range(MULT):
        o = c * MULT + j
        for ki in range(KH):
            for kj in range(KW):
                th = h + pad_h - ki * dil_h
                tw = w + pad_w - kj * dil_w
                th = tl.where(th >= 0, th, -stride_h)
                tw = tl.where(tw >= 0, tw, -stride_w)
                oh = th // stride_h
                ow = tw // stride_w
                valid = (mask & (th >= 0) & (tw >= 0) & (th % stride_h == 0)
                         & (tw % stride_w == 0) & (oh < OH) & (ow < OW))
                d = tl.load(dy_ptr + ((batch * O + o) * OH + oh) * OW + ow, mask=valid,
                            other=0.0)
                acc += d * tl.load(w_ptr + (o * KH + ki) * KW + kj, mask=mask, other=0.0)
    tl.store(dx_ptr + index, acc, mask=mask)


@triton.jit
def depthwise_conv2d_grad_weight_kernel(
        # Pointers: dy [N,O,OH,OW], x [N,C,H,W], dW [O,1,KH,KW], param (dW's shape).
        dy_ptr, x_ptr, dw_ptr, param_ptr,
        # Sizes.
        N, C, H, W, O, OH, OW, KH, KW, MULT,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # SGD hyper-parameters (read only with SGD).
        lr, weight_decay,
        # Epilogue switch; BLOCK_P output positions by BLOCK_T >= KH*KW taps.
        SGD: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_T: tl.constexpr):
    """dW[o, 0, :, :] for output channel o = program_id(0), reduced over (n, oh, ow)."""
    o = tl.program_id(0)
    t = tl.arange(0, BLOCK_T)
    taps = t < KH * KW
    P = N * OH * OW
    acc = tl.zeros((BLOCK_P, BLOCK_T), dtype=tl.float32)
    for k0 in range(0, P, BLOCK_P):
        k = k0 + tl.arange(0, BLOCK_P)
        n = k // (OH * OW)
        p = k % (OH * OW)
        d = tl.load(dy_ptr + (n * O + o) * (OH * OW) + p, mask=k < P, other=0.0)
        xv = load_input_taps(x_ptr, n[:, None], o // MULT, (p // OW)[:, None],
                             (p % OW)[:, None], (t // KW)[None, :], (t % KW)[None, :],
                             (k[:, None] < P) & taps[None, :], C, H, W,
                             stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, 0.0)
        acc += d[:, None] * xv
    grad = tl.sum(acc, axis=0)
    if SGD:
        param = tl.load(param_ptr + o * (KH * KW) + t, mask=taps, other=0.0)
        grad = param - lr * (grad + weight_decay * param)
    tl.store(dw_ptr + o * (KH * KW) + t, grad, mask=taps)


_conv2d = tuned(gemm_configs(), key=["N", "OH", "OW", "OG", "CG", "KH", "KW"])(conv2d_kernel)
_conv2d_grad_input = tuned(gemm_configs(), key=["N", "H", "W", "OG", "CG", "KH", "KW"])(
    conv2d_grad_input_kernel)
# The SGD epilogue may update its parameter in place: tuning restores dW between configs.
_conv2d_grad_weight = tuned(gemm_configs(), key=["N", "OH", "OW", "OG", "CG", "KH", "KW"],
                            restore_value=["dw_ptr"])(conv2d_grad_weight_kernel)


# --------------------------------------------------------------------------
# Wrappers (arguments as runtime/reference_ops.py, plus out=)
# --------------------------------------------------------------------------

def geometry(op: str, x_shape, w_shape, stride, padding, dilation, groups):
    """The reference's checked geometry: (stride, padding, dilation, (OH, OW))."""
    try:
        return reference_ops._conv_geometry(tuple(x_shape), tuple(w_shape), stride, padding,
                                            dilation, groups)
    except ValueError as error:
        raise InputError(f"{op}: {error}") from None


def _shape4(op: str, name: str, shape) -> tuple:
    try:
        return reference_ops._shape4(name, shape)
    except ValueError as error:
        raise InputError(f"{op}: {error}") from None


def _check_dy(op: str, dy, n, o, out_hw) -> None:
    if tuple(dy.shape) != (n, o, *out_hw):
        raise InputError(f"{op}: grad_output shape {tuple(dy.shape)} does not match the "
                         f"convolution output shape {(n, o, *out_hw)}")


def _sizes(x_shape, w_shape, out_hw, groups) -> dict:
    """The size arguments every kernel takes, by name."""
    n, c, h, w = x_shape
    o, cg, kh, kw = w_shape
    return dict(N=n, C=c, H=h, W=w, O=o, OH=out_hw[0], OW=out_hw[1], KH=kh, KW=kw,
                CG=cg, OG=o // groups)


def _depthwise(sizes: dict) -> bool:
    """One input channel per group: the direct kernels apply."""
    return sizes["CG"] == 1 and sizes["O"] // sizes["OG"] == sizes["C"]


def _direct(sizes: dict) -> dict:
    """Depthwise kernels take MULT = O / C instead of the group sizes."""
    return {**{k: v for k, v in sizes.items() if k not in ("N", "CG", "OG")},
            "MULT": sizes["O"] // sizes["C"]}


# Output positions per program of the direct kernels; interpreted (tests), a smaller
# block so that small images still span several blocks.
DIRECT_BLOCK = 128 if INTERPRET else 256
# Output positions x taps reduced per step by the depthwise weight gradient.
REDUCE_BLOCK = 1024 if INTERPRET else 2048


def _geometry_args(stride, padding, dilation) -> tuple:
    return (*stride, *padding, *dilation)


def _forward(op, x, w, b, stride, padding, dilation, groups, relu, out):
    x, w = tensor(op, "x", x, ndim=4), tensor(op, "w", w, ndim=4)
    stride, padding, dilation, out_hw = geometry(op, x.shape, w.shape, stride, padding,
                                                 dilation, groups)
    sizes = _sizes(x.shape, w.shape, out_hw, groups)
    if b is not None:
        b = tensor(op, "b", b, ndim=1)
        if b.shape[0] != sizes["O"]:
            raise InputError(f"{op}: bias shape {tuple(b.shape)} does not match the "
                             f"{sizes['O']} output channels")
    y = result(op, out, (sizes["N"], sizes["O"], *out_hw), x.dtype, x.device)
    geo = _geometry_args(stride, padding, dilation)
    bias = y if b is None else b
    if _depthwise(sizes):
        size = block(out_hw[0] * out_hw[1], DIRECT_BLOCK)
        grid = (sizes["N"] * sizes["O"], triton.cdiv(out_hw[0] * out_hw[1], size))
        depthwise_conv2d_kernel[grid](x, w, y, bias, *_direct(sizes).values(), *geo,
                                      HAS_BIAS=b is not None, RELU=relu, BLOCK=size)
        return y
    m = sizes["N"] * out_hw[0] * out_hw[1]
    grid = lambda meta: (triton.cdiv(m, meta["BLOCK_M"])
                         * triton.cdiv(sizes["OG"], meta["BLOCK_N"]), groups)
    _conv2d[grid](x, w, y, bias, *sizes.values(), *geo, HAS_BIAS=b is not None, RELU=relu)
    return y


def conv2d(x, w, b=None, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
           out=None):
    """2-D cross-correlation (NCHW x, OIHW w) with bias, as reference_ops.conv2d."""
    return _forward("train.conv2d", x, w, b, stride, padding, dilation, groups, False, out)


def conv2d_relu(x, w, b=None, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                out=None):
    """relu(conv2d(...)) with the relu in the kernel's epilogue."""
    return _forward("train.conv2d+relu", x, w, b, stride, padding, dilation, groups, True,
                    out)


def conv2d_grad_input(dy, w, *, input_shape, stride=(1, 1), padding=(0, 0),
                      dilation=(1, 1), groups=1, out=None):
    """dx [N,C,H,W] of conv2d from dy and the weights, as reference_ops.conv2d_grad_input."""
    op = "train.conv2d_grad_input"
    dy, w = tensor(op, "dy", dy, ndim=4), tensor(op, "w", w, ndim=4)
    input_shape = _shape4(op, "input_shape", input_shape)
    stride, padding, dilation, out_hw = geometry(op, input_shape, w.shape, stride, padding,
                                                 dilation, groups)
    sizes = _sizes(input_shape, w.shape, out_hw, groups)
    _check_dy(op, dy, sizes["N"], sizes["O"], out_hw)
    dx = result(op, out, input_shape, dy.dtype, dy.device)
    geo = _geometry_args(stride, padding, dilation)
    hw = input_shape[2] * input_shape[3]
    if _depthwise(sizes):
        count = dx.numel()
        size = elementwise_block(count) if INTERPRET else 256
        if count:
            depthwise_conv2d_grad_input_kernel[(triton.cdiv(count, size),)](
                dy, w, dx, count, *_direct(sizes).values(), *geo, BLOCK=size)
        return dx
    grid = lambda meta: (triton.cdiv(sizes["N"] * hw, meta["BLOCK_M"])
                         * triton.cdiv(sizes["CG"], meta["BLOCK_N"]), groups)
    _conv2d_grad_input[grid](dy, w, dx, *sizes.values(), *geo)
    return dx


def _grad_weight(op, dy, x, param, weight_shape, stride, padding, dilation, groups,
                 lr, weight_decay, out):
    dy, x = tensor(op, "dy", dy, ndim=4), tensor(op, "x", x, ndim=4)
    weight_shape = _shape4(op, "weight_shape", weight_shape)
    stride, padding, dilation, out_hw = geometry(op, x.shape, weight_shape, stride, padding,
                                                 dilation, groups)
    sizes = _sizes(x.shape, weight_shape, out_hw, groups)
    _check_dy(op, dy, sizes["N"], sizes["O"], out_hw)
    if param is not None:
        param = tensor(op, "param", param, ndim=4)
        if tuple(param.shape) != weight_shape:
            raise InputError(f"{op}: param shape {tuple(param.shape)} does not match the "
                             f"weight shape {weight_shape}")
    dw = result(op, out, weight_shape, dy.dtype, dy.device)
    geo = _geometry_args(stride, padding, dilation)
    param_arg, lr, weight_decay = dw if param is None else param, float(lr), float(weight_decay)
    if _depthwise(sizes):
        taps = triton.next_power_of_2(weight_shape[2] * weight_shape[3])
        positions = sizes["N"] * out_hw[0] * out_hw[1]
        size = block(positions, max(16, REDUCE_BLOCK // taps))
        direct = {"N": sizes["N"], **_direct(sizes)}
        depthwise_conv2d_grad_weight_kernel[(sizes["O"],)](
            dy, x, dw, param_arg, *direct.values(), *geo, lr, weight_decay,
            SGD=param is not None, BLOCK_P=size, BLOCK_T=taps)
        return dw
    cols = sizes["CG"] * weight_shape[2] * weight_shape[3]
    grid = lambda meta: (triton.cdiv(sizes["OG"], meta["BLOCK_M"])
                         * triton.cdiv(cols, meta["BLOCK_N"]), groups)
    _conv2d_grad_weight[grid](dy, x, dw, param_arg, *sizes.values(), *geo, lr, weight_decay,
                              SGD=param is not None)
    return dw


def conv2d_grad_weight(dy, x, *, weight_shape, stride=(1, 1), padding=(0, 0),
                       dilation=(1, 1), groups=1, out=None):
    """dW [O,C/G,KH,KW] of conv2d, as reference_ops.conv2d_grad_weight."""
    return _grad_weight("train.conv2d_grad_weight", dy, x, None, weight_shape, stride,
                        padding, dilation, groups, 0.0, 0.0, out)


def conv2d_grad_weight_sgd(dy, x, param, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                           groups=1, weight_shape, lr, weight_decay=0.0, out=None):
    """param - lr * (dW + weight_decay * param) with dW never stored; `out` may be
    `param` itself (an in-place update)."""
    return _grad_weight("train.conv2d_grad_weight+sgd", dy, x, param, weight_shape, stride,
                        padding, dilation, groups, lr, weight_decay, out)


OPS = {
    "train.conv2d": conv2d,
    "train.conv2d_grad_input": conv2d_grad_input,
    "train.conv2d_grad_weight": conv2d_grad_weight,
}

FUSED = {
    ("train.conv2d", "train.relu"): conv2d_relu,
    ("train.conv2d_grad_weight", "train.sgd"): conv2d_grad_weight_sgd,
}


# --------------------------------------------------------------------------
# Ahead-of-time compile cases
# --------------------------------------------------------------------------

_INTS = ("n", "N", "C", "H", "W", "O", "OH", "OW", "KH", "KW", "CG", "OG", "MULT",
         "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w")
_TYPES = {**{p: "*fp32" for p in ("x_ptr", "w_ptr", "y_ptr", "bias_ptr", "dy_ptr", "dx_ptr",
                                  "dw_ptr", "param_ptr")},
          **{i: "i32" for i in _INTS}, "lr": "fp32", "weight_decay": "fp32"}
_TILE = dict(BLOCK_M=64, BLOCK_N=64, BLOCK_K=32, GROUP_M=8)

AOT_CASES = [
    aot_case(conv2d_kernel, _TYPES, dict(HAS_BIAS=True, RELU=True, **_TILE)),
    aot_case(conv2d_grad_input_kernel, _TYPES, _TILE),
    aot_case(conv2d_grad_weight_kernel, _TYPES, dict(SGD=True, **_TILE)),
    aot_case(depthwise_conv2d_kernel, _TYPES, dict(HAS_BIAS=True, RELU=False, BLOCK=256)),
    aot_case(depthwise_conv2d_grad_input_kernel, _TYPES, dict(BLOCK=256)),
    aot_case(depthwise_conv2d_grad_weight_kernel, _TYPES,
             dict(SGD=True, BLOCK_P=128, BLOCK_T=16)),
]

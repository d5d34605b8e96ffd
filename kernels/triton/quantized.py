"""Triton int8 kernels with a requantization epilogue: train.qlinear and train.qconv2d,
bit-exact with runtime/quantized_ops.py in both rounding modes.

Calling convention (the keywords of `quantized_ops.qlinear` / `qconv2d`, plus out=):

    qlinear(x, w, b=None, *, x_scale, x_zp, w_scales, y_scale, y_zp, qmin=-128,
            qmax=127, rounding, out=None)
    qconv2d(x, w, b=None, *, x_scale, x_zp, w_scales, y_scale, y_zp, qmin=-128,
            qmax=127, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
            rounding, out=None)

x and w are int8 storage tensors (x [N,K] or NCHW, w [M,K] or OIHW), b an int32 bias in
the accumulator's scale, w_scales one scale per output channel (or one for all),
rounding "float_scale" or "multiplier_shift"; the result holds storage values in the
narrowest signed dtype for [qmin, qmax] (int8). `KWARGS[name](op)` reads these keywords
from a train.qlinear / train.qconv2d MLIR op, as runtime/quantized_execution.py does.

Accumulation is int32 and wraps like the reference (which reduces modulo 2**32):
acc = b + sum x*w - x_zp * sum w, i.e. sum (x - x_zp) * w computed with int8 operands
(tensor-core int8 dot products), the input padding reading x_zp (real 0).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import triton
import triton.language as tl

from ...compiler.errors import InputError, UnsupportedError
from ...runtime import quantized_ops
from .conv import DIRECT_BLOCK, geometry, load_input_taps
from .matmul import aot_case, tile_ids, tuned
from .support import block, result, tensor

__all__ = ["requantize", "qlinear_kernel", "qconv2d_kernel", "depthwise_qconv2d_kernel",
           "qlinear", "qconv2d", "OPS", "FUSED", "KWARGS", "AOT_CASES"]

FLOAT_SCALE, MULTIPLIER_SHIFT = 0, 1
_ROUNDINGS = {"float_scale": FLOAT_SCALE, "multiplier_shift": MULTIPLIER_SHIFT}

# 1.5 * 2**52: adding and subtracting it rounds a float64 |v| < 2**51 to an integer,
# ties to even (the float64 ulp at that magnitude is 1).
_RNE_MAGIC = tl.constexpr(6755399441055744.0)
_RNE_LIMIT = tl.constexpr(1125899906842624.0)  # 2**50: larger products saturate anyway


@triton.jit
def requantize(acc, eff, multiplier, shift, y_zp, qmin, qmax, ROUNDING: tl.constexpr):
    """clamp(requant(acc) + y_zp, qmin, qmax) for int32 accumulators, per-channel
    eff (float64) or multiplier/shift (int32) broadcast along the columns."""
    if ROUNDING == 0:
        # float_scale: round half to even of the float64 product acc * eff. The kernel
        # is compiled without FP contraction so that the product is rounded first.
        v = acc.to(tl.float64) * eff
        v = tl.minimum(tl.maximum(v, -_RNE_LIMIT), _RNE_LIMIT)
        r = ((v + _RNE_MAGIC) - _RNE_MAGIC).to(tl.int64)
    else:
        # multiplier_shift: TFLite's MultiplyByQuantizedMultiplier. The left shift
        # wraps in int32 as in C.
        x = acc << tl.maximum(shift, 0)
        right = tl.maximum(-shift, 0).to(tl.int64)
        # SaturatingRoundingDoublingHighMul: round(x * m / 2**31), ties up, with the
        # nudge then C's truncating division (done on magnitudes).
        ab = x.to(tl.int64) * multiplier.to(tl.int64)
        nudged = ab + tl.where(ab >= 0, 1 << 30, 1 - (1 << 30)).to(tl.int64)
        high = tl.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))
        high = tl.where((x == multiplier) & (x == -2147483648), 2147483647, high)
        # RoundingDivideByPOT: floor shift plus one when the remainder passes half
        # (the threshold is one higher for negatives: ties away from zero).
        mask = (tl.full(right.shape, 1, tl.int64) << right) - 1
        threshold = (mask >> 1) + (high < 0).to(tl.int64)
        r = (high >> right) + ((high & mask) > threshold).to(tl.int64)
    return tl.minimum(tl.maximum(r + y_zp, qmin), qmax)


@triton.jit
def load_channel_params(bias_ptr, eff_ptr, mult_ptr, shift_ptr, o, mask,
                        HAS_BIAS: tl.constexpr, ROUNDING: tl.constexpr):
    """Per-output-channel bias and requantization parameters (unused ones are 0)."""
    bias = tl.zeros(o.shape, dtype=tl.int32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + o, mask=mask, other=0)
    eff = tl.zeros(o.shape, dtype=tl.float64)
    multiplier = tl.zeros(o.shape, dtype=tl.int32)
    shift = tl.zeros(o.shape, dtype=tl.int32)
    if ROUNDING == 0:
        eff = tl.load(eff_ptr + o, mask=mask, other=0.0)
    else:
        multiplier = tl.load(mult_ptr + o, mask=mask, other=0)
        shift = tl.load(shift_ptr + o, mask=mask, other=0)
    return bias, eff, multiplier, shift


@triton.jit
def qlinear_kernel(
        # Pointers: x [M,K] int8, w [N,K] int8, y [M,N]; per output feature: bias
        # (int32), eff (float64) or multiplier and shift (int32).
        x_ptr, w_ptr, y_ptr, bias_ptr, eff_ptr, mult_ptr, shift_ptr,
        # Sizes.
        M, N, K,
        # Quantization: zero points and the storage range of y.
        x_zp, y_zp, qmin, qmax,
        # Meta-parameters.
        HAS_BIAS: tl.constexpr, ROUNDING: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
        GROUP_M: tl.constexpr):
    """y = clamp(requant(b + (x - x_zp) @ w.T) + y_zp)."""
    # 1. Output tile.
    pid_m, pid_n = tile_ids(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)

    # 2. int8 x int8 -> int32 products, and the column sums of w for the zero point.
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32)
    wsum = tl.zeros((BLOCK_N,), dtype=tl.int32)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + rk
        a = tl.load(x_ptr + rm[:, None] * K + k[None, :],
                    mask=(rm[:, None] < M) & (k[None, :] < K), other=0)
        b = tl.load(w_ptr + rn[None, :] * K + k[:, None],
                    mask=(k[:, None] < K) & (rn[None, :] < N), other=0)
        acc = tl.dot(a, b, acc, out_dtype=tl.int32)
        wsum += tl.sum(b.to(tl.int32), axis=0)

    # 3. Epilogue: zero point, bias, requantization.
    bias, eff, multiplier, shift = load_channel_params(
        bias_ptr, eff_ptr, mult_ptr, shift_ptr, rn, rn < N, HAS_BIAS, ROUNDING)
    acc = acc - x_zp * wsum[None, :] + bias[None, :]
    y = requantize(acc, eff[None, :], multiplier[None, :], shift[None, :], y_zp, qmin, qmax,
                   ROUNDING)
    tl.store(y_ptr + rm[:, None] * N + rn[None, :], y.to(y_ptr.dtype.element_ty),
             mask=(rm[:, None] < M) & (rn[None, :] < N))


@triton.jit
def qconv2d_kernel(
        # Pointers: x [N,C,H,W] int8, w [O,C/G,KH,KW] int8, y [N,O,OH,OW]; per output
        # channel: bias (int32), eff (float64) or multiplier and shift (int32).
        x_ptr, w_ptr, y_ptr, bias_ptr, eff_ptr, mult_ptr, shift_ptr,
        # Sizes.
        N, C, H, W, O, OH, OW, KH, KW, CG, OG,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # Quantization.
        x_zp, y_zp, qmin, qmax,
        # Meta-parameters.
        HAS_BIAS: tl.constexpr, ROUNDING: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
        GROUP_M: tl.constexpr):
    """Implicit-GEMM quantized convolution of group program_id(1) (see conv.py)."""
    # 1. Output tile: rows (n, oh, ow), columns the group's output channels.
    g = tl.program_id(1)
    M = N * OH * OW
    K = CG * KH * KW
    pid_m, pid_n = tile_ids(tl.program_id(0), M, OG, BLOCK_M, BLOCK_N, GROUP_M)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    n = rm // (OH * OW)
    p = rm % (OH * OW)
    o = g * OG + rn

    # 2. Accumulate; padding reads x_zp so that its shifted value x - x_zp is 0.
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32)
    wsum = tl.zeros((BLOCK_N,), dtype=tl.int32)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + rk
        c = k // (KH * KW)
        t = k % (KH * KW)
        a = load_input_taps(x_ptr, n[:, None], g * CG + c[None, :], (p // OW)[:, None],
                            (p % OW)[:, None], (t // KW)[None, :], (t % KW)[None, :],
                            (rm[:, None] < M) & (k[None, :] < K), C, H, W,
                            stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, x_zp)
        b = tl.load(w_ptr + o[None, :] * K + k[:, None],
                    mask=(k[:, None] < K) & (rn[None, :] < OG), other=0)
        acc = tl.dot(a, b, acc, out_dtype=tl.int32)
        wsum += tl.sum(b.to(tl.int32), axis=0)

    # 3. Epilogue: zero point, bias, requantization, store to NCHW.
    bias, eff, multiplier, shift = load_channel_params(
        bias_ptr, eff_ptr, mult_ptr, shift_ptr, o, rn < OG, HAS_BIAS, ROUNDING)
    acc = acc - x_zp * wsum[None, :] + bias[None, :]
    y = requantize(acc, eff[None, :], multiplier[None, :], shift[None, :], y_zp, qmin, qmax,
                   ROUNDING)
    y_ptrs = y_ptr + (n[:, None] * O + o[None, :]) * (OH * OW) + p[:, None]
    tl.store(y_ptrs, y.to(y_ptr.dtype.element_ty), mask=(rm[:, None] < M) & (rn[None, :] < OG))


@triton.jit
def depthwise_qconv2d_kernel(
        # Pointers as qconv2d_kernel; w is [O,1,KH,KW].
        x_ptr, w_ptr, y_ptr, bias_ptr, eff_ptr, mult_ptr, shift_ptr,
        # Sizes; MULT = O / C.
        C, H, W, O, OH, OW, KH, KW, MULT,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # Quantization.
        x_zp, y_zp, qmin, qmax,
        # Meta-parameters; BLOCK output positions per program.
        HAS_BIAS: tl.constexpr, ROUNDING: tl.constexpr, BLOCK: tl.constexpr):
    """Direct depthwise quantized convolution of (n, o) = program_id(0)."""
    no = tl.program_id(0)
    n = no // O
    o = no % O
    p = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = p < OH * OW
    acc = tl.zeros((BLOCK,), dtype=tl.int32)
    for ki in range(KH):
        for kj in range(KW):
            xv = load_input_taps(x_ptr, n, o // MULT, p // OW, p % OW, ki, kj, mask, C, H, W,
                                 stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, x_zp)
            w = tl.load(w_ptr + (o * KH + ki) * KW + kj).to(tl.int32)
            acc += (xv.to(tl.int32) - x_zp) * w
    channel = tl.zeros((BLOCK,), dtype=tl.int32) + o
    bias, eff, multiplier, shift = load_channel_params(
        bias_ptr, eff_ptr, mult_ptr, shift_ptr, channel, mask, HAS_BIAS, ROUNDING)
    y = requantize(acc + bias, eff, multiplier, shift, y_zp, qmin, qmax, ROUNDING)
    tl.store(y_ptr + no * (OH * OW) + p, y.to(y_ptr.dtype.element_ty), mask=mask)


def _int8_configs() -> list[triton.Config]:
    """Tile shapes for the int8 GEMMs (int8 tensor-core dots want BLOCK_K >= 32)."""
    shapes = [(32, 32, 32, 4, 2), (64, 64, 64, 4, 3), (128, 64, 64, 4, 3),
              (128, 128, 64, 8, 3)]
    return [triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k, "GROUP_M": 8},
                          num_warps=w, num_stages=s) for m, n, k, w, s in shapes]


_qlinear = tuned(_int8_configs(), key=["M", "N", "K"])(qlinear_kernel)
_qconv2d = tuned(_int8_configs(), key=["N", "OH", "OW", "OG", "CG", "KH", "KW"])(
    qconv2d_kernel)

# float_scale must round the float64 product itself: no FMA contraction.
_LAUNCH = dict(enable_fp_fusion=False)


# --------------------------------------------------------------------------
# Wrappers
# --------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _channel_params(x_scale: float, w_scales: tuple, y_scale: float, count: int,
                    rounding: str, device: str):
    """The kernels' (eff_ptr, mult_ptr, shift_ptr) tensors on `device`: float_scale reads
    eff = s_x * s_w[o] / s_y (float64, exactly as quantized_ops computes it),
    multiplier_shift the int32 multiplier and shift of each eff from
    quantized_ops.quantize_multiplier; the slots a mode does not read repeat a tensor."""
    eff = quantized_ops.effective_scales(x_scale, np.array(w_scales), y_scale, count)
    if rounding == "float_scale":
        tensor_eff = torch.from_numpy(eff).to(device)
        return tensor_eff, tensor_eff, tensor_eff
    pairs = [quantized_ops.quantize_multiplier(e) for e in eff]
    multiplier = torch.tensor([m for m, _ in pairs], dtype=torch.int32, device=device)
    shift = torch.tensor([s for _, s in pairs], dtype=torch.int32, device=device)
    return multiplier, multiplier, shift


def _quantization(op, *, count, x_scale, x_zp, w_scales, y_scale, y_zp, qmin, qmax,
                  rounding, device):
    """Checked scalars and per-channel tensors: (zero points and range, tensors, dtype)."""
    if rounding not in _ROUNDINGS:
        raise InputError(f"{op}: unknown rounding '{rounding}' (expected one of "
                         f"{', '.join(_ROUNDINGS)})")
    qmin, qmax = int(qmin), int(qmax)
    if qmin > qmax:
        raise InputError(f"{op}: empty storage range [{qmin}, {qmax}]")
    if not -128 <= int(x_zp) <= 127:
        raise UnsupportedError(f"{op}: input zero point {x_zp} is outside the int8 range")
    scales = tuple(float(s) for s in np.asarray(w_scales, dtype=np.float64).reshape(-1))
    try:
        params = _channel_params(float(x_scale), scales, float(y_scale), count, rounding,
                                 str(device))
        dtype = quantized_ops._storage_dtype(qmin, qmax)
    except ValueError as error:
        raise InputError(f"{op}: {error}") from None
    if dtype.itemsize > 4:
        raise UnsupportedError(f"{op}: storage range [{qmin}, {qmax}] needs 64 bits")
    scalars = (int(x_zp), int(y_zp), qmin, qmax)
    return scalars, params, getattr(torch, dtype.name)


def _bias(op: str, b, count: int):
    if b is None:
        return None
    b = tensor(op, "bias", b, ndim=1, dtypes=(torch.int32,))
    if b.shape[0] != count:
        raise InputError(f"{op}: bias has {b.shape[0]} values for {count} output channels")
    return b


def qlinear(x, w, b=None, *, x_scale, x_zp, w_scales, y_scale, y_zp, qmin=-128, qmax=127,
            rounding, out=None):
    """Quantized x [N,K] @ w [M,K].T + b with per-row weight scales, as quantized_ops.qlinear."""
    op = "train.qlinear"
    x = tensor(op, "x", x, ndim=2, dtypes=(torch.int8,))
    w = tensor(op, "w", w, ndim=2, dtypes=(torch.int8,))
    if x.shape[1] != w.shape[1]:
        raise InputError(f"{op}: x has {x.shape[1]} features but w expects {w.shape[1]}")
    m, n, k = x.shape[0], w.shape[0], x.shape[1]
    b = _bias(op, b, n)
    scalars, params, dtype = _quantization(
        op, count=n, x_scale=x_scale, x_zp=x_zp, w_scales=w_scales, y_scale=y_scale,
        y_zp=y_zp, qmin=qmin, qmax=qmax, rounding=rounding, device=x.device)
    y = result(op, out, (m, n), dtype, x.device)
    if y.numel() == 0:
        return y
    grid = lambda meta: (triton.cdiv(m, meta["BLOCK_M"]) * triton.cdiv(n, meta["BLOCK_N"]),)
    _qlinear[grid](x, w, y, y if b is None else b, *params, m, n, k, *scalars,
                   HAS_BIAS=b is not None, ROUNDING=_ROUNDINGS[rounding], **_LAUNCH)
    return y


def qconv2d(x, w, b=None, *, x_scale, x_zp, w_scales, y_scale, y_zp, qmin=-128, qmax=127,
            stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, rounding, out=None):
    """Quantized NCHW x OIHW convolution with per-output-channel weight scales, as
    quantized_ops.qconv2d (padding is real 0, i.e. x_zp)."""
    op = "train.qconv2d"
    x = tensor(op, "x", x, ndim=4, dtypes=(torch.int8,))
    w = tensor(op, "w", w, ndim=4, dtypes=(torch.int8,))
    stride, padding, dilation, (oh, ow) = geometry(op, x.shape, w.shape, stride, padding,
                                                   dilation, groups)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    b = _bias(op, b, o)
    scalars, params, dtype = _quantization(
        op, count=o, x_scale=x_scale, x_zp=x_zp, w_scales=w_scales, y_scale=y_scale,
        y_zp=y_zp, qmin=qmin, qmax=qmax, rounding=rounding, device=x.device)
    y = result(op, out, (n, o, oh, ow), dtype, x.device)
    geo = (*stride, *padding, *dilation)
    meta = dict(HAS_BIAS=b is not None, ROUNDING=_ROUNDINGS[rounding], **_LAUNCH)
    bias = y if b is None else b
    if cg == 1 and groups == c:
        size = block(oh * ow, DIRECT_BLOCK)
        depthwise_qconv2d_kernel[(n * o, triton.cdiv(oh * ow, size))](
            x, w, y, bias, *params, c, h, wd, o, oh, ow, kh, kw, o // c, *geo, *scalars,
            BLOCK=size, **meta)
        return y
    og = o // groups
    grid = lambda m: (triton.cdiv(n * oh * ow, m["BLOCK_M"]) * triton.cdiv(og, m["BLOCK_N"]),
                      groups)
    _qconv2d[grid](x, w, y, bias, *params, n, c, h, wd, o, oh, ow, kh, kw, cg, og, *geo,
                   *scalars, **meta)
    return y


OPS = {"train.qlinear": qlinear, "train.qconv2d": qconv2d}

FUSED: dict = {}


def _linear_kwargs(op) -> dict:
    """qlinear's keywords from a train.qlinear op (its operand and result types)."""
    from ...runtime import quantized_execution as qe
    x = qe.per_tensor(op, op.operands[0], "input")
    y = qe.per_tensor(op, op.results[0], "result")
    return dict(x_scale=x.scale, x_zp=x.zero_point,
                w_scales=qe.weight_scales(op, op.operands[1]), y_scale=y.scale,
                y_zp=y.zero_point, **qe._range(y), rounding=qe._rounding(op))


def _conv_kwargs(op) -> dict:
    """qconv2d's keywords from a train.qconv2d op: qlinear's plus the geometry."""
    from ...dialects import train
    g = train.ConvGeometry.of(op)
    return dict(_linear_kwargs(op), stride=g.stride, padding=g.padding, dilation=g.dilation,
                groups=g.groups)


KWARGS = {"train.qlinear": _linear_kwargs, "train.qconv2d": _conv_kwargs}


# --------------------------------------------------------------------------
# Ahead-of-time compile cases
# --------------------------------------------------------------------------

_TYPES = {"x_ptr": "*i8", "w_ptr": "*i8", "y_ptr": "*i8", "bias_ptr": "*i32",
          "eff_ptr": "*fp64", "mult_ptr": "*i32", "shift_ptr": "*i32",
          **{i: "i32" for i in (
              "M", "N", "K", "C", "H", "W", "O", "OH", "OW", "KH", "KW", "CG", "OG", "MULT",
              "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w",
              "x_zp", "y_zp", "qmin", "qmax")}}
_TILE = dict(BLOCK_M=64, BLOCK_N=64, BLOCK_K=64, GROUP_M=8)

AOT_CASES = [
    aot_case(qlinear_kernel, _TYPES, dict(HAS_BIAS=True, ROUNDING=FLOAT_SCALE, **_TILE)),
    aot_case(qlinear_kernel, _TYPES, dict(HAS_BIAS=True, ROUNDING=MULTIPLIER_SHIFT, **_TILE)),
    aot_case(qconv2d_kernel, _TYPES, dict(HAS_BIAS=True, ROUNDING=MULTIPLIER_SHIFT, **_TILE)),
    aot_case(qconv2d_kernel, _TYPES, dict(HAS_BIAS=False, ROUNDING=FLOAT_SCALE, **_TILE)),
    aot_case(depthwise_qconv2d_kernel, _TYPES,
             dict(HAS_BIAS=True, ROUNDING=FLOAT_SCALE, BLOCK=256)),
    aot_case(depthwise_qconv2d_kernel, _TYPES,
             dict(HAS_BIAS=True, ROUNDING=MULTIPLIER_SHIFT, BLOCK=256)),
]

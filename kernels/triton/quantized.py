"""Triton int8 kernels, bit-exact with the reference interpreter in both rounding modes
(runtime/quantized_ops.py, runtime/quantized_training.py): train.qlinear and
train.qconv2d with a requantization epilogue, train.qadd, train.qavg_pool2d,
train.qglobal_avg_pool, quant.dcast / qcast / scast, train.qsgd and train.conv2d_qsgd.

Calling convention (the keywords of the quantized_ops / quantized_training functions,
plus out=):

    qlinear(x, w, b=None, *, x_scale, x_zp, w_scales, y_scale, y_zp, qmin=-128,
            qmax=127, rounding, out=None)
    qconv2d(x, w, b=None, *, x_scale, x_zp, w_scales, y_scale, y_zp, qmin=-128,
            qmax=127, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
            rounding, out=None)
    qadd(a, b, *, a_scale, a_zp, b_scale, b_zp, y_scale, y_zp, qmin, qmax, rounding)
    qavg_pool2d(x, *, kernel, stride=None, padding, count_include_pad, qmin, qmax,
                rounding, zp)
    qglobal_avg_pool(x, *, qmin, qmax, rounding)
    dcast(q, *, scale, zp, axis=None, dtype=torch.float32)     # quantized_ops.dequantize
    qcast(x, *, scale, zp, axis=None, qmin, qmax)               # quantized_ops.quantize
    scast(x)                                                    # a copy
    qsgd(param, grad, *, lr, scales, qas, weight_decay=0.0, zero_points=0, qmin, qmax,
         axis=0)                                                # quantized_training.qsgd

x and w are int8 storage tensors (x [N,K] or NCHW, w [M,K] or OIHW), b an int32 bias in
the accumulator's scale, w_scales one scale per output channel (or one for all),
rounding "float_scale" or "multiplier_shift"; results hold storage values in `out`'s
dtype or the narrowest signed dtype for [qmin, qmax] (int8). `KWARGS[name](op)` reads
these keywords from the MLIR op's types and attributes, as
runtime/quantized_execution.py does. Scales travel to the kernels as float64 tensors
(never as float32 scalars), and the kernels with float64 arithmetic are compiled
without FP contraction, so every product, sum and quotient rounds as numpy's does.

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
from ...runtime import quantized_ops, quantized_training
from . import layout
from .conv import geometry, load_input_taps
from .matmul import aot_case, tile_ids, tuned
from .support import INTERPRET, block, elementwise_block, pair, result, tensor

__all__ = ["requantize", "qlinear_kernel", "qconv2d_kernel", "depthwise_qconv2d_kernel",
           "qadd_kernel", "qavg_pool2d_kernel", "qglobal_avg_pool_kernel", "dcast_kernel",
           "qcast_kernel", "qsgd_kernel", "qlinear", "qconv2d", "qadd", "qavg_pool2d",
           "qglobal_avg_pool", "dcast", "qcast", "scast", "qsgd", "conv2d_qsgd", "OPS", "FUSED",
           "KWARGS",
           "AOT_CASES"]

FLOAT_SCALE, MULTIPLIER_SHIFT = 0, 1
_ROUNDINGS = {"float_scale": FLOAT_SCALE, "multiplier_shift": MULTIPLIER_SHIFT}

# 1.5 * 2**52: adding and subtracting it rounds a float64 |v| < 2**51 to an integer,
# ties to even (the float64 ulp at that magnitude is 1).
_RNE_MAGIC = tl.constexpr(6755399441055744.0)
_RNE_LIMIT = tl.constexpr(1125899906842624.0)  # 2**50: larger products saturate anyway


@triton.jit
def round_half_even(v):
    """Round half to even of float64 values, |v| <= 2**50 (int64 result)."""
    return ((v + _RNE_MAGIC) - _RNE_MAGIC).to(tl.int64)


@triton.jit
def doubling_high_mul(x, multiplier):
    """gemmlowp's SaturatingRoundingDoublingHighMul of int32 values: round(x * m / 2**31),
    ties up, as the 64-bit product plus a nudge then C's truncating division (done on
    magnitudes); the one overflow, INT32_MIN**2, saturates. int64 result."""
    ab = x.to(tl.int64) * multiplier.to(tl.int64)
    nudged = ab + tl.where(ab >= 0, 1 << 30, 1 - (1 << 30)).to(tl.int64)
    high = tl.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))
    return tl.where((x == multiplier) & (x == -2147483648), 2147483647, high)


@triton.jit
def divide_by_pot(x, exponent):
    """gemmlowp's RoundingDivideByPOT of int64 `x` by 2**exponent (0..31): the floor
    shift plus one when the remainder passes half (the threshold is one higher for
    negatives: ties away from zero)."""
    right = exponent.to(tl.int64)
    mask = (tl.full(x.shape, 1, tl.int64) << right) - 1
    threshold = (mask >> 1) + (x < 0).to(tl.int64)
    return (x >> right) + ((x & mask) > threshold).to(tl.int64)


@triton.jit
def requantize(acc, eff, multiplier, shift, y_zp, qmin, qmax, ROUNDING: tl.constexpr):
    """clamp(requant(acc) + y_zp, qmin, qmax) for int32 accumulators, per-channel
    eff (float64) or multiplier/shift (int32) broadcast along the columns."""
    if ROUNDING == 0:
        # float_scale: round half to even of the float64 product acc * eff. The kernel
        # is compiled without FP contraction so that the product is rounded first.
        v = acc.to(tl.float64) * eff
        r = round_half_even(tl.minimum(tl.maximum(v, -_RNE_LIMIT), _RNE_LIMIT))
    else:
        # multiplier_shift: TFLite's MultiplyByQuantizedMultiplier. The left shift
        # wraps in int32 as in C.
        x = acc << tl.maximum(shift, 0)
        r = divide_by_pot(doubling_high_mul(x, multiplier), tl.maximum(-shift, 0))
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
        # Sizes: n = N*O*OH*OW outputs; MULT = O / C.
        n, C, H, W, O, OH, OW, KH, KW, MULT,
        # Geometry.
        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        # Quantization.
        x_zp, y_zp, qmin, qmax,
        # Meta-parameters; BLOCK outputs per program.
        HAS_BIAS: tl.constexpr, ROUNDING: tl.constexpr, BLOCK: tl.constexpr):
    """Direct depthwise quantized convolution of BLOCK consecutive NCHW outputs (any
    channels: few programs for the small late layers of mobile networks)."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    p = index % (OH * OW)
    no = index // (OH * OW)
    o = no % O
    batch = no // O
    acc = tl.zeros((BLOCK,), dtype=tl.int32)
    for ki in range(KH):
        for kj in range(KW):
            xv = load_input_taps(x_ptr, batch, o // MULT, p // OW, p % OW, ki, kj, mask, C, H,
                                 W, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, x_zp)
            w = tl.load(w_ptr + (o * KH + ki) * KW + kj, mask=mask, other=0).to(tl.int32)
            acc += (xv.to(tl.int32) - x_zp) * w
    bias, eff, multiplier, shift = load_channel_params(
        bias_ptr, eff_ptr, mult_ptr, shift_ptr, o, mask, HAS_BIAS, ROUNDING)
    y = requantize(acc + bias, eff, multiplier, shift, y_zp, qmin, qmax, ROUNDING)
    tl.store(y_ptr + index, y.to(y_ptr.dtype.element_ty), mask=mask)


def _int8_configs() -> list[triton.Config]:
    """Tile shapes for the int8 GEMMs (int8 tensor-core dots want BLOCK_K >= 32).
    Interpreted, only the first runs: a deep one, since every K step of every program
    costs a round of Python calls."""
    shapes = [(32, 32, 32, 4, 2), (64, 64, 64, 4, 3), (128, 64, 64, 4, 3),
              (128, 128, 64, 8, 3)]
    if INTERPRET:
        shapes.insert(0, (32, 64, 128, 4, 2))
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
        count = y.numel()
        if count:
            size, grid = _grid(count)
            depthwise_qconv2d_kernel[grid](x, w, y, bias, *params, count, c, h, wd, o, oh, ow,
                                           kh, kw, o // c, *geo, *scalars, BLOCK=size, **meta)
        return y
    og = o // groups
    grid = lambda m: (triton.cdiv(n * oh * ow, m["BLOCK_M"]) * triton.cdiv(og, m["BLOCK_N"]),
                      groups)
    _qconv2d[grid](x, w, y, bias, *params, n, c, h, wd, o, oh, ow, kh, kw, cg, og, *geo,
                   *scalars, **meta)
    return y


# --------------------------------------------------------------------------
# Element-wise and pooling int8 kernels, the casts, and the integer SGD step
# --------------------------------------------------------------------------

@triton.jit
def divide_rounded(total, count, ROUNDING: tl.constexpr):
    """total / count (int32, count > 0) rounded to an integer: half to even
    (float_scale) or half away from zero (multiplier_shift, TFLite's
    (acc ± count/2) / count). Both are odd-symmetric, so the division runs on
    magnitudes, where floor and C's truncation agree."""
    magnitude = tl.abs(total)
    quotient = magnitude // count
    if ROUNDING == 0:
        twice = 2 * (magnitude - quotient * count)
        up = (twice > count) | ((twice == count) & ((quotient & 1) == 1))
        quotient += up.to(tl.int32)
    else:
        quotient = (magnitude + count // 2) // count
    return tl.where(total < 0, -quotient, quotient)


@triton.jit
def qadd_kernel(
        # Pointers: a, b, y (same shape); float_scale reads scales = (s_a, s_b, s_y)
        # in float64.
        a_ptr, b_ptr, y_ptr, scales_ptr,
        # Sizes.
        n,
        # Quantization: zero points, TFLite's multipliers and shifts (multiplier_shift),
        # the storage range of y.
        a_zp, b_zp, y_zp, a_mult, a_shift, b_mult, b_shift, y_mult, y_shift, qmin, qmax,
        # Meta-parameters.
        ROUNDING: tl.constexpr, BLOCK: tl.constexpr):
    """y = clamp(requant((a - z_a) s_a + (b - z_b) s_b) + z_y), element-wise."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    a = tl.load(a_ptr + index, mask=mask, other=0).to(tl.int32) - a_zp
    b = tl.load(b_ptr + index, mask=mask, other=0).to(tl.int32) - b_zp
    if ROUNDING == 0:
        # float64: each product rounded, the sum rounded, an IEEE quotient (a float64
        # division is div.rn.f64 on NVIDIA; no FMA: compiled without FP contraction).
        real = a.to(tl.float64) * tl.load(scales_ptr) + \
            b.to(tl.float64) * tl.load(scales_ptr + 1)
        v = real / tl.load(scales_ptr + 2)
        r = round_half_even(tl.minimum(tl.maximum(v, -_RNE_LIMIT), _RNE_LIMIT))
    else:
        # TFLite's int8 ADD: both inputs shifted left by 20 bits and rescaled to the
        # common scale 2 max(s_a, s_b) / 2**20, the int32 sum (wrapping) to the output.
        sa = divide_by_pot(doubling_high_mul(a << 20, a_mult), -a_shift)
        sb = divide_by_pot(doubling_high_mul(b << 20, b_mult), -b_shift)
        r = divide_by_pot(doubling_high_mul((sa + sb).to(tl.int32), y_mult), -y_shift)
    y = tl.minimum(tl.maximum(r + y_zp, qmin), qmax)
    tl.store(y_ptr + index, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def qavg_pool2d_kernel(
        # Pointers: x [N,C,H,W], y [N,C,OH,OW] (storage values of one quantized type).
        x_ptr, y_ptr,
        # Sizes: n outputs, input H x W, output OH x OW; stride and padding.
        n, H, W, OH, OW, SH, SW, PH, PW,
        # Quantization: the zero point (the padding's value) and the storage range.
        zp, qmin, qmax,
        # Meta-parameters: the window, the divisor rule, the rounding.
        KH: tl.constexpr, KW: tl.constexpr, COUNT_PAD: tl.constexpr,
        ROUNDING: tl.constexpr, BLOCK: tl.constexpr):
    """y[nc, i, j] = the rounded mean of x over the window, padding holding zp."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    j = index % OW
    i = (index // OW) % OH
    base = (index // (OW * OH)) * H * W
    total = tl.zeros([BLOCK], dtype=tl.int32)
    count = tl.zeros([BLOCK], dtype=tl.int32)
    for ki in tl.static_range(KH):
        for kj in tl.static_range(KW):
            h = i * SH - PH + ki
            w = j * SW - PW + kj
            valid = mask & (h >= 0) & (h < H) & (w >= 0) & (w < W)
            total += tl.load(x_ptr + base + h * W + w, mask=valid, other=0).to(tl.int32)
            count += valid.to(tl.int32)
    if COUNT_PAD:
        # Padded positions hold zp (real 0) and count in the divisor.
        total += (KH * KW - count) * zp
        count = tl.full([BLOCK], KH * KW, tl.int32)
    y = divide_rounded(total, tl.maximum(count, 1), ROUNDING)
    y = tl.minimum(tl.maximum(y, qmin), qmax)
    tl.store(y_ptr + index, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def qglobal_avg_pool_kernel(
        # Pointers: x [R, L] (R = N*C rows of L = H*W values), y [R].
        x_ptr, y_ptr,
        # Sizes and the storage range.
        R, L, qmin, qmax,
        # Meta-parameters.
        ROUNDING: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_L: tl.constexpr):
    """y[r] = the rounded mean of row r (int32 sums)."""
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    columns = tl.arange(0, BLOCK_L)
    total = tl.zeros([BLOCK_R], dtype=tl.int32)
    for l0 in range(0, L, BLOCK_L):
        cols = l0 + columns
        tile = tl.load(x_ptr + rows[:, None] * L + cols[None, :],
                       mask=(rows[:, None] < R) & (cols[None, :] < L), other=0)
        total += tl.sum(tile.to(tl.int32), axis=1)
    y = divide_rounded(total, tl.full([BLOCK_R], L, tl.int32), ROUNDING)
    y = tl.minimum(tl.maximum(y, qmin), qmax)
    tl.store(y_ptr + rows, y.to(y_ptr.dtype.element_ty), mask=rows < R)


@triton.jit
def channel_of(index, C, INNER):
    """The channel (index along the quantized axis) of row-major element `index`."""
    return (index // INNER) % C


@triton.jit
def dcast_kernel(
        # Pointers: q (storage values), y (float), per channel: scale (float64), zp (int32).
        q_ptr, y_ptr, scale_ptr, zp_ptr,
        # Sizes: n elements, C channels along the axis, INNER elements per channel run
        # (C = INNER = 1: per tensor).
        n, C, INNER,
        # Meta-parameters.
        BLOCK: tl.constexpr):
    """y = (q - z) * s in float64, rounded once to y's type."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    c = channel_of(index, C, INNER)
    q = tl.load(q_ptr + index, mask=mask, other=0).to(tl.int32)
    zp = tl.load(zp_ptr + c, mask=mask, other=0)
    scale = tl.load(scale_ptr + c, mask=mask, other=1.0)
    y = (q - zp).to(tl.float64) * scale
    tl.store(y_ptr + index, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def qcast_kernel(
        # Pointers: x (float), q (storage values); per channel: scale (float64), zp (int32).
        x_ptr, q_ptr, scale_ptr, zp_ptr,
        # Sizes as dcast_kernel; the storage range.
        n, C, INNER, qmin, qmax,
        # Meta-parameters.
        BLOCK: tl.constexpr):
    """q = clamp(rne(x / s) + z, qmin, qmax), the quotient in float64; NaN gives z,
    infinities saturate."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    c = channel_of(index, C, INNER)
    x = tl.load(x_ptr + index, mask=mask, other=0.0).to(tl.float64)
    zp = tl.load(zp_ptr + c, mask=mask, other=0)
    v = x / tl.load(scale_ptr + c, mask=mask, other=1.0)
    v = tl.where(v != v, 0.0, v)
    # Bound the quotient before the integer conversion (a no-op inside the range).
    low = qmin.to(tl.float64) - zp.to(tl.float64) - 1.0
    high = qmax.to(tl.float64) - zp.to(tl.float64) + 1.0
    v = tl.minimum(tl.maximum(v, low), high)
    q = tl.minimum(tl.maximum(round_half_even(v) + zp, qmin), qmax)
    tl.store(q_ptr + index, q.to(q_ptr.dtype.element_ty), mask=mask)


@triton.jit
def qsgd_kernel(
        # Pointers: param (int8 or int32 storage), grad (float32), new param; per
        # channel: scale (float64, 1 where dead), zp (int32), dead (int8); hyper =
        # (lr, weight_decay) in float64.
        param_ptr, grad_ptr, out_ptr, scale_ptr, zp_ptr, dead_ptr, hyper_ptr,
        # Sizes as dcast_kernel; the storage range.
        n, C, INNER, qmin, qmax,
        # Meta-parameters: quantization-aware scaling, weight decay on.
        QAS: tl.constexpr, DECAY: tl.constexpr, BLOCK: tl.constexpr):
    """p' = saturate(rne(p - lr (G~ + wd (p - z)))) with G~ = G / s (QAS) or G s, in
    float64 (runtime/quantized_training.py); dead channels and NaN updates keep p."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    c = channel_of(index, C, INNER)
    stored = tl.load(param_ptr + index, mask=mask, other=0).to(tl.float64)
    grad = tl.load(grad_ptr + index, mask=mask, other=0.0).to(tl.float64)
    scale = tl.load(scale_ptr + c, mask=mask, other=1.0)
    if QAS:
        step = grad / scale
    else:
        step = grad * scale
    if DECAY:
        zp = tl.load(zp_ptr + c, mask=mask, other=0).to(tl.float64)
        step = step + tl.load(hyper_ptr + 1) * (stored - zp)
    updated = stored - tl.load(hyper_ptr) * step
    dead = tl.load(dead_ptr + c, mask=mask, other=1) != 0
    updated = tl.where((updated != updated) | dead, stored, updated)
    low = qmin.to(tl.float64)
    high = qmax.to(tl.float64)
    updated = tl.minimum(tl.maximum(updated, low - 1.0), high + 1.0)
    r = tl.minimum(tl.maximum(round_half_even(updated), qmin), qmax)
    tl.store(out_ptr + index, r.to(out_ptr.dtype.element_ty), mask=mask)


# float64 element-wise arithmetic must round every operation: no FMA contraction.
_ELEMENTWISE = dict(enable_fp_fusion=False)


def _grid(n: int) -> tuple[int, tuple]:
    size = elementwise_block(n) if INTERPRET else 1024
    return size, (triton.cdiv(n, size),)


def _check_rounding(op: str, rounding: str) -> int:
    if rounding not in _ROUNDINGS:
        raise InputError(f"{op}: unknown rounding '{rounding}' (expected one of "
                         f"{', '.join(_ROUNDINGS)})")
    return _ROUNDINGS[rounding]


def _range_dtype(op: str, qmin, qmax) -> torch.dtype:
    """The narrowest signed storage dtype of [qmin, qmax] (int8 .. int32)."""
    qmin, qmax = int(qmin), int(qmax)
    if qmin > qmax:
        raise InputError(f"{op}: empty storage range [{qmin}, {qmax}]")
    try:
        dtype = quantized_ops._storage_dtype(qmin, qmax)
    except ValueError:
        dtype = np.dtype(np.int64)
    if dtype.itemsize > 4:
        raise UnsupportedError(f"{op}: storage range [{qmin}, {qmax}] needs 64 bits")
    return getattr(torch, dtype.name)


def _storage(op: str, out, shape, qmin, qmax, device) -> torch.Tensor:
    """The result: `out` (any integer storage dtype that holds [qmin, qmax]) or a new
    tensor of the narrowest signed dtype."""
    dtype = _range_dtype(op, qmin, qmax)
    if out is not None and isinstance(out, torch.Tensor) and out.dtype in STORAGE and \
            torch.iinfo(out.dtype).min <= int(qmin) and int(qmax) <= torch.iinfo(out.dtype).max:
        dtype = out.dtype
    return result(op, out, shape, dtype, device)


STORAGE = (torch.int8, torch.uint8, torch.int16, torch.int32)
"""Storage dtypes of quantized tensors the element-wise int8 kernels read and write."""


@functools.lru_cache(maxsize=1024)
def _float64(values: tuple, device: str) -> torch.Tensor:
    """A float64 tensor of `values` on `device` (scales passed exactly, not as f32)."""
    return torch.tensor(values, dtype=torch.float64, device=device)


@functools.lru_cache(maxsize=1024)
def _int32(values: tuple, device: str) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int32, device=device)


def _add_multipliers(op, a_scale, b_scale, y_scale) -> tuple:
    """TFLite's int8 ADD multipliers and shifts: inputs to 2 max(s_a, s_b) / 2**20, the
    sum to the output (quantized_ops.qadd)."""
    twice_max = 2.0 * max(a_scale, b_scale)
    try:
        pairs = [quantized_ops.quantize_multiplier_smaller_than_one_exp(e) for e in (
            a_scale / twice_max, b_scale / twice_max,
            twice_max / ((1 << quantized_ops.ADD_LEFT_SHIFT) * y_scale))]
    except ValueError as error:
        raise UnsupportedError(f"{op}: {error}") from None
    return tuple(v for pair in pairs for v in pair)


def qadd(a, b, *, a_scale, a_zp, b_scale, b_zp, y_scale, y_zp, qmin=-128, qmax=127,
         rounding, out=None):
    """Quantized element-wise a + b of one shape, as quantized_ops.qadd."""
    op = "train.qadd"
    a = tensor(op, "a", a, dtypes=STORAGE)
    b = tensor(op, "b", b, dtypes=STORAGE)
    if a.shape != b.shape:
        raise UnsupportedError(f"{op}: operands of shapes {tuple(a.shape)} and "
                               f"{tuple(b.shape)} (the kernel adds equal shapes)")
    mode = _check_rounding(op, rounding)
    scales = tuple(float(s) for s in (a_scale, b_scale, y_scale))
    if min(scales) <= 0 or not all(np.isfinite(scales)):
        raise InputError(f"{op}: quantization scales must be positive, got {scales}")
    multipliers = _add_multipliers(op, *scales) if mode == MULTIPLIER_SHIFT else (0,) * 6
    y = _storage(op, out, a.shape, qmin, qmax, a.device)
    n = y.numel()
    if n:
        size, grid = _grid(n)
        qadd_kernel[grid](a, b, y, _float64(scales, str(a.device)), n, int(a_zp), int(b_zp),
                          int(y_zp), *multipliers, int(qmin), int(qmax), ROUNDING=mode,
                          BLOCK=size, **_ELEMENTWISE)
    return y


def qavg_pool2d(x, *, kernel, stride=None, padding=(0, 0), count_include_pad=True,
                qmin=-128, qmax=127, rounding, zp=0, out=None):
    """Average pool of storage values (input and output share one quantized type), as
    quantized_ops.qavg_pool2d: floor-mode windows, padding holding zp."""
    op = "train.qavg_pool2d"
    x = tensor(op, "x", x, ndim=4, dtypes=STORAGE)
    mode = _check_rounding(op, rounding)
    kh, kw = pair(op, "kernel", kernel, 1)
    sh, sw = pair(op, "stride", (kh, kw) if stride is None else stride, 1)
    ph, pw = pair(op, "padding", padding, 0)
    n, c, h, w = x.shape
    if ph > kh // 2 or pw > kw // 2:
        raise InputError(f"{op}: padding {(ph, pw)} exceeds half the kernel {(kh, kw)}")
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise InputError(f"{op}: kernel {(kh, kw)} does not fit the padded input "
                         f"{(h + 2 * ph, w + 2 * pw)}")
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = _storage(op, out, (n, c, oh, ow), qmin, qmax, x.device)
    count = y.numel()
    if count:
        size, grid = _grid(count)
        qavg_pool2d_kernel[grid](x, y, count, h, w, oh, ow, sh, sw, ph, pw, int(zp), int(qmin),
                                 int(qmax), KH=kh, KW=kw, COUNT_PAD=bool(count_include_pad),
                                 ROUNDING=mode, BLOCK=size)
    return y


def qglobal_avg_pool(x, *, qmin=-128, qmax=127, rounding, out=None):
    """Rounded mean over H and W of storage values, [N,C,H,W] -> [N,C,1,1]."""
    op = "train.qglobal_avg_pool"
    x = tensor(op, "x", x, ndim=4, dtypes=STORAGE)
    mode = _check_rounding(op, rounding)
    n, c, h, w = x.shape
    y = _storage(op, out, (n, c, 1, 1), qmin, qmax, x.device)
    rows, length = n * c, h * w
    if rows and length:
        block_l = block(length, 256 if INTERPRET else 128)
        block_r = block(rows, max(16, 4096 // block_l) if INTERPRET else 32)
        qglobal_avg_pool_kernel[(triton.cdiv(rows, block_r),)](
            x, y, rows, length, int(qmin), int(qmax), ROUNDING=mode, BLOCK_R=block_r,
            BLOCK_L=block_l)
    return y


def _channels(op: str, shape, axis, scale, zp, what: str) -> tuple[int, int, tuple, tuple]:
    """(C, INNER, scales, zero points) of a per-tensor (axis None) or per-axis type."""
    scales = tuple(float(s) for s in np.asarray(scale, dtype=np.float64).reshape(-1))
    zps = tuple(int(z) for z in np.asarray(zp, dtype=np.int64).reshape(-1))
    if axis is None:
        if len(scales) != 1 or len(zps) != 1:
            raise InputError(f"{op}: per-channel {what} need an axis")
        return 1, 1, scales, zps
    axis = int(axis)
    if not 0 <= axis < len(shape):
        raise InputError(f"{op}: quantized axis {axis} out of range for shape {tuple(shape)}")
    count = int(shape[axis])
    # One scale or zero point stands for every channel.
    scales = scales * count if len(scales) == 1 else scales
    zps = zps * count if len(zps) == 1 else zps
    if len(scales) != count or len(zps) != count:
        raise InputError(f"{op}: {len(scales)} scales and {len(zps)} zero points for "
                         f"{count} channels along axis {axis}")
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return count, inner, scales, zps


def dcast(q, *, scale, zp, axis=None, dtype=torch.float32, out=None):
    """quant.dcast: (q - z) * s in float64, rounded once to `dtype` (float32 or float64);
    per tensor (axis None) or per channel along `axis`."""
    op = "quant.dcast"
    q = tensor(op, "q", q, dtypes=STORAGE)
    if dtype not in (torch.float32, torch.float64):
        raise UnsupportedError(f"{op}: result dtype {dtype} (float32 or float64)")
    count, inner, scales, zps = _channels(op, q.shape, axis, scale, zp, "scales")
    y = result(op, out, q.shape, dtype, q.device)
    n = y.numel()
    if n:
        device = str(q.device)
        size, grid = _grid(n)
        dcast_kernel[grid](q, y, _float64(scales, device), _int32(zps, device), n, count,
                           inner, BLOCK=size)
    return y


def qcast(x, *, scale, zp, axis=None, qmin=-128, qmax=127, out=None):
    """quant.qcast: clamp(rne(x / s) + z, qmin, qmax) with the quotient in float64, as
    quantized_ops.quantize; per tensor (axis None) or per channel along `axis`."""
    op = "quant.qcast"
    x = tensor(op, "x", x, dtypes=(torch.float32, torch.float64))
    count, inner, scales, zps = _channels(op, x.shape, axis, scale, zp, "scales")
    if min(scales) <= 0 or not all(np.isfinite(scales)):
        raise InputError(f"{op}: quantization scales must be positive and finite")
    y = _storage(op, out, x.shape, qmin, qmax, x.device)
    n = y.numel()
    if n:
        device = str(x.device)
        size, grid = _grid(n)
        qcast_kernel[grid](x, y, _float64(scales, device), _int32(zps, device), n, count,
                           inner, int(qmin), int(qmax), BLOCK=size)
    return y


def scast(x, *, out=None):
    """quant.scast: the same storage values under another type (a copy into `out`)."""
    op = "quant.scast"
    x = tensor(op, "x", x, dtypes=STORAGE)
    y = result(op, out, x.shape, x.dtype, x.device)
    if y.data_ptr() != x.data_ptr() and y.numel():
        layout.strided_copy(x, y)
    return y


@functools.lru_cache(maxsize=1024)
def _update_channels(scales: tuple, zps: tuple, dead_ratio, device: str):
    """qsgd's per-channel tensors: scales (1 where dead, as quantized_training does),
    zero points and the dead mask of quantized_training.dead_channels."""
    s = np.asarray(scales, dtype=np.float64)
    dead = quantized_training.dead_channels(
        s, quantized_training.DEAD_CHANNEL_RATIO if dead_ratio is None else dead_ratio)
    return (torch.from_numpy(np.where(dead, 1.0, s)).to(device), _int32(zps, device),
            torch.from_numpy(dead.astype(np.int8)).to(device))


def qsgd(param, grad, *, lr, scales, qas, weight_decay=0.0, zero_points=0, qmin, qmax,
         axis=0, dead_ratio=None, out=None):
    """train.qsgd: one integer-domain SGD step of an int8 weight or int32 bias, as
    quantized_training.qsgd (QAS, weight decay, the dead-channel rule); in place when
    `out` is `param`."""
    op = "train.qsgd"
    param = tensor(op, "param", param, dtypes=STORAGE)
    grad = tensor(op, "grad", grad)
    if grad.shape != param.shape:
        raise InputError(f"{op}: grad shape {tuple(grad.shape)} differs from param shape "
                         f"{tuple(param.shape)}")
    if param.dim() == 0:
        raise InputError(f"{op}: the parameter must have at least one dimension")
    lr, weight_decay = float(lr), float(weight_decay)
    if not lr > 0 or not np.isfinite(lr):
        raise InputError(f"{op}: learning rate must be positive and finite, got {lr}")
    info = torch.iinfo(param.dtype)
    if not info.min <= int(qmin) <= int(qmax) <= info.max:
        raise InputError(f"{op}: storage range [{qmin}, {qmax}] does not fit {param.dtype}")
    count, inner, s, z = _channels(op, param.shape, axis, scales, zero_points, "scales")
    y = result(op, out, param.shape, param.dtype, param.device)
    n = y.numel()
    if n:
        device = str(param.device)
        s_tensor, z_tensor, dead = _update_channels(s, z, dead_ratio, device)
        size, grid = _grid(n)
        qsgd_kernel[grid](param, grad, y, s_tensor, z_tensor, dead,
                          _float64((lr, weight_decay), device), n, count, inner, int(qmin),
                          int(qmax), QAS=bool(qas), DECAY=weight_decay != 0.0, BLOCK=size,
                          **_ELEMENTWISE)
    return y


def conv2d_qsgd(param, grad_output, input, *, lr, scales, qas, weight_decay=0.0,
                zero_points=0, qmin, qmax, axis=0, stride=(1, 1), padding=(0, 0),
                dilation=(1, 1), groups=1, input_quantization=None, out=None):
    """train.conv2d_qsgd: the weight gradient of the weight's first channels
    (conv2d_grad_weight), then qsgd of that part of the weight, whose other channels
    keep their values; in place when `out` is `param`. An int8 `input` is dequantized
    first (`input_quantization`: dcast's keywords)."""
    from .conv import conv2d_grad_weight
    op = "train.conv2d_qsgd"
    param = tensor(op, "param", param, dtypes=STORAGE)
    if input_quantization is not None:
        input = dcast(input, **input_quantization)
    shape = (grad_output.shape[1], input.shape[1] // groups, *param.shape[2:])
    grad = conv2d_grad_weight(grad_output, input, weight_shape=shape, stride=stride,
                              padding=padding, dilation=dilation, groups=groups)
    y = result(op, out, param.shape, param.dtype, param.device)
    part = tuple(slice(0, n) for n in shape)
    channels = (lambda v: list(v)[:shape[axis]] if isinstance(v, (list, tuple)) else v)
    updated = qsgd(param[part].contiguous(), grad, lr=lr, scales=channels(scales), qas=qas,
                   weight_decay=weight_decay, zero_points=channels(zero_points), qmin=qmin,
                   qmax=qmax, axis=axis)
    if y.data_ptr() != param.data_ptr():
        y.copy_(param)
    y[part] = updated
    return y


OPS = {"train.qlinear": qlinear, "train.qconv2d": qconv2d, "train.qadd": qadd,
       "train.qavg_pool2d": qavg_pool2d, "train.qglobal_avg_pool": qglobal_avg_pool,
       "quant.dcast": dcast, "quant.qcast": qcast, "quant.scast": scast, "train.qsgd": qsgd,
       "train.conv2d_qsgd": conv2d_qsgd}

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


def _add_kwargs(op) -> dict:
    """qadd's keywords from the types of a train.qadd's operands and result."""
    from ...runtime import quantized_execution as qe
    a = qe.per_tensor(op, op.operands[0], "lhs")
    b = qe.per_tensor(op, op.operands[1], "rhs")
    y = qe.per_tensor(op, op.results[0], "result")
    return dict(a_scale=a.scale, a_zp=a.zero_point, b_scale=b.scale, b_zp=b.zero_point,
                y_scale=y.scale, y_zp=y.zero_point, **qe._range(y), rounding=qe._rounding(op))


def _avg_pool_kwargs(op) -> dict:
    """qavg_pool2d's keywords: the geometry, the divisor rule, the input's zero point."""
    from ...dialects import train
    from ...runtime import quantized_execution as qe
    x = qe.per_tensor(op, op.operands[0], "input")
    y = qe.per_tensor(op, op.results[0], "result")
    g = train.PoolGeometry.of(op)
    return dict(kernel=g.kernel, stride=g.stride, padding=g.padding,
                count_include_pad="count_include_pad" in op.attributes, **qe._range(y),
                rounding=qe._rounding(op), zp=x.zero_point)


def _global_pool_kwargs(op) -> dict:
    from ...runtime import quantized_execution as qe
    qe.per_tensor(op, op.operands[0], "input")
    y = qe.per_tensor(op, op.results[0], "result")
    return dict(**qe._range(y), rounding=qe._rounding(op))


def _element(value):
    from ..._mlir import ir
    return ir.RankedTensorType(value.type).element_type


def _cast_params(op, element) -> dict:
    """scale, zp and axis (None per tensor) of a uniform quantized type."""
    from ...runtime import quantized_execution as qe
    params = qe._quant_params(op, element)
    return dict(scale=params["scale"], zp=params["zp"], axis=params.get("axis"))


def _dcast_kwargs(op) -> dict:
    """quant.dcast: the operand's quantization and the float result dtype."""
    dtype = torch.float64 if str(_element(op.results[0])) == "f64" else torch.float32
    return dict(_cast_params(op, _element(op.operands[0])), dtype=dtype)


def _qcast_kwargs(op) -> dict:
    """quant.qcast: the result's quantization and storage range."""
    element = _element(op.results[0])
    return dict(_cast_params(op, element), qmin=element.storage_type_min,
                qmax=element.storage_type_max)


def _qsgd_kwargs(op) -> dict:
    """train.qsgd's keywords as runtime/quantized_execution.py reads them."""
    from ...runtime import quantized_execution as qe
    return dict(qe.hyperparameters(op),
                **qe.update_quantization(op, _element(op.operands[0])))


def _conv2d_qsgd_kwargs(op) -> dict:
    """train.conv2d_qsgd's keywords: train.qsgd's and the conv's geometry."""
    from ..._mlir.dialects import quant
    from ...dialects import train
    g = train.ConvGeometry.of(op)
    x = _element(op.operands[2])
    quantization = None
    if isinstance(x, quant.QuantizedType):        # read dequantized, as quant.dcast
        dtype = torch.float64 if str(_element(op.operands[1])) == "f64" else torch.float32
        quantization = dict(_cast_params(op, x), dtype=dtype)
    return dict(_qsgd_kwargs(op), stride=g.stride, padding=g.padding, dilation=g.dilation,
                groups=g.groups, input_quantization=quantization)


KWARGS = {"train.qlinear": _linear_kwargs, "train.qconv2d": _conv_kwargs,
          "train.qadd": _add_kwargs, "train.qavg_pool2d": _avg_pool_kwargs,
          "train.qglobal_avg_pool": _global_pool_kwargs, "quant.dcast": _dcast_kwargs,
          "quant.qcast": _qcast_kwargs, "quant.scast": lambda op: {}, "train.qsgd": _qsgd_kwargs,
          "train.conv2d_qsgd": _conv2d_qsgd_kwargs}


# --------------------------------------------------------------------------
# Ahead-of-time compile cases
# --------------------------------------------------------------------------

_TYPES = {"x_ptr": "*i8", "w_ptr": "*i8", "y_ptr": "*i8", "bias_ptr": "*i32",
          "eff_ptr": "*fp64", "mult_ptr": "*i32", "shift_ptr": "*i32",
          **{i: "i32" for i in (
              "M", "N", "K", "C", "H", "W", "O", "OH", "OW", "KH", "KW", "CG", "OG", "MULT",
              "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w",
              "x_zp", "y_zp", "qmin", "qmax", "n", "SH", "SW", "PH", "PW", "zp", "R", "L",
              "INNER", "a_zp", "b_zp", "a_mult", "a_shift", "b_mult", "b_shift", "y_mult",
              "y_shift")},
          "a_ptr": "*i8", "b_ptr": "*i8", "q_ptr": "*i8", "scales_ptr": "*fp64",
          "scale_ptr": "*fp64", "zp_ptr": "*i32", "dead_ptr": "*i8", "hyper_ptr": "*fp64",
          "param_ptr": "*i8", "grad_ptr": "*fp32", "out_ptr": "*i8"}
_TILE = dict(BLOCK_M=64, BLOCK_N=64, BLOCK_K=64, GROUP_M=8)

AOT_CASES = [
    aot_case(qlinear_kernel, _TYPES, dict(HAS_BIAS=True, ROUNDING=FLOAT_SCALE, **_TILE)),
    aot_case(qlinear_kernel, _TYPES, dict(HAS_BIAS=True, ROUNDING=MULTIPLIER_SHIFT, **_TILE)),
    aot_case(qconv2d_kernel, _TYPES, dict(HAS_BIAS=True, ROUNDING=MULTIPLIER_SHIFT, **_TILE)),
    aot_case(qconv2d_kernel, _TYPES, dict(HAS_BIAS=False, ROUNDING=FLOAT_SCALE, **_TILE)),
    aot_case(depthwise_qconv2d_kernel, _TYPES,
             dict(HAS_BIAS=True, ROUNDING=FLOAT_SCALE, BLOCK=1024)),
    aot_case(depthwise_qconv2d_kernel, _TYPES,
             dict(HAS_BIAS=True, ROUNDING=MULTIPLIER_SHIFT, BLOCK=1024)),
    *(aot_case(qadd_kernel, _TYPES, dict(ROUNDING=r, BLOCK=1024)) for r in _ROUNDINGS.values()),
    *(aot_case(qavg_pool2d_kernel, _TYPES, dict(KH=3, KW=3, COUNT_PAD=pad, ROUNDING=r,
                                                BLOCK=1024))
      for r, pad in ((FLOAT_SCALE, True), (MULTIPLIER_SHIFT, False))),
    *(aot_case(qglobal_avg_pool_kernel, _TYPES, dict(ROUNDING=r, BLOCK_R=32, BLOCK_L=128))
      for r in _ROUNDINGS.values()),
    aot_case(dcast_kernel, dict(_TYPES, y_ptr="*fp32"), dict(BLOCK=1024)),
    aot_case(qcast_kernel, dict(_TYPES, x_ptr="*fp32"), dict(BLOCK=1024)),
    *(aot_case(qsgd_kernel, dict(_TYPES, param_ptr=p, out_ptr=p), dict(QAS=qas, DECAY=decay,
                                                                      BLOCK=1024))
      for p, qas, decay in (("*i8", True, False), ("*i8", False, True), ("*i32", True, True))),
]

"""Reference semantics of the quantized (int8) ops, in plain numpy.

Quantized tensors are passed as their storage arrays (int8 in practice) plus the
scales and zero points of their `!quant.uniform` types; results are storage arrays.
Layouts follow PyTorch: activations NCHW, conv weights OIHW, linear weights [out, in].
Weights are symmetric (zero point 0) with one scale per output channel; biases are
int32 in the accumulator's scale (s_x · s_w[o]).

Accumulation is int32 with two's-complement wrap-around: products and sums are
computed exactly in 64 bits (float64 BLAS products of small integers are exact) and
the final accumulator, bias included, is reduced modulo 2**32. That is what an int32
accumulator on a microcontroller computes, and it matters for the TTE models, whose
dead channels carry biases at the int32 limit.

Every requantizing op takes ``rounding``, one of

``"float_scale"`` -- the Tiny Training Engine's float requantization as its PyTorch
    simulation defines it (mit-han-lab/tiny-training ``algorithm/quantize``):
    ``y = clamp(rne(acc * eff) + z_y)`` with ``eff = s_x * s_w[o] / s_y`` evaluated in
    float64 in that order (tiny-training's ``get_effective_scale``) and ``rne`` round
    half to even, which is what ``torch.round`` does. The residual add is
    ``rne(((a - z_a)·s_a + (b - z_b)·s_b) / s_y) + z_y`` (``QuantizedElementwise``);
    average pools round the mean, ``round(mean)`` (``QuantizedAvgPool``:
    ``x.mean([-1, -2]).round()``), again half to even.
    Known differences from the originals, none modelled here: tiny-training keeps its
    tensors in float32 (``to_pt`` casts the float64 effective scale to float32 and the
    product is taken in float32), which flips a few outputs per million near ties;
    TinyEngine's C kernels (``*_fpreq``) compute ``(int32)((float)acc * scale)``, i.e.
    they truncate toward zero, and its ``add_fpreq`` rounds half away from zero in
    float32. This module follows the float64 definition of the tcc spec and the TTE
    model README.

``"multiplier_shift"`` -- TFLite Micro / CMSIS-NN's integer-only pipeline: each real
    multiplier becomes an int32 Q31 multiplier and a power-of-two shift
    (``QuantizeMultiplier``), and ``acc`` is rescaled with
    ``SaturatingRoundingDoublingHighMul`` followed by ``RoundingDivideByPOT`` (gemmlowp's
    "double rounding"). Average pools divide with ``(sum ± count/2) / count`` (round
    half away from zero). Int8 ADD follows ``tflite::reference_integer_ops::Add``.

All tensor arithmetic is vectorized int64 / float64 numpy; Python loops run only over
kernel taps, groups or channels (to derive per-channel multipliers).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "ROUNDINGS", "quantize", "dequantize", "mask_interval", "quantize_multiplier",
    "quantize_multiplier_smaller_than_one_exp", "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot", "multiply_by_quantized_multiplier", "round_half_even",
    "requantize", "wrap_int32", "conv_accumulate", "qconv2d", "qlinear", "qadd",
    "qavg_pool2d", "qglobal_avg_pool",
]

ROUNDINGS = ("float_scale", "multiplier_shift")

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


# --------------------------------------------------------------------------
# Argument checking and helpers
# --------------------------------------------------------------------------

def _check_rounding(rounding: str) -> str:
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding '{rounding}' (expected one of "
                         f"{', '.join(ROUNDINGS)})")
    return rounding


def _int_array(name: str, a, ndim: int | None = None) -> np.ndarray:
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be an integer (storage) array, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have rank {ndim}, got shape {a.shape}")
    return a


def _pair(name: str, v, minimum: int) -> tuple[int, int]:
    pair = (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(e) for e in v)
    if len(pair) != 2 or min(pair) < minimum:
        raise ValueError(f"{name} must be an int or a pair of ints >= {minimum}, got {v!r}")
    return pair


def _check_range(qmin: int, qmax: int) -> tuple[int, int]:
    qmin, qmax = int(qmin), int(qmax)
    if qmin > qmax:
        raise ValueError(f"empty storage range [{qmin}, {qmax}]")
    return qmin, qmax


def _storage_dtype(qmin: int, qmax: int) -> np.dtype:
    """The narrowest signed integer dtype holding [qmin, qmax] (int8 for i8 types)."""
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= qmin and qmax <= info.max:
            return np.dtype(dtype)
    raise ValueError(f"storage range [{qmin}, {qmax}] does not fit in 64 bits")


def _clamp_store(y: np.ndarray, qmin: int, qmax: int) -> np.ndarray:
    return np.clip(y, qmin, qmax).astype(_storage_dtype(qmin, qmax))


def wrap_int32(a: np.ndarray) -> np.ndarray:
    """Reduces int64 values modulo 2**32 into [-2**31, 2**31) (two's complement int32)."""
    a = np.asarray(a, dtype=np.int64)
    return ((a + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def round_half_even(a: np.ndarray) -> np.ndarray:
    """Round half to even (IEEE roundTiesToEven, ``np.rint`` / ``torch.round``), as int64."""
    return np.rint(a).astype(np.int64)


# --------------------------------------------------------------------------
# Quantize / dequantize
# --------------------------------------------------------------------------

def quantize(x, *, scale, zp, qmin: int = -128, qmax: int = 127, axis: int | None = None):
    """``clamp(rne(x / s) + z, qmin, qmax)``, the quotient taken in float64.

    ``scale`` and ``zp`` are scalars, or per-channel sequences along ``axis``. Infinities
    saturate to the storage range; NaN quantizes to the zero point (real 0).
    """
    qmin, qmax = _check_range(qmin, qmax)
    x = np.asarray(x, dtype=np.float64)
    scale, zp = _per_axis(x.ndim, axis, scale, zp)
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
        raise ValueError("quantization scales must be positive and finite")
    # Bound the quotient before the integer conversion (a no-op inside the range).
    lo, hi = float(qmin) - zp - 1.0, float(qmax) - zp + 1.0
    scaled = np.clip(np.nan_to_num(x / scale, nan=0.0), lo, hi)
    return _clamp_store(round_half_even(scaled) + zp, qmin, qmax)


def dequantize(q, *, scale, zp, axis: int | None = None, dtype=np.float32) -> np.ndarray:
    """``(q - z) * s`` computed in float64 (exact when ``s`` is a float32 value), then
    rounded once to ``dtype`` (float32)."""
    q = _int_array("q", q).astype(np.int64)
    scale, zp = _per_axis(q.ndim, axis, scale, zp)
    return ((q - zp) * scale).astype(dtype)


def mask_interval(*, scale, zp, qmin: int, qmax: int, lo: float, hi: float) -> tuple[int, int]:
    """The storage values q in [qmin, qmax] whose real value passes lo < dequantize(q) <
    hi (f32 comparison, as train.clamp_mask), as an interval [qa, qb]: dequantize is
    monotone in q. An empty set gives qa > qb."""
    q = np.arange(qmin, qmax + 1, dtype=np.int64)
    real = dequantize(q, scale=scale, zp=zp)
    passing = q[(real > np.float32(lo)) & (real < np.float32(hi))]
    if not passing.size:
        return 0, -1
    return int(passing.min()), int(passing.max())


def _per_axis(ndim: int, axis: int | None, scale, zp):
    """Scale and zero point as float64 / int64 arrays broadcastable along ``axis``."""
    scale = np.asarray(scale, dtype=np.float64)
    zp = np.asarray(zp, dtype=np.int64)
    if axis is None:
        if scale.ndim or zp.ndim:
            raise ValueError("per-channel scales need an axis")
        return scale, zp
    if not 0 <= axis < ndim:
        raise ValueError(f"quantized axis {axis} out of range for rank {ndim}")
    shape = [1] * ndim
    shape[axis] = -1
    return scale.reshape(shape), np.broadcast_to(zp, scale.shape).reshape(shape)


# --------------------------------------------------------------------------
# TFLite's fixed-point arithmetic (tensorflow/lite/kernels/internal/
# quantization_util.cc and common.h; gemmlowp's fixedpoint.h)
# --------------------------------------------------------------------------

def quantize_multiplier(eff: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: ``eff ≈ multiplier · 2**(shift - 31)``.

    ``frexp`` splits ``eff = q · 2**shift`` with ``q`` in [0.5, 1); ``q`` becomes the Q31
    integer ``round(q · 2**31)`` (``TfLiteRound`` = ``std::round``, half away from zero).
    Rounding can carry ``q`` up to exactly 2**31, which is renormalized to 2**30 with
    one more shift. A shift below -31 would shift every bit out: TFLite flushes such
    multipliers to zero (this is what the TTE models' dead channels, eff ≈ 1e-9, get).
    Shifts above 30 are saturated as in TFLite (the single-rounding path's limit).
    """
    eff = float(eff)
    if not math.isfinite(eff):
        raise ValueError(f"effective scale {eff} is not finite")
    if eff == 0.0:
        return 0, 0
    q, shift = math.frexp(eff)
    # q * 2**31 is exact (power-of-two scaling) and lies in [2**30, 2**31); adding 0.5
    # is exact too, so floor(|v| + 0.5) is std::round without double rounding.
    scaled = q * (1 << 31)
    q_fixed = int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if shift > 30:
        shift, q_fixed = 30, INT32_MAX
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(eff: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplierSmallerThanOneExp``: ``QuantizeMultiplier`` for
    0 < eff < 1, returning a shift <= 0 (a right shift by ``-shift``)."""
    if not 0.0 < eff < 1.0:
        raise ValueError(f"multiplier {eff} must lie in (0, 1) for TFLite's int8 ADD")
    multiplier, shift = quantize_multiplier(eff)
    if shift > 0:  # eff within 2**-32 of 1 rounds up to 1.0 = 2**30 · 2**(1-31); TFLite
        raise ValueError(f"multiplier {eff} quantizes to a left shift")  # aborts there too
    return multiplier, shift


def _trunc_div_pow2(v: np.ndarray, bits: int) -> np.ndarray:
    """C's ``v / 2**bits`` (truncation toward zero) on int64 arrays."""
    return np.where(v >= 0, v >> bits, -((-v) >> bits))


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` on int32 values (held as int64).

    Returns the high 32 bits of ``2·a·b`` rounded to nearest, i.e. ``round(a·b / 2**31)``:
    the 64-bit product plus a nudge (``2**30``, half of 2**31, for a non-negative
    product; ``1 - 2**30`` for a negative one) divided by 2**31 with C's truncating
    division. Ties therefore round toward +inf (2.5 -> 3, -2.5 -> -2), unlike
    ``RoundingDivideByPOT``. The only overflow, INT32_MIN², saturates to INT32_MAX.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == b) & (a == INT32_MIN)
    ab = a * b  # |ab| <= 2**62: exact in int64
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    high = _trunc_div_pow2(ab + nudge, 31)
    return np.where(overflow, np.int64(INT32_MAX), high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded to nearest, ties
    away from zero, for 0 <= exponent <= 31.

    ``x >> exponent`` (arithmetic shift) is the floor; the discarded low bits
    (``remainder``) decide whether to add one. For ``x >= 0`` an exact half (remainder
    == threshold + 1 with threshold = ``mask >> 1``) rounds up, away from zero. For
    ``x < 0`` the threshold is one higher, so an exact half keeps the floor, which is
    again the neighbour away from zero.
    """
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    if np.any(exponent < 0) or np.any(exponent > 31):
        raise ValueError("RoundingDivideByPOT exponent must lie in [0, 31]")
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask  # low bits, identical for int32 and int64 two's complement
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLite's ``MultiplyByQuantizedMultiplier`` (the double-rounding form):
    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x · 2**left, m), right)``
    with ``left = max(shift, 0)``, ``right = max(-shift, 0)``. ``x``, ``multiplier``
    and ``shift`` broadcast (per-channel multipliers along the channel axis)."""
    x = wrap_int32(x)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(x << left)  # int32 multiplication by 2**left wraps in C
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier),
                                  right)


def requantize(acc, eff, rounding: str) -> np.ndarray:
    """``acc · eff`` rounded to an integer (int64), before the output zero point.

    ``acc`` holds int32 accumulators; ``eff`` (float64, scalar or broadcastable per
    channel) is the real multiplier s_in · s_w / s_out.
    """
    _check_rounding(rounding)
    acc = wrap_int32(acc)
    eff = np.asarray(eff, dtype=np.float64)
    if rounding == "float_scale":
        # int32 -> float64 is exact; one correctly rounded product; ties to even.
        return round_half_even(acc.astype(np.float64) * eff)
    pairs = [quantize_multiplier(e) for e in eff.reshape(-1)]
    multiplier = np.array([m for m, _ in pairs], dtype=np.int64).reshape(eff.shape)
    shift = np.array([s for _, s in pairs], dtype=np.int64).reshape(eff.shape)
    return multiply_by_quantized_multiplier(acc, multiplier, shift)


# --------------------------------------------------------------------------
# Convolution / linear
# --------------------------------------------------------------------------

def _exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer matmul through float64 BLAS; exact while every partial sum < 2**53."""
    bound = float(np.abs(a).max(initial=0)) * float(np.abs(b).max(initial=0)) * a.shape[-1]
    if bound >= 2.0 ** 53:
        return np.matmul(a.astype(np.int64), b.astype(np.int64))
    return np.rint(np.matmul(a.astype(np.float64), b.astype(np.float64))).astype(np.int64)


def conv_accumulate(x, w, *, x_zp, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                    groups: int = 1) -> np.ndarray:
    """``Σ (x - z_x) · w`` over each window (int64, before bias and int32 wrapping).

    Padding is zero in the shifted domain (the input is padded with ``z_x``), as in TTE
    and in TFLite, which skips out-of-image taps.
    """
    x = _int_array("x", x, 4).astype(np.int64) - int(x_zp)
    w = _int_array("w", w, 4).astype(np.int64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    sh, sw = _pair("stride", stride, 1)
    ph, pw = _pair("padding", padding, 0)
    dh, dw = _pair("dilation", dilation, 1)
    groups = int(groups)
    if groups < 1 or c % groups or o % groups or c // groups != cg:
        raise ValueError(f"groups={groups} does not match input channels {c} and weight "
                         f"shape {w.shape}")
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    oh = (h + 2 * ph - span_h) // sh + 1
    ow = (wd + 2 * pw - span_w) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"kernel {kh}x{kw} (dilation {dh}x{dw}) does not fit the padded "
                         f"input {h + 2 * ph}x{wd + 2 * pw}")

    def tap(i: int, j: int) -> np.ndarray:  # [N, C, OH, OW] input seen by kernel tap (i, j)
        return xp[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]

    if groups == c and cg == 1:
        # Depthwise (output channel k reads input channel k // multiplier): one
        # multiply-accumulate per tap, vectorized over N, O, OH, OW.
        source = np.arange(o) // (o // c)
        acc = np.zeros((n, o, oh, ow), dtype=np.int64)
        for i in range(kh):
            for j in range(kw):
                x_tap = tap(i, j)
                if o != c:
                    x_tap = x_tap[:, source]
                acc += x_tap * w[:, 0, i, j].reshape(1, o, 1, 1)
        return acc
    # im2col per group: columns [N, OH, OW, Cg·KH·KW] times weights [Cg·KH·KW, Og].
    cols = np.stack([tap(i, j) for i in range(kh) for j in range(kw)], axis=-1)  # N,C,OH,OW,K
    og = o // groups
    out = []
    for g in range(groups):
        col = cols[:, g * cg:(g + 1) * cg].transpose(0, 2, 3, 1, 4).reshape(n, oh, ow, cg * kh * kw)
        wg = w[g * og:(g + 1) * og].reshape(og, cg * kh * kw).T
        out.append(_exact_matmul(col, wg))
    return np.concatenate(out, axis=-1).transpose(0, 3, 1, 2)


def effective_scales(x_scale, w_scales, y_scale, count: int) -> np.ndarray:
    w_scales = np.asarray(w_scales, dtype=np.float64).reshape(-1)
    if w_scales.size == 1:
        w_scales = np.repeat(w_scales, count)
    if w_scales.size != count:
        raise ValueError(f"{w_scales.size} weight scales for {count} output channels")
    if x_scale <= 0 or y_scale <= 0 or np.any(w_scales <= 0):
        raise ValueError("quantization scales must be positive")
    # (s_x · s_w) / s_y in float64, the order of TTE's get_effective_scale and of
    # TFLite's PopulateConvolutionQuantizationParams.
    return np.float64(x_scale) * w_scales / np.float64(y_scale)


def _bias(b, count: int) -> np.ndarray:
    if b is None:
        return np.zeros(count, dtype=np.int64)
    b = _int_array("bias", b, 1)
    if b.shape[0] != count:
        raise ValueError(f"bias has {b.shape[0]} values for {count} output channels")
    return b.astype(np.int64)


def qconv2d(x, w, b=None, *, x_scale, x_zp, w_scales, y_scale, y_zp, qmin=-128, qmax=127,
            stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, rounding):
    """Quantized NCHW × OIHW convolution with per-output-channel weight scales.

    ``acc = b[o] + Σ (x - z_x) · w`` (int32), ``y = clamp(requant(acc, eff[o]) + z_y)``.
    """
    _check_rounding(rounding)
    qmin, qmax = _check_range(qmin, qmax)
    o = np.shape(w)[0]
    acc = conv_accumulate(x, w, x_zp=x_zp, stride=stride, padding=padding,
                          dilation=dilation, groups=groups)
    acc = wrap_int32(acc + _bias(b, o).reshape(1, o, 1, 1))
    eff = effective_scales(x_scale, w_scales, y_scale, o).reshape(1, o, 1, 1)
    return _clamp_store(requantize(acc, eff, rounding) + int(y_zp), qmin, qmax)


def qlinear(x, w, b=None, *, x_scale, x_zp, w_scales, y_scale, y_zp, qmin=-128, qmax=127,
            rounding):
    """Quantized ``x · wᵀ + b`` for x [N, K], w [M, K]; per-row (output) weight scales."""
    _check_rounding(rounding)
    qmin, qmax = _check_range(qmin, qmax)
    x = _int_array("x", x, 2).astype(np.int64) - int(x_zp)
    w = _int_array("w", w, 2).astype(np.int64)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but w expects {w.shape[1]}")
    m = w.shape[0]
    acc = wrap_int32(_exact_matmul(x, w.T) + _bias(b, m).reshape(1, m))
    eff = effective_scales(x_scale, w_scales, y_scale, m).reshape(1, m)
    return _clamp_store(requantize(acc, eff, rounding) + int(y_zp), qmin, qmax)


# --------------------------------------------------------------------------
# Element-wise add
# --------------------------------------------------------------------------

ADD_LEFT_SHIFT = 20  # TFLite's left_shift for int8 ADD (15 for int16)


def qadd(a, b, *, a_scale, a_zp, b_scale, b_zp, y_scale, y_zp, qmin=-128, qmax=127,
         rounding):
    """Quantized element-wise ``a + b`` (numpy broadcasting).

    float_scale: ``rne(((a - z_a)·s_a + (b - z_b)·s_b) / s_y) + z_y`` in float64 (TTE's
    ``QuantizedElementwise``).

    multiplier_shift: TFLite's int8 ADD. Both inputs are moved to a common fixed-point
    scale ``2·max(s_a, s_b) / 2**20``: offsets removed, shifted left by 20 bits (room for
    the fractional bits) and multiplied by ``s_i / (2·max)`` (<= 1/2, so no overflow),
    then the int32 sum is rescaled to the output by ``2·max / (2**20 · s_y)``. All three
    multipliers come from ``QuantizeMultiplierSmallerThanOneExp``.
    """
    _check_rounding(rounding)
    qmin, qmax = _check_range(qmin, qmax)
    a = _int_array("a", a).astype(np.int64) - int(a_zp)
    b = _int_array("b", b).astype(np.int64) - int(b_zp)
    a_scale, b_scale, y_scale = float(a_scale), float(b_scale), float(y_scale)
    if min(a_scale, b_scale, y_scale) <= 0:
        raise ValueError("quantization scales must be positive")
    if rounding == "float_scale":
        real = a.astype(np.float64) * a_scale + b.astype(np.float64) * b_scale
        y = round_half_even(real / y_scale)
    else:
        twice_max = 2.0 * max(a_scale, b_scale)
        ma, sa = quantize_multiplier_smaller_than_one_exp(a_scale / twice_max)
        mb, sb = quantize_multiplier_smaller_than_one_exp(b_scale / twice_max)
        my, sy = quantize_multiplier_smaller_than_one_exp(
            twice_max / ((1 << ADD_LEFT_SHIFT) * y_scale))
        # MultiplyByQuantizedMultiplierSmallerThanOneExp(x, m, s) =
        #   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), -s)
        scaled_a = rounding_divide_by_pot(
            saturating_rounding_doubling_high_mul(wrap_int32(a << ADD_LEFT_SHIFT), ma), -sa)
        scaled_b = rounding_divide_by_pot(
            saturating_rounding_doubling_high_mul(wrap_int32(b << ADD_LEFT_SHIFT), mb), -sb)
        raw_sum = wrap_int32(scaled_a + scaled_b)
        y = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(raw_sum, my), -sy)
    return _clamp_store(y + int(y_zp), qmin, qmax)


# --------------------------------------------------------------------------
# Average pools
# --------------------------------------------------------------------------

def _divide(total: np.ndarray, count, rounding: str) -> np.ndarray:
    """``total / count`` rounded to an integer, for integer totals and positive counts.

    float_scale: round half to even of the quotient. This is computed exactly in
    integers; it equals rne of the float64 (or float32) mean because a quotient that is
    not a tie lies at least 1/(2·count) away from one, far more than the float error.
    multiplier_shift: TFLite's ``(acc > 0 ? acc + count/2 : acc - count/2) / count``
    with C's truncating division -- half away from zero.
    """
    total = np.asarray(total, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    if rounding == "float_scale":
        quotient, remainder = np.divmod(total, count)  # floor division, 0 <= r < count
        twice = 2 * remainder
        up = (twice > count) | ((twice == count) & (quotient % 2 == 1))
        return quotient + up
    half = count // 2
    return np.where(total > 0, (total + half) // count, -((half - total) // count))


def qavg_pool2d(x, *, kernel, stride=None, padding=(0, 0), count_include_pad=True,
                qmin=-128, qmax=127, rounding, zp: int = 0):
    """Average pool on storage values; input and output share one quantized type.

    Windows follow PyTorch (floor mode). Padded positions hold ``zp`` (the storage
    value of real 0; pass the type's zero point). With ``count_include_pad`` they count
    in the divisor, otherwise only in-image elements count (TFLite's behaviour).
    """
    _check_rounding(rounding)
    qmin, qmax = _check_range(qmin, qmax)
    x = _int_array("x", x, 4).astype(np.int64)
    kh, kw = _pair("kernel", kernel, 1)
    sh, sw = _pair("stride", kernel if stride is None else stride, 1)
    ph, pw = _pair("padding", padding, 0)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"padding {(ph, pw)} exceeds half the kernel {(kh, kw)}")
    n, c, h, w = x.shape
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError(f"kernel {(kh, kw)} does not fit the padded input")
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=int(zp))
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    total = windows.sum(axis=(-1, -2))
    if count_include_pad:
        count = np.int64(kh * kw)
    else:
        inside = np.pad(np.ones((h, w), dtype=np.int64), ((ph, ph), (pw, pw)))
        count = sliding_window_view(inside, (kh, kw))[::sh, ::sw].sum(axis=(-1, -2))
        # Padded entries (zp each) must not count either: remove them from the total.
        total = total - (kh * kw - count) * int(zp)
    return _clamp_store(_divide(total, count, rounding), qmin, qmax)


def qglobal_avg_pool(x, *, qmin=-128, qmax=127, rounding):
    """Mean over H and W of the storage values, rounded: [N, C, H, W] -> [N, C, 1, 1]."""
    _check_rounding(rounding)
    qmin, qmax = _check_range(qmin, qmax)
    x = _int_array("x", x, 4).astype(np.int64)
    total = x.sum(axis=(2, 3), keepdims=True)
    return _clamp_store(_divide(total, x.shape[2] * x.shape[3], rounding), qmin, qmax)

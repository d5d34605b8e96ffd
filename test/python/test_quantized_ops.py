"""Checks the int8 reference semantics of runtime/quantized_ops.py: hand-computed cases,
rounding ties under both modes, TFLite's fixed-point primitives against exact integer
arithmetic, and float_scale convolutions against an integer-free float64 im2col."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcc.runtime import quantized_ops as q

INT32 = st.integers(min_value=-(1 << 31), max_value=(1 << 31) - 1)
BOTH = ["float_scale", "multiplier_shift"]


def i8(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int8)


def f32(value: float) -> float:
    """A float32-representable scale (what TFLite stores)."""
    return float(np.float32(value))


# --------------------------------------------------------------------------
# TFLite fixed-point primitives against exact rational arithmetic
# --------------------------------------------------------------------------

def _round_half_up(value: Fraction) -> int:
    """Nearest integer, ties toward +inf."""
    floor = value.numerator // value.denominator
    return floor + 1 if value - floor >= Fraction(1, 2) else floor


def _round_half_away(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    frac = value - floor
    if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and value > 0):
        return floor + 1
    return floor


@settings(max_examples=300, deadline=None)
@given(INT32, INT32)
def test_srdhm_is_rounded_doubling_high_product(a, b):
    got = int(q.saturating_rounding_doubling_high_mul(a, b))
    if a == b == -(1 << 31):
        assert got == (1 << 31) - 1  # the one saturating case
    else:
        assert got == _round_half_up(Fraction(a * b, 1 << 31))


@pytest.mark.parametrize("a,expected", [(5, 3), (-5, -2), (1, 1), (-1, 0), (7, 4), (-7, -3)])
def test_srdhm_ties_round_toward_positive_infinity(a, expected):
    # multiplier 2**30 is one half: a·2**30 / 2**31 = a / 2 is a tie for odd a
    assert int(q.saturating_rounding_doubling_high_mul(a, 1 << 30)) == expected


@settings(max_examples=300, deadline=None)
@given(INT32, st.integers(min_value=0, max_value=31))
def test_rounding_divide_by_pot_rounds_half_away_from_zero(x, exponent):
    assert int(q.rounding_divide_by_pot(x, exponent)) == _round_half_away(
        Fraction(x, 1 << exponent))


def test_rounding_divide_by_pot_ties():
    x = np.array([5, -5, 3, -3, 1, -1, 6, -6])
    assert q.rounding_divide_by_pot(x, 1).tolist() == [3, -3, 2, -2, 1, -1, 3, -3]
    assert q.rounding_divide_by_pot(np.array([2, -2, 6, -6]), 2).tolist() == [1, -1, 2, -2]


def test_srdhm_vectorized_and_saturating():
    a = np.array([-(1 << 31), 1 << 30, -(1 << 30), 7])
    b = np.array([-(1 << 31), 1 << 30, 1 << 30, (1 << 31) - 1])
    assert q.saturating_rounding_doubling_high_mul(a, b).tolist() == [
        (1 << 31) - 1, 1 << 29, -(1 << 29), 7]


@pytest.mark.parametrize("eff,expected", [
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (2.0 ** -10, (1 << 30, -9)),
    (1 - 2.0 ** -33, (1 << 30, 1)),      # q·2**31 rounds up to 2**31: renormalized
    (3.9e-12, (0, 0)),                   # shift < -31: flushed to zero (dead channels)
    (0.0, (0, 0)),
    (2.0 ** 40, ((1 << 31) - 1, 30)),    # shift > 30 saturates
])
def test_quantize_multiplier_known_values(eff, expected):
    assert q.quantize_multiplier(eff) == expected


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=2.0 ** -30, max_value=2.0 ** 20, allow_subnormal=False))
def test_quantize_multiplier_reconstructs_eff(eff):
    multiplier, shift = q.quantize_multiplier(eff)
    assert (1 << 30) <= multiplier < (1 << 31)
    # multiplier is eff·2**(31 - shift) rounded to nearest: error <= half a unit.
    assert abs(Fraction(multiplier) - Fraction(eff) * 2 ** (31 - shift)) <= Fraction(1, 2)


def _tflite_mbqm(x: int, multiplier: int, shift: int) -> int:
    """Scalar, pure-integer transcription of TFLite's MultiplyByQuantizedMultiplier."""
    left, right = max(shift, 0), max(-shift, 0)
    a = x * (1 << left)
    if a == multiplier == -(1 << 31):
        high = (1 << 31) - 1
    else:
        ab = a * multiplier
        nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
        high = int((ab + nudge) / (1 << 31)) if abs(ab) < 2 ** 52 else \
            (abs(ab + nudge) >> 31) * (1 if ab + nudge >= 0 else -1)
    mask = (1 << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if remainder > threshold else 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(1 << 24), max_value=1 << 24),
       st.floats(min_value=1e-6, max_value=0.99, allow_subnormal=False))
def test_multiply_by_quantized_multiplier_matches_scalar_transcription(x, eff):
    multiplier, shift = q.quantize_multiplier(eff)
    got = int(q.multiply_by_quantized_multiplier(x, multiplier, shift))
    assert got == _tflite_mbqm(x, multiplier, shift)
    assert abs(got - x * eff) <= 1  # never more than one unit from the real product


def test_double_rounding_differs_from_float_scale():
    # eff = 0.25 -> multiplier 2**30, shift -1: 5 · 0.5 = 2.5 rounds to 3 in the high
    # multiply, then 3 / 2 = 1.5 rounds to 2; the real product 1.25 rounds to 1.
    # For -5: -2.5 -> -2 (SRDHM ties go up), then -2 / 2 = -1 exactly.
    assert q.quantize_multiplier(0.25) == (1 << 30, -1)
    assert q.multiply_by_quantized_multiplier(np.array([5, -5]), 1 << 30, -1).tolist() == [2, -1]
    assert q.requantize(np.array([5, -5]), 0.25, "float_scale").tolist() == [1, -1]
    assert q.requantize(np.array([5, -5]), 0.25, "multiplier_shift").tolist() == [2, -1]
    # eff = 0.125 (shift -2): 12 -> 6 / 4 = 1.5 -> 2 (away from zero), -12 -> -2;
    # 20 -> 10 / 4 = 2.5 -> 3 where the real product 2.5 rounds to even 2.
    acc = np.array([6, 10, 12, -12, 20])
    assert q.requantize(acc, 0.125, "multiplier_shift").tolist() == [1, 1, 2, -2, 3]
    assert q.requantize(acc, 0.125, "float_scale").tolist() == [1, 1, 2, -2, 2]


def test_requantize_ties_both_modes():
    acc = np.array([5, 7, -5, -7, 1, -1])
    assert q.requantize(acc, 0.5, "float_scale").tolist() == [2, 4, -2, -4, 0, 0]
    # shift 0: the tie is decided in SaturatingRoundingDoublingHighMul (toward +inf)
    assert q.requantize(acc, 0.5, "multiplier_shift").tolist() == [3, 4, -2, -3, 1, 0]


def test_wrap_int32():
    values = np.array([(1 << 31), -(1 << 31) - 1, 5, -(1 << 31)], dtype=np.int64)
    assert q.wrap_int32(values).tolist() == [-(1 << 31), (1 << 31) - 1, 5, -(1 << 31)]


# --------------------------------------------------------------------------
# quantize / dequantize
# --------------------------------------------------------------------------

def test_quantize_rounds_half_to_even_and_clamps():
    x = np.array([0.25, 0.75, -0.25, 1.25, 100.0, -100.0, 0.0], dtype=np.float32)
    got = q.quantize(x, scale=0.5, zp=3)
    assert got.dtype == np.int8
    assert got.tolist() == [3, 5, 3, 5, 127, -128, 3]
    assert q.quantize(x, scale=0.5, zp=3, qmin=0, qmax=10).tolist() == [3, 5, 3, 5, 10, 0, 3]


def test_dequantize_and_round_trip():
    scale, zp = 0.023529411764705882, -128
    codes = np.arange(-128, 128, dtype=np.int8)
    real = q.dequantize(codes, scale=scale, zp=zp)
    assert real.dtype == np.float32
    assert real[0] == 0.0 and real[-1] == np.float32(255 * scale)
    np.testing.assert_array_equal(q.quantize(real, scale=scale, zp=zp), codes)


def test_per_axis_quantize():
    x = np.array([[1.0, 2.0], [1.0, 2.0]], dtype=np.float32)
    got = q.quantize(x, scale=[0.5, 0.25], zp=[0, 1], axis=0)
    assert got.tolist() == [[2, 4], [5, 9]]
    np.testing.assert_array_equal(q.dequantize(got, scale=[0.5, 0.25], zp=[0, 1], axis=0), x)


# --------------------------------------------------------------------------
# qconv2d / qlinear
# --------------------------------------------------------------------------

def test_qconv2d_hand_computed_1x1():
    # x - z_x = [[2, -1], [0, 3]] in one channel; w = 3, bias 1 -> acc = [[7, -2], [1, 10]]
    x = i8([[[[4, 1], [2, 5]]]])
    w = i8([[[[3]]]])
    kwargs = dict(x_scale=0.5, x_zp=2, w_scales=[0.25], y_scale=0.25, y_zp=-1)
    # eff = 0.5 · 0.25 / 0.25 = 0.5: [[3.5, -1], [0.5, 5]] -> rne [[4, -1], [0, 5]] + z_y
    got = q.qconv2d(x, w, np.array([1], np.int32), rounding="float_scale", **kwargs)
    assert got.dtype == np.int8
    assert got.tolist() == [[[[3, -2], [-1, 4]]]]
    # half away from zero: 3.5 -> 4, 0.5 -> 1
    got = q.qconv2d(x, w, np.array([1], np.int32), rounding="multiplier_shift", **kwargs)
    assert got.tolist() == [[[[3, -2], [0, 4]]]]


def test_qconv2d_pads_with_the_input_zero_point():
    # A 3x3 all-ones kernel over a 1x1 input equal to z_x: padding must add nothing.
    x = i8([[[[-128]]]])
    w = np.ones((1, 1, 3, 3), np.int8)
    got = q.qconv2d(x, w, None, x_scale=1.0, x_zp=-128, w_scales=[1.0], y_scale=1.0,
                    y_zp=0, padding=(1, 1), rounding="float_scale")
    assert got.tolist() == [[[[0]]]]
    x = i8([[[[-127]]]])
    got = q.qconv2d(x, w, None, x_scale=1.0, x_zp=-128, w_scales=[1.0], y_scale=1.0,
                    y_zp=0, padding=(1, 1), rounding="float_scale")
    assert got.tolist() == [[[[1]]]]


@pytest.mark.parametrize("rounding", BOTH)
def test_qconv2d_clamps_to_the_storage_range(rounding):
    x = i8([[[[127, -128, 0, 10]]]])
    w = i8([[[[100]]]])
    kwargs = dict(x_scale=1.0, x_zp=0, w_scales=[1.0], y_scale=1.0, rounding=rounding)
    assert q.qconv2d(x, w, y_zp=0, **kwargs).tolist() == [[[[127, -128, 0, 127]]]]
    # i8<-127:127> (symmetric) and a ReLU6-style narrowed range with zero point -128
    assert q.qconv2d(x, w, y_zp=0, qmin=-127, qmax=127, **kwargs).tolist() == [
        [[[127, -127, 0, 127]]]]
    assert q.qconv2d(x, w, y_zp=-128, qmin=-128, qmax=-50, **kwargs).tolist() == [
        [[[-50, -128, -128, -50]]]]


def test_qconv2d_int32_accumulator_wraps():
    # bias at INT32_MIN plus a negative product wraps around to a large positive value,
    # as an int32 accumulator does (the TTE models' dead channels hit this).
    x = i8([[[[-1]]]])
    w = i8([[[[1]]]])
    b = np.array([-(1 << 31)], np.int32)
    eff = 2.0 ** -26  # (2**31 - 1) · 2**-26 = 31.99...
    got = q.qconv2d(x, w, b, x_scale=1.0, x_zp=0, w_scales=[eff], y_scale=1.0, y_zp=0,
                    rounding="float_scale")
    assert got.tolist() == [[[[32]]]]
    got = q.qconv2d(x, w, b, x_scale=1.0, x_zp=0, w_scales=[eff], y_scale=1.0, y_zp=0,
                    rounding="multiplier_shift")
    assert got.tolist() == [[[[32]]]]


def test_qconv2d_per_channel_scales_and_dead_channels():
    x = i8(np.full((1, 1, 2, 2), 10))
    w = i8([[[[1]]], [[[1]]]])
    b = np.array([0, 2_000_000_000], np.int32)
    w_scales = [0.5, 3.9e-12]  # the second channel's multiplier flushes to zero in TFLite
    fs = q.qconv2d(x, w, b, x_scale=1.0, x_zp=0, w_scales=w_scales, y_scale=1.0, y_zp=0,
                   rounding="float_scale")
    ms = q.qconv2d(x, w, b, x_scale=1.0, x_zp=0, w_scales=w_scales, y_scale=1.0, y_zp=0,
                   rounding="multiplier_shift")
    assert fs[0, :, 0, 0].tolist() == [5, 0]   # 2e9 · 3.9e-12 = 0.0078 -> 0
    assert ms[0, :, 0, 0].tolist() == [5, 0]


def _im2col_float_conv(x, w, b, x_zp, stride, padding, dilation, groups):
    """Integer-free float64 convolution: explicit im2col gather and one matmul per group."""
    xf = x.astype(np.float64) - float(x_zp)
    wf = w.astype(np.float64)
    n, c, h, wd = xf.shape
    o, cg, kh, kw = wf.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = xf
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    rows = np.empty((n, oh, ow, c, kh, kw))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                       j * sw:j * sw + dw * (kw - 1) + 1:dw]
            rows[:, i, j] = patch
    og = o // groups
    out = np.empty((n, oh, ow, o))
    for g in range(groups):
        cols = rows[:, :, :, g * cg:(g + 1) * cg].reshape(n, oh, ow, -1)
        out[..., g * og:(g + 1) * og] = cols @ wf[g * og:(g + 1) * og].reshape(og, -1).T
    out = out + b.astype(np.float64)
    return out.transpose(0, 3, 1, 2)


# (N, C, H, W, O, K, stride, padding, dilation, groups)
CONV_CASES = [
    (2, 3, 9, 9, 4, 3, 2, 1, 1, 1),      # first-conv like, strided
    (1, 8, 7, 7, 8, 3, 1, 1, 1, 8),      # depthwise
    (2, 6, 8, 8, 6, 5, 2, 2, 1, 6),      # strided depthwise, 5x5
    (1, 6, 6, 6, 4, 3, 1, 1, 1, 2),      # grouped
    (1, 4, 10, 10, 6, 3, 1, 2, 2, 2),    # dilated, grouped
    (3, 16, 4, 4, 12, 1, 1, 0, 1, 1),    # pointwise
    (1, 4, 9, 7, 4, 7, 2, 3, 1, 4),      # 7x7 depthwise, non-square input
    (2, 3, 6, 6, 6, 3, 1, 1, 1, 3),      # depthwise with channel multiplier 2
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", CONV_CASES)
def test_qconv2d_float_scale_matches_float64_im2col(case, seed):
    n, c, h, w_, o, k, s, p, d, g = case
    rng = np.random.default_rng(seed * 1000 + sum(case))
    x = rng.integers(-128, 128, (n, c, h, w_), dtype=np.int8)
    w = rng.integers(-127, 128, (o, c // g, k, k), dtype=np.int8)
    b = rng.integers(-50_000, 50_000, o).astype(np.int32)
    x_scale, y_scale = 6 / 255, float(rng.uniform(0.02, 0.3))
    x_zp, y_zp = int(rng.integers(-128, 20)), int(rng.integers(-20, 20))
    w_scales = rng.uniform(1e-4, 5e-3, o).astype(np.float32)
    got = q.qconv2d(x, w, b, x_scale=x_scale, x_zp=x_zp, w_scales=w_scales, y_scale=y_scale,
                    y_zp=y_zp, stride=(s, s), padding=(p, p), dilation=(d, d), groups=g,
                    rounding="float_scale")
    acc = _im2col_float_conv(x, w, b, x_zp, (s, s), (p, p), (d, d), g)
    eff = x_scale * w_scales.astype(np.float64) / y_scale
    expected = np.clip(np.rint(acc * eff[None, :, None, None]) + y_zp, -128, 127)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expected.astype(np.int8))
    # The integer pipeline stays within one code of the float requantization.
    ms = q.qconv2d(x, w, b, x_scale=f32(x_scale), x_zp=x_zp, w_scales=w_scales,
                   y_scale=f32(y_scale), y_zp=y_zp, stride=(s, s), padding=(p, p),
                   dilation=(d, d), groups=g, rounding="multiplier_shift")
    assert np.abs(ms.astype(int) - got.astype(int)).max() <= 1


@pytest.mark.parametrize("rounding", BOTH)
def test_qlinear_equals_pointwise_qconv2d(rounding):
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (5, 24), dtype=np.int8)
    w = rng.integers(-127, 128, (10, 24), dtype=np.int8)
    b = rng.integers(-3000, 3000, 10).astype(np.int32)
    kwargs = dict(x_scale=f32(0.05), x_zp=-3, w_scales=rng.uniform(1e-3, 1e-2, 10).astype(
        np.float32), y_scale=f32(0.2), y_zp=4, rounding=rounding)
    got = q.qlinear(x, w, b, **kwargs)
    conv = q.qconv2d(x[:, :, None, None], w[:, :, None, None], b, **kwargs)
    np.testing.assert_array_equal(got, conv[:, :, 0, 0])


def test_qlinear_hand_computed():
    x = i8([[1, 2, 3]])
    w = i8([[1, 0, -1], [2, 2, 2]])
    # x - z = [0, 1, 2]; acc = [-2, 6] + b [1, 1] = [-1, 7]; eff = [0.5, 0.25]
    got = q.qlinear(x, w, np.array([1, 1], np.int32), x_scale=1.0, x_zp=1,
                    w_scales=[0.5, 0.25], y_scale=1.0, y_zp=0, rounding="float_scale")
    assert got.tolist() == [[0, 2]]    # -0.5 -> -0 (even), 1.75 -> 2
    got = q.qlinear(x, w, np.array([1, 1], np.int32), x_scale=1.0, x_zp=1,
                    w_scales=[0.5, 0.25], y_scale=1.0, y_zp=0, rounding="multiplier_shift")
    assert got.tolist() == [[0, 2]]    # -0.5 -> 0 (SRDHM ties toward +inf)


# --------------------------------------------------------------------------
# qadd
# --------------------------------------------------------------------------

def test_qadd_hand_computed_and_ties():
    a = i8([2, 3, -3, 100])
    b = i8([1, 0, 0, 100])
    kwargs = dict(a_scale=0.5, a_zp=0, b_scale=0.5, b_zp=0, y_scale=1.0, y_zp=0)
    # real sums 1.5, 1.5, -1.5, 100 -> rne 2, 2, -2, 100; away 2, 2, -2, 100
    assert q.qadd(a, b, rounding="float_scale", **kwargs).tolist() == [2, 2, -2, 100]
    a = i8([1, 5, -5])
    b = i8([0, 0, 0])
    # 0.5, 2.5, -2.5
    assert q.qadd(a, b, rounding="float_scale", **kwargs).tolist() == [0, 2, -2]
    assert q.qadd(a, b, rounding="multiplier_shift", **kwargs).tolist() == [1, 3, -3]


@pytest.mark.parametrize("rounding", BOTH)
def test_qadd_zero_points_and_clamp(rounding):
    a = i8([-128, 127, 0])
    b = i8([-128, 127, 5])
    got = q.qadd(a, b, a_scale=0.1, a_zp=-128, b_scale=0.1, b_zp=-128, y_scale=0.1,
                 y_zp=-128, rounding=rounding)
    assert got.tolist() == [-128, 127, 127]
    got = q.qadd(a, b, a_scale=0.1, a_zp=-128, b_scale=0.1, b_zp=-128, y_scale=0.1,
                 y_zp=-128, qmin=-128, qmax=0, rounding=rounding)
    assert got.tolist() == [-128, 0, 0]


@pytest.mark.parametrize("seed", range(4))
def test_qadd_random_against_float64_and_integer_pipeline(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (3, 4, 5, 5), dtype=np.int8)
    b = rng.integers(-128, 128, (3, 4, 5, 5), dtype=np.int8)
    sa, sb, sy = (f32(v) for v in rng.uniform(0.01, 0.2, 3))
    za, zb, zy = (int(v) for v in rng.integers(-30, 30, 3))
    fs = q.qadd(a, b, a_scale=sa, a_zp=za, b_scale=sb, b_zp=zb, y_scale=sy, y_zp=zy,
                rounding="float_scale")
    real = ((a.astype(np.float64) - za) * sa + (b.astype(np.float64) - zb) * sb) / sy
    np.testing.assert_array_equal(fs, np.clip(np.rint(real) + zy, -128, 127).astype(np.int8))
    ms = q.qadd(a, b, a_scale=sa, a_zp=za, b_scale=sb, b_zp=zb, y_scale=sy, y_zp=zy,
                rounding="multiplier_shift")
    assert np.abs(ms.astype(int) - fs.astype(int)).max() <= 1


def test_qadd_multiplier_shift_rejects_out_of_range_output_scale():
    with pytest.raises(ValueError):
        q.qadd(i8([1]), i8([1]), a_scale=1.0, a_zp=0, b_scale=1.0, b_zp=0, y_scale=1e-9,
               y_zp=0, rounding="multiplier_shift")


# --------------------------------------------------------------------------
# pools
# --------------------------------------------------------------------------

def test_qglobal_avg_pool_ties():
    # sums over 2x2 = 4 elements: 10 -> 2.5, 14 -> 3.5, -10 -> -2.5, 9 -> 2.25
    x = i8([[[[2, 3], [2, 3]], [[3, 4], [3, 4]], [[-2, -3], [-2, -3]], [[2, 2], [2, 3]]]])
    fs = q.qglobal_avg_pool(x, rounding="float_scale")
    ms = q.qglobal_avg_pool(x, rounding="multiplier_shift")
    assert fs.shape == (1, 4, 1, 1) and fs.dtype == np.int8
    assert fs.ravel().tolist() == [2, 4, -2, 2]     # half to even
    assert ms.ravel().tolist() == [3, 4, -3, 2]     # half away from zero


@pytest.mark.parametrize("rounding", BOTH)
def test_qglobal_avg_pool_matches_rounded_float_mean(rounding):
    x = np.random.default_rng(3).integers(-128, 128, (4, 6, 5, 7), dtype=np.int8)
    mean = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    expected = np.rint(mean) if rounding == "float_scale" else \
        np.sign(mean) * np.floor(np.abs(mean) + 0.5)
    np.testing.assert_array_equal(q.qglobal_avg_pool(x, rounding=rounding), expected)


def test_qavg_pool2d_padding_and_count_include_pad():
    x = i8([[[[4, 8], [12, 16]]]])
    # 2x2 kernel, stride 1, padding 1, zp 0 -> 3x3 output; the corner window holds only 4
    incl = q.qavg_pool2d(x, kernel=(2, 2), stride=(1, 1), padding=(1, 1),
                         count_include_pad=True, rounding="float_scale")
    excl = q.qavg_pool2d(x, kernel=(2, 2), stride=(1, 1), padding=(1, 1),
                         count_include_pad=False, rounding="float_scale")
    assert incl[0, 0].tolist() == [[1, 3, 2], [4, 10, 6], [3, 7, 4]]
    assert excl[0, 0].tolist() == [[4, 6, 8], [8, 10, 12], [12, 14, 16]]
    # padding holds the zero point: with zp = 4, an all-4 input averages to 4 everywhere
    x4 = i8(np.full((1, 1, 2, 2), 4))
    for include in (True, False):
        got = q.qavg_pool2d(x4, kernel=(2, 2), stride=(1, 1), padding=(1, 1),
                            count_include_pad=include, rounding="float_scale", zp=4)
        assert (got == 4).all()


def test_qavg_pool2d_ties_and_stride_default():
    x = i8([[[[1, 2, 5, 6], [1, 2, 5, 6]]]])     # windows (2x2): sums 6, 22 -> 1.5, 5.5
    fs = q.qavg_pool2d(x, kernel=(2, 2), rounding="float_scale")       # stride = kernel
    ms = q.qavg_pool2d(x, kernel=(2, 2), rounding="multiplier_shift")
    assert fs[0, 0].tolist() == [[2, 6]]
    assert ms[0, 0].tolist() == [[2, 6]]
    x = -x
    assert q.qavg_pool2d(x, kernel=(2, 2), rounding="float_scale")[0, 0].tolist() == [[-2, -6]]
    assert q.qavg_pool2d(x, kernel=(2, 2), rounding="multiplier_shift")[0, 0].tolist() == [[-2, -6]]
    x = i8([[[[1, 2], [2, 2]]]])                 # 7 / 4 = 1.75; 5/4 style non-ties
    assert q.qavg_pool2d(x, kernel=(2, 2), rounding="float_scale").ravel().tolist() == [2]
    x = i8([[[[0, 1], [0, 1]], [[0, 1], [1, 0]]]])   # 2/4 = 0.5 in both channels
    assert q.qavg_pool2d(x, kernel=(2, 2), rounding="float_scale").ravel().tolist() == [0, 0]
    assert q.qavg_pool2d(x, kernel=(2, 2), rounding="multiplier_shift").ravel().tolist() == [1, 1]


@pytest.mark.parametrize("rounding", BOTH)
def test_qavg_pool2d_random_against_float_mean(rounding):
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (2, 3, 9, 8), dtype=np.int8)
    got = q.qavg_pool2d(x, kernel=(3, 3), stride=(2, 2), padding=(1, 1),
                        count_include_pad=False, rounding=rounding)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=np.nan)
    oh, ow = got.shape[2:]
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            mean = np.nanmean(win, axis=(2, 3))
            expected = np.rint(mean) if rounding == "float_scale" else \
                np.sign(mean) * np.floor(np.abs(mean) + 0.5)
            np.testing.assert_array_equal(got[:, :, i, j], expected)


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

def test_invalid_arguments():
    x = np.zeros((1, 1, 2, 2), np.int8)
    with pytest.raises(ValueError, match="rounding"):
        q.qglobal_avg_pool(x, rounding="nearest")
    with pytest.raises(ValueError, match="integer"):
        q.qglobal_avg_pool(x.astype(np.float32), rounding="float_scale")
    with pytest.raises(ValueError, match="groups"):
        q.qconv2d(x, np.zeros((1, 2, 1, 1), np.int8), None, x_scale=1.0, x_zp=0,
                  w_scales=[1.0], y_scale=1.0, y_zp=0, rounding="float_scale")
    with pytest.raises(ValueError, match="weight scales"):
        q.qconv2d(x, np.zeros((2, 1, 1, 1), np.int8), None, x_scale=1.0, x_zp=0,
                  w_scales=[1.0, 1.0, 1.0], y_scale=1.0, y_zp=0, rounding="float_scale")
    with pytest.raises(ValueError, match="bias"):
        q.qconv2d(x, np.zeros((1, 1, 1, 1), np.int8), np.zeros(3, np.int32), x_scale=1.0,
                  x_zp=0, w_scales=[1.0], y_scale=1.0, y_zp=0, rounding="float_scale")


# --------------------------------------------------------------------------
# the interpreter's executors (quantized_execution) on parsed MLIR
# --------------------------------------------------------------------------

X_T = "!quant.uniform<i8:f32, 0.023529411764705882:-128>"
H_T = "!quant.uniform<i8<-128:100>:f32, 0.0625:-3>"
W_T = "!quant.uniform<i8:f32:0, {0.01,0.02,0.005,0.04}>"
D_T = "!quant.uniform<i8:f32:0, {0.03,0.01,0.02,0.015}>"
L_T = "!quant.uniform<i8:f32:0, {0.05,0.002,0.01}>"
Y_T = "!quant.uniform<i8:f32, 0.125:7>"


def _module_text(rounding: str) -> str:
    x = f"tensor<2x3x8x8x{X_T}>"
    h = f"tensor<2x4x4x4x{H_T}>"
    p = f"tensor<2x4x2x2x{H_T}>"
    g = f"tensor<2x4x1x1x{H_T}>"
    f = f"tensor<2x4x{H_T}>"
    y = f"tensor<2x3x{Y_T}>"
    w = f"tensor<4x3x3x3x{W_T}>"
    d = f"tensor<4x1x3x3x{D_T}>"
    lw = f"tensor<3x4x{L_T}>"
    return f"""
func.func @forward(%img: tensor<2x3x8x8xf32>, %w: {w}, %b: tensor<4xi32>, %dw: {d},
                   %lw: {lw}, %lb: tensor<3xi32>) -> (tensor<2x3xf32>, {y}) {{
  %x = quant.qcast %img : tensor<2x3x8x8xf32> to {x}
  %c = train.qconv2d %x, %w, %b stride [2, 2] padding [1, 1] rounding {rounding}
      : ({x}, {w}, tensor<4xi32>) -> {h}
  %dc = train.qconv2d %c, %dw padding [1, 1] groups 4 rounding {rounding}
      : ({h}, {d}) -> {h}
  %s = train.qadd %c, %dc rounding {rounding} : ({h}, {h}) -> {h}
  %a = train.qavg_pool2d %s kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad
      rounding {rounding} : ({h}) -> {p}
  %m = train.qglobal_avg_pool %a rounding {rounding} : {p} -> {g}
  %r = train.reshape %m : {g} -> {f}
  %l = train.qlinear %r, %lw, %lb rounding {rounding} : ({f}, {lw}, tensor<3xi32>) -> {y}
  %out = quant.dcast %l : {y} to tensor<2x3xf32>
  return %out, %l : tensor<2x3xf32>, {y}
}}
"""


def _numpy_pipeline(img, w, b, dw, lw, lb, rounding):
    x = q.quantize(img, scale=0.023529411764705882, zp=-128)
    hk = dict(y_scale=0.0625, y_zp=-3, qmin=-128, qmax=100, rounding=rounding)
    c = q.qconv2d(x, w, b, x_scale=0.023529411764705882, x_zp=-128,
                  w_scales=[0.01, 0.02, 0.005, 0.04], stride=(2, 2), padding=(1, 1), **hk)
    dc = q.qconv2d(c, dw, None, x_scale=0.0625, x_zp=-3, w_scales=[0.03, 0.01, 0.02, 0.015],
                   padding=(1, 1), groups=4, **hk)
    s = q.qadd(c, dc, a_scale=0.0625, a_zp=-3, b_scale=0.0625, b_zp=-3, **hk)
    a = q.qavg_pool2d(s, kernel=(3, 3), stride=(2, 2), padding=(1, 1), count_include_pad=True,
                      qmin=-128, qmax=100, rounding=rounding, zp=-3)
    m = q.qglobal_avg_pool(a, qmin=-128, qmax=100, rounding=rounding)
    logits = q.qlinear(m.reshape(2, 4), lw, lb, x_scale=0.0625, x_zp=-3,
                       w_scales=[0.05, 0.002, 0.01], y_scale=0.125, y_zp=7, rounding=rounding)
    return q.dequantize(logits, scale=0.125, zp=7), logits, s


@pytest.mark.parametrize("rounding", BOTH)
def test_interpreter_runs_quantized_ops(rounding):
    from tcc.compiler.source import new_context, parse_module
    from tcc.runtime.interpreter import run_function

    module = parse_module(_module_text(rounding), "quantized.mlir", new_context())
    rng = np.random.default_rng(5)
    img = rng.uniform(0, 6, (2, 3, 8, 8)).astype(np.float32)
    w = rng.integers(-127, 128, (4, 3, 3, 3), dtype=np.int8)
    b = rng.integers(-2000, 2000, 4).astype(np.int32)
    dw = rng.integers(-127, 128, (4, 1, 3, 3), dtype=np.int8)
    lw = rng.integers(-127, 128, (3, 4), dtype=np.int8)
    lb = rng.integers(-500, 500, 3).astype(np.int32)
    out, logits = run_function(module, "forward", [img, w, b, dw, lw, lb])
    expected_out, expected_logits, s = _numpy_pipeline(img, w, b, dw, lw, lb, rounding)
    assert s.max() <= 100                    # the narrowed storage range is in force
    assert logits.dtype == np.int8 and out.dtype == np.float32
    np.testing.assert_array_equal(logits, expected_logits)
    np.testing.assert_array_equal(out, expected_out)


def test_interpreter_rejects_asymmetric_weights():
    from tcc.compiler.errors import TccError
    from tcc.compiler.source import new_context, parse_module
    from tcc.runtime.interpreter import run_function

    text = _module_text("float_scale").replace("{0.01,0.02,0.005,0.04}",
                                               "{0.01:1,0.02,0.005,0.04}")
    args = [np.zeros((2, 3, 8, 8), np.float32), np.zeros((4, 3, 3, 3), np.int8),
            np.zeros(4, np.int32), np.zeros((4, 1, 3, 3), np.int8), np.zeros((3, 4), np.int8),
            np.zeros(3, np.int32)]
    # The op verifier rejects it; were it to pass, the executor would.
    with pytest.raises(TccError, match="zero point"):
        module = parse_module(text, "quantized.mlir", new_context())
        run_function(module, "forward", args)


def test_quantize_non_finite():
    x = np.array([np.inf, -np.inf, np.nan, 1e300], dtype=np.float64)
    assert q.quantize(x, scale=0.1, zp=-5).tolist() == [127, -128, -5, 127]

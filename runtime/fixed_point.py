"""Reference semantics of the int16 fixed-point backward pass (--train-int16-gradients),
in plain numpy: integer arithmetic only, so the C kernels (kernels/c/tcc_fxtrain.c)
compute the same bits with no floating point at all.

A fixed-point gradient stores integers q and means g = q · 2^e: int16 storage for a
gradient tensor, int32 for a sum of gradients (a bias gradient), e fixed per tensor
at compile time (its type's scale). Every real factor an op needs (a weight scale, a
learning rate, 1/count) becomes at compile time a multiplier k · 2^-q with a 15-bit k
(`multiplier`); the ops multiply exact integers, accumulate in int64 and round once
(`round_shift`: to nearest, ties away from zero), then saturate to the storage range.
The sums stay below 2^53, so numpy computes them exactly in float64 where that is
simpler (the reference convolutions).
"""

from __future__ import annotations

import math

import numpy as np

from . import reference_ops as ref
from . import quantized_training as qt

__all__ = ["MULTIPLIER_BITS", "LOGIT_GRAD_EXPONENT", "multiplier", "round_shift",
           "saturate", "softmax_table", "loss_shift", "scaled_cross_entropy_grad",
           "cross_entropy_grad", "grad_input_multipliers",
           "conv2d_grad_input", "avg_pool2d_grad", "add", "bias_grad", "mask_grad",
           "update_multipliers", "qsgd", "conv2d_qsgd"]

INT16_MAX = (1 << 15) - 1

MULTIPLIER_BITS = 15
"""Significant bits of a multiplier k (2^14 <= k <= 2^15): k times an int16 gradient
fits int32, k times a weight-gradient sum (< 2^38) fits int64."""

LOGIT_GRAD_EXPONENT = -15
"""The logits' gradient p - onehot lies in [-1, 1]: Q0.15."""

SOFTMAX_ONE = 1 << 16
"""exp(0) in the softmax table."""

MAX_LOSS_SHIFT = 15
"""The largest dynamic scale 2^k of the loss gradient (train.cross_entropy_grad's shift)."""


def multiplier(real: float) -> tuple[int, int]:
    """(k, q) with real ≈ k · 2^-q and 2^14 <= k <= 2^15, or (0, 0) for real <= 0."""
    if not real > 0 or not math.isfinite(real):
        return 0, 0
    fraction, exponent = math.frexp(real)            # real = fraction · 2^exponent
    k = int(np.rint(math.ldexp(fraction, MULTIPLIER_BITS)))
    return k, MULTIPLIER_BITS - exponent


def round_shift(x, n: int) -> np.ndarray:
    """x / 2^n rounded to nearest, ties away from zero (n > 0); x · 2^-n (n <= 0)."""
    x = np.asarray(x, dtype=np.int64)
    if n <= 0:
        return x << -n
    if n >= 63:
        return np.zeros_like(x)
    half = np.int64(1) << (n - 1)
    magnitude = (np.abs(x) + half) >> n
    return np.where(x < 0, -magnitude, magnitude)


def saturate(x, bits: int) -> np.ndarray:
    """x clipped to the range of a signed `bits`-bit integer, in that dtype."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi).astype(f"i{bits // 8}")


def softmax_table(scale: float) -> np.ndarray:
    """T[d] = rne(2^16 · exp(-scale · d)) for d = 0..255: exp of an int8 logit's
    distance d to the row's maximum, whose real value is -scale · d."""
    d = np.arange(256, dtype=np.float64)
    return np.rint(SOFTMAX_ONE * np.exp(-scale * d)).astype(np.int64)


def loss_shift(g) -> int:
    """k: the largest k <= MAX_LOSS_SHIFT with max|g| · 2^k <= 32767 (0 if g is 0)."""
    top = int(np.max(np.abs(np.asarray(g, dtype=np.int64)), initial=0))
    k = 0
    while top and k < MAX_LOSS_SHIFT and top << (k + 1) <= INT16_MAX:
        k += 1
    return k


def scaled_cross_entropy_grad(logits, labels, *, scale: float) -> tuple[np.ndarray, int]:
    """(cross_entropy_grad · 2^k, k) with k = loss_shift: the loss gradient scaled up
    to use the int16 range (dynamic loss scaling; the updates divide 2^k out)."""
    g = cross_entropy_grad(logits, labels, scale=scale)
    k = loss_shift(g)
    return (g.astype(np.int64) << k).astype(np.int16), k


def cross_entropy_grad(logits, labels, *, scale: float) -> np.ndarray:
    """(softmax(x) - onehot) / N of int8 logits x (real value scale · (q - z)) in Q0.15:
    p_i = rne-half-up(2^15 · T[max - q_i] / Σ_j T[max - q_j]) with the table above,
    then minus 2^15 at the label, divided by N (round_shift semantics), saturated."""
    q = np.asarray(logits, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    table = softmax_table(scale)
    e = table[q.max(axis=1, keepdims=True) - q]
    total = e.sum(axis=1, keepdims=True)
    one = 1 << -LOGIT_GRAD_EXPONENT
    g = (e * one + total // 2) // total
    g[np.arange(q.shape[0]), labels] -= one
    n = q.shape[0]
    if n > 1:
        magnitude = (np.abs(g) + n // 2) // n
        g = np.where(g < 0, -magnitude, magnitude)
    return saturate(g, 16)


def grad_input_multipliers(w_scales, e_dy: int, e_dx: int) -> tuple[np.ndarray, int]:
    """(m, P): per output channel o, m_o = rne(s_w[o] · 2^(e_dy - e_dx + P)) with P
    chosen so that the largest m_o has 15 significant bits: dx = Σ dy·m·w / 2^P."""
    scales = np.asarray(w_scales, dtype=np.float64)
    largest = float(scales.max()) if scales.size else 0.0
    if not largest > 0:
        return np.zeros(scales.shape, dtype=np.int64), 0
    _, exponent = math.frexp(math.ldexp(largest, e_dy - e_dx))
    shift = MULTIPLIER_BITS - exponent
    m = np.rint(np.ldexp(scales, e_dy - e_dx + shift)).astype(np.int64)
    return m, shift


def conv2d_grad_input(dy, w, *, w_scales, e_dy: int, e_dx: int, input_shape, stride,
                      padding, dilation, groups) -> np.ndarray:
    """dx = sat16(round_shift(Σ (dy[o] · m_o) · w[o, c, tap], P)) (grad_input_multipliers):
    the transposed convolution of train.conv2d_grad_input on the integers."""
    m, shift = grad_input_multipliers(w_scales, e_dy, e_dx)
    scaled = np.asarray(dy, dtype=np.int64) * m.reshape(1, -1, 1, 1)     # < 2^30
    acc = ref.conv2d_grad_input(scaled.astype(np.float64),
                                np.asarray(w, dtype=np.float64), input_shape=input_shape,
                                stride=stride, padding=padding, dilation=dilation,
                                groups=groups)
    return saturate(round_shift(acc.astype(np.int64), shift), 16)


def avg_pool2d_grad(dy, *, e_dy: int, e_dx: int, input_shape, kernel, stride, padding,
                    count_include_pad: bool) -> np.ndarray:
    """dx = sat16(round_shift(k · Σ_windows dy, q)) with k · 2^-q = 2^(e_dy - e_dx) / count;
    every window must have the same divisor (count_include_pad, or no padding)."""
    if not count_include_pad and any(padding):
        raise ValueError("int16 avg_pool2d_grad needs one divisor for every window "
                         "(count_include_pad or no padding)")
    count = kernel[0] * kernel[1]
    k, q = multiplier(math.ldexp(1.0, e_dy - e_dx) / count)
    # The float reference divides by `count`: scale up first, the sums stay exact.
    total = ref.avg_pool2d_grad(np.asarray(dy, dtype=np.float64) * count,
                                input_shape=input_shape, kernel=kernel, stride=stride,
                                padding=padding, count_include_pad=True)
    return saturate(round_shift(total.astype(np.int64) * k, q), 16)


def add(a, b) -> np.ndarray:
    """Saturating sum of two gradients of one type."""
    return saturate(np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64), 16)


def bias_grad(dy) -> np.ndarray:
    """Σ of dy over every axis but 1, exact, saturated to int32 (same exponent)."""
    dy = np.asarray(dy, dtype=np.int64)
    return saturate(dy.sum(axis=(0, *range(2, dy.ndim))), 32)


def mask_grad(dy, mask) -> np.ndarray:
    """dy where the element's bit of the clamp_mask is 1, else 0."""
    dy = np.asarray(dy)
    bits = np.unpackbits(np.asarray(mask).view(np.uint8), count=dy.size, bitorder="little")
    return np.where(bits.reshape(dy.shape).astype(bool), dy, dy.dtype.type(0))


def update_multipliers(*, lr: float, grad_scale: float, scales, qas: bool,
                       count: int) -> np.ndarray:
    """Per channel c < count, (k_c, q_c) of the step lr · G̃ in codes per unit of the
    integer gradient: lr · grad_scale / s_c with QAS, lr · grad_scale · s_c without (see
    quantized_training); dead channels (and non-positive steps) get k = 0. `scales`:
    one per-tensor scale, or per-channel ones (the first `count` are used)."""
    scales = np.asarray(scales, dtype=np.float64).reshape(-1)
    scales = np.broadcast_to(scales, (count,)) if scales.size == 1 else scales[:count]
    dead = qt.dead_channels(scales)
    pairs = [(0, 0) if dead[c] else multiplier(
        lr * grad_scale / scales[c] if qas else lr * grad_scale * scales[c])
        for c in range(scales.size)]
    array = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    if (array[:, 1] < 0).any():
        raise ValueError("the learning rate is too large for the int16 gradients' "
                         "fixed-point update (a step of 2^15 codes per gradient unit)")
    return array


def qsgd(param, grad, *, lr: float, grad_scale: float, scales, qas: bool,
         weight_decay: float = 0.0, zero_points=0, qmin: int, qmax: int,
         axis: int = 0, shift: int = 0) -> np.ndarray:
    """train.qsgd from an integer gradient G (real value grad_scale · G / 2^shift):
    W̄' = sat(W̄ - round_shift(G · k_c, q_c + shift) - round_shift((W̄ - z) · k_d, q_d))
    with (k_c, q_c) of update_multipliers and (k_d, q_d) = multiplier(lr ·
    weight_decay); dead channels keep their values (quantized_training.dead_channels)."""
    param = np.asarray(param)
    count = param.shape[axis]
    shape = [1] * param.ndim
    shape[axis] = -1
    pairs = update_multipliers(lr=lr, grad_scale=grad_scale, qas=qas, scales=scales,
                               count=count)
    g = np.asarray(grad, dtype=np.int64)
    step = np.zeros(param.shape, dtype=np.int64)
    for c in range(count):
        index = [slice(None)] * param.ndim
        index[axis] = c
        step[tuple(index)] = round_shift(g[tuple(index)] * pairs[c, 0],
                                         int(pairs[c, 1]) + shift)
    stored = param.astype(np.int64)
    if weight_decay:
        k, q = multiplier(lr * weight_decay)
        z = np.broadcast_to(np.asarray(zero_points, dtype=np.int64).reshape(-1),
                            (count,)).reshape(shape)
        alive = (pairs[:, 0] != 0).reshape(shape)
        step = step + np.where(alive, round_shift((stored - z) * k, q), 0)
    return np.clip(stored - step, qmin, qmax).astype(param.dtype)


def conv2d_qsgd(param, dy, x, *, x_zero_point: int, gradient_shape, stride, padding,
                dilation, groups, **update) -> np.ndarray:
    """train.conv2d_qsgd on integers: G = conv2d_grad_weight(dy, x - z_x), exact in
    int64 (real value s_x · 2^e_dy · G, `update`'s grad_scale), then qsgd of the weight's
    first channels (gradient_shape); the other channels keep their values."""
    x = np.asarray(x, dtype=np.float64) - x_zero_point
    grad = ref.conv2d_grad_weight(np.asarray(dy, dtype=np.float64), x,
                                  weight_shape=gradient_shape, stride=stride,
                                  padding=padding, dilation=dilation, groups=groups)
    part = tuple(slice(0, n) for n in gradient_shape)
    for key in ("scales", "zero_points"):
        values = np.asarray(update.get(key, 0), dtype=np.float64).reshape(-1)
        if values.size > 1:
            update[key] = values[:gradient_shape[update.get("axis", 0)]]
    updated = np.array(param, copy=True)
    updated[part] = qsgd(updated[part], grad.astype(np.int64), **update)
    return updated

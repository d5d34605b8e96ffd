"""Reverse-mode gradient rules of the quantized (int8) ops.

The backward pass of an int8 network works on real values, as the Tiny Training
Engine's PyTorch simulation does: the gradient flowing to a quantized value q of type
!quant.uniform<i8:f32, s:z> is an f32 tensor of the same shape holding dL/dq_r, the
gradient of its real value q_r = s · (q - z) (per channel for per-axis weights; an
int32 bias b of channel c means s_x · s_w[c] · b). The optimizer (train.qsgd, see
runtime/quantized_training.py) turns those real gradients into integer updates.

Every requantizing op computes y = Q(v) with v the exact real result of the float op
(conv, linear, add, average) and Q(v) = s_y · (clamp(rne(v / s_y) + z_y, qmin, qmax) -
z_y) (float_scale; multiplier_shift only rounds differently). The rules use a
straight-through estimator for the rounding (d rne(u) / du := 1) and the clamp's
derivative, a mask: dQ/dv = [lo < y < hi] with lo, hi the real values of the storage
bounds, s_y · (qmin - z_y) and s_y · (qmax - z_y). The mask is `train.clamp_grad` of
dy on the dequantized result: strict inequalities, so an output sitting on a bound
(saturated, or exactly 0 after a ReLU folded into z_y = qmin) passes no gradient, as
PyTorch's hardtanh_backward and relu backward. Operands are dequantized with
`quant.dcast` where the float gradient ops need them (CSE merges repeated casts).

Layout ops (reshape, transpose, concat, broadcast, slice) move storage values, i.e.
real values: their float rules apply to the f32 gradient unchanged. Two compare
values and need the real values: `train.max_pool2d` and `train.clamp` on quantized
tensors (QUANTIZED_LAYOUT_GRADIENTS; `merge_quantized_rules` installs them in front
of the float rules of the same ops).
"""

from __future__ import annotations

import math
from typing import Callable

from .._mlir import ir
from .._mlir.dialects import quant
from ..compiler.errors import PassError
from ..dialects import train

Rule = Callable[[ir.OpView, ir.Value, list], list]

__all__ = ["QUANTIZED_GRADIENTS", "QUANTIZED_LAYOUT_GRADIENTS", "merge_quantized_rules",
           "is_quantized", "dequantized", "saturation_mask"]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def _element(value: ir.Value) -> ir.Type:
    return ir.RankedTensorType(value.type).element_type


def is_quantized(value: ir.Value) -> bool:
    """Whether `value` is a tensor of a quant dialect type."""
    return isinstance(_element(value), quant.QuantizedType)


def _real_type(value: ir.Value, like: ir.Value) -> ir.RankedTensorType:
    """`value`'s shape with `like`'s (float) element type."""
    return ir.RankedTensorType.get(train.shape_of(value), _element(like))


def _create(name: str, result_type: ir.Type, operands: list, attributes=None) -> ir.Value:
    return ir.Operation.create(name, results=[result_type], operands=operands,
                               attributes=attributes or {}).result


def dequantized(value: ir.Value) -> ir.Value:
    """`quant.dcast` of a quantized tensor to its expressed (f32) type; other values
    are returned as they are."""
    element = _element(value)
    if not isinstance(element, quant.QuantizedType):
        return value
    result = ir.RankedTensorType.get(train.shape_of(value), element.expressed_type)
    return _create("quant.dcast", result, [value])


def _storage_values(value: ir.Value) -> ir.Value:
    """The storage integers of a quantized tensor as real numbers: scast to the storage
    type, scast to a per-tensor type of scale 1 and zero point 0 with the same storage
    range, dcast (exact for 8-bit storage)."""
    element = _element(value)
    shape = train.shape_of(value)
    storage = ir.RankedTensorType.get(shape, element.storage_type)
    unit = quant.UniformQuantizedType.get(
        quant.QuantizedType.FLAG_SIGNED if element.is_signed else 0, element.storage_type,
        element.expressed_type, 1.0, 0, element.storage_type_min, element.storage_type_max)
    raw = _create("quant.scast", storage, [value])
    return dequantized(_create("quant.scast", ir.RankedTensorType.get(shape, unit), [raw]))


def _real_bounds(element: quant.UniformQuantizedType) -> tuple[float, float]:
    """Real values of a per-tensor type's storage bounds, s · (q - z) in float64 (the
    same product quant.dcast rounds to f32, so the bounds compare exactly)."""
    s, z = element.scale, element.zero_point
    return s * (element.storage_type_min - z), s * (element.storage_type_max - z)


def saturation_mask(dy: ir.Value, y: ir.Value) -> ir.Value:
    """dy · [qmin < y < qmax]: the derivative of the clamp to the storage range of the
    quantized result `y` (STE through the rounding before it)."""
    element = _element(y)
    if isinstance(element, quant.UniformQuantizedType):
        lo, hi = _real_bounds(element)
        return train.clamp_grad(dy, dequantized(y), lo, hi)
    # Per-axis (a quant.qcast to a weight type): compare the storage values themselves.
    return train.clamp_grad(dy, _storage_values(y), element.storage_type_min,
                            element.storage_type_max)


def _grads(count: int) -> list:
    return [None] * count


def _pool(op) -> dict:
    g = train.PoolGeometry.of(op)
    return dict(kernel=list(g.kernel), stride=list(g.stride), padding=list(g.padding))


# --------------------------------------------------------------------------
# Rules of the quantized ops
# --------------------------------------------------------------------------

def _qconv2d(op, dy, wanted):
    # y = Q(conv(x_r, w_r) + b_r);  dv = dy·[lo < y < hi]  (STE + clamp mask)
    # dx_r = conv2d_grad_input(dv, w_r), dw_r = conv2d_grad_weight(dv, x_r), db_r = Σ dv
    x, w = op.operands[0], op.operands[1]
    geometry = train.ConvGeometry.of(op)
    grads = _grads(len(op.operands))
    if not any(wanted):
        return grads
    dv = saturation_mask(dy, op.results[0])
    if wanted[0]:
        grads[0] = train.conv2d_grad_input(dv, dequantized(w), _real_type(x, dy),
                                           geometry=geometry)
    if wanted[1]:
        grads[1] = train.conv2d_grad_weight(dv, dequantized(x), _real_type(w, dy),
                                            geometry=geometry)
    if len(wanted) > 2 and wanted[2]:
        grads[2] = train.bias_grad(dv)
    return grads


def _qlinear(op, dy, wanted):
    # y = Q(x_r·w_rᵀ + b_r);  dv = dy·[lo < y < hi]
    # dx_r = dv·w_r,  dw_r = dvᵀ·x_r,  db_r = Σ_n dv
    x, w = op.operands[0], op.operands[1]
    grads = _grads(len(op.operands))
    if not any(wanted):
        return grads
    dv = saturation_mask(dy, op.results[0])
    if wanted[0]:
        grads[0] = train.linear_grad_input(dv, dequantized(w))
    if wanted[1]:
        grads[1] = train.linear_grad_weight(dv, dequantized(x))
    if len(wanted) > 2 and wanted[2]:
        grads[2] = train.bias_grad(dv)
    return grads


def _qadd(op, dy, wanted):
    # y = Q(a_r + b_r)  =>  da_r = db_r = dy·[lo < y < hi]
    if not any(wanted):
        return _grads(len(op.operands))
    dv = saturation_mask(dy, op.results[0])
    return [dv if want else None for want in wanted]


def _qavg_pool2d(op, dy, wanted):
    # y = round(mean of the window) in the operand's own type: y_r ≈ avg_pool2d(x_r)
    # (padding holds z, real 0). A mean of in-range values stays in range, so the clamp
    # never acts: STE only, dx_r = avg_pool2d_grad(dy) with the same divisor.
    x = op.operands[0]
    count_include_pad = "count_include_pad" in op.operation.attributes
    return [train.avg_pool2d_grad(dy, _real_type(x, dy), **_pool(op),
                                  count_include_pad=count_include_pad)]


def _qglobal_avg_pool(op, dy, wanted):
    # y = round(mean over H, W) (never clamps): STE, dx_r = dy / (H·W) at every position,
    # i.e. the gradient of an H×W average pool.
    x = op.operands[0]
    h, w = train.shape_of(x)[2:]
    return [train.avg_pool2d_grad(dy, _real_type(x, dy), kernel=[h, w], stride=[h, w],
                                  padding=[0, 0], count_include_pad=True)]


def _dcast(op, dy, wanted):
    # y = (x - z)·s = x_r exactly: dx_r = dy.
    return [dy if wanted[0] else None]


def _qcast(op, dy, wanted):
    # y = Q(x) (rne(x / s) + z, clamped): STE, dx = dy·[qmin < y < qmax].
    return [saturation_mask(dy, op.results[0]) if wanted[0] else None]


QUANTIZED_GRADIENTS: dict[str, Rule] = {
    "train.qconv2d": _qconv2d,
    "train.qlinear": _qlinear,
    "train.qadd": _qadd,
    "train.qavg_pool2d": _qavg_pool2d,
    "train.qglobal_avg_pool": _qglobal_avg_pool,
    "quant.dcast": _dcast,
    "quant.qcast": _qcast,
}


# --------------------------------------------------------------------------
# Layout ops on quantized tensors
# --------------------------------------------------------------------------

def _quantized_max_pool2d(op, dy, wanted):
    # The first maximum of each window receives dy. dcast is strictly increasing, so
    # the real values have the same maxima; padding acts as -inf, as for floats (the
    # storage minimum padded in the forward never wins over an in-image equal value).
    return [train.max_pool2d_grad(dy, dequantized(op.operands[0]), **_pool(op))]


def _quantized_clamp(op, dy, wanted):
    # The forward clamps the storage values to lo_q = rne(min/s) + z and hi_q alike,
    # each clipped to the storage range: dx_r = dy·[real(lo_q) < x_r < real(hi_q)], the
    # float clamp's mask on the real values with the bounds the forward applies. A
    # bound beyond the storage range on its own side clips nothing and masks nothing.
    element = _element(op.operands[0])
    s, z = element.scale, element.zero_point
    qmin, qmax = element.storage_type_min, element.storage_type_max

    def storage_bound(name: str) -> float:
        value = ir.FloatAttr(op.operation.attributes[name]).value
        if math.isinf(value):
            return value
        return float(round(value / s) + z)  # round() is round half to even

    lo_q, hi_q = storage_bound("min"), storage_bound("max")
    lo = -math.inf if lo_q < qmin else s * (min(lo_q, qmax) - z)
    hi = math.inf if hi_q > qmax else s * (max(hi_q, qmin) - z)
    return [train.clamp_grad(dy, dequantized(op.operands[0]), lo, hi)]


QUANTIZED_LAYOUT_GRADIENTS: dict[str, Rule] = {
    "train.max_pool2d": _quantized_max_pool2d,
    "train.clamp": _quantized_clamp,
}


def _dispatch(name: str, float_rule: Rule | None, quantized_rule: Rule) -> Rule:
    def rule(op, dy, wanted):
        if any(is_quantized(v) for v in op.operands):
            return quantized_rule(op, dy, wanted)
        if float_rule is None:
            raise PassError(f"no gradient rule for '{name}' on float tensors",
                            str(op.location))
        return float_rule(op, dy, wanted)
    rule.__doc__ = f"{name}: the quantized rule on int8 operands, else the float rule."
    return rule


def merge_quantized_rules(rules: dict[str, Rule]) -> dict[str, Rule]:
    """`rules` (the float table) plus QUANTIZED_GRADIENTS; each layout op of
    QUANTIZED_LAYOUT_GRADIENTS dispatches on its operands: quantized -> the rule here,
    float -> the float rule of `rules`."""
    merged = dict(rules)
    merged.update(QUANTIZED_GRADIENTS)
    for name, quantized_rule in QUANTIZED_LAYOUT_GRADIENTS.items():
        merged[name] = _dispatch(name, rules.get(name), quantized_rule)
    return merged

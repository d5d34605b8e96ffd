"""The C renderer's int16 fixed-point backward ops (--train-int16-gradients): calls of
kernels/c/tcc_fxtrain.c with the compile-time multipliers of runtime/fixed_point.py
(the same functions the reference interpreter uses, so both compute the same bits)."""

from __future__ import annotations

import math

import numpy as np

from ..._mlir import ir
from ...dialects import train
from ...runtime import fixed_point as fx
from ...runtime import quantized_execution as qx
from ...runtime.fixed_point_execution import fixed_point_exponent, is_fixed_point
from ..errors import UnsupportedError, format_location
from .c_expressions import c_ints, conv_params, dims, size

__all__ = ["is_fixed_point", "render"]


def _exponent(value) -> int:
    return fixed_point_exponent(ir.RankedTensorType(value.type).element_type, 16)


def _table(name: str, values) -> str:
    values = [int(v) for v in values] or [0]
    return f"  static const int32_t {name}[{len(values)}] = {{{c_ints(values)}}};"


def _cross_entropy_grad(op, a, r, weight):
    logits = qx.per_tensor(op, op.operands[0], "logits")
    n, classes = dims(op.operands[0])
    result, shift = (r, "NULL") if isinstance(r, str) else r
    return ["{", _table("table", fx.softmax_table(logits.scale)),
            f"  tcc_fx_cross_entropy_grad_s8({a[0]}, {a[1]}, {result}, {n}, {classes}, table, "
            f"{shift});", "}"]


def _bias_grad(op, a, r, weight):
    shape = dims(op.operands[0])
    inner = int(np.prod(shape[2:], dtype=np.int64))
    return [f"tcc_fx_bias_grad_s16({a[0]}, {r}, {shape[0]}, {shape[1]}, {inner});"]


def _conv2d_grad_input(op, a, r, weight):
    m, shift = fx.grad_input_multipliers(qx.weight_scales(op, op.operands[1]),
                                         _exponent(op.operands[0]), _exponent(op.results[0]))
    p = conv_params(op, dims(op.results[0]), dims(op.operands[1]), dims(op.operands[0]))
    trained, rest, axis, k = weight
    return ["{", _table("m", m), f"  static const tcc_conv2d_params p = {p};",
            f"  const tcc_fx_weight w = {{{trained}, {rest}, {axis}, {k}}};",
            f"  tcc_fx_conv2d_grad_input_s16({a[0]}, &w, m, {shift}, {r}, &p);", "}"]


def _avg_pool2d_grad(op, a, r, weight):
    g = train.PoolGeometry.of(op)
    if "count_include_pad" not in op.attributes and any(g.padding):
        raise UnsupportedError("an int16 avg_pool2d_grad needs one divisor for every window "
                               "(count_include_pad, or no padding)", format_location(op.location))
    k, q = fx.multiplier(math.ldexp(1.0, _exponent(op.operands[0]) - _exponent(op.results[0]))
                         / (g.kernel[0] * g.kernel[1]))
    n, c, h, w = dims(op.results[0])
    dy = dims(op.operands[0])
    p = "{" + c_ints([n, c, h, w, dy[2], dy[3], *g.kernel, *g.stride, *g.padding, 1]) + "}"
    return ["{", f"  static const tcc_pool2d_params p = {p};",
            f"  tcc_fx_avg_pool2d_grad_s16({a[0]}, {r}, &p, {k}, {q});", "}"]


def _update(op, grad_scale: float, channels: int, shift: str) -> list[str]:
    """Declarations of `u`, the tcc_fx_update of an optimizer op over `channels`;
    `shift`: the C expression of the loss gradient's dynamic shift."""
    element = ir.RankedTensorType(op.operands[0].type).element_type
    quantization = qx.update_quantization(op, element)
    hyper = qx.hyperparameters(op)
    pairs = fx.update_multipliers(lr=hyper["lr"], grad_scale=grad_scale,
                                  scales=quantization["scales"], qas=hyper["qas"],
                                  count=channels)
    kd, qd = fx.multiplier(hyper["lr"] * hyper["weight_decay"]) if hyper["weight_decay"] \
        else (0, 0)
    zero = np.asarray(quantization["zero_points"]).reshape(-1)
    return [_table("k", pairs[:, 0]), _table("q", pairs[:, 1]),
            f"  const tcc_fx_update u = {{k, q, {kd}, {qd}, {int(zero[0])}, "
            f"{quantization['qmin']}, {quantization['qmax']}, {shift}}};"]


def _shift(args, position: int) -> str:
    """The dynamic shift an update reads: its operand (an int32 in the arena), or 0."""
    return f"{args[position]}[0]" if len(args) > position else "0"


def _qsgd(op, a, r, weight):
    if str(ir.RankedTensorType(op.operands[0].type).element_type) != "i32":
        raise UnsupportedError("the C target updates int8 weights from int16 gradients in "
                               "train.conv2d_qsgd only (run --train-fuse-update)",
                               format_location(op.location))
    shape = dims(op.operands[1])
    grad_scale = ir.RankedTensorType(op.operands[1].type).element_type.scale
    return ["{"] + _update(op, grad_scale, shape[0], _shift(a, 2)) + [
        f"  tcc_fx_qsgd_s32({r}, {a[1]}, {size(op.operands[1])}, "
        f"{int(np.prod(shape[1:], dtype=np.int64))}, &u);", "}"]


def _conv2d_qsgd(op, a, r, stored_channels):
    shape = list(train.conv2d_qsgd_gradient_shape(op))
    x = qx.per_tensor(op, op.operands[2], "input")
    grad_scale = x.scale * math.ldexp(1.0, _exponent(op.operands[1]))
    p = conv_params(op, dims(op.operands[2]), shape, dims(op.operands[1]))
    return ["{"] + _update(op, grad_scale, shape[0], _shift(a, 3)) + [
        f"  static const tcc_conv2d_params p = {p};",
        f"  tcc_fx_conv2d_qsgd_s8({r}, {a[1]}, {a[2]}, {x.zero_point}, {stored_channels}, "
        "&p, &u);", "}"]


RENDERERS = {
    "train.cross_entropy_grad": _cross_entropy_grad,
    "train.mask_grad": lambda op, a, r, w: [
        f"tcc_fx_mask_grad_s16({a[0]}, {a[1]}, {r}, {size(op.results[0])});"],
    "train.add": lambda op, a, r, w: [
        f"tcc_fx_add_s16({a[0]}, {a[1]}, {r}, {size(op.results[0])});"],
    "train.bias_grad": _bias_grad,
    "train.conv2d_grad_input": _conv2d_grad_input,
    "train.avg_pool2d_grad": _avg_pool2d_grad,
    "train.qsgd": _qsgd,
    "train.conv2d_qsgd": _conv2d_qsgd,
}


def render(op, args, result, weight=None) -> list[str] | None:
    """The C lines of a fixed-point op, or None if `op` is not one this module
    renders (layout ops of int16 values go through the generic paths). `weight`:
    conv2d_grad_input's (trained, rest, axis, k) pointers, conv2d_qsgd's stored
    input-channel count."""
    if op.name not in RENDERERS or not is_fixed_point(op):
        return None
    return RENDERERS[op.name](op, args, result, weight)

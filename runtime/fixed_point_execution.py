"""Executes the ops of an int16 fixed-point backward pass for the reference interpreter.

An op runs here when one of its operands or results has a fixed-point gradient type
(`is_fixed_point`: !quant.uniform<i16:f32, 2^e> or its i32 sum, zero point 0); each
executor reads the exponents and scales from the types and calls the integer
semantics of `fixed_point`.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .._mlir import ir
from .._mlir.dialects import quant
from ..dialects import train
from . import fixed_point as fx
from . import quantized_execution as qx


def _element(value: ir.Value) -> ir.Type:
    return ir.RankedTensorType(value.type).element_type


def fixed_point_exponent(element: ir.Type, bits: int = 16) -> int | None:
    """e of a fixed-point gradient type of `bits`-bit storage (scale 2^e, zero point 0,
    full signed range), or None for any other type."""
    if not isinstance(element, quant.UniformQuantizedType) or not element.is_signed or \
            element.storage_type_integral_width != bits or element.zero_point != 0 or \
            element.storage_type_min != -(1 << (bits - 1)) or \
            element.storage_type_max != (1 << (bits - 1)) - 1:
        return None
    fraction, exponent = math.frexp(element.scale)
    return exponent - 1 if fraction == 0.5 else None


def is_fixed_point(op) -> bool:
    """Whether `op` computes on fixed-point gradients."""
    return any(fixed_point_exponent(_element(v), bits) is not None
               for v in (*op.operands, *op.results) if isinstance(v.type, ir.RankedTensorType)
               for bits in (16, 32))


def _exponent(value: ir.Value) -> int:
    return fixed_point_exponent(_element(value), 16)


def _cross_entropy_grad(op, args):
    logits = qx.per_tensor(op, op.operands[0], "logits")
    if len(op.results) == 1:
        return [fx.cross_entropy_grad(args[0], args[1], scale=logits.scale)]
    g, k = fx.scaled_cross_entropy_grad(args[0], args[1], scale=logits.scale)
    return [g, np.array(k, dtype=np.int32)]


def _shift(op, args, position: int) -> int:
    """The loss gradient's dynamic shift an update reads (0 without one)."""
    return int(args[position]) if len(args) > position else 0


def _conv2d_grad_input(op, args):
    g = train.ConvGeometry.of(op)
    return [fx.conv2d_grad_input(
        args[0], args[1], w_scales=qx.weight_scales(op, op.operands[1]),
        e_dy=_exponent(op.operands[0]), e_dx=_exponent(op.results[0]),
        input_shape=train.shape_of(op.results[0]), stride=g.stride, padding=g.padding,
        dilation=g.dilation, groups=g.groups)]


def _avg_pool2d_grad(op, args):
    g = train.PoolGeometry.of(op)
    return [fx.avg_pool2d_grad(
        args[0], e_dy=_exponent(op.operands[0]), e_dx=_exponent(op.results[0]),
        input_shape=train.shape_of(op.results[0]), kernel=g.kernel, stride=g.stride,
        padding=g.padding, count_include_pad="count_include_pad" in op.attributes)]


def _grad_scale(value: ir.Value) -> float:
    return _element(value).scale


def _qsgd(op, args):
    element = _element(op.operands[0])
    updated = fx.qsgd(args[0], args[1], grad_scale=_grad_scale(op.operands[1]),
                      shift=_shift(op, args, 2), **qx.hyperparameters(op),
                      **qx.update_quantization(op, element))
    return [updated]


def _conv2d_qsgd(op, args):
    g = train.ConvGeometry.of(op)
    x = qx.per_tensor(op, op.operands[2], "input")
    quantization = qx.update_quantization(op, _element(op.operands[0]))
    return [fx.conv2d_qsgd(
        args[0], args[1], args[2], x_zero_point=x.zero_point,
        gradient_shape=train.conv2d_qsgd_gradient_shape(op), stride=g.stride,
        padding=g.padding, dilation=g.dilation, groups=g.groups,
        grad_scale=x.scale * _grad_scale(op.operands[1]), shift=_shift(op, args, 3),
        **qx.hyperparameters(op), **quantization)]


def _pad_to(op, args):
    offsets = ir.DenseI64ArrayAttr(op.attributes["offsets"])
    result = np.zeros(train.shape_of(op.results[0]), dtype=np.asarray(args[0]).dtype)
    result[tuple(slice(o, o + n) for o, n in zip(offsets, args[0].shape))] = args[0]
    return [result]


def _slice(op, args):
    offsets = ir.DenseI64ArrayAttr(op.attributes["offsets"])
    sizes = ir.DenseI64ArrayAttr(op.attributes["sizes"])
    return [np.asarray(args[0])[tuple(slice(o, o + n) for o, n in zip(offsets, sizes))].copy()]


EXECUTORS: dict[str, Callable[[object, list], list]] = {
    "train.cross_entropy_grad": _cross_entropy_grad,
    "train.mask_grad": lambda op, args: [fx.mask_grad(*args)],
    "train.bias_grad": lambda op, args: [fx.bias_grad(args[0])],
    "train.add": lambda op, args: [fx.add(*args)],
    "train.conv2d_grad_input": _conv2d_grad_input,
    "train.avg_pool2d_grad": _avg_pool2d_grad,
    "train.qsgd": _qsgd,
    "train.conv2d_qsgd": _conv2d_qsgd,
    "train.reshape": lambda op, args: [np.asarray(args[0]).reshape(
        train.shape_of(op.results[0]))],
    "train.pad_to": _pad_to,
    "train.slice": _slice,
}

"""Executes the quantized ops for the reference interpreter.

`EXECUTORS` maps an op name to a function ``(op, args) -> [results]``: it reads the
quantization parameters from the MLIR types of the op's operands and result (upstream
`!quant.uniform` types: per-tensor activations, per-axis weights), the geometry and the
``rounding`` mode from its attributes, and calls the numpy semantics in
`quantized_ops` on the storage arrays. Quantized values travel as their storage arrays
(int8 for ``i8`` types); results are returned in the storage dtype of the result type.
``train.qsgd`` (the integer-domain weight update) runs `quantized_training.qsgd`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._mlir import ir
from .._mlir.dialects import quant
from ..compiler.errors import UnsupportedError, format_location
from ..dialects import train
from . import quantized_ops as qo
from . import reference_ops as ref
from . import quantized_training as qt


def _element_type(value: ir.Value) -> ir.Type:
    return ir.RankedTensorType(value.type).element_type


def _unsupported(op, message: str) -> UnsupportedError:
    return UnsupportedError(f"'{op.name}': {message}", format_location(op.location))


def per_tensor(op, value: ir.Value, what: str) -> quant.UniformQuantizedType:
    element = _element_type(value)
    if not isinstance(element, quant.UniformQuantizedType):
        raise _unsupported(op, f"the {what} must have a per-tensor !quant.uniform element "
                               f"type, got {element}")
    return element


def weight_scales(op, value: ir.Value) -> list[float]:
    """Per-output-channel scales of a weight (per-axis along dimension 0, zero points 0;
    a per-tensor type gives its one scale to every channel)."""
    element = _element_type(value)
    if isinstance(element, quant.UniformQuantizedType):
        if element.zero_point != 0:
            raise _unsupported(op, "weights must be symmetric (zero point 0)")
        return [element.scale] * ir.RankedTensorType(value.type).shape[0]
    if not isinstance(element, quant.UniformQuantizedPerAxisType):
        raise _unsupported(op, f"the weight must be a !quant.uniform tensor, got {element}")
    if element.quantized_dimension != 0:
        raise _unsupported(op, "weights must be quantized along dimension 0 (output channels), "
                               f"not {element.quantized_dimension}")
    if any(z != 0 for z in element.zero_points):
        raise _unsupported(op, "weights must be symmetric (zero points 0)")
    return list(element.scales)


def _storage_dtype(element: ir.Type) -> np.dtype:
    """The numpy dtype holding a quantized type's storage values (as the interpreter)."""
    kind = "i" if element.is_signed else "u"
    return np.dtype(f"{kind}{element.storage_type_integral_width // 8}")


def _store(result: np.ndarray, op) -> list[np.ndarray]:
    element = _element_type(op.results[0])
    return [np.asarray(result).astype(_storage_dtype(element), copy=False)]


def _rounding(op) -> str:
    rounding = train.rounding_of(op)
    if rounding not in qo.ROUNDINGS:
        raise _unsupported(op, f"unknown rounding '{rounding}'")
    return rounding


def _range(t: quant.UniformQuantizedType) -> dict:
    return dict(qmin=t.storage_type_min, qmax=t.storage_type_max)


def _qconv2d(op, args):
    x, y = per_tensor(op, op.operands[0], "input"), per_tensor(op, op.results[0], "result")
    g = train.ConvGeometry.of(op)
    bias = args[2] if len(args) > 2 else None
    return _store(qo.qconv2d(
        args[0], args[1], bias, x_scale=x.scale, x_zp=x.zero_point,
        w_scales=weight_scales(op, op.operands[1]), y_scale=y.scale, y_zp=y.zero_point,
        **_range(y), stride=g.stride, padding=g.padding, dilation=g.dilation,
        groups=g.groups, rounding=_rounding(op)), op)


def _type_attr(op, name: str, what: str) -> quant.UniformQuantizedType:
    element = ir.TypeAttr(op.attributes[name]).value
    if not isinstance(element, quant.UniformQuantizedType):
        raise _unsupported(op, f"the {what} type must be a per-tensor !quant.uniform, "
                               f"got {element}")
    return element


def _qbottleneck(op, args):
    """train.qbottleneck: exactly qconv2d(expand) -> qconv2d(depthwise) ->
    qconv2d(1x1 project), each requantized to its type with the op's rounding."""
    g = train.BottleneckGeometry.of(op)
    parts = train.qbottleneck_operands(op)
    rounding = _rounding(op)
    values = dict(zip(op.operands, args))
    stages = []
    if parts["expand"] is not None:
        stages.append((parts["expand"], _type_attr(op, "expand_type", "expand"),
                       dict(stride=g.expand_stride, padding=g.expand_padding, groups=1)))
    stages.append((parts["depthwise"], _type_attr(op, "depthwise_type", "depthwise"),
                   dict(stride=g.stride, padding=g.padding, groups=g.e)))
    stages.append((parts["project"], per_tensor(op, op.results[0], "result"),
                   dict(stride=(1, 1), padding=(0, 0), groups=1)))
    x, x_type = args[0], per_tensor(op, op.operands[0], "input")
    for (weight, bias), y_type, geometry in stages:
        x = qo.qconv2d(
            x, values[weight], values[bias], x_scale=x_type.scale, x_zp=x_type.zero_point,
            w_scales=weight_scales(op, weight), y_scale=y_type.scale,
            y_zp=y_type.zero_point, **_range(y_type), dilation=(1, 1),
            rounding=rounding, **geometry).astype(np.int8)
        x_type = y_type
    return _store(x, op)


def _qlinear(op, args):
    x, y = per_tensor(op, op.operands[0], "input"), per_tensor(op, op.results[0], "result")
    bias = args[2] if len(args) > 2 else None
    return _store(qo.qlinear(
        args[0], args[1], bias, x_scale=x.scale, x_zp=x.zero_point,
        w_scales=weight_scales(op, op.operands[1]), y_scale=y.scale, y_zp=y.zero_point,
        **_range(y), rounding=_rounding(op)), op)


def _qadd(op, args):
    a = per_tensor(op, op.operands[0], "lhs")
    b = per_tensor(op, op.operands[1], "rhs")
    y = per_tensor(op, op.results[0], "result")
    return _store(qo.qadd(
        args[0], args[1], a_scale=a.scale, a_zp=a.zero_point, b_scale=b.scale,
        b_zp=b.zero_point, y_scale=y.scale, y_zp=y.zero_point, **_range(y),
        rounding=_rounding(op)), op)


def _qavg_pool2d(op, args):
    x = per_tensor(op, op.operands[0], "input")
    y = per_tensor(op, op.results[0], "result")
    g = train.PoolGeometry.of(op)
    return _store(qo.qavg_pool2d(
        args[0], kernel=g.kernel, stride=g.stride, padding=g.padding,
        count_include_pad="count_include_pad" in op.attributes, **_range(y),
        rounding=_rounding(op), zp=x.zero_point), op)


def _qglobal_avg_pool(op, args):
    per_tensor(op, op.operands[0], "input")
    y = per_tensor(op, op.results[0], "result")
    return _store(qo.qglobal_avg_pool(args[0], **_range(y), rounding=_rounding(op)), op)


def _quant_params(op, element: ir.Type) -> dict:
    """scale / zp (and axis) of a per-tensor or per-axis uniform type."""
    if isinstance(element, quant.UniformQuantizedType):
        return dict(scale=element.scale, zp=element.zero_point)
    if isinstance(element, quant.UniformQuantizedPerAxisType):
        return dict(scale=list(element.scales), zp=list(element.zero_points),
                    axis=element.quantized_dimension)
    raise _unsupported(op, f"unsupported quantized type {element}")


def _qcast(op, args):
    """quant.qcast: f32 -> !quant, clamp(rne(x / s) + z) in float64."""
    element = _element_type(op.results[0])
    q = qo.quantize(args[0], **_quant_params(op, element), qmin=element.storage_type_min,
                    qmax=element.storage_type_max)
    return _store(q, op)


def _dcast(op, args):
    """quant.dcast: !quant -> float, (q - z) · s in float64 rounded once to the result type."""
    element = _element_type(op.operands[0])
    dtype = np.float64 if str(_element_type(op.results[0])) == "f64" else np.float32
    return [qo.dequantize(args[0], **_quant_params(op, element), dtype=dtype)]


def _scast(op, args):
    """quant.scast: between a quantized type and its storage integer type (same values)."""
    element = _element_type(op.results[0])
    if isinstance(element, quant.QuantizedType):
        return [np.asarray(args[0]).astype(_storage_dtype(element), copy=False)]
    width = ir.IntegerType(element).width
    return [np.asarray(args[0]).astype(np.dtype(f"i{width // 8}"), copy=False)]


def _qsgd(op, args):
    """train.qsgd: integer-domain SGD step on an int8 weight or an int32 bias
    (`quantized_training.qsgd`). A quantized parameter takes its scales, zero points
    and channel axis from its type; an int32 bias its per-channel `scales` attribute
    (s_x · s_w[c]) along axis 0."""
    element = _element_type(op.operands[0])
    quantization = update_quantization(op, element)
    updated = qt.qsgd(args[0], args[1], **hyperparameters(op), **quantization)
    if isinstance(element, quant.QuantizedType):
        return _store(updated, op)
    return [updated.astype(np.dtype(f"i{ir.IntegerType(element).width // 8}"), copy=False)]


def update_quantization(op, element) -> dict:
    """qsgd's scales, zero points, axis and storage range for the parameter of an
    optimizer op: an int8 weight's from its type, an int32 bias's from `scales` (its
    bias scale s_x · s_w[c] per output channel, axis 0, zero points 0)."""
    if isinstance(element, quant.QuantizedType):
        return _weight_quantization(op, element)
    if "scales" not in op.attributes:
        raise _unsupported(op, "an integer parameter needs `scales` (the bias scale "
                               "of each output channel)")
    width = ir.IntegerType(element).width
    return dict(scales=list(ir.DenseF64ArrayAttr(op.attributes["scales"])), zero_points=0,
                axis=0, qmin=-(1 << (width - 1)), qmax=(1 << (width - 1)) - 1)


def hyperparameters(op) -> dict:
    """lr, weight_decay and qas of an optimizer op."""
    attrs = op.attributes
    return dict(lr=ir.FloatAttr(attrs["lr"]).value, qas="qas" in attrs,
                weight_decay=ir.FloatAttr(attrs["weight_decay"]).value
                if "weight_decay" in attrs else 0.0)


def _weight_quantization(op, element) -> dict:
    """The scales, zero points, channel axis and storage range of an int8 parameter."""
    params = _quant_params(op, element)
    return dict(scales=params["scale"], zero_points=params["zp"], axis=params.get("axis", 0),
                qmin=element.storage_type_min, qmax=element.storage_type_max)


def _conv2d_qsgd(op, args):
    """train.conv2d_qsgd: the reference weight gradient of the weight's first channels,
    then train.qsgd of that part of the weight; its other channels keep their values.
    An int8 input is read as quant.dcast gives it (to dy's float type)."""
    return _store(_update_conv_weight(op, op.operands[0], op.operands[2], *args,
                                      train.conv2d_qsgd_gradient_shape(op),
                                      train.ConvGeometry.of(op)), op)


def _bottleneck_grad(op, args):
    """train.bottleneck_grad: the ops it fuses, in their order (TrainOps.td)."""
    dy, project, depthwise, depthwise_mask, expand, expand_mask = args[:6]
    g = train.bottleneck_grad_depthwise(op)
    n, _, h, w = train.shape_of(op.results[0])
    e = train.shape_of(op.operands[4])[0]
    g2 = ref.mask_grad(ref.conv2d_grad_input(dy, project, input_shape=[n, e, *dy.shape[2:]]),
                       depthwise_mask)
    g1 = ref.mask_grad(ref.conv2d_grad_input(g2, depthwise, input_shape=[n, e, h, w],
                                             stride=g.stride, padding=g.padding,
                                             groups=g.groups), expand_mask)
    dx = ref.conv2d_grad_input(g1, expand, input_shape=train.shape_of(op.results[0]))
    results = [dx, ref.bias_grad(g2), ref.bias_grad(g1)]
    if len(op.results) == 4:
        shape = (e, train.shape_of(op.operands[7])[1], 1, 1)
        updated = _update_conv_weight(op, op.operands[6], op.operands[7], args[6], g1,
                                      args[7], shape, train.ConvGeometry())
        results.append(np.asarray(updated).astype(
            _storage_dtype(_element_type(op.results[3])), copy=False))
    return results


def _update_conv_weight(op, param: ir.Value, input: ir.Value, weight, dy, x, shape,
                        g: train.ConvGeometry) -> np.ndarray:
    """`weight` (the int8 `param`) with its first channels (`shape`) updated by train.qsgd
    with the conv weight gradient of (dy, x); an int8 x is read as quant.dcast gives it
    (to dy's float type)."""
    element = _element_type(input)
    if isinstance(element, quant.QuantizedType):
        dtype = np.float64 if dy.dtype == np.float64 else np.float32
        x = qo.dequantize(x, **_quant_params(op, element), dtype=dtype)
    grad = ref.conv2d_grad_weight(dy, x, weight_shape=shape, stride=g.stride,
                                  padding=g.padding, dilation=g.dilation, groups=g.groups)
    quantization = _weight_quantization(op, _element_type(param))
    axis = quantization["axis"]
    for key in ("scales", "zero_points"):
        if isinstance(quantization[key], list):      # per channel: the part's channels
            quantization[key] = quantization[key][:shape[axis]]
    part = tuple(slice(0, n) for n in shape)
    updated = np.array(weight, copy=True)
    updated[part] = qt.qsgd(updated[part], grad, **hyperparameters(op), **quantization)
    return updated


def _clamp_mask(op, args):
    """train.clamp_mask: of an int8 tensor, the mask of its real values as quant.dcast
    rounds them (of a float tensor, the reference op)."""
    attrs = op.attributes
    bounds = dict(min=ir.FloatAttr(attrs["min"]).value, max=ir.FloatAttr(attrs["max"]).value)
    element = _element_type(op.operands[0])
    x = args[0]
    if isinstance(element, quant.QuantizedType):
        x = qo.dequantize(x, **_quant_params(op, element))
    return [ref.clamp_mask(x, **bounds)]


EXECUTORS: dict[str, Callable[[object, list], list]] = {
    "train.clamp_mask": _clamp_mask,
    "train.qconv2d": _qconv2d,
    "train.qbottleneck": _qbottleneck,
    "train.qlinear": _qlinear,
    "train.qadd": _qadd,
    "train.qavg_pool2d": _qavg_pool2d,
    "train.qglobal_avg_pool": _qglobal_avg_pool,
    "quant.qcast": _qcast,
    "quant.dcast": _dcast,
    "quant.scast": _scast,
    "train.qsgd": _qsgd,
    "train.conv2d_qsgd": _conv2d_qsgd,
    "train.bottleneck_grad": _bottleneck_grad,
}

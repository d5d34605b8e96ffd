"""Python side of the train dialect: the generated op classes plus builders
that infer result types, and helpers for parameter roles and names."""

from __future__ import annotations

from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects._train_ops_gen import *  # noqa: F401,F403 (the op classes)
from .._mlir.dialects import _train_ops_gen as _gen

ROLE = "train.role"
NAME = "train.name"
UPDATES = "train.updates"
ROLES = ("frozen", "trainable")


def _tensor(shape, like: ir.Value) -> ir.RankedTensorType:
    return ir.RankedTensorType.get(list(shape), ir.RankedTensorType(like.type).element_type)


def shape_of(value: ir.Value) -> list[int]:
    """Static shape of a ranked-tensor value."""
    return list(ir.RankedTensorType(value.type).shape)


@dataclass(frozen=True)
class ConvGeometry:
    """Stride, padding, dilation and groups of a convolution (2 values each)."""

    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    @staticmethod
    def of(op: ir.OpView) -> "ConvGeometry":
        attrs = op.operation.attributes
        return ConvGeometry(
            stride=tuple(ir.DenseI64ArrayAttr(attrs["stride"])),
            padding=tuple(ir.DenseI64ArrayAttr(attrs["padding"])),
            dilation=tuple(ir.DenseI64ArrayAttr(attrs["dilation"])),
            groups=ir.IntegerAttr(attrs["groups"]).value,
        )

    def kwargs(self) -> dict:
        return dict(stride=list(self.stride), padding=list(self.padding),
                    dilation=list(self.dilation), groups=self.groups)

    def output_size(self, size: int, kernel: int, axis: int) -> int:
        """Output extent of one spatial axis (0 = height, 1 = width)."""
        span = self.dilation[axis] * (kernel - 1) + 1
        return (size + 2 * self.padding[axis] - span) // self.stride[axis] + 1


# Builders that infer result types. Keyword arguments follow the op's operands;
# `loc` and `ip` work as everywhere in the MLIR Python API.

def linear(input, weight, bias=None, *, loc=None, ip=None) -> ir.Value:
    """y = x · Wᵀ + b."""
    result = _tensor([shape_of(input)[0], shape_of(weight)[0]], input)
    return _gen.linear(result, input, weight, bias=bias, loc=loc, ip=ip)


def conv2d(input, weight, bias=None, *, geometry: ConvGeometry = ConvGeometry(),
           loc=None, ip=None) -> ir.Value:
    """NCHW × OIHW convolution."""
    n, _, h, w = shape_of(input)
    o, _, kh, kw = shape_of(weight)
    result = _tensor([n, o, geometry.output_size(h, kh, 0),
                      geometry.output_size(w, kw, 1)], input)
    return _gen.conv2d(result, input, weight, bias=bias, **geometry.kwargs(), loc=loc, ip=ip)


def reshape(input, shape, *, loc=None, ip=None) -> ir.Value:
    return _gen.reshape(_tensor(shape, input), input, loc=loc, ip=ip)


def cross_entropy(logits, labels, *, loc=None, ip=None) -> ir.Value:
    """Mean softmax cross-entropy, a 0-d tensor."""
    return _gen.cross_entropy(_tensor([], logits), logits, labels, loc=loc, ip=ip)


def cross_entropy_grad(logits, labels, *, loc=None, ip=None) -> ir.Value:
    return _gen.cross_entropy_grad(logits.type, logits, labels, loc=loc, ip=ip)


def linear_grad_input(grad_output, weight, *, loc=None, ip=None) -> ir.Value:
    result = _tensor([shape_of(grad_output)[0], shape_of(weight)[1]], grad_output)
    return _gen.linear_grad_input(result, grad_output, weight, loc=loc, ip=ip)


def linear_grad_weight(grad_output, input, *, loc=None, ip=None) -> ir.Value:
    result = _tensor([shape_of(grad_output)[1], shape_of(input)[1]], grad_output)
    return _gen.linear_grad_weight(result, grad_output, input, loc=loc, ip=ip)


def bias_grad(grad_output, *, loc=None, ip=None) -> ir.Value:
    result = _tensor([shape_of(grad_output)[1]], grad_output)
    return _gen.bias_grad(result, grad_output, loc=loc, ip=ip)


def conv2d_grad_input(grad_output, weight, input_type, *, geometry: ConvGeometry,
                      loc=None, ip=None) -> ir.Value:
    return _gen.conv2d_grad_input(input_type, grad_output, weight, **geometry.kwargs(),
                                  loc=loc, ip=ip)


def conv2d_grad_weight(grad_output, input, weight_type, *, geometry: ConvGeometry,
                       loc=None, ip=None) -> ir.Value:
    return _gen.conv2d_grad_weight(weight_type, grad_output, input, **geometry.kwargs(),
                                   loc=loc, ip=ip)


def sgd(param, grad, *, lr: float, weight_decay: float = 0.0, loc=None, ip=None) -> ir.Value:
    """p' = p - lr · (g + weight_decay · p)."""
    f32 = ir.F32Type.get()
    return _gen.sgd(param, grad, ir.FloatAttr.get(f32, lr),
                    weight_decay=ir.FloatAttr.get(f32, weight_decay), loc=loc, ip=ip)


# Parameter roles and names.

def role_attr(role: str) -> ir.Attribute:
    """`#train.role<frozen|trainable>`."""
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}' (expected one of {', '.join(ROLES)})")
    return ir.Attribute.parse(f"#train.role<{role}>")


def _arg_attrs(func, index: int) -> ir.DictAttr | None:
    attrs = func.attributes["arg_attrs"] if "arg_attrs" in func.attributes else None
    return ir.DictAttr(ir.ArrayAttr(attrs)[index]) if attrs is not None else None


def arg_role(func, index: int) -> str | None:
    """The role of argument `index`, or None for a data input."""
    attrs = _arg_attrs(func, index)
    if attrs is None or ROLE not in attrs:
        return None
    text = str(attrs[ROLE])  # "#train.role<trainable>"
    return text[text.index("<") + 1:-1]


def arg_name(func, index: int) -> str:
    """The `train.name` of argument `index`, or `arg<index>`."""
    attrs = _arg_attrs(func, index)
    if attrs is not None and NAME in attrs:
        return ir.StringAttr(attrs[NAME]).value
    return f"arg{index}"


def result_attrs(func, index: int) -> ir.DictAttr | None:
    attrs = func.attributes["res_attrs"] if "res_attrs" in func.attributes else None
    return ir.DictAttr(ir.ArrayAttr(attrs)[index]) if attrs is not None else None


def result_name(func, index: int) -> str:
    """The `train.name` of result `index`, or `result<index>`."""
    attrs = result_attrs(func, index)
    if attrs is not None and NAME in attrs:
        return ir.StringAttr(attrs[NAME]).value
    return f"result{index}"


def updated_arg(func, index: int) -> int | None:
    """The argument index result `index` updates (`train.updates`), if any."""
    attrs = result_attrs(func, index)
    if attrs is not None and UPDATES in attrs:
        return ir.IntegerAttr(attrs[UPDATES]).value
    return None

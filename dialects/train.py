"""Python side of the train dialect: the generated op classes plus builders
that infer result types, and helpers for parameter roles and names."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects._train_ops_gen import *  # noqa: F401,F403 (the op classes)
from .._mlir.dialects import _train_ops_gen as _gen

ROLE = "train.role"
NAME = "train.name"
UPDATES = "train.updates"
CHANNELS = "train.channels"  # argument: only the first k channels are trained
MOMENTUM_OF = "train.momentum_of"  # argument: momentum buffer of parameter #i
WEIGHTS = "train.weights"  # module attribute: the NPZ file of the parameters
IN_PLACE = "train.in_place"  # op: its result may take over operand 0's storage
STREAMED = "train.streamed"  # qbottleneck: its rows are computed as its one reader reads them
ROLES = ("frozen", "trainable")
ROUNDINGS = ("float_scale", "multiplier_shift")


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

    def pointwise(self, kernel) -> bool:
        """A 1x1 conv (kernel (KH, KW)) that is a matrix product per image: stride 1, no
        padding, groups 1 (dilation does not matter for one tap; tcc_is_pointwise)."""
        return tuple(kernel) == (1, 1) and self.stride == (1, 1) and \
            self.padding == (0, 0) and self.groups == 1

    def output_size(self, size: int, kernel: int, axis: int) -> int:
        """Output extent of one spatial axis (0 = height, 1 = width)."""
        span = self.dilation[axis] * (kernel - 1) + 1
        return (size + 2 * self.padding[axis] - span) // self.stride[axis] + 1


@dataclass(frozen=True)
class PoolGeometry:
    """Kernel, stride and padding of a 2-D pooling op (2 values each)."""

    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    @staticmethod
    def of(op: ir.OpView) -> "PoolGeometry":
        attrs = op.operation.attributes
        return PoolGeometry(
            kernel=tuple(ir.DenseI64ArrayAttr(attrs["kernel"])),
            stride=tuple(ir.DenseI64ArrayAttr(attrs["stride"])),
            padding=tuple(ir.DenseI64ArrayAttr(attrs["padding"])),
        )

    @staticmethod
    def make(kernel, stride=None, padding=(0, 0)) -> "PoolGeometry":
        """stride=None means the kernel size (PyTorch's default)."""
        kernel = _pair(kernel)
        return PoolGeometry(kernel, _pair(kernel if stride is None else stride),
                            _pair(padding))

    def kwargs(self) -> dict:
        return dict(kernel=list(self.kernel), stride=list(self.stride),
                    padding=list(self.padding))

    def output_shape(self, input_shape) -> list[int]:
        """NCHW result shape (floor mode)."""
        n, c, h, w = input_shape
        return [n, c] + [(size + 2 * self.padding[i] - self.kernel[i]) // self.stride[i] + 1
                         for i, size in enumerate((h, w))]


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"expected 2 values, got {list(value)}")
    return value


def _f32(value: float) -> ir.FloatAttr:
    return ir.FloatAttr.get(ir.F32Type.get(), float(value))


def _i64(value: int) -> ir.IntegerAttr:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(value))


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
    return _gen.cross_entropy_grad(logits.type, None, logits, labels, loc=loc, ip=ip)


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


def matmul(a, b, *, loc=None, ip=None) -> ir.Value:
    """Batched matrix product: [..., M, K] × [..., K, N] -> [..., M, N]."""
    result = _tensor(shape_of(a)[:-1] + shape_of(b)[-1:], a)
    return _gen.matmul(result, a, b, loc=loc, ip=ip)


def mul(a, b, *, loc=None, ip=None) -> ir.Value:
    """Element-wise product of two tensors of the same type."""
    return _gen.mul(a, b, loc=loc, ip=ip)


def broadcast(input, shape, *, loc=None, ip=None) -> ir.Value:
    """numpy-style broadcast of `input` to `shape`."""
    return _gen.broadcast(_tensor(shape, input), input, loc=loc, ip=ip)


def clamp(input, lo: float, hi: float, *, loc=None, ip=None) -> ir.Value:
    """min(max(x, lo), hi); real-valued bounds also on quantized tensors."""
    return _gen.clamp(input, _f32(lo), _f32(hi), loc=loc, ip=ip)


def hardswish(input, *, loc=None, ip=None) -> ir.Value:
    return _gen.hardswish(input, loc=loc, ip=ip)


def sigmoid(input, *, loc=None, ip=None) -> ir.Value:
    return _gen.sigmoid(input, loc=loc, ip=ip)


def gelu(input, tanh: bool = False, *, loc=None, ip=None) -> ir.Value:
    """Exact (erf) GELU, or its tanh approximation."""
    return _gen.gelu(input, tanh=ir.UnitAttr.get() if tanh else None, loc=loc, ip=ip)


def _pool(build, input, geometry: PoolGeometry, result_element=None, **kwargs):
    shape = geometry.output_shape(shape_of(input))
    element = result_element or ir.RankedTensorType(input.type).element_type
    return build(ir.RankedTensorType.get(shape, element), input, **geometry.kwargs(), **kwargs)


def avg_pool2d(input, kernel, stride=None, padding=(0, 0), count_include_pad: bool = True,
               *, loc=None, ip=None) -> ir.Value:
    """Average pooling; stride=None means the kernel size."""
    return _pool(_gen.avg_pool2d, input, PoolGeometry.make(kernel, stride, padding),
                 count_include_pad=ir.UnitAttr.get() if count_include_pad else None,
                 loc=loc, ip=ip)


def max_pool2d(input, kernel, stride=None, padding=(0, 0), *, loc=None, ip=None) -> ir.Value:
    """Max pooling; stride=None means the kernel size."""
    return _pool(_gen.max_pool2d, input, PoolGeometry.make(kernel, stride, padding),
                 loc=loc, ip=ip)


def global_avg_pool(input, *, loc=None, ip=None) -> ir.Value:
    """NxCxHxW -> NxCx1x1."""
    n, c = shape_of(input)[:2]
    return _gen.global_avg_pool(_tensor([n, c, 1, 1], input), input, loc=loc, ip=ip)


def concat(values, axis: int, *, loc=None, ip=None) -> ir.Value:
    """Concatenation along `axis` (0 <= axis < rank)."""
    values = list(values)
    shape = shape_of(values[0])
    shape[axis] = sum(shape_of(v)[axis] for v in values)
    return _gen.concat(_tensor(shape, values[0]), values, _i64(axis), loc=loc, ip=ip)


def transpose(input, perm, *, loc=None, ip=None) -> ir.Value:
    """Result dim i is input dim perm[i]."""
    shape = shape_of(input)
    perm = [int(p) for p in perm]
    return _gen.transpose(_tensor([shape[p] for p in perm], input), input, perm,
                          loc=loc, ip=ip)


def batch_norm(input, gamma, beta, mean, var, epsilon: float, *, loc=None, ip=None) -> ir.Value:
    """Inference batch normalization over axis 1."""
    return _gen.batch_norm(input.type, input, gamma, beta, mean, var, _f32(epsilon),
                           loc=loc, ip=ip)


def softmax(input, axis: int, *, loc=None, ip=None) -> ir.Value:
    return _gen.softmax(input, _i64(axis), loc=loc, ip=ip)


def layer_norm(input, weight, bias, epsilon: float, *, loc=None, ip=None) -> ir.Value:
    """Layer normalization over the trailing rank(weight) dims of `input`."""
    return _gen.layer_norm(input.type, input, weight, bias, _f32(epsilon), loc=loc, ip=ip)


def mse(pred, target, *, loc=None, ip=None) -> ir.Value:
    """Mean squared error, a 0-d tensor."""
    return _gen.mse(_tensor([], pred), pred, target, loc=loc, ip=ip)


# Gradient ops. Pool gradients take the forward input's type (avg_pool2d_grad)
# or the forward input itself (max_pool2d_grad); `kernel` may be a whole
# PoolGeometry (then stride and padding are not given).

def _geometry(kernel, stride, padding) -> PoolGeometry:
    if isinstance(kernel, PoolGeometry):
        if stride is not None or tuple(padding) != (0, 0):
            raise ValueError("give either a PoolGeometry or kernel/stride/padding")
        return kernel
    return PoolGeometry.make(kernel, stride, padding)


def _type(type_or_value) -> ir.Type:
    if isinstance(type_or_value, str):
        return ir.Type.parse(type_or_value)
    if isinstance(type_or_value, ir.Value):
        return type_or_value.type
    return type_or_value


def sum_to(input, shape, *, loc=None, ip=None) -> ir.Value:
    """Sums `input` down to `shape`, which broadcasts to it (adjoint of broadcast)."""
    return _gen.sum_to(_tensor(shape, input), input, loc=loc, ip=ip)


def slice(input, offsets, sizes, *, loc=None, ip=None) -> ir.Value:  # noqa: A001
    """input[offsets : offsets + sizes] (stride 1); the result shape is `sizes`."""
    sizes = [int(v) for v in sizes]
    return _gen.slice(_tensor(sizes, input), input, [int(v) for v in offsets], sizes,
                      loc=loc, ip=ip)


def pad_to(input, offsets, shape, *, loc=None, ip=None) -> ir.Value:
    """Zeros of `shape` with `input` placed at `offsets` (adjoint of slice)."""
    return _gen.pad_to(_tensor(shape, input), input, [int(v) for v in offsets],
                       loc=loc, ip=ip)


def avg_pool2d_grad(grad_output, input_type, kernel, stride=None, padding=(0, 0),
                    count_include_pad: bool = True, *, loc=None, ip=None) -> ir.Value:
    """dx of avg_pool2d; `input_type` is the forward input's type (or a value of it)."""
    return _gen.avg_pool2d_grad(
        _type(input_type), grad_output, **_geometry(kernel, stride, padding).kwargs(),
        count_include_pad=ir.UnitAttr.get() if count_include_pad else None, loc=loc, ip=ip)


def max_pool2d_grad(grad_output, input, kernel, stride=None, padding=(0, 0), *,
                    loc=None, ip=None) -> ir.Value:
    """dx of max_pool2d from dy and the forward input (first maximum of each window)."""
    return _gen.max_pool2d_grad(input.type, grad_output, input,
                                **_geometry(kernel, stride, padding).kwargs(),
                                loc=loc, ip=ip)


def clamp_grad(grad_output, input, lo: float, hi: float, *, loc=None, ip=None) -> ir.Value:
    """dy where lo < x < hi, else 0."""
    return _gen.clamp_grad(grad_output, input, _f32(lo), _f32(hi), loc=loc, ip=ip)


def clamp_mask(input, lo: float, hi: float, *, loc=None, ip=None) -> ir.Value:
    """The 1-bit mask [lo < x < hi] of `input`, eight elements a byte (tensor<Nxi8>)."""
    count = math.prod(shape_of(input))
    result = ir.RankedTensorType.get([(count + 7) // 8], ir.IntegerType.get_signless(8))
    return _gen.clamp_mask(result, input, _f32(lo), _f32(hi), loc=loc, ip=ip)


def mask_grad(grad_output, mask, *, loc=None, ip=None) -> ir.Value:
    """dy where the bit of a clamp_mask is 1, else 0."""
    return _gen.mask_grad(grad_output, mask, loc=loc, ip=ip)


def sigmoid_grad(grad_output, output, *, loc=None, ip=None) -> ir.Value:
    """dy · y · (1 - y) from the forward output y."""
    return _gen.sigmoid_grad(grad_output, output, loc=loc, ip=ip)


def hardswish_grad(grad_output, input, *, loc=None, ip=None) -> ir.Value:
    return _gen.hardswish_grad(grad_output, input, loc=loc, ip=ip)


def gelu_grad(grad_output, input, tanh: bool = False, *, loc=None, ip=None) -> ir.Value:
    return _gen.gelu_grad(grad_output, input, tanh=ir.UnitAttr.get() if tanh else None,
                          loc=loc, ip=ip)


def softmax_grad(grad_output, output, axis: int, *, loc=None, ip=None) -> ir.Value:
    """y · (dy - Σ_axis dy · y) from the forward output y."""
    return _gen.softmax_grad(grad_output, output, _i64(axis), loc=loc, ip=ip)


def layer_norm_grad_input(grad_output, input, weight, epsilon: float, *, loc=None,
                          ip=None) -> ir.Value:
    return _gen.layer_norm_grad_input(input.type, grad_output, input, weight,
                                      _f32(epsilon), loc=loc, ip=ip)


def mse_grad(pred, target, *, loc=None, ip=None) -> ir.Value:
    """2 (pred - target) / numel."""
    return _gen.mse_grad(pred.type, pred, target, loc=loc, ip=ip)


def sgd_momentum(param, grad, momentum_buffer, *, lr: float, momentum: float,
                 weight_decay: float = 0.0, loc=None, ip=None) -> tuple[ir.Value, ir.Value]:
    """m' = momentum · m + (g + wd · p); p' = p - lr · m'. Returns (p', m')."""
    results = _gen.sgd_momentum(param, grad, momentum_buffer, _f32(lr), _f32(momentum),
                                weight_decay=_f32(weight_decay), loc=loc, ip=ip)
    return results[0], results[1]


def qsgd(param, grad, *, lr: float, weight_decay: float = 0.0, scales=None,
         qas: bool = False, loc=None, ip=None) -> ir.Value:
    """Integer-domain SGD step of an int8 weight, or of an int32 bias (`scales`:
    its bias scale s_x · s_w[c] per element); `qas` scales the gradient by s⁻²."""
    return _gen.qsgd(param.type, param, grad, _f32(lr), weight_decay=_f32(weight_decay),
                     scales=None if scales is None else [float(v) for v in scales],
                     qas=ir.UnitAttr.get() if qas else None, loc=loc, ip=ip)


def conv2d_qsgd(param, grad_output, input, *, geometry: ConvGeometry, lr: float,
                weight_decay: float = 0.0, qas: bool = False, loc=None, ip=None) -> ir.Value:
    """qsgd of an int8 conv weight with the weight gradient of (dy, x), computed and
    used element by element; a gradient of fewer channels updates the first ones."""
    return _gen.conv2d_qsgd(param.type, param, grad_output, input, **geometry.kwargs(),
                            lr=_f32(lr), weight_decay=_f32(weight_decay),
                            qas=ir.UnitAttr.get() if qas else None, loc=loc, ip=ip)


def bottleneck_grad(grad_output, project_weight, depthwise_weight, depthwise_mask,
                    expand_weight, expand_mask, grad_input_type, *, stride=(1, 1),
                    padding=(0, 0), update=None, lr: float | None = None,
                    weight_decay: float = 0.0, qas: bool = False, loc=None,
                    ip=None) -> list[ir.Value]:
    """The backward of an inverted bottleneck a few expanded channels at a time:
    [dx, depthwise bias gradient, expand bias gradient] and, with `update` =
    (param, x), the int8 expansion weight updated by the gradient of (g1, x)."""
    channels = shape_of(expand_weight)[0]
    bias = ir.RankedTensorType.get([channels], ir.F32Type.get())
    param, x = update if update is not None else (None, None)
    op = _gen.BottleneckGradOp(
        grad_input_type, bias, bias, param.type if param is not None else None, grad_output,
        project_weight, depthwise_weight, depthwise_mask, expand_weight, expand_mask,
        param=param, input=x, stride=list(stride),
        padding=list(padding), lr=_f32(lr) if lr is not None else None,
        weight_decay=_f32(weight_decay), qas=ir.UnitAttr.get() if qas else None,
        loc=loc, ip=ip)
    return list(op.results)


def bottleneck_grad_depthwise(op) -> ConvGeometry:
    """The geometry of a train.bottleneck_grad's depthwise conv (groups: its channels)."""
    attrs = op.operation.attributes
    return ConvGeometry(stride=tuple(ir.DenseI64ArrayAttr(attrs["stride"])),
                        padding=tuple(ir.DenseI64ArrayAttr(attrs["padding"])),
                        groups=shape_of(op.operands[2])[0])


def conv2d_qsgd_gradient_shape(op) -> tuple[int, ...]:
    """The shape of the weight gradient a train.conv2d_qsgd computes."""
    weight = shape_of(op.operands[0])
    groups = ir.IntegerAttr(op.attributes["groups"]).value
    return (shape_of(op.operands[1])[1], shape_of(op.operands[2])[1] // groups,
            weight[2], weight[3])


# Quantized (int8) ops. `rounding` is "float_scale" or "multiplier_shift" (or a
# #train<rounding ...> attribute); quantized result types are given explicitly,
# either as a whole tensor type or as the element type alone (the shape is
# then inferred).

def rounding_attr(rounding) -> ir.Attribute:
    """`#train<rounding float_scale|multiplier_shift>`."""
    if isinstance(rounding, ir.Attribute):
        return rounding
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding '{rounding}' "
                         f"(expected one of {', '.join(ROUNDINGS)})")
    return ir.Attribute.parse(f"#train<rounding {rounding}>")


def rounding_of(op) -> str:
    """The `rounding` of a quantized op: "float_scale" or "multiplier_shift"."""
    operation = getattr(op, "operation", op)
    text = str(operation.attributes["rounding"])  # "#train<rounding float_scale>"
    return text[text.rindex(" ") + 1:-1]


def _result_type(result_type, shape) -> ir.RankedTensorType:
    if isinstance(result_type, str):
        result_type = ir.Type.parse(result_type)
    try:
        return ir.RankedTensorType(result_type)
    except ValueError:  # an element type
        return ir.RankedTensorType.get(list(shape), result_type)


def qconv2d(input, weight, bias, result_type, *, geometry: ConvGeometry = ConvGeometry(),
            rounding, loc=None, ip=None) -> ir.Value:
    """int8 NCHW × OIHW convolution, per-channel weights, int32 bias (or None)."""
    n, _, h, w = shape_of(input)
    o, _, kh, kw = shape_of(weight)
    shape = [n, o, geometry.output_size(h, kh, 0), geometry.output_size(w, kw, 1)]
    return _gen.qconv2d(_result_type(result_type, shape), input, weight,
                        rounding_attr(rounding), bias=bias, **geometry.kwargs(),
                        loc=loc, ip=ip)


def qbottleneck(input, expand, depthwise, project, result_type, *, depthwise_type,
                expand_type=None, expand_stride=(1, 1), expand_padding=(0, 0),
                stride=(1, 1), padding=(0, 0), rounding, loc=None, ip=None) -> ir.Value:
    """Fused int8 inverted bottleneck; `expand` (or None), `depthwise` and `project`
    are (weight, bias) pairs, the intermediate types per-tensor quantized elements; a
    KxK expansion (a first conv) has its own stride and padding."""
    n, _, h, w = shape_of(input)
    extra = {}
    if expand is not None:
        ekh, ekw = shape_of(expand[0])[2:]
        ge = ConvGeometry(stride=tuple(expand_stride), padding=tuple(expand_padding))
        h, w = ge.output_size(h, ekh, 0), ge.output_size(w, ekw, 1)
        extra = dict(expand_weight=expand[0], expand_bias=expand[1],
                     expand_type=ir.TypeAttr.get(_type(expand_type)),
                     expand_stride=list(expand_stride), expand_padding=list(expand_padding))
    o = shape_of(project[0])[0]
    kh, kw = shape_of(depthwise[0])[2:]
    g = ConvGeometry(stride=tuple(stride), padding=tuple(padding))
    shape = [n, o, g.output_size(h, kh, 0), g.output_size(w, kw, 1)]
    return _gen.qbottleneck(_result_type(result_type, shape), input, *depthwise, *project,
                            ir.TypeAttr.get(_type(depthwise_type)), rounding_attr(rounding),
                            stride=list(stride), padding=list(padding), **extra,
                            loc=loc, ip=ip)


BOTTLENECK_SPAN = 4
"""Depthwise output pixels of a row a fused bottleneck computes, then projects, at a
time (TCC_Q_BOTTLENECK_SPAN in the C kernels, kBottleneckSpan in the verifier)."""


@dataclass(frozen=True)
class BottleneckGeometry:
    """Shapes of a train.qbottleneck: input [n, c, xh, xw]; the depthwise input
    [n, e, h, w] (the expanded tensor; the input without expansion), depthwise
    kernel, stride, padding; output [n, o, oh, ow]; the expansion's kernel, stride
    and padding ((1, 1), (1, 1), (0, 0) for a 1x1 one)."""

    n: int
    c: int
    h: int
    w: int
    e: int
    o: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    oh: int
    ow: int
    expand: bool
    xh: int = 0
    xw: int = 0
    expand_kernel: tuple[int, int] = (1, 1)
    expand_stride: tuple[int, int] = (1, 1)
    expand_padding: tuple[int, int] = (0, 0)

    @property
    def pointwise_expand(self) -> bool:
        """A 1x1, stride 1, unpadded expansion (the depthwise input has the input's size)."""
        return self.expand_kernel == (1, 1) and self.expand_stride == (1, 1) and \
            self.expand_padding == (0, 0)

    @staticmethod
    def of(op) -> "BottleneckGeometry":
        operation = getattr(op, "operation", op)
        attrs = operation.attributes
        n, c, xh, xw = shape_of(operation.operands[0])
        expand = "expand_type" in attrs
        depthwise = operation.operands[3 if expand else 1]
        e, _, kh, kw = shape_of(depthwise)
        _, o, oh, ow = shape_of(operation.results[0])
        stem = {}
        h, w = xh, xw
        if expand:
            ekh, ekw = shape_of(operation.operands[1])[2:]
            ge = ConvGeometry(stride=tuple(ir.DenseI64ArrayAttr(attrs["expand_stride"])),
                              padding=tuple(ir.DenseI64ArrayAttr(attrs["expand_padding"])))
            h, w = ge.output_size(xh, ekh, 0), ge.output_size(xw, ekw, 1)
            stem = dict(expand_kernel=(ekh, ekw), expand_stride=ge.stride,
                        expand_padding=ge.padding)
        return BottleneckGeometry(n, c, h, w, e, o, (kh, kw),
                                  tuple(ir.DenseI64ArrayAttr(attrs["stride"])),
                                  tuple(ir.DenseI64ArrayAttr(attrs["padding"])), oh, ow,
                                  expand, xh, xw, **stem)

    @property
    def ring_bytes(self) -> int:
        """The ring of expanded int8 rows: kernel-height rows of every expanded
        channel (none without expansion: the depthwise reads the input)."""
        return self.e * self.kernel[0] * self.w if self.expand else 0

    @property
    def scratch_bytes(self) -> int:
        """Arena scratch of the fused op while it runs: the ring, then BOTTLENECK_SPAN
        int8 depthwise output pixels of every channel (what the projection reads)."""
        return self.ring_bytes + self.e * min(self.ow, BOTTLENECK_SPAN)


def streamed_source(op):
    """The `train.qbottleneck` streaming its rows into the input of qbottleneck `op`
    (marked `train.streamed`), or None."""
    operation = getattr(op, "operation", op)
    value = operation.operands[0]
    if isinstance(value, ir.BlockArgument):
        return None
    source = value.owner
    if source.name == "train.qbottleneck" and STREAMED in source.attributes:
        return source
    return None


def bottleneck_chain(op) -> list:
    """The stages `op` runs: the bottlenecks streamed into it, first to last, then `op`."""
    stages = [getattr(op, "operation", op)]
    while (source := streamed_source(stages[0])) is not None:
        stages.insert(0, source)
    return stages


def chain_scratch_bytes(op) -> int:
    """Arena scratch of a qbottleneck with the bottlenecks streamed into it: each
    stage's ring and depthwise span, and one output row of each streamed stage (what
    its reader's expansion reads); 0 for a streamed one (its reader runs it)."""
    operation = getattr(op, "operation", op)
    if STREAMED in operation.attributes:
        return 0
    total = 0
    for stage in bottleneck_chain(operation):
        g = BottleneckGeometry.of(stage)
        total += g.scratch_bytes + (g.o * g.ow if stage is not operation else 0)
    return total


def qbottleneck_operands(op) -> dict:
    """The operands of a train.qbottleneck by role: input, expand (a (weight, bias)
    pair or None), depthwise, project."""
    operation = getattr(op, "operation", op)
    ops = list(operation.operands)
    expand = "expand_type" in operation.attributes
    rest = ops[3:] if expand else ops[1:]
    return dict(input=ops[0], expand=(ops[1], ops[2]) if expand else None,
                depthwise=(rest[0], rest[1]), project=(rest[2], rest[3]))


def qlinear(input, weight, bias, result_type, *, rounding, loc=None, ip=None) -> ir.Value:
    """int8 [N, K] × [M, K]ᵀ + int32 bias (or None) -> [N, M]."""
    shape = [shape_of(input)[0], shape_of(weight)[0]]
    return _gen.qlinear(_result_type(result_type, shape), input, weight,
                        rounding_attr(rounding), bias=bias, loc=loc, ip=ip)


def qadd(a, b, result_type, *, rounding, loc=None, ip=None) -> ir.Value:
    """int8 addition of two same-shape tensors, rescaled to `result_type`."""
    return _gen.qadd(_result_type(result_type, shape_of(a)), a, b,
                     rounding_attr(rounding), loc=loc, ip=ip)


def qavg_pool2d(input, kernel, stride=None, padding=(0, 0), count_include_pad: bool = True,
                *, rounding, loc=None, ip=None) -> ir.Value:
    """int8 average pooling, same quantized type in and out."""
    return _pool(_gen.qavg_pool2d, input, PoolGeometry.make(kernel, stride, padding),
                 count_include_pad=ir.UnitAttr.get() if count_include_pad else None,
                 rounding=rounding_attr(rounding), loc=loc, ip=ip)


def qglobal_avg_pool(input, *, rounding, loc=None, ip=None) -> ir.Value:
    """int8 NxCxHxW -> NxCx1x1, same quantized type in and out."""
    n, c = shape_of(input)[:2]
    return _gen.qglobal_avg_pool(_tensor([n, c, 1, 1], input), input,
                                 rounding_attr(rounding), loc=loc, ip=ip)


# Parameter roles and names.

def role_attr(role: str) -> ir.Attribute:
    """`#train.role<frozen|trainable>`."""
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}' (expected one of {', '.join(ROLES)})")
    return ir.Attribute.parse(f"#train.role<{role}>")


def _arg_attrs(func, index: int) -> ir.DictAttr | None:
    attrs = func.attributes["arg_attrs"] if "arg_attrs" in func.attributes else None
    return ir.DictAttr(ir.ArrayAttr(attrs)[index]) if attrs is not None else None


def arg_attribute(func, index: int, name: str) -> ir.Attribute | None:
    """Argument attribute `name` of argument `index`, if set."""
    attrs = _arg_attrs(func, index)
    return attrs[name] if attrs is not None and name in attrs else None


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


def arg_channels(func, index: int) -> int | None:
    """The `train.channels` of argument `index` (first k channels trained), if any."""
    attrs = _arg_attrs(func, index)
    if attrs is not None and CHANNELS in attrs:
        return ir.IntegerAttr(attrs[CHANNELS]).value
    return None


def momentum_of(func, index: int) -> int | None:
    """The parameter argument whose momentum buffer argument `index` is, if any."""
    attrs = _arg_attrs(func, index)
    if attrs is not None and MOMENTUM_OF in attrs:
        return ir.IntegerAttr(attrs[MOMENTUM_OF]).value
    return None


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


def weights_file(module) -> str | None:
    """The module's `train.weights` (NPZ path relative to the .mlir), if any."""
    operation = getattr(module, "operation", module)
    if WEIGHTS in operation.attributes:
        return ir.StringAttr(operation.attributes[WEIGHTS]).value
    return None

"""Reverse-mode gradient rules of the train dialect, one per op.

A rule receives the forward op, the gradient `dy` of its result and, per
operand, whether that operand's gradient is wanted; it builds the gradient ops
at the current insertion point and returns one gradient (or None) per operand.
A rule builds nothing for an operand that is not wanted (backward pruning
relies on it). Gradients are float tensors of the operand's shape, also for a
quantized operand (the gradient of its real value). The caller adds up the
gradients of a value used several times (train.add).

Gradients are built from forward ops where that is exact and cheap (matmul and
transpose for matmul, mul for mul, the inverse transpose, ...) and otherwise
from the dialect's gradient ops (sum_to, pad_to, *_grad). The int8 ops' rules
live in quantized_gradient_rules.py; their table is merged into GRADIENTS.
"""

from __future__ import annotations

import importlib
from typing import Callable

from .._mlir import ir
from .._mlir.dialects import arith
from ..dialects import train

Rule = Callable[[ir.OpView, ir.Value, list], list]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def _operands(op) -> list:
    return list(op.operation.operands)


def _result(op) -> ir.Value:
    return op.operation.results[0]


def _attr_f32(op, name: str) -> float:
    return ir.FloatAttr(op.operation.attributes[name]).value


def _attr_i64(op, name: str) -> int:
    return ir.IntegerAttr(op.operation.attributes[name]).value


def _attr_i64s(op, name: str) -> list[int]:
    return list(ir.DenseI64ArrayAttr(op.operation.attributes[name]))


def _has(op, name: str) -> bool:
    return name in op.operation.attributes


def _constant(value: float, shape, like: ir.Value) -> ir.Value:
    """A splat constant of `shape` with the float element type of `like`."""
    element = ir.RankedTensorType(like.type).element_type
    tensor = ir.RankedTensorType.get(list(shape), element)
    splat = ir.DenseElementsAttr.get_splat(tensor, ir.FloatAttr.get(element, float(value)))
    return arith.ConstantOp(tensor, splat).result


def _like(value: ir.Value, like: ir.Value) -> ir.RankedTensorType:
    """`value`'s shape with `like`'s element type (the type of `value`'s gradient)."""
    return ir.RankedTensorType.get(train.shape_of(value),
                                   ir.RankedTensorType(like.type).element_type)


def _swap_last(value: ir.Value) -> ir.Value:
    """`value` with its two innermost dims transposed."""
    rank = len(train.shape_of(value))
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    return train.transpose(value, perm)


def _scaled(grad: ir.Value, dy: ir.Value) -> ir.Value:
    """grad · dy for a 0-d dy (the upstream gradient of a scalar-valued op)."""
    return train.mul(grad, train.broadcast(dy, train.shape_of(grad)))


def _pool(op) -> dict:
    g = train.PoolGeometry.of(op)
    return dict(kernel=list(g.kernel), stride=list(g.stride), padding=list(g.padding))


# --------------------------------------------------------------------------
# Layers and tensor algebra
# --------------------------------------------------------------------------

def _linear(op, dy, wanted):
    # y = x·Wᵀ + b  =>  dx = dy·W,  dW = dyᵀ·x,  db = Σ_n dy
    x, w = _operands(op)[:2]
    grads = [None] * len(wanted)
    if wanted[0]:
        grads[0] = train.linear_grad_input(dy, w)
    if wanted[1]:
        grads[1] = train.linear_grad_weight(dy, x)
    if len(wanted) > 2 and wanted[2]:
        grads[2] = train.bias_grad(dy)
    return grads


def _conv2d(op, dy, wanted):
    # dx is the transposed convolution of dy with W (same stride, padding, dilation,
    # groups); dW correlates x with dy; db sums dy over batch and space.
    x, w = _operands(op)[:2]
    geometry = train.ConvGeometry.of(op)
    grads = [None] * len(wanted)
    if wanted[0]:
        grads[0] = train.conv2d_grad_input(dy, w, x.type, geometry=geometry)
    if wanted[1]:
        grads[1] = train.conv2d_grad_weight(dy, x, w.type, geometry=geometry)
    if len(wanted) > 2 and wanted[2]:
        grads[2] = train.bias_grad(dy)
    return grads


def _add(op, dy, wanted):
    # y = a + b  =>  da = db = dy
    return [dy if want else None for want in wanted]


def _mul(op, dy, wanted):
    # y = a ⊙ b  =>  da = dy ⊙ b,  db = dy ⊙ a
    a, b = _operands(op)
    return [train.mul(dy, b) if wanted[0] else None,
            train.mul(dy, a) if wanted[1] else None]


def _matmul(op, dy, wanted):
    # Y = A·B (batched)  =>  dA = dY·Bᵀ,  dB = Aᵀ·dY  (ᵀ: the two innermost dims)
    a, b = _operands(op)
    return [train.matmul(dy, _swap_last(b)) if wanted[0] else None,
            train.matmul(_swap_last(a), dy) if wanted[1] else None]


def _broadcast(op, dy, wanted):
    # y = broadcast(x)  =>  dx = sum_to(dy, shape(x)): summed over the broadcast dims
    return [train.sum_to(dy, train.shape_of(_operands(op)[0]))]


def _sum_to(op, dy, wanted):
    # y = sum_to(x)  =>  dx = broadcast(dy, shape(x)): every summand gets dy
    return [train.broadcast(dy, train.shape_of(_operands(op)[0]))]


def _reshape(op, dy, wanted):
    # A reshape only renames elements: dx is dy in x's shape.
    return [train.reshape(dy, train.shape_of(_operands(op)[0]))]


def _transpose(op, dy, wanted):
    # y = permute(x, p)  =>  dx = permute(dy, p⁻¹), p⁻¹[p[i]] = i
    perm = _attr_i64s(op, "permutation")
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return [train.transpose(dy, inverse)]


def _concat(op, dy, wanted):
    # y = concat(x_0, ..., x_k) along axis  =>  dx_i = the slice of dy that x_i fills
    axis = _attr_i64(op, "axis")
    grads, offset = [], 0
    for operand, want in zip(_operands(op), wanted):
        shape = train.shape_of(operand)
        offsets = [0] * len(shape)
        offsets[axis] = offset
        grads.append(train.slice(dy, offsets, shape) if want else None)
        offset += shape[axis]
    return grads


def _slice(op, dy, wanted):
    # y = x[o : o + s]  =>  dx = pad_to(dy, o, shape(x)): dy in place, zeros elsewhere
    x = _operands(op)[0]
    return [train.pad_to(dy, _attr_i64s(op, "offsets"), train.shape_of(x))]


def _pad_to(op, dy, wanted):
    # y = x placed at offsets o in zeros  =>  dx = dy[o : o + shape(x)]
    x = _operands(op)[0]
    return [train.slice(dy, _attr_i64s(op, "offsets"), train.shape_of(x))]


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------

def _relu(op, dy, wanted):
    # y = max(x, 0)  =>  dx = dy · [y > 0]
    return [train.relu_grad(dy, _result(op))]


def _clamp(op, dy, wanted):
    # y = min(max(x, lo), hi)  =>  dx = dy · [lo < x < hi]  (PyTorch's hardtanh_backward)
    return [train.clamp_grad(dy, _operands(op)[0], _attr_f32(op, "min"), _attr_f32(op, "max"))]


def _hardswish(op, dy, wanted):
    # y = x·relu6(x + 3)/6  =>  dx = 0 (x <= -3), dy·(x/3 + 1/2) (-3 < x < 3), dy (x >= 3)
    return [train.hardswish_grad(dy, _operands(op)[0])]


def _sigmoid(op, dy, wanted):
    # y = σ(x)  =>  dx = dy · y · (1 - y), from the output
    return [train.sigmoid_grad(dy, _result(op))]


def _gelu(op, dy, wanted):
    # exact: y = x·Φ(x)  =>  dx = dy · (Φ(x) + x·φ(x)); tanh: the approximation's derivative
    return [train.gelu_grad(dy, _operands(op)[0], tanh=_has(op, "tanh"))]


def _softmax(op, dy, wanted):
    # y = softmax(x)  =>  dx = y ⊙ (dy - Σ_axis dy ⊙ y), from the output
    return [train.softmax_grad(dy, _result(op), _attr_i64(op, "axis"))]


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------

def _avg_pool2d(op, dy, wanted):
    # Each dy[n,c,i,j] / divisor goes to every input element of its window.
    return [train.avg_pool2d_grad(dy, _like(_operands(op)[0], dy), **_pool(op),
                                  count_include_pad=_has(op, "count_include_pad"))]


def _max_pool2d(op, dy, wanted):
    # Each dy[n,c,i,j] goes to the first maximum of its window (as PyTorch).
    return [train.max_pool2d_grad(dy, _operands(op)[0], **_pool(op))]


def _global_avg_pool(op, dy, wanted):
    # y = mean_{h,w} x  =>  dx = dy / (H·W) everywhere: avg_pool2d_grad with one H×W window
    x = _operands(op)[0]
    h, w = train.shape_of(x)[2:]
    return [train.avg_pool2d_grad(dy, _like(x, dy), kernel=[h, w], stride=[h, w],
                                  padding=[0, 0], count_include_pad=True)]


# --------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------

def _batch_norm(op, dy, wanted):
    # y = x̂·γ + β with x̂ = (x - μ)/√(v + ε) per channel (axis 1):
    #   dx = dy·γ/√(v + ε),  dγ = Σ dy·x̂,  dβ = Σ dy,
    #   dμ = -Σ dy·γ/√(v + ε),  dv = -½·γ·Σ(dy·x̂)/(v + ε)   (Σ: over every axis but 1).
    # Division by √(v + ε) is itself a batch_norm with zero mean and shift.
    x, gamma, _beta, mean, var = _operands(op)
    eps = _attr_f32(op, "epsilon")
    channels = train.shape_of(gamma)[0]
    zeros = _constant(0.0, [channels], dy) if any(wanted[i] for i in (0, 1, 3, 4)) else None
    ones = _constant(1.0, [channels], dy) if any(wanted[i] for i in (1, 4)) else None
    grads = [None] * 5
    dx = None
    if wanted[0] or wanted[3]:
        dx = train.batch_norm(dy, gamma, zeros, zeros, var, eps)
    if wanted[0]:
        grads[0] = dx
    if wanted[1] or wanted[4]:
        xhat = train.batch_norm(x, ones, zeros, mean, var, eps)
        dgamma = train.bias_grad(train.mul(dy, xhat))
        if wanted[1]:
            grads[1] = dgamma
    if wanted[2]:
        grads[2] = train.bias_grad(dy)
    if wanted[3]:
        grads[3] = train.mul(train.bias_grad(dx), _constant(-1.0, [channels], dy))
    if wanted[4]:
        t = train.reshape(train.mul(dgamma, gamma), [1, channels])
        for _ in range(2):
            t = train.batch_norm(t, ones, zeros, zeros, var, eps)
        grads[4] = train.mul(train.reshape(t, [channels]), _constant(-0.5, [channels], dy))
    return grads


def _layer_norm(op, dy, wanted):
    # y = x̂·w + b, x̂ normalized over the trailing rank(w) dims:
    #   dx = layer_norm_grad_input(dy, x, w),  dw = sum_to(dy·x̂, shape(w)),  db = sum_to(dy)
    x, w, _b = _operands(op)
    eps = _attr_f32(op, "epsilon")
    shape = train.shape_of(w)
    grads = [None] * 3
    if wanted[0]:
        grads[0] = train.layer_norm_grad_input(dy, x, w, eps)
    if wanted[1]:
        xhat = train.layer_norm(x, _constant(1.0, shape, dy), _constant(0.0, shape, dy), eps)
        grads[1] = train.sum_to(train.mul(dy, xhat), shape)
    if wanted[2]:
        grads[2] = train.sum_to(dy, shape)
    return grads


# --------------------------------------------------------------------------
# Losses used inside a forward function (dy is 0-d)
# --------------------------------------------------------------------------

def _mse(op, dy, wanted):
    # l = mean (p - t)²  =>  dp = dy·2(p - t)/n,  dt = dy·2(t - p)/n
    p, t = _operands(op)
    return [_scaled(train.mse_grad(p, t), dy) if wanted[0] else None,
            _scaled(train.mse_grad(t, p), dy) if wanted[1] else None]


def _cross_entropy(op, dy, wanted):
    # l = mean_n CE(x_n, y_n)  =>  dx = dy·(softmax(x) - onehot(y))/N; labels: none
    logits, labels = _operands(op)
    return [_scaled(train.cross_entropy_grad(logits, labels), dy) if wanted[0] else None,
            None]


GRADIENTS: dict[str, Rule] = {
    "train.linear": _linear,
    "train.conv2d": _conv2d,
    "train.add": _add,
    "train.mul": _mul,
    "train.matmul": _matmul,
    "train.broadcast": _broadcast,
    "train.sum_to": _sum_to,
    "train.reshape": _reshape,
    "train.transpose": _transpose,
    "train.concat": _concat,
    "train.slice": _slice,
    "train.pad_to": _pad_to,
    "train.relu": _relu,
    "train.clamp": _clamp,
    "train.hardswish": _hardswish,
    "train.sigmoid": _sigmoid,
    "train.gelu": _gelu,
    "train.softmax": _softmax,
    "train.avg_pool2d": _avg_pool2d,
    "train.max_pool2d": _max_pool2d,
    "train.global_avg_pool": _global_avg_pool,
    "train.batch_norm": _batch_norm,
    "train.layer_norm": _layer_norm,
    "train.mse": _mse,
    "train.cross_entropy": _cross_entropy,
}


# --------------------------------------------------------------------------
# Losses: (prediction, target) -> (loss, gradient of the loss w.r.t. the prediction)
# --------------------------------------------------------------------------

def cross_entropy_loss(logits, labels):
    """Loss value and its gradient w.r.t. the logits (the seed of backprop)."""
    # L = mean_n CE(x_n, y_n)  =>  dL/dx = (softmax(x) - onehot(y)) / N
    return train.cross_entropy(logits, labels), train.cross_entropy_grad(logits, labels)


def mse_loss(pred, target):
    """Mean squared error against a float target of the prediction's type."""
    # L = mean (p - t)²  =>  dL/dp = 2 (p - t) / numel
    return train.mse(pred, target), train.mse_grad(pred, target)


LOSSES = {"cross-entropy": cross_entropy_loss, "mse": mse_loss}


def _merge_quantized_rules(rules: dict[str, Rule]) -> dict[str, Rule]:
    """`rules` plus the int8 ops' rules of quantized_gradient_rules.py (which also
    gives clamp and max_pool2d on int8 operands a rule of their own), when that
    module exists."""
    name = f"{__package__}.quantized_gradient_rules"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return rules
    return module.merge_quantized_rules(rules)


FLOAT_GRADIENTS: dict[str, Rule] = dict(GRADIENTS)
GRADIENTS = _merge_quantized_rules(FLOAT_GRADIENTS)

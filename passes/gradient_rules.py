"""Reverse-mode gradient rules of the train dialect, one per op.

A rule receives the forward op, the gradient `dy` of its result and, per
operand, whether that operand's gradient is wanted; it builds the gradient ops
at the current insertion point and returns one gradient (or None) per operand.
"""

from __future__ import annotations

from typing import Callable

from .._mlir import ir
from ..dialects import train

Rule = Callable[[ir.OpView, ir.Value, list], list]


def _linear(op, dy, wanted):
    # y = x·Wᵀ + b  =>  dx = dy·W,  dW = dyᵀ·x,  db = Σ_n dy
    grads = [None] * len(op.operands)
    if wanted[0]:
        grads[0] = train.linear_grad_input(dy, op.weight)
    if wanted[1]:
        grads[1] = train.linear_grad_weight(dy, op.input)
    if len(wanted) > 2 and wanted[2]:
        grads[2] = train.bias_grad(dy)
    return grads


def _conv2d(op, dy, wanted):
    # dx is the transposed convolution of dy with W; dW correlates x with dy;
    # db sums dy over batch and space.
    geometry = train.ConvGeometry.of(op)
    grads = [None] * len(op.operands)
    if wanted[0]:
        grads[0] = train.conv2d_grad_input(dy, op.weight, op.input.type, geometry=geometry)
    if wanted[1]:
        grads[1] = train.conv2d_grad_weight(dy, op.input, op.weight.type, geometry=geometry)
    if len(wanted) > 2 and wanted[2]:
        grads[2] = train.bias_grad(dy)
    return grads


def _add(op, dy, wanted):
    # y = a + b  =>  da = db = dy
    return [dy if want else None for want in wanted]


def _relu(op, dy, wanted):
    # y = max(x, 0)  =>  dx = dy · [y > 0]
    return [train.relu_grad(dy, op.result)]


def _reshape(op, dy, wanted):
    # A reshape only renames elements: dx is dy in x's shape.
    return [train.reshape(dy, train.shape_of(op.input))]


GRADIENTS: dict[str, Rule] = {
    "train.linear": _linear,
    "train.conv2d": _conv2d,
    "train.add": _add,
    "train.relu": _relu,
    "train.reshape": _reshape,
}


def cross_entropy_loss(logits, labels):
    """Loss value and its gradient w.r.t. the logits (the seed of backprop)."""
    # L = mean_n CE(x_n, y_n)  =>  dL/dx = (softmax(x) - onehot(y)) / N
    return train.cross_entropy(logits, labels), train.cross_entropy_grad(logits, labels)


LOSSES = {"cross-entropy": cross_entropy_loss}

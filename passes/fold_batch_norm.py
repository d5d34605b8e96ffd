"""--train-fold-batch-norm: folds inference batch norms into the conv or linear before them.

`train.batch_norm(conv(x, W, b), γ, β, μ, σ², ε)` becomes `conv(x, W', b')` with,
per output channel o and s[o] = γ[o] / √(σ²[o] + ε):
    W'[o, ...] = W[o, ...] · s[o],    b'[o] = (b[o] − μ[o]) · s[o] + β[o]   (b = 0 if absent)
It applies when the conv (train.conv2d) or train.linear result is used only by the
batch norm and W, b, γ, β, μ, σ² are all `arith.constant`s; other batch norms stay.
The folded constants are computed in float64 and rounded once to the element type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._mlir import ir
from .._mlir.dialects import arith
from ..dialects import train

_FOLDABLE = ("train.conv2d", "train.linear")
_DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64}


@dataclass
class FoldBatchNorm:
    """No options."""

    def run(self, module: ir.Module) -> None:
        for bn in [op for op in _walk(module.operation) if op.name == "train.batch_norm"]:
            _fold(bn)


def _walk(op: ir.Operation):
    """Every op nested in `op`, in pre-order."""
    for region in op.regions:
        for block in region.blocks:
            for nested in block.operations:
                yield nested.operation
                yield from _walk(nested.operation)


def _constant(value: ir.Value) -> np.ndarray | None:
    """The value of an `arith.constant` tensor, or None for anything else."""
    owner = value.owner
    if not isinstance(owner, ir.OpView) or owner.operation.name != "arith.constant":
        return None
    attr = owner.operation.attributes["value"]
    if not isinstance(attr, ir.DenseElementsAttr):
        return None          # e.g. dense_resource: left alone
    return np.array(attr, dtype=np.float64)


def _fold(bn: ir.Operation) -> None:
    x, gamma, beta, mean, var = bn.operands
    producer = x.owner
    if not isinstance(producer, ir.OpView) or producer.operation.name not in _FOLDABLE:
        return
    producer = producer.operation
    if len(list(producer.results[0].uses)) != 1:
        return
    element = str(ir.RankedTensorType(x.type).element_type)
    if element not in _DTYPES:
        return
    input, weight, *bias = producer.operands
    values = [_constant(v) for v in (weight, *bias, gamma, beta, mean, var)]
    if any(v is None for v in values):
        return
    w, *values = values
    b = values.pop(0) if bias else np.zeros(w.shape[0])
    g, be, m, v = values

    epsilon = ir.FloatAttr(bn.attributes["epsilon"]).value
    scale = g / np.sqrt(v + epsilon)
    w_folded = w * scale.reshape(-1, *[1] * (w.ndim - 1))     # output channel = axis 0
    b_folded = (b - m) * scale + be

    with ir.InsertionPoint(producer), producer.location:
        w_value = _make_constant(w_folded.astype(_DTYPES[element]))
        b_value = _make_constant(b_folded.astype(_DTYPES[element]))
        if producer.name == "train.conv2d":
            folded = train.conv2d(input, w_value, b_value,
                                  geometry=train.ConvGeometry.of(producer.opview))
        else:
            folded = train.linear(input, w_value, b_value)
    bn.results[0].replace_all_uses_with(folded)
    old_constants = [v.owner.operation for v in (weight, *bias, gamma, beta, mean, var)]
    bn.erase()
    producer.erase()
    for const in dict.fromkeys(old_constants):        # unique, in order
        if not list(const.results[0].uses):
            const.erase()


def _make_constant(array: np.ndarray) -> ir.Value:
    attr = ir.DenseElementsAttr.get(array)
    return arith.constant(attr.type, attr)

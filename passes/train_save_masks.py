"""--train-save-masks: the backward pass keeps a 1-bit mask of an activation it reads
only to mask a gradient, instead of the activation itself.

After --train-autodiff, the gradient of a ReLU / ReLU6 / an int8 op's saturation is
`train.clamp_grad %dy, %x min LO max HI` with %x the forward output, often through a
`quant.dcast` of the int8 activation. This pass computes the comparison in the
forward pass, right after %x is produced:

    %m = train.clamp_mask %y min LO max HI      // ceil(numel / 8) bytes
    ...
    %dx = train.mask_grad %dy, %m               // = clamp_grad(dy, dcast(y), LO, HI)

so %y dies at its last forward use (an eighth of an int8 tensor, a 32nd of an f32
one, stays alive instead: the Tiny Training Engine's 1-bit ReLU masks), and the f32
copy the dcast made in the backward pass is gone. The mask compares the same f32
values clamp_grad compared (train.clamp_mask dequantizes as quant.dcast does), so
the gradients are bit for bit the same. A value the backward pass also reads for
another reason (the input of a trained weight's gradient) stays alive for that
reader; only its dcast for the mask goes.

Option `function`: the function to rewrite (default: every function of the module).
Run it after --train-prune and before --train-reorder.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..compiler.source import FunctionPass
from ..dialects import train


@dataclass
class TrainSaveMasks(FunctionPass):
    """Options: function (empty: every function)."""

    def rewrite(self, function: func.FuncOp) -> None:
        save_masks(function)


def save_masks(function: func.FuncOp) -> int:
    """Rewrites every clamp_grad of `function` to a mask_grad of a clamp_mask; returns
    how many."""
    masks: dict[tuple, ir.Value] = {}
    rewritten = 0
    for op in list(function.entry_block.operations):
        if op.name != "train.clamp_grad":
            continue
        source = _compared(op.operands[1])
        bounds = (ir.FloatAttr(op.attributes["min"]).value,
                  ir.FloatAttr(op.attributes["max"]).value)
        key = (source, *bounds)
        if key not in masks:
            with _after_definition(source, function), op.location:
                masks[key] = train.clamp_mask(source, *bounds)
        with ir.InsertionPoint(op), op.location:
            masked = train.mask_grad(op.operands[0], masks[key])
        compared = op.operands[1]
        op.results[0].replace_all_uses_with(masked)
        op.erase()
        _erase_if_unused(compared)
        rewritten += 1
    return rewritten


def _compared(value: ir.Value) -> ir.Value:
    """The tensor whose real values clamp_grad compares: the int8 source of a
    per-tensor `quant.dcast`, else the value itself."""
    owner = value.owner
    if isinstance(value, ir.OpResult) and owner.name == "quant.dcast":
        source = owner.operands[0]
        element = ir.RankedTensorType(source.type).element_type
        if isinstance(element, quant.UniformQuantizedType) and \
                ir.IntegerType(element.storage_type).width == 8:
            return source
    return value


def _after_definition(value: ir.Value, function: func.FuncOp) -> ir.InsertionPoint:
    """Right after the op defining `value` (the function's start for an argument)."""
    if isinstance(value, ir.OpResult):
        return ir.InsertionPoint.after(value.owner)
    return ir.InsertionPoint.at_block_begin(function.entry_block)


def _erase_if_unused(value: ir.Value) -> None:
    owner = value.owner
    if isinstance(value, ir.OpResult) and owner.name == "quant.dcast" and \
            not list(owner.results[0].uses):
        owner.erase()

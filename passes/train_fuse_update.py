"""--train-fuse-update: an int8 conv weight's update computes its own gradient.

After --train-autodiff (and --train-prune) an int8 weight W of a trained conv is
updated by

    %g  = train.conv2d_grad_weight %dy, %x          // f32, 4 bytes per weight
    %gp = train.pad_to %g offsets [0, 0, 0, 0]      // a partial-channel scheme only
    %w2 = train.qsgd %w, %gp lr ... qas

The f32 gradient is the largest backward tensor of a late, wide layer (MCUNet-5FPS
blocks.12.pointwise1: 147,456 B). This pass rewrites the chain into

    %w2 = train.conv2d_qsgd %w, %dy, %x lr ... qas

whose kernel computes each gradient element and updates its weight at once, so the
gradient never exists whole (the Tiny Training Engine's in-place update). Where %x is
the `quant.dcast` of a per-tensor int8 activation (the one the forward pass saved),
the fused op reads that activation itself and dequantizes it as it reads it: its f32
copy (4 bytes per value) no longer exists either. The
arithmetic is that of the chain: the same gradient sums, the same qsgd rounding, bit
for bit. A chain is fused when the gradient has no other reader, any padding is at
offset 0 and, for a padded (partial) gradient, the update has no weight decay (the
fused op leaves the untrained channels as they are; the chain would decay them).

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
class TrainFuseUpdate(FunctionPass):
    """Options: function (empty: every function)."""

    def rewrite(self, function: func.FuncOp) -> None:
        fuse_updates(function)


def fuse_updates(function: func.FuncOp) -> int:
    """Rewrites every fusable conv2d_grad_weight -> [pad_to ->] qsgd chain of
    `function` into a train.conv2d_qsgd; returns how many."""
    fused = 0
    for op in list(function.entry_block.operations):
        chain = _chain(op)
        if chain is None:
            continue
        gradient, padding = chain
        attrs = op.attributes
        cast = _int8_activation_cast(gradient.operands[1])
        x = cast.operands[0] if cast is not None else gradient.operands[1]
        with ir.InsertionPoint(op), op.location:
            update = train.conv2d_qsgd(
                op.operands[0], gradient.operands[0], x,
                geometry=train.ConvGeometry.of(gradient), lr=ir.FloatAttr(attrs["lr"]).value,
                weight_decay=_weight_decay(op), qas="qas" in attrs)
        op.results[0].replace_all_uses_with(update)
        op.erase()
        if padding is not None:
            padding.erase()
        gradient.erase()
        if cast is not None and not list(cast.results[0].uses):
            cast.erase()
        fused += 1
    return fused


def _int8_activation_cast(value: ir.Value):
    """The `quant.dcast` to f32 of a per-tensor int8 tensor that defines `value`, or
    None."""
    if not isinstance(value, ir.OpResult) or value.owner.name != "quant.dcast":
        return None
    cast = value.owner
    source = ir.RankedTensorType(cast.operands[0].type).element_type
    target = ir.RankedTensorType(value.type).element_type
    if not isinstance(source, quant.UniformQuantizedType) or \
            ir.IntegerType(source.storage_type).width != 8 or not isinstance(target, ir.F32Type):
        return None
    return cast


def _chain(update) -> tuple | None:
    """(conv2d_grad_weight, pad_to or None) of a train.qsgd that can take them in."""
    if update.name != "train.qsgd" or not _int8_weight(update.operands[0]):
        return None
    gradient, padding = _single_reader_owner(update.operands[1]), None
    if gradient is not None and gradient.name == "train.pad_to":
        if any(ir.DenseI64ArrayAttr(gradient.attributes["offsets"])) or _weight_decay(update):
            return None
        gradient, padding = _single_reader_owner(gradient.operands[0]), gradient
    if gradient is None or gradient.name != "train.conv2d_grad_weight":
        return None
    return gradient, padding


def _single_reader_owner(value: ir.Value):
    """The op defining `value` when `value` has exactly one reader."""
    if not isinstance(value, ir.OpResult) or len(list(value.uses)) != 1:
        return None
    return value.owner


def _int8_weight(value: ir.Value) -> bool:
    element = ir.RankedTensorType(value.type).element_type
    return isinstance(element, (quant.UniformQuantizedType, quant.UniformQuantizedPerAxisType)) \
        and ir.IntegerType(element.storage_type).width == 8


def _weight_decay(op) -> float:
    attr = op.attributes["weight_decay"] if "weight_decay" in op.attributes else None
    return ir.FloatAttr(attr).value if attr is not None else 0.0

"""--train-mark-inplace: marks the ops whose Cortex-M C kernel may write its result
over its operand, so that the memory plan lets them (`train.in_place`).

A stride-1 depthwise input gradient whose input and output have one shape (3x3, 5x5
or 7x7, "same" padding) runs channel by channel through a zero-padded copy of the
channel of dy (tcc_kernels.c, tcc_depthwise_grad_input_s1_f32): the channel of dx
can then overwrite that of dy. In MCUNet-5FPS and MobileNetV2 the f32 gradient
before and after a late depthwise layer are the two largest tensors at the peak of
the backward pass; sharing their storage saves one of them.

Only the C target's kernels know this, so only its pipeline runs the pass; the
liveness model (compiler/liveness.py) reads the attribute. The results are the same
bits: the kernel is the same.

Option `function`: the function to mark (default: every function of the module).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func
from ..compiler.source import FunctionPass
from ..dialects import train

PADDED_CHANNEL_FLOATS = 1024
"""TCC_DW_PAD_MAX of tcc_kernels.c: the largest zero-padded channel of the stride-1
depthwise path, (H + K - 1) * (W + K - 1) floats."""


@dataclass
class TrainMarkInplace(FunctionPass):
    """Options: function (empty: every function)."""

    def rewrite(self, function: func.FuncOp) -> None:
        mark_inplace(function)


def mark_inplace(function: func.FuncOp) -> int:
    """Marks the depthwise input gradients of `function` that may run in place;
    returns how many."""
    marked = 0
    for op in function.entry_block.operations:
        if op.name == "train.conv2d_grad_input" and depthwise_in_place(op):
            op.attributes[train.IN_PLACE] = ir.UnitAttr.get(op.context)
            marked += 1
    return marked


def depthwise_in_place(op) -> bool:
    """Whether the C kernel runs this conv2d_grad_input on its stride-1 depthwise path
    with dx of dy's shape (the conditions of tcc_depthwise_grad_input_s1_f32)."""
    if not isinstance(ir.RankedTensorType(op.operands[0].type).element_type, ir.F32Type):
        return False            # int16 gradients: only the f32 kernel works in place
    g = train.ConvGeometry.of(op)
    dy, dx = train.shape_of(op.operands[0]), train.shape_of(op.results[0])
    weight = train.shape_of(op.operands[1])
    k = weight[2]
    channels = dx[1]
    return (g.groups == channels == dy[1] and channels > 1 and weight[3] == k
            and k in (3, 5, 7) and tuple(g.stride) == (1, 1) and tuple(g.dilation) == (1, 1)
            and g.padding[0] == g.padding[1] == (k - 1) // 2 and dy == dx
            and (dx[2] + k - 1) * (dx[3] + k - 1) <= PADDED_CHANNEL_FLOATS)

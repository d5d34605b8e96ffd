"""--train-fuse-bottleneck: fuses frozen int8 inverted-bottleneck chains into
`train.qbottleneck`, so that their expanded tensors are never materialised.

A chain is an expanding `qconv2d` (optional: 1x1, or a dense KxK conv such as a
network's first conv, with any stride and padding) -> depthwise `qconv2d` ->
`qconv2d` 1x1 (project), each with a bias and one `rounding`, where

- every weight and bias is a frozen parameter (a function argument with
  `#train.role<frozen>`): no gradient flows into the chain's weights;
- every intermediate (the expanded and the depthwise tensors) has one use, the next
  conv of the chain: nothing saves it for the backward (after --train-autodiff and
  --train-prune, a block that needs an input gradient keeps its intermediates for
  the gradient ops and is left alone);
- the projection has stride 1, no padding, groups 1; the expansion groups 1 and
  dilation 1; the depthwise has groups equal to its channels, one output channel per
  channel and dilation 1.

Fusing a first conv this way (a stem) removes the largest tensor of many small
networks' forward pass, the first conv's output, which lives with the input image
(MobileNetV2-w0.35: 49,152 + 65,536 B at op 0); its rows are computed by the same
im2col code as the unfused conv.

A following `qadd` (a residual) stays a separate element-wise op: it runs in place
over the projected output. The fused op is exactly the composition of the convs
(runtime/quantized_execution.py), so fusion changes no result bit; the memory plan
gives it a scratch ring of the depthwise's kernel-height expanded rows
(train.BottleneckGeometry.scratch_bytes) instead of the two intermediate tensors.

Streaming. A fused op whose result has one use, the input of another fused op with a
1x1 expansion (which reads one input row per expanded row), can hand its rows over as
they are made instead of writing its whole result: it is marked `train.streamed`, has
no storage (its reader runs it, row by row, with its ring in the reader's scratch and
one output row in between), and its input lives until its reader runs. That turns
the stem's output (MobileNetV2-w0.35: 32 KB beside the 48 KB image) into one row. It
is done where it lowers the larger of the two ops' own needs (operands, results and
scratch): a small result read by an op with a large ring is better kept whole.

Option `function`: the function to fuse in (default: every function of the module).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func
from ..compiler.source import FunctionPass
from ..dialects import train


@dataclass
class TrainFuseBottleneck(FunctionPass):
    """Options: function (empty: every function)."""

    def rewrite(self, function: func.FuncOp) -> None:
        fuse_function(function)
        stream_function(function)


def fuse_function(function: func.FuncOp) -> int:
    """Fuses every chain of `function`, latest first; returns how many."""
    fused = 0
    while True:     # erasing ops invalidates the op handles: one chain per scan
        projects = [op for op in function.entry_block.operations
                    if op.name == "train.qconv2d"]
        chain = next((c for c in map(lambda p: _chain(function, p), reversed(projects))
                      if c is not None), None)
        if chain is None:
            return fused
        _fuse(*chain)
        fused += 1


def _is_pointwise(op) -> bool:
    return train.ConvGeometry.of(op).pointwise(train.shape_of(op.operands[1])[2:])


def _is_dense(op) -> bool:
    g = train.ConvGeometry.of(op)
    return g.dilation == (1, 1) and g.groups == 1


def _is_depthwise(op) -> bool:
    g = train.ConvGeometry.of(op)
    channels = train.shape_of(op.operands[0])[1]
    return g.groups == channels and train.shape_of(op.operands[1])[0] == channels and \
        g.dilation == (1, 1)


def _frozen_params(function: func.FuncOp, op) -> bool:
    """A qconv2d whose weight and bias are frozen function arguments."""
    if len(op.operands) != 3:
        return False
    for value in op.operands[1:]:
        if not isinstance(value, ir.BlockArgument) or \
                train.arg_role(function, value.arg_number) != "frozen":
            return False
    return True


def _single_use_producer(value: ir.Value):
    """The qconv2d producing `value` if `value` has exactly one use, else None."""
    if isinstance(value, ir.BlockArgument) or len(list(value.uses)) != 1:
        return None
    owner = value.owner
    return owner if owner.name == "train.qconv2d" else None


def _chain(function: func.FuncOp, project):
    """(expand or None, depthwise, project) ending at `project`, or None."""
    if not _is_pointwise(project) or not _frozen_params(function, project):
        return None
    depthwise = _single_use_producer(project.operands[0])
    if depthwise is None or not _is_depthwise(depthwise) or \
            not _frozen_params(function, depthwise):
        return None
    rounding = train.rounding_of(project)
    if train.rounding_of(depthwise) != rounding:
        return None
    expand = _single_use_producer(depthwise.operands[0])
    if expand is not None and not (_is_dense(expand) and
                                   _frozen_params(function, expand) and
                                   train.rounding_of(expand) == rounding):
        expand = None
    return expand, depthwise, project


def _element(value: ir.Value) -> ir.Type:
    return ir.RankedTensorType(value.type).element_type


def _fuse(expand, depthwise, project) -> None:
    g = train.ConvGeometry.of(depthwise)
    ge = train.ConvGeometry.of(expand) if expand is not None else train.ConvGeometry()
    source = expand if expand is not None else depthwise
    locations = [op.location for op in (expand, depthwise, project) if op is not None]
    with ir.InsertionPoint(project), ir.Location.fused(locations, context=project.context):
        fused = train.qbottleneck(
            source.operands[0],
            tuple(expand.operands[1:]) if expand is not None else None,
            tuple(depthwise.operands[1:]), tuple(project.operands[1:]),
            project.results[0].type, depthwise_type=_element(depthwise.results[0]),
            expand_type=_element(expand.results[0]) if expand is not None else None,
            expand_stride=ge.stride, expand_padding=ge.padding,
            stride=g.stride, padding=g.padding, rounding=train.rounding_of(project))
    project.results[0].replace_all_uses_with(fused)
    for op in (project, depthwise, expand):
        if op is not None:
            op.erase()


def stream_function(function: func.FuncOp) -> int:
    """Marks `train.streamed` every fused op whose rows its reader can take as they
    are made, where that lowers the pair's need, first to last; returns how many."""
    streamed = 0
    for op in function.entry_block.operations:
        reader = _stream_reader(op)
        if reader is not None and _streaming_lowers(op, reader):
            op.attributes[train.STREAMED] = ir.UnitAttr.get(op.context)
            streamed += 1
    return streamed


def _stream_reader(op):
    """The fused op that can read `op`'s rows as they are made, or None: `op` is a
    qbottleneck whose one use is the input of a qbottleneck with a 1x1 expansion."""
    if op.name != "train.qbottleneck" or len(list(op.results[0].uses)) != 1:
        return None
    use = next(iter(op.results[0].uses))
    reader = use.owner
    if reader.name != "train.qbottleneck" or use.operand_number != 0:
        return None
    g = train.BottleneckGeometry.of(reader)
    return reader if g.expand and g.pointwise_expand else None


def _streaming_lowers(op, reader) -> bool:
    """Whether streaming `op` into `reader` lowers the larger of their needs: unstreamed,
    op holds its input, result and scratch, then reader that result, its own result
    and scratch; streamed, reader holds op's input, its result and both scratches with
    one row of op's result."""
    from ..compiler.liveness import type_bytes
    head = train.bottleneck_chain(op)[0]
    source = type_bytes(head.operands[0].type)
    middle = type_bytes(op.results[0].type)
    result = type_bytes(reader.results[0].type)
    own, theirs = train.chain_scratch_bytes(op), train.chain_scratch_bytes(reader)
    g = train.BottleneckGeometry.of(op)
    apart = max(source + middle + own, middle + result + theirs)
    return source + result + own + theirs + g.o * g.ow < apart

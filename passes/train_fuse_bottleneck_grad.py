"""--train-fuse-bottleneck-grad: the backward of a trained inverted bottleneck, a few
expanded channels at a time (`train.bottleneck_grad`).

After --train-autodiff, --train-save-masks and --train-fuse-update, the backward of
an inverted bottleneck (1x1 expand -> depthwise -> 1x1 project, masks after the
expansion and the depthwise) whose depthwise and projection weights are frozen reads

    %g2  = train.conv2d_grad_input %dy, %wp              // 1x1: [N, E, HO, WO]
    %g2m = train.mask_grad %g2, %md
    %dbd = train.bias_grad %g2m
    %gd  = train.conv2d_grad_input %g2m, %wd ... groups E // [N, E, H, W]
    %g1  = train.mask_grad %gd, %me
    %dbe = train.bias_grad %g1
    %dx  = train.conv2d_grad_input %g1, %we              // 1x1: [N, C, H, W]
    %w2  = train.conv2d_qsgd %w, %g1, %x ...             // optional, %we = dcast %w

Channel e of g2, g1 and of the two bias gradients depends on channel e of dy's
projection alone, and dx sums the channels' contributions: the chain becomes one op
whose kernel keeps 4 channels of g2 and g1 at a time. Those are the largest tensors
of a late block's backward (MCUNet-5FPS blocks.10: g1 is 240 x 8 x 8 f32, 60 KB,
from a 15 KB g2 through a stride-2 depthwise). The arithmetic is the chain's, sum
for sum. A chain is fused when its intermediates have no other readers, all its
gradients are f32, the update (if any) reads an int8 x (the saved activation, or a
slice of its first channels) and dequantizes the very weight %we reads, so that the
kernel reads each weight row before it updates it.

Only the Cortex-M C kernels run `train.bottleneck_grad`, so only that pipeline runs
the pass (with --train-fuse-bottleneck, as the driver decides). Run it after
--train-fuse-update and before --train-reorder.

Option `function`: the function to rewrite (default: every function of the module).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..compiler.source import FunctionPass
from ..dialects import train


@dataclass
class TrainFuseBottleneckGrad(FunctionPass):
    """Options: function (empty: every function)."""

    def rewrite(self, function: func.FuncOp) -> None:
        fuse_bottleneck_grads(function)


def fuse_bottleneck_grads(function: func.FuncOp) -> int:
    """Fuses every bottleneck backward chain of `function`; returns how many."""
    fused = 0
    while True:     # erasing ops invalidates the op handles: one chain per scan
        chain = next((c for c in map(_chain, function.entry_block.operations)
                      if c is not None), None)
        if chain is None:
            return fused
        _fuse(function, chain)
        fused += 1


@dataclass
class _Chain:
    project: object          # conv2d_grad_input of dy (1x1)
    project_mask: object     # mask_grad of g2
    depthwise_bias: object   # bias_grad of g2m
    depthwise: object        # conv2d_grad_input of g2m (depthwise)
    expand_mask: object      # mask_grad of gd
    expand_bias: object      # bias_grad of g1
    expand: object           # conv2d_grad_input of g1 (1x1): dx
    update: object | None    # conv2d_qsgd of g1, or None

    def ops(self) -> list:
        return [op for op in (self.update, self.expand, self.expand_bias, self.expand_mask,
                              self.depthwise, self.depthwise_bias, self.project_mask,
                              self.project) if op is not None]


def _f32(value: ir.Value) -> bool:
    return isinstance(value.type, ir.RankedTensorType) and \
        isinstance(ir.RankedTensorType(value.type).element_type, ir.F32Type)


def _readers(value: ir.Value) -> list:
    return [use.owner for use in value.uses]


def _only_reader(value: ir.Value, name: str):
    readers = _readers(value)
    if len(readers) == 1 and readers[0].name == name and \
            readers[0].operands[0] == value:
        return readers[0]
    return None


def _pointwise_grad_input(op) -> bool:
    return op.name == "train.conv2d_grad_input" and \
        train.ConvGeometry.of(op).pointwise(train.shape_of(op.operands[1])[2:])


def _depthwise_grad_input(op) -> bool:
    if op.name != "train.conv2d_grad_input":
        return False
    g = train.ConvGeometry.of(op)
    channels = train.shape_of(op.results[0])[1]
    weight = train.shape_of(op.operands[1])
    return g.groups == channels and weight[:2] == [channels, 1] and g.dilation == (1, 1)


def _split(readers: list, names: tuple[str, ...]) -> dict | None:
    """`readers` by name when they are at most one of each of `names`, else None."""
    found = {}
    for op in readers:
        if op.name in found or op.name not in names:
            return None
        found[op.name] = op
    return found


def _chain(project) -> _Chain | None:
    """The fusable chain starting at `project`, or None."""
    if not _pointwise_grad_input(project) or \
            not all(_f32(v) for v in (*project.operands, project.results[0])):
        return None
    project_mask = _only_reader(project.results[0], "train.mask_grad")
    if project_mask is None:
        return None
    g2m = _split(_readers(project_mask.results[0]),
                 ("train.bias_grad", "train.conv2d_grad_input"))
    if g2m is None or len(g2m) != 2 or \
            not _depthwise_grad_input(depthwise := g2m["train.conv2d_grad_input"]) or \
            depthwise.operands[0] != project_mask.results[0] or not _f32(depthwise.operands[1]):
        return None
    expand_mask = _only_reader(depthwise.results[0], "train.mask_grad")
    if expand_mask is None:
        return None
    g1 = _split(_readers(expand_mask.results[0]),
                ("train.bias_grad", "train.conv2d_grad_input", "train.conv2d_qsgd"))
    if g1 is None or "train.bias_grad" not in g1 or "train.conv2d_grad_input" not in g1:
        return None
    expand, update = g1["train.conv2d_grad_input"], g1.get("train.conv2d_qsgd")
    if not _pointwise_grad_input(expand) or expand.operands[0] != expand_mask.results[0] or \
            not _f32(expand.operands[1]):
        return None
    if update is not None and not _fusable_update(update, expand):
        return None
    return _Chain(project, project_mask, g2m["train.bias_grad"], depthwise, expand_mask,
                  g1["train.bias_grad"], expand, update)


def _fusable_update(update, expand) -> bool:
    """A conv2d_qsgd of g1 (operand 1) and an int8 x, 1x1, updating the weight that
    `expand` reads dequantized."""
    weight = expand.operands[1]
    if update.operands[1] != expand.operands[0] or len(update.operands) != 3 or \
            not train.ConvGeometry.of(update).pointwise(train.shape_of(update.operands[0])[2:]):
        return False
    x = ir.RankedTensorType(update.operands[2].type).element_type
    if not isinstance(x, quant.UniformQuantizedType):
        return False
    return isinstance(weight, ir.OpResult) and weight.owner.name == "quant.dcast" and \
        weight.owner.operands[0] == update.operands[0]


def _fuse(function: func.FuncOp, c: _Chain) -> None:
    first = c.project
    update = c.update
    operands = [c.project.operands[0], c.project.operands[1], c.depthwise.operands[1],
                c.project_mask.operands[1], c.expand.operands[1], c.expand_mask.operands[1]]
    if update is not None:
        operands += [update.operands[0], update.operands[2]]
    for value in operands:
        _hoist(function, value, first)
    g = train.ConvGeometry.of(c.depthwise)
    attrs = update.attributes if update is not None else None
    locations = [op.location for op in c.ops()[::-1]]
    with ir.InsertionPoint(first), ir.Location.fused(locations, context=first.context):
        results = train.bottleneck_grad(
            *operands[:6], c.expand.results[0].type, stride=g.stride, padding=g.padding,
            update=(operands[6], operands[7]) if update is not None else None,
            lr=ir.FloatAttr(attrs["lr"]).value if attrs is not None else None,
            weight_decay=ir.FloatAttr(attrs["weight_decay"]).value
            if attrs is not None and "weight_decay" in attrs else 0.0,
            qas=attrs is not None and "qas" in attrs)
    c.expand.results[0].replace_all_uses_with(results[0])
    c.depthwise_bias.results[0].replace_all_uses_with(results[1])
    c.expand_bias.results[0].replace_all_uses_with(results[2])
    if update is not None:
        update.results[0].replace_all_uses_with(results[3])
    for op in c.ops():
        op.erase()


def _hoist(function: func.FuncOp, value: ir.Value, anchor) -> None:
    """Moves the op defining `value` (and, first, those it reads) before `anchor`
    where it comes after it."""
    if not isinstance(value, ir.OpResult):
        return
    position = {op.operation: k for k, op in enumerate(function.entry_block.operations)}
    owner = value.owner
    if position[owner.operation] < position[anchor.operation]:
        return
    for operand in owner.operands:
        _hoist(function, operand, anchor)
    owner.move_before(anchor)

"""--train-prune: trims a training step to what its sparse update scheme needs.

Runs after --train-autodiff on @train_step (option `step`). The scheme is read from the
step's arguments: `train.role` (frozen / trainable) and `train.channels = k` (a
partial-channel weight, see compiler/schemes.py). The pass guarantees, whatever the
input (autodiff already emits most of this; the pass re-establishes and checks it):

1. *No update of a frozen parameter*: a result marked `train.updates = i` whose
   argument i is frozen is dropped from the step (its momentum result too).
2. *Partial channels*: the update of a weight with `train.channels = k` is
   `concat(update(slice(p, :k), g_k), slice(p, k:))` along its channel axis; g_k is
   computed from sliced operands — a slice of a gradient op's result is pushed into its
   operands (`conv2d_grad_weight(dy, x)[:, :k]` becomes `conv2d_grad_weight(dy, x[:, :k])`,
   through element-wise ops, broadcasts and `quant.dcast`), so no full-width weight
   gradient is computed.
3. *No gradient op that no update needs*: dead ops are erased. This removes the weight
   gradients of bias-only layers, with the input activations only they kept, and every
   gradient below the earliest layer that needs one (back-propagation stops there).
4. *Keep only the slice*: a slice of a forward activation that the backward pass reads
   (x[:, :k] of a partial layer) is moved up to right after the activation is computed,
   so the full activation dies in the forward pass and only the slice is kept.
5. upstream `canonicalize` and `cse` clean up (option `cleanup=false` skips them).

Then it verifies the result (a PassError if an invariant does not hold).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..compiler.errors import PassError, UnsupportedError
from ..compiler.schemes import arg_channels, channel_axis, weight_consumer
from ..dialects import train

SEEDS = ("train.cross_entropy_grad", "train.mse_grad")
"""Ops that start the backward pass: the gradient of the loss."""

UPDATES = ("train.sgd", "train.sgd_momentum", "train.qsgd")
"""Optimizer ops: (param, grad, [momentum buffer]) -> updated values."""

ELEMENTWISE = frozenset((
    "train.add", "train.mul", "train.relu", "train.clamp", "train.sigmoid",
    "train.hardswish", "train.gelu", "train.relu_grad", "train.clamp_grad",
    "train.sigmoid_grad", "train.hardswish_grad", "train.gelu_grad",
    "arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.negf"))
"""Ops whose result element i depends only on their operands' elements i (all operands
of the result's shape): slicing the result slices the operands."""

CHANNELS = "train.channels"
MOMENTUM_OF = "train.momentum_of"


# ---------------------------------------------------------------------------------------
# Building slices
# ---------------------------------------------------------------------------------------

def _element(value: ir.Value) -> ir.Type:
    return ir.RankedTensorType(value.type).element_type


def _i64(value: int) -> ir.IntegerAttr:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(value))


def sliced_element_type(element: ir.Type, axis: int, begin: int, size: int) -> ir.Type:
    """The element type of a slice: a per-axis quantized type sliced along its quantized
    dimension keeps the scales of the kept channels; other types are unchanged."""
    if isinstance(element, quant.UniformQuantizedPerAxisType) and \
            element.quantized_dimension == axis:
        return quant.UniformQuantizedPerAxisType.get(
            element.flags, element.storage_type, element.expressed_type,
            list(element.scales)[begin:begin + size],
            list(element.zero_points)[begin:begin + size], axis,
            element.storage_type_min, element.storage_type_max)
    return element


def make_slice(value: ir.Value, axis: int, begin: int, size: int) -> ir.Value:
    """train.slice of `size` entries from `begin` along `axis` (at the insertion point)."""
    shape = train.shape_of(value)
    offsets = [0] * len(shape)
    offsets[axis] = begin
    sizes = list(shape)
    sizes[axis] = size
    result = ir.RankedTensorType.get(sizes, sliced_element_type(_element(value), axis,
                                                                begin, size))
    return ir.Operation.create(
        "train.slice", results=[result], operands=[value],
        attributes={"offsets": ir.DenseI64ArrayAttr.get(offsets),
                    "sizes": ir.DenseI64ArrayAttr.get(sizes)}).result


def make_concat(values: list, axis: int, result_type: ir.Type) -> ir.Value:
    return ir.Operation.create("train.concat", results=[result_type], operands=values,
                               attributes={"axis": _i64(axis)}).result


@functools.lru_cache(maxsize=None)
def _slice_supported_text(type_text: str, sliced_text: str, concat: bool) -> bool:
    shape_in = ir.RankedTensorType(ir.Type.parse(type_text))
    sliced = ir.RankedTensorType(ir.Type.parse(sliced_text))
    offsets = [0] * shape_in.rank
    body = (f"  %s = train.slice %x offsets {offsets} sizes {list(sliced.shape)} : "
            f"{type_text} -> {sliced_text}\n")
    if concat:
        body += f"  %c = train.concat %s, %s axis 0 : ({sliced_text}, {sliced_text}) -> " \
                f"{_doubled(sliced)}\n"
    text = f"func.func @probe(%x: {type_text}) {{\n{body}  return\n}}\n"
    try:
        ir.Module.parse(text)
    except ir.MLIRError:
        return False
    return True


def _doubled(t: ir.RankedTensorType) -> str:
    shape = list(t.shape)
    shape[0] *= 2
    element = t.element_type
    if isinstance(element, quant.UniformQuantizedPerAxisType) and \
            element.quantized_dimension == 0:
        element = quant.UniformQuantizedPerAxisType.get(
            element.flags, element.storage_type, element.expressed_type,
            list(element.scales) * 2, list(element.zero_points) * 2, 0,
            element.storage_type_min, element.storage_type_max)
    return str(ir.RankedTensorType.get(shape, element))


def slicing_supported(value_type: ir.Type, axis: int, size: int) -> bool:
    """Whether the dialect can slice (and concat) tensors of this type along `axis`
    (float and per-tensor int8 always; per-axis int8 weights and int32 biases only if
    the dialect's slice/concat accept them)."""
    t = ir.RankedTensorType(value_type)
    shape = list(t.shape)
    shape[axis] = size
    sliced = ir.RankedTensorType.get(shape, sliced_element_type(t.element_type, axis, 0,
                                                                size))
    return _slice_supported_text(str(t), str(sliced), True)


def slice_info(op) -> tuple[int, int, int] | None:
    """(axis, begin, size) of a train.slice that cuts exactly one axis, else None."""
    if op.name != "train.slice":
        return None
    offsets = list(ir.DenseI64ArrayAttr(op.attributes["offsets"]))
    sizes = list(ir.DenseI64ArrayAttr(op.attributes["sizes"]))
    shape = train.shape_of(op.operands[0])
    cut = [d for d in range(len(shape)) if sizes[d] != shape[d] or offsets[d] != 0]
    if len(cut) != 1:
        return None
    return cut[0], offsets[cut[0]], sizes[cut[0]]


# ---------------------------------------------------------------------------------------
# Narrowing: the first k channels of a gradient from sliced operands
# ---------------------------------------------------------------------------------------

def _defining_op(value: ir.Value):
    return None if isinstance(value, ir.BlockArgument) else value.owner


def _is_depthwise(op) -> bool:
    groups = ir.IntegerAttr(op.attributes["groups"]).value
    weight = train.shape_of(op.results[0])
    return groups > 1 and weight[1] == 1 and groups == weight[0]


def _attributes_of(op, groups: int | None = None) -> dict:
    """A copy of `op`'s attributes (with another `groups`)."""
    attributes = dict(op.attributes.items())
    if groups is not None:
        attributes["groups"] = _i64(groups)
    return attributes


def narrow(value: ir.Value, axis: int, size: int,
           leaves=frozenset()) -> tuple[ir.Value, bool]:
    """`value[.., :size, ..]` along `axis`, built before `value`'s defining op.

    Pushes the slice into the operands of weight-gradient ops, element-wise ops,
    broadcasts and quant.dcast; otherwise (and for values in `leaves`: forward
    activations, which must not be recomputed) slices `value` itself. Returns (the
    narrowed value, whether the slice was pushed into operands).
    """
    shape = train.shape_of(value)
    if shape[axis] == size:
        return value, True
    op = _defining_op(value)
    if op is None or value in leaves or _use_count(value) > 1:
        # A shared value stays whole for its other users: slice it once, where it is
        # defined (a forward activation then keeps only the slice alive).
        return _slice_after(value, axis, size), False
    sizes = list(shape)
    sizes[axis] = size
    with ir.InsertionPoint(op), op.location:
        result_type = ir.RankedTensorType.get(
            sizes, sliced_element_type(_element(value), axis, 0, size))
        name = op.name
        operands = list(op.operands)
        if name == "train.conv2d_grad_weight":
            dy, x = operands
            groups = ir.IntegerAttr(op.attributes["groups"]).value
            if axis == 1 and groups == 1:        # input channels: x[:, :k]
                new = [dy, narrow(x, 1, size, leaves)[0]]
                attributes = _attributes_of(op)
            elif axis == 0 and groups == 1:      # output channels: dy[:, :k]
                new = [narrow(dy, 1, size, leaves)[0], x]
                attributes = _attributes_of(op)
            elif axis == 0 and _is_depthwise(op):  # channels of a depthwise conv
                new = [narrow(dy, 1, size, leaves)[0], narrow(x, 1, size, leaves)[0]]
                attributes = _attributes_of(op, groups=size)
            else:
                return _slice_after(value, axis, size), False
            return ir.Operation.create(name, results=[result_type], operands=new,
                                       attributes=attributes).result, True
        if name == "train.linear_grad_weight":
            dy, x = operands
            new = [dy, narrow(x, 1, size, leaves)[0]] if axis == 1 else \
                [narrow(dy, 1, size, leaves)[0], x]
            return ir.Operation.create(name, results=[result_type], operands=new,
                                       attributes=_attributes_of(op)).result, True
        if name == "train.pad_to" and not any(ir.DenseI64ArrayAttr(op.attributes["offsets"])) \
                and train.shape_of(operands[0]) == sizes:
            return operands[0], True          # the slice of a zero padding: its input
        if name == "train.bias_grad" and axis == 0:
            return ir.Operation.create(name, results=[result_type],
                                       operands=[narrow(operands[0], 1, size, leaves)[0]]
                                       ).result, True
        if name in ELEMENTWISE and len(op.results) == 1 and all(
                train.shape_of(v) == shape for v in operands):
            new = [narrow(v, axis, size, leaves)[0] for v in operands]
            return ir.Operation.create(name, results=[result_type], operands=new,
                                       attributes=_attributes_of(op)).result, True
        if name == "train.broadcast":
            source = operands[0]
            source_shape = train.shape_of(source)
            source_axis = axis - (len(shape) - len(source_shape))
            if source_axis >= 0 and source_shape[source_axis] != 1:
                source = narrow(source, source_axis, size, leaves)[0]
            return ir.Operation.create(name, results=[result_type], operands=[source]
                                       ).result, True
        if name == "quant.dcast" and isinstance(_element(operands[0]),
                                                 quant.UniformQuantizedType):
            return ir.Operation.create(name, results=[result_type],
                                       operands=[narrow(operands[0], axis, size, leaves)[0]]
                                       ).result, True
    return _slice_after(value, axis, size), False


def _slice_after(value: ir.Value, axis: int, size: int) -> ir.Value:
    """A slice of `value` right after its definition (first in the block for an
    argument)."""
    op = _defining_op(value)
    if op is None:
        block = value.owner
        first = block.operations[0] if len(block.operations) else None
        point = ir.InsertionPoint(first) if first is not None else \
            ir.InsertionPoint(block)
        with point:
            return make_slice(value, axis, 0, size)
    with ir.InsertionPoint.after(op), op.location:
        return make_slice(value, axis, 0, size)


def _use_count(value: ir.Value) -> int:
    return sum(1 for _ in value.uses)


def sweep_dead(block: ir.Block) -> int:
    """Erases every op of `block` whose results nothing uses (users first, so one sweep
    in reverse order removes whole dead chains); returns how many it erased."""
    erased = 0
    for op in reversed(list(block.operations)):
        if _erasable(op):
            op.erase()
            erased += 1
    return erased


def _erasable(op) -> bool:
    if op.name.startswith("func.") or not len(op.results):
        return False
    return all(_unused(r) for r in op.results)


def _unused(value: ir.Value) -> bool:
    for _ in value.uses:
        return False
    return True


# ---------------------------------------------------------------------------------------
# The regions of a step
# ---------------------------------------------------------------------------------------

@dataclass
class StepRegions:
    """A step's ops split at its first loss-gradient op (the seed).

    The forward region is the ops before the seed, the backward region the seed and
    the ops after it. `parameter_values` are the parameters, optimizer state and what
    is computed from them alone (slices, casts, constants): no activations.
    """

    ops: list
    seed: int
    position: dict            # op result -> index of its op
    parameter_values: set
    labels: ir.Value | None

    @staticmethod
    def of(step: func.FuncOp) -> "StepRegions":
        ops = list(step.entry_block.operations)
        seed = next((i for i, op in enumerate(ops) if op.name in SEEDS), len(ops))
        args = step.entry_block.arguments
        derived = {arg for i, arg in enumerate(args)
                   if train.arg_role(step, i) is not None or _is_momentum(step, i)}
        position = {}
        for i, op in enumerate(ops):
            for r in op.results:
                position[r] = i
            if len(op.results) and all(v in derived for v in op.operands):
                derived.update(op.results)
        labels = None
        if len(args) and train.arg_name(step, len(args) - 1) == "labels":
            labels = args[len(args) - 1]
        return StepRegions(ops, seed, position, derived, labels)

    def backward_ops(self) -> list:
        return [op for op in self.ops[self.seed:] if op.name != "func.return"]

    def in_forward(self, value: ir.Value) -> bool:
        """Defined before the seed (arguments included)."""
        return isinstance(value, ir.BlockArgument) or self.position[value] < self.seed

    def is_activation(self, value: ir.Value) -> bool:
        """A data input or a forward value computed from data (not the labels)."""
        return value not in self.parameter_values and value != self.labels and \
            self.in_forward(value)

    def forward_values(self) -> set:
        """Every value of the forward region: leaves for `narrow`."""
        return {v for v, i in self.position.items() if i < self.seed}

    def saved(self) -> list:
        """The activations the backward region reads: what is kept for backward."""
        kept, seen = [], set()
        for op in self.backward_ops():
            for v in op.operands:
                if v not in seen and self.is_activation(v):
                    seen.add(v)
                    kept.append(v)
        return kept


def _arg_attr(function, index: int, name: str):
    if "arg_attrs" not in function.attributes:
        return None
    attrs = ir.DictAttr(ir.ArrayAttr(function.attributes["arg_attrs"])[index])
    return attrs[name] if name in attrs else None


def _is_momentum(function, index: int) -> bool:
    return _arg_attr(function, index, MOMENTUM_OF) is not None


def momentum_of(function, index: int) -> int | None:
    """The parameter a momentum buffer argument belongs to (`train.momentum_of`)."""
    attr = _arg_attr(function, index, MOMENTUM_OF)
    return None if attr is None else ir.IntegerAttr(attr).value


def return_op(function: func.FuncOp):
    ops = function.entry_block.operations
    return ops[len(ops) - 1]


def update_of(value: ir.Value):
    """The optimizer op behind a returned value: itself, or the first operand of the
    concat of a partial update. None if there is none."""
    op = _defining_op(value)
    if op is None:
        return None
    if op.name == "train.concat" and len(op.operands) == 2:
        inner = _defining_op(op.operands[0])
        if inner is not None and inner.name in UPDATES:
            return inner
    if op.name in UPDATES:
        return op
    return None


# ---------------------------------------------------------------------------------------
# Partial updates
# ---------------------------------------------------------------------------------------

def partial_update(update, axis: int, k: int, total: int, leaves=frozenset()) -> list:
    """Replaces a full-width optimizer op by an update of the first k channels along
    `axis` concatenated with the untouched rest (likewise for a momentum buffer).

    The gradient is narrowed to its k channels from sliced operands. For a parameter
    type the dialect cannot slice (per-axis int8 weights, until slice/concat accept
    them), a train.qsgd without weight decay gets the narrowed gradient zero-padded
    instead: a zero gradient leaves the other channels' integers unchanged.
    Returns the values replacing the update's results.
    """
    param, grad = update.operands[0], update.operands[1]
    location = update.location
    with ir.InsertionPoint(update), location:
        g_k, _ = narrow(grad, axis, k, leaves)
        if not slicing_supported(param.type, axis, k):
            decay = update.attributes["weight_decay"] if "weight_decay" in \
                update.attributes else None
            if update.name != "train.qsgd" or (decay is not None and
                                               ir.FloatAttr(decay).value != 0.0):
                raise UnsupportedError(
                    f"a partial-channel update of {param.type} needs train.slice and "
                    "train.concat on that type (only without weight decay can it fall "
                    "back to a zero-padded int8 gradient)", str(location))
            offsets = ir.DenseI64ArrayAttr.get([0] * len(train.shape_of(grad)))
            padded = ir.Operation.create("train.pad_to", results=[grad.type],
                                         operands=[g_k],
                                         attributes={"offsets": offsets}).result
            update.operands[1] = padded
            return list(update.results)
        sources = [param] + ([update.operands[2]] if update.name == "train.sgd_momentum"
                             else [])
        slices = [make_slice(source, axis, 0, k) for source in sources]
        operands = [slices[0], g_k] + slices[1:]
        attributes = dict(update.attributes.items())
        new = ir.Operation.create(update.name, results=[s.type for s in slices],
                                  operands=operands, attributes=attributes)
        replacements = []
        for old, fresh, source in zip(update.results, new.results, sources):
            rest = make_slice(source, axis, k, total - k)
            replacements.append((old, make_concat([fresh, rest], axis, old.type)))
    for old, fresh in replacements:
        old.replace_all_uses_with(fresh)
    update.erase()
    return [fresh for _, fresh in replacements]


# ---------------------------------------------------------------------------------------
# The pass
# ---------------------------------------------------------------------------------------

@dataclass
class TrainPrune:
    """Options: the step function and whether to run canonicalize + cse afterwards."""

    step: str = "train_step"
    cleanup: bool = True

    def run(self, module: ir.Module) -> None:
        step = next((op for op in module.body.operations if isinstance(op, func.FuncOp)
                     and op.sym_name.value == self.step), None)
        if step is None:
            raise PassError(f"no function @{self.step} to prune (run --train-autodiff "
                            "first)", str(module.operation.location))
        with step.location:
            _drop_frozen_updates(step)
            _partialize_updates(step)
            _push_slices(step)
            sweep_dead(step.entry_block)
        if self.cleanup:
            from ..compiler.pipeline import run_pipeline
            run_pipeline(module, ["canonicalize", "cse"])
        with step.location:
            hoist_slices(step)
            _verify(step)


def _drop_frozen_updates(step: func.FuncOp) -> None:
    """Removes results that update frozen parameters (and their momentum buffers)."""
    ret = return_op(step)
    count = len(ret.operands)
    drop = []
    for i in range(count):
        target = train.updated_arg(step, i)
        if target is None:
            continue
        param = momentum_of(step, target)
        param = target if param is None else param
        if train.arg_role(step, param) != "trainable":
            drop.append(i)
    if not drop:
        return
    keep = [i for i in range(count) if i not in drop]
    values = [ret.operands[i] for i in keep]
    attrs = ir.ArrayAttr(step.attributes["res_attrs"]) if "res_attrs" in step.attributes \
        else None
    with ir.InsertionPoint(ret), ret.location:
        func.ReturnOp(values)
    ret.erase()
    arg_types = [a.type for a in step.entry_block.arguments]
    step.attributes["function_type"] = ir.TypeAttr.get(
        ir.FunctionType.get(arg_types, [v.type for v in values]))
    if attrs is not None:
        step.attributes["res_attrs"] = ir.ArrayAttr.get([attrs[i] for i in keep])


def _partialize_updates(step: func.FuncOp) -> None:
    """Rewrites full-width updates of partial-channel weights into the sliced form."""
    ret = return_op(step)
    args = step.entry_block.arguments
    regions = StepRegions.of(step)
    leaves = regions.forward_values()
    for position in range(len(ret.operands)):
        index = train.updated_arg(step, position)
        if index is None or _is_momentum(step, index):
            continue
        k = arg_channels(step, index)
        if k is None:
            continue
        consumer = weight_consumer(step, index)
        if consumer is None:
            raise PassError(f"parameter '{train.arg_name(step, index)}' has train.channels "
                            "but is not the weight of one conv or linear op",
                            str(step.location))
        axis, total = channel_axis(consumer)
        update = _defining_op(ret.operands[position])
        if update is None or update.name not in UPDATES or update.operands[0] != args[index]:
            continue    # already partial (the concat form), or no optimizer op
        grad_op = _defining_op(update.operands[1])
        if grad_op is not None and grad_op.name == "train.pad_to":
            continue    # the zero-padded int8 form
        partial_update(update, axis, k, total, leaves)


def _push_slices(step: func.FuncOp) -> None:
    """Pushes single-axis prefix slices of backward values into their operands, so a
    gradient is computed at the width it is used."""
    changed = True
    while changed:
        changed = False
        regions = StepRegions.of(step)
        leaves = regions.forward_values()
        for op in regions.backward_ops():
            info = slice_info(op)
            if info is None or info[1] != 0:
                continue
            source = op.operands[0]
            producer = _defining_op(source)
            if producer is None or source in leaves or producer.name == "train.slice" \
                    or _use_count(source) > 1:
                continue
            axis, _, size = info
            with ir.InsertionPoint(op), op.location:
                narrowed, pushed = narrow(source, axis, size, leaves)
            if not pushed:
                continue    # narrow sliced it again: the extra slice is swept later
            op.results[0].replace_all_uses_with(narrowed)
            op.erase()
            sweep_dead(step.entry_block)
            changed = True
            break


def hoist_slices(step: func.FuncOp) -> None:
    """Moves slices of forward activations from the backward region up to right after
    the activation, so that only the slice is kept for backward."""
    regions = StepRegions.of(step)
    block = step.entry_block
    for op in regions.backward_ops():
        if op.name != "train.slice":
            continue
        source = op.operands[0]
        if not regions.is_activation(source):
            continue
        if isinstance(source, ir.BlockArgument):
            op.move_before(block.operations[0])
        else:
            op.move_after(source.owner)


def _verify(step: func.FuncOp) -> None:
    """Checks the pruned step's invariants (see the module docstring)."""
    ret = return_op(step)
    args = step.entry_block.arguments
    where = str(step.location)
    for position, value in enumerate(ret.operands):
        index = train.updated_arg(step, position)
        if index is None:
            continue
        param = momentum_of(step, index)
        param = index if param is None else param
        name = train.arg_name(step, param)
        if train.arg_role(step, param) != "trainable":
            raise PassError(f"@{step.sym_name.value} still updates the frozen parameter "
                            f"'{name}'", where)
        k = arg_channels(step, param)
        update = update_of(value)
        if k is None or param != index or update is None:
            continue
        grad = update.operands[1]
        grad_op = _defining_op(grad)
        if grad_op is not None and grad_op.name == "train.pad_to":
            grad = grad_op.operands[0]
        if train.shape_of(grad) == train.shape_of(args[index]):
            raise PassError(f"the partial-channel weight '{name}' (train.channels = {k}) "
                            "still gets a full-width gradient", where)
    for op in StepRegions.of(step).backward_ops():
        if all(_unused(r) for r in op.results):
            raise PassError(f"'{op.name}' computes a value no update needs",
                            str(op.location))

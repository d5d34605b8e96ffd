"""--train-int16-gradients: the backward pass of an int8 model in int16 fixed point,
for parts without a floating-point unit (Cortex-M0/M3).

Every f32 gradient of the step, from the loss gradient to the updates, becomes a
tensor of `!quant.uniform<i16:f32, 2^e>`: int16 integers q meaning q · 2^e, with one
exponent e per tensor fixed here. The ops keep their names; their fixed-point forms
(runtime/fixed_point.py) multiply integers by compile-time multipliers, accumulate
exactly and round once:

  * `train.cross_entropy_grad` reads the int8 logits themselves (no dequantization):
    softmax through a table of exp over the 256 possible logit distances, the result
    p - onehot in Q0.15 (e = -15) scaled by 2^k at run time, k the largest that keeps
    it in int16 (its second result, `shift`: dynamic loss scaling, so that the small
    gradients of a trained model keep their bits); every update reads `shift` and
    divides 2^k out. Every other op is linear in the loss gradient, so the exponents
    below are those of the unscaled gradient and hold for every k;
  * `train.conv2d_grad_input` and `train.conv2d_qsgd` read the int8 weight and
    activation themselves; `train.bias_grad` sums into `!quant.uniform<i32:f32, 2^e>`,
    which `train.qsgd` consumes; `mask_grad`, `add`, `avg_pool2d_grad`, `reshape`,
    `slice`, `pad_to` move or combine gradients.

Exponents come from calibration: each op producing a gradient carries
`train.grad_range` (the largest |value| a float run of the step produced on sample
data; compiler/calibration.py writes it), and e is the smallest exponent with
range · headroom <= 32767 · 2^e. Values that must share storage semantics share
one exponent, the largest of the group: a reshape, slice, pad_to or mask_grad keeps
its operand's, an add's operands and result agree. Gradients also take half the
bytes of f32 ones in the memory plan.

Options: function (empty: every function); headroom (2.0: one bit above the
calibrated range, for gradients that grow while training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..compiler.errors import PassError, format_location
from ..compiler.source import FunctionPass
from ..runtime.fixed_point import LOGIT_GRAD_EXPONENT

GRAD_RANGE = "train.grad_range"
"""Op attribute (f64): the largest |value| of its result seen in calibration."""

INT16_MAX = (1 << 15) - 1

# Ops whose result keeps operand 0's exponent (they move or mask values).
SAME_EXPONENT = {"train.reshape", "train.slice", "train.pad_to", "train.mask_grad"}
# Ops producing a new gradient whose exponent calibration decides.
CALIBRATED = {"train.conv2d_grad_input", "train.avg_pool2d_grad", "train.add"}
# Where a gradient ends: operand position of the gradient in an update.
CONSUMERS = {"train.qsgd": 1, "train.conv2d_qsgd": 1}
# Operands read as int8 (their quant.dcast is bypassed): op -> positions.
INT8_OPERANDS = {"train.cross_entropy_grad": (0,), "train.conv2d_grad_input": (1,),
                 "train.conv2d_qsgd": (2,)}


@dataclass
class TrainInt16Gradients(FunctionPass):
    """Options: function (empty: every function), headroom."""

    headroom: float = 2.0

    def rewrite(self, function: func.FuncOp) -> None:
        with function.location:
            int16_gradients(function, self.headroom)


def exponent_for(value_range: float, headroom: float) -> int:
    """The smallest e with value_range · headroom <= 32767 · 2^e."""
    if not value_range > 0:
        return LOGIT_GRAD_EXPONENT
    e = math.ceil(math.log2(value_range * headroom / INT16_MAX))
    while value_range * headroom > math.ldexp(INT16_MAX, e):
        e += 1
    return e


def fixed_type(bits: int, exponent: int) -> ir.Type:
    """!quant.uniform<i<bits>:f32, 2^exponent> over the full signed range."""
    storage = ir.IntegerType.get_signless(bits)
    f32 = ir.F32Type.get()
    return quant.UniformQuantizedType.get(
        quant.QuantizedType.FLAG_SIGNED, storage, f32, math.ldexp(1.0, exponent), 0,
        -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


class _Groups:
    """Union-find over gradient values that must share one exponent."""

    def __init__(self):
        self.parent: dict = {}

    def find(self, value):
        self.parent.setdefault(value, value)
        while self.parent[value] != value:
            self.parent[value] = self.parent[self.parent[value]]
            value = self.parent[value]
        return value

    def union(self, a, b) -> None:
        self.parent[self.find(a)] = self.find(b)


def _error(op, message: str) -> PassError:
    return PassError(f"'{op.name}' {message}", format_location(op.location))


def gradient_ops(function: func.FuncOp) -> list:
    """The ops of the backward pass on gradient values, in program order: from each
    cross_entropy_grad forward through the ops that read a gradient."""
    gradient_values: set = set()
    ops = []
    for op in function.entry_block.operations:
        reads = [i for i, v in enumerate(op.operands) if v in gradient_values]
        if op.name == "train.cross_entropy_grad" or reads:
            if op.name in CONSUMERS:
                if reads != [CONSUMERS[op.name]]:
                    raise _error(op, "reads an int16 gradient where it expects another value")
            elif op.name == "train.conv2d_grad_weight":
                raise _error(op, "has no int16 fixed-point form: int16 gradients update an "
                                 "int8 weight in train.conv2d_qsgd (--train-fuse-update), "
                                 "which a partial-channel weight with weight decay does "
                                 "not take")
            elif op.name not in SAME_EXPONENT | CALIBRATED | {"train.cross_entropy_grad",
                                                               "train.bias_grad"}:
                raise _error(op, "has no int16 fixed-point form (supported: cross_entropy_grad, "
                                 "conv2d_grad_input, conv2d_qsgd, bias_grad, qsgd, mask_grad, "
                                 "add, avg_pool2d_grad, reshape, slice, pad_to)")
            elif op.name == "train.add" and len(reads) != 2:
                raise _error(op, "adds a gradient to a value that is not one")
            elif op.name != "train.cross_entropy_grad" and 0 not in reads:
                raise _error(op, "reads an int16 gradient where it expects another value")
            ops.append(op)
            if op.name not in CONSUMERS:
                gradient_values.update(op.results)
    return ops


def _int8_source(op, position: int) -> ir.Value:
    """The int8 value a float operand dequantizes (`quant.dcast`), or the operand if
    it is int8 already."""
    value = op.operands[position]
    if isinstance(ir.RankedTensorType(value.type).element_type, quant.QuantizedType):
        return value
    owner = value.owner
    if isinstance(owner, ir.Block) or owner.name != "quant.dcast":
        raise _error(op, f"needs operand #{position} as a dequantized int8 tensor "
                         "(quant.dcast) for int16 gradients")
    return owner.operands[0]


def _calibrated_exponent(op, headroom: float) -> int:
    if GRAD_RANGE not in op.attributes:
        raise _error(op, f"has no '{GRAD_RANGE}' (run calibration first: the driver "
                         "does it with --gradients int16)")
    return exponent_for(ir.FloatAttr(op.attributes[GRAD_RANGE]).value, headroom)


def int16_gradients(function: func.FuncOp, headroom: float = 2.0) -> int:
    """Rewrites the backward pass of `function` to int16 fixed point; returns the
    number of gradient tensors."""
    ops = gradient_ops(function)
    groups, exponents = _Groups(), {}
    for op in ops:
        if op.name in CONSUMERS:
            continue
        result = op.results[0]
        groups.find(result)
        if op.name == "train.cross_entropy_grad":
            exponents[result] = LOGIT_GRAD_EXPONENT
        elif op.name in SAME_EXPONENT:
            groups.union(result, op.operands[0])
        elif op.name in CALIBRATED:
            exponents[result] = _calibrated_exponent(op, headroom)
            if op.name == "train.add":
                groups.union(op.operands[0], result)
                groups.union(op.operands[1], result)
    shared: dict = {}
    for value, e in exponents.items():
        root = groups.find(value)
        shared[root] = max(shared.get(root, e), e)
    dead = []
    for op in ops:
        for position in INT8_OPERANDS.get(op.name, ()):
            source = _int8_source(op, position)
            if source != op.operands[position] and op.operands[position] not in dead:
                dead.append(op.operands[position])
            op.operands[position] = source
        if op.name in CONSUMERS:
            continue
        result = op.results[0]
        shape = ir.RankedTensorType(result.type).shape
        if op.name == "train.bias_grad":
            e = shared[groups.find(op.operands[0])]
            result.set_type(ir.RankedTensorType.get(shape, fixed_type(32, e)))
        else:
            e = shared[groups.find(result)]
            result.set_type(ir.RankedTensorType.get(shape, fixed_type(16, e)))
        if GRAD_RANGE in op.attributes:
            del op.attributes[GRAD_RANGE]
    for dcast in dead:                  # each once: a dequantization no one reads
        if not list(dcast.uses):
            dcast.owner.operation.erase()
    converted = sum(1 for op in ops if op.name not in CONSUMERS)
    losses = [op for op in ops if op.name == "train.cross_entropy_grad"]
    if len(losses) == 1:
        _scale_loss_gradient(losses[0], [op for op in ops if op.name in CONSUMERS])
    return converted


def _recreate(op, result_types: list, operands: list) -> ir.Operation:
    """`op` again with other results and operands (same attributes), its uses moved
    over to the new op's first results; the old op is erased."""
    named = (op.attributes[i] for i in range(len(op.attributes)))
    attributes = {a.name: a.attr for a in named}
    with ir.InsertionPoint(op), op.location:
        new = ir.Operation.create(op.name, results=result_types, operands=operands,
                                  attributes=attributes)
    for old, replacement in zip(op.results, new.results):
        old.replace_all_uses_with(replacement)
    op.operation.erase()
    return new


def _scale_loss_gradient(loss, updates: list) -> None:
    """Dynamic loss scaling: the loss gradient gets its `shift` result (scaled by 2^k
    to fill the int16 range, k chosen at run time), every update of the backward pass
    reads it to divide 2^k out."""
    shift_type = ir.RankedTensorType.get([], ir.IntegerType.get_signless(32))
    loss = _recreate(loss, [loss.results[0].type, shift_type], list(loss.operands))
    for update in updates:
        _recreate(update, [update.results[0].type], list(update.operands) + [loss.results[1]])

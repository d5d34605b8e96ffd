"""--train-autodiff: derives a `train_step` function from a forward function.

train_step(forward args..., labels) -> (loss, updated trainable params...)
runs the forward ops, the loss, reverse-mode gradients of exactly the values
that lead to a trainable parameter, and one SGD update per trainable parameter.
Each update result is marked `train.updates = <argument index>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func
from ..compiler.errors import PassError
from ..dialects import train
from .gradient_rules import GRADIENTS, LOSSES


@dataclass
class TrainAutodiff:
    """Options: the forward and step function names, the loss and SGD settings."""

    forward: str = "forward"
    step: str = "train_step"
    loss: str = "cross-entropy"
    lr: float = 0.01
    weight_decay: float = 0.0

    def run(self, module: ir.Module) -> None:
        if self.loss not in LOSSES:
            raise PassError(f"unknown loss '{self.loss}' (expected one of: {', '.join(LOSSES)})")
        if self.lr <= 0:
            raise PassError(f"learning rate must be positive, got {self.lr}")
        functions = {op.sym_name.value: op for op in module.body.operations
                     if isinstance(op, func.FuncOp)}
        if self.forward not in functions:
            raise PassError(f"no function @{self.forward} to differentiate",
                            str(module.operation.location))
        if self.step in functions:
            raise PassError(f"function @{self.step} already exists",
                            str(functions[self.step].location))
        forward = functions[self.forward]
        with ir.InsertionPoint(module.body), forward.location:
            _StepBuilder(forward, self).build()


class _StepBuilder:
    """Builds the training step of one forward function."""

    def __init__(self, forward: func.FuncOp, options: TrainAutodiff):
        self.forward = forward
        self.options = options
        self.body = forward.entry_block
        self.arg_types = [arg.type for arg in self.body.arguments]
        self.trainable = [i for i in range(len(self.arg_types))
                          if train.arg_role(forward, i) == "trainable"]

    def build(self) -> None:
        returned = self._returned_logits()
        batch = train.shape_of(returned)[0]
        labels_type = ir.RankedTensorType.get([batch], ir.IntegerType.get_signless(32))
        loss_type = ir.RankedTensorType.get([], ir.RankedTensorType(returned.type).element_type)
        result_types = [loss_type] + [self.arg_types[i] for i in self.trainable]
        step = func.FuncOp(self.options.step,
                           ir.FunctionType.get(self.arg_types + [labels_type], result_types))
        step.attributes["arg_attrs"] = self._arg_attrs()
        step.attributes["res_attrs"] = self._res_attrs()
        block = step.add_entry_block()
        with ir.InsertionPoint(block):
            values = dict(zip(self.body.arguments, block.arguments))
            logits = self._clone_forward(values)
            labels = block.arguments[len(self.arg_types)]
            with self._return_op().location:
                loss, seed = LOSSES[self.options.loss](logits, labels)
            grads = self._backward(values, returned, seed)
            updates = []
            for index in self.trainable:
                arg = self.body.arguments[index]
                if arg not in grads:
                    raise PassError(f"trainable parameter #{index} "
                                    f"({train.arg_name(self.forward, index)}) does not "
                                    "affect the loss", str(self.forward.location))
                updates.append(train.sgd(values[arg], grads[arg], lr=self.options.lr,
                                         weight_decay=self.options.weight_decay))
            func.ReturnOp([loss] + updates)

    def _return_op(self) -> ir.OpView:
        return self.body.operations[len(self.body.operations) - 1]

    def _returned_logits(self) -> ir.Value:
        terminator = self._return_op()
        if len(terminator.operands) != 1 or len(train.shape_of(terminator.operands[0])) != 2:
            raise PassError(f"@{self.options.forward} must return one [batch, classes] "
                            f"tensor of logits for the {self.options.loss} loss",
                            str(terminator.location))
        return terminator.operands[0]

    def _arg_attrs(self) -> ir.ArrayAttr:
        attrs = [ir.DictAttr(ir.ArrayAttr(self.forward.attributes["arg_attrs"])[i])
                 if "arg_attrs" in self.forward.attributes else ir.DictAttr.get({})
                 for i in range(len(self.arg_types))]
        attrs.append(ir.DictAttr.get({train.NAME: ir.StringAttr.get("labels")}))
        return ir.ArrayAttr.get(attrs)

    def _res_attrs(self) -> ir.ArrayAttr:
        i64 = ir.IntegerType.get_signless(64)
        attrs = [ir.DictAttr.get({train.NAME: ir.StringAttr.get("loss")})]
        for index in self.trainable:
            attrs.append(ir.DictAttr.get({
                train.NAME: ir.StringAttr.get(train.arg_name(self.forward, index)),
                train.UPDATES: ir.IntegerAttr.get(i64, index)}))
        return ir.ArrayAttr.get(attrs)

    def _clone_forward(self, values: dict) -> ir.Value:
        """Re-creates the forward ops in the step; returns the logits."""
        for op in self.body.operations:
            if isinstance(op, func.ReturnOp):
                return values[op.operands[0]]
            if len(op.regions) or len(op.successors):
                raise PassError(f"'{op.operation.name}' has regions or successors, which "
                                "--train-autodiff does not support", str(op.location))
            clone = ir.Operation.create(
                op.operation.name, results=[r.type for r in op.results],
                operands=[values[v] for v in op.operands],
                attributes=dict(op.attributes.items()), loc=op.location)
            for old, new in zip(op.results, clone.results):
                values[old] = new
        raise PassError("forward function has no return", str(self.forward.location))

    def _requires_grad(self) -> set:
        """Forward values that depend on a trainable parameter."""
        needed = {self.body.arguments[i] for i in self.trainable}
        for op in self.body.operations:
            if any(v in needed for v in op.operands):
                needed.update(op.results)
        return needed

    def _backward(self, values: dict, logits: ir.Value, seed: ir.Value) -> dict:
        """Reverse-mode sweep; returns the gradient of each forward value."""
        needed = self._requires_grad()
        pending: dict = {logits: [seed]}
        grads: dict = {}
        for op in reversed(list(self.body.operations)):
            if isinstance(op, func.ReturnOp) or len(op.results) != 1:
                continue
            result = op.results[0]
            if result not in pending:
                continue
            with op.location:
                dy = _sum(pending.pop(result))
                rule = GRADIENTS.get(op.operation.name)
                if rule is None:
                    raise PassError(f"no gradient rule for '{op.operation.name}'",
                                    str(op.location))
                wanted = [v in needed for v in op.operands]
                forward_op = values[result].owner.opview
                for operand, grad in zip(op.operands, rule(forward_op, dy, wanted)):
                    if grad is not None:
                        pending.setdefault(operand, []).append(grad)
        for arg in self.body.arguments:
            if arg in pending:
                with self.forward.location:
                    grads[arg] = _sum(pending.pop(arg))
        return grads


def _sum(grads: list) -> ir.Value:
    """Accumulates the gradients reaching one value (one per use)."""
    total = grads[0]
    for grad in grads[1:]:
        total = train.add(total, grad)
    return total

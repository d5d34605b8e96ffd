"""--train-autodiff: derives a `train_step` function from a forward function.

train_step(forward args..., [momentum buffers...], labels)
    -> (loss, updated trainable params..., [updated momentum buffers...])
runs the forward ops, the loss, reverse-mode gradients of exactly the values
that lead to a trainable parameter, and one optimizer step per trainable parameter.
Each update result is marked `train.updates = <argument index>`.

Options:
- `optimizer=sgd` (default): `train.sgd` per float parameter;
  `optimizer=momentum`: `train.sgd_momentum` with one buffer argument per float
  parameter, named "<param>.momentum" and marked `train.momentum_of = <param index>`,
  its update returned after the parameters' (marked `train.updates = <buffer index>`).
- int8 parameters (quantized weights and the int32 biases of qconv2d / qlinear) are
  updated by `train.qsgd` in the integer domain, a bias with its `scales` = s_x · s_w[c];
  `qas=true` (default) adds quantization-aware scaling, `qas=false` the paper's plain
  int8 SGD baseline. Momentum is not available for int8 parameters.
- a weight with `train.channels = k` (a partial-channel update, see
  compiler/schemes.py) gets the gradient of its first k channels only, computed from
  sliced operands, and `p' = concat(update(slice(p, :k)), slice(p, k:))` along its
  channel axis (axis 1 for linear layers and groups == 1 convs, 0 for depthwise convs).
- `scheme=FILE` (or `FILE#KEY`) first applies a sparse update scheme to @forward's
  parameters; its `optimizer` and `qas` entries, when present, override the options.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..compiler.errors import PassError, UnsupportedError
from ..compiler.schemes import (apply_scheme, arg_channels, bias_consumer, channel_axis,
                                check_trainable, is_quantized_type, layer_of, load_scheme,
                                weight_consumer)
from ..dialects import train
from .gradient_rules import LOSSES
from .train_prune import MOMENTUM_OF, partial_update, sweep_dead
from .train_vjp import clone_body, depends_on, reverse_sweep

OPTIMIZERS = ("sgd", "momentum")


@dataclass
class TrainAutodiff:
    """Options: the forward and step function names, the loss, the optimizer and its
    settings, QAS for int8 parameters, and an optional sparse update scheme file."""

    forward: str = "forward"
    step: str = "train_step"
    loss: str = "cross-entropy"
    lr: float = 0.01
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    momentum: float = 0.9
    qas: bool = True
    scheme: str = ""

    def run(self, module: ir.Module) -> None:
        if self.loss not in LOSSES:
            raise PassError(f"unknown loss '{self.loss}' (expected one of: {', '.join(LOSSES)})")
        functions = {op.sym_name.value: op for op in module.body.operations
                     if isinstance(op, func.FuncOp)}
        if self.forward not in functions:
            raise PassError(f"no function @{self.forward} to differentiate",
                            str(module.operation.location))
        if self.step in functions:
            raise PassError(f"function @{self.step} already exists",
                            str(functions[self.step].location))
        forward = functions[self.forward]
        options = self
        if self.scheme:
            scheme = load_scheme(self.scheme)
            with forward.location:
                apply_scheme(forward, scheme)
            options = _with_scheme_settings(self, scheme)
        options.check()
        with ir.InsertionPoint(module.body), forward.location:
            _StepBuilder(forward, options).build()

    def check(self) -> None:
        """Errors for optimizer settings out of range."""
        if self.optimizer not in OPTIMIZERS:
            raise PassError(f"unknown optimizer '{self.optimizer}' (expected one of: "
                            f"{', '.join(OPTIMIZERS)})")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise PassError(f"learning rate must be positive, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise PassError(f"weight decay must be a non-negative number, got "
                            f"{self.weight_decay}")
        if not (math.isfinite(self.momentum) and self.momentum >= 0):
            raise PassError(f"momentum must be a non-negative number, got {self.momentum}")


def _with_scheme_settings(options: TrainAutodiff, scheme) -> TrainAutodiff:
    """The options with the scheme's optimizer and qas entries applied."""
    changes = {}
    if scheme.optimizer is not None:
        for field, value in (("optimizer", scheme.optimizer.name),
                             ("lr", scheme.optimizer.lr),
                             ("momentum", scheme.optimizer.momentum),
                             ("weight_decay", scheme.optimizer.weight_decay)):
            if value is not None:
                changes[field] = value
    if scheme.qas is not None:
        changes["qas"] = scheme.qas
    return dataclasses.replace(options, **changes)


class _StepBuilder:
    """Builds the training step of one forward function."""

    def __init__(self, forward: func.FuncOp, options: TrainAutodiff):
        self.forward = forward
        self.options = options
        self.body = forward.entry_block
        self.arg_types = [arg.type for arg in self.body.arguments]
        self.trainable = [i for i in range(len(self.arg_types))
                          if train.arg_role(forward, i) == "trainable"]
        self.quantized = {i for i in self.trainable
                          if is_quantized_type(ir.RankedTensorType(
                              self.arg_types[i]).element_type)}
        for index in sorted(self.quantized):
            check_trainable(forward, index, layer_of(train.arg_name(forward, index)),
                            str(forward.location))
        self.partial = self._partial_channels()
        self.buffers: list[int] = []     # parameters with a momentum buffer, in order
        if options.optimizer == "momentum":
            if self.quantized:
                index = min(self.quantized)
                raise UnsupportedError(
                    f"momentum is not supported for int8 parameters ('"
                    f"{train.arg_name(forward, index)}' is {self.arg_types[index]}); "
                    "use optimizer=sgd", str(forward.location))
            self.buffers = list(self.trainable)

    def _partial_channels(self) -> dict[int, tuple[int, int, int]]:
        """index -> (axis, k, channel count) of the weights with `train.channels`."""
        partial = {}
        for index in range(len(self.arg_types)):
            k = arg_channels(self.forward, index)
            if k is None:
                continue
            name = train.arg_name(self.forward, index)
            if index not in self.trainable:
                raise PassError(f"parameter '{name}' has train.channels = {k} but is not "
                                "trainable", str(self.forward.location))
            consumer = weight_consumer(self.forward, index)
            if consumer is None:
                raise PassError(f"parameter '{name}' has train.channels = {k} but is not "
                                "the weight of exactly one conv or linear op",
                                str(self.forward.location))
            axis, total = channel_axis(consumer)
            if k > total:
                raise PassError(f"parameter '{name}' has train.channels = {k} but only "
                                f"{total} channels along axis {axis}",
                                str(self.forward.location))
            if k < total:
                partial[index] = (axis, k, total)
        return partial

    def build(self) -> None:
        returned = self._returned_logits()
        batch = train.shape_of(returned)[0]
        if self.options.loss == "mse":  # regression targets have the output's type
            labels_type = returned.type
        else:  # class indices
            labels_type = ir.RankedTensorType.get([batch], ir.IntegerType.get_signless(32))
        loss_type = ir.RankedTensorType.get([], ir.RankedTensorType(returned.type).element_type)
        buffer_types = [self.arg_types[i] for i in self.buffers]
        result_types = [loss_type] + [self.arg_types[i] for i in self.trainable] + buffer_types
        step = func.FuncOp(self.options.step,
                           ir.FunctionType.get(self.arg_types + buffer_types + [labels_type],
                                               result_types))
        step.attributes["arg_attrs"] = self._arg_attrs()
        step.attributes["res_attrs"] = self._res_attrs()
        block = step.add_entry_block()
        with ir.InsertionPoint(block):
            values = dict(zip(self.body.arguments, block.arguments))
            logits = self._clone_forward(values)
            forward_values = frozenset(values.values())
            labels = block.arguments[len(block.arguments) - 1]
            buffers = dict(zip(self.buffers, block.arguments[len(self.arg_types):]))
            with self._return_op().location:
                loss, seed = LOSSES[self.options.loss](logits, labels)
            grads = self._backward(values, returned, seed)
            updates, buffer_updates = [], []
            for index in self.trainable:
                arg = self.body.arguments[index]
                if arg not in grads:
                    raise PassError(f"trainable parameter #{index} "
                                    f"({train.arg_name(self.forward, index)}) does not "
                                    "affect the loss", str(self.forward.location))
                results = self._update(index, values[arg], grads[arg], buffers.get(index))
                if index in self.partial:
                    results = partial_update(results[0].owner, *self.partial[index],
                                             leaves=forward_values)
                updates.append(results[0])
                buffer_updates += results[1:]
            func.ReturnOp([loss] + updates + buffer_updates)
        if self.partial:
            sweep_dead(block)   # the full-width gradients the partial updates replaced

    def _update(self, index: int, param: ir.Value, grad: ir.Value, buffer) -> list:
        """The optimizer op of one parameter; returns its results."""
        o = self.options
        if index in self.quantized:
            scales = self._bias_scales(index)
            return [train.qsgd(param, grad, lr=o.lr, weight_decay=o.weight_decay,
                               scales=scales, qas=o.qas)]
        if buffer is not None:
            return list(train.sgd_momentum(param, grad, buffer, lr=o.lr, momentum=o.momentum,
                                           weight_decay=o.weight_decay))
        return [train.sgd(param, grad, lr=o.lr, weight_decay=o.weight_decay)]

    def _bias_scales(self, index: int) -> list[float] | None:
        """s_x · s_w[c] of an int32 bias (None for an int8 weight, whose scales are in
        its type)."""
        element = ir.RankedTensorType(self.arg_types[index]).element_type
        if isinstance(element, quant.QuantizedType):
            return None
        name = train.arg_name(self.forward, index)
        op = bias_consumer(self.forward, index)
        if op is None or op.name not in ("train.qconv2d", "train.qlinear"):
            raise PassError(f"int8 parameter '{name}' ({self.arg_types[index]}) has no "
                            "quantization scales: an integer parameter must be the bias of "
                            "a qconv2d or qlinear", str(self.forward.location))
        x = ir.RankedTensorType(op.operands[0].type).element_type
        w = ir.RankedTensorType(op.operands[1].type).element_type
        channels = train.shape_of(op.operands[1])[0]
        s_x = quant.UniformQuantizedType(x).scale
        if isinstance(w, quant.UniformQuantizedPerAxisType):
            s_w = list(w.scales)
        else:
            s_w = [quant.UniformQuantizedType(w).scale] * channels
        return [s_x * s for s in s_w]

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
        i64 = ir.IntegerType.get_signless(64)
        attrs = [ir.DictAttr(ir.ArrayAttr(self.forward.attributes["arg_attrs"])[i])
                 if "arg_attrs" in self.forward.attributes else ir.DictAttr.get({})
                 for i in range(len(self.arg_types))]
        for index in self.buffers:
            attrs.append(ir.DictAttr.get({
                train.NAME: ir.StringAttr.get(f"{train.arg_name(self.forward, index)}"
                                              ".momentum"),
                MOMENTUM_OF: ir.IntegerAttr.get(i64, index)}))
        attrs.append(ir.DictAttr.get({train.NAME: ir.StringAttr.get("labels")}))
        return ir.ArrayAttr.get(attrs)

    def _res_attrs(self) -> ir.ArrayAttr:
        i64 = ir.IntegerType.get_signless(64)
        attrs = [ir.DictAttr.get({train.NAME: ir.StringAttr.get("loss")})]
        for index in self.trainable:
            attrs.append(ir.DictAttr.get({
                train.NAME: ir.StringAttr.get(train.arg_name(self.forward, index)),
                train.UPDATES: ir.IntegerAttr.get(i64, index)}))
        for position, index in enumerate(self.buffers):
            attrs.append(ir.DictAttr.get({
                train.NAME: ir.StringAttr.get(f"{train.arg_name(self.forward, index)}"
                                              ".momentum"),
                train.UPDATES: ir.IntegerAttr.get(i64, len(self.arg_types) + position)}))
        return ir.ArrayAttr.get(attrs)

    def _clone_forward(self, values: dict) -> ir.Value:
        """Re-creates the forward ops in the step; returns the logits."""
        return clone_body(self.forward, values, "train-autodiff")[0]

    def _backward(self, values: dict, logits: ir.Value, seed: ir.Value) -> dict:
        """Reverse-mode sweep (train_vjp.py's, shared with --train-vjp); returns the
        gradient of each forward argument that depends on a trainable parameter."""
        needed = depends_on(self.body, [self.body.arguments[i] for i in self.trainable])
        return reverse_sweep(self.forward, values, {logits: [seed]}, needed)

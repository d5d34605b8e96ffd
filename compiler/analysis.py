"""Memory a training step needs beyond inference: the numbers a sparse update scheme
trades off (`tcc analyze model.mlir --scheme FILE`).

For a model and a scheme, the training step is derived (--train-autodiff with the
scheme, then --train-prune) unless the module already has one, and measured from the
IR alone:

- *saved for backward*: the activations the backward pass reads, i.e. every value
  computed before the loss gradient (or a data input) that an op after it uses —
  parameters and values computed from parameters alone do not count, nor do the
  labels. A partial-channel layer counts only its kept slice; an int8 activation
  counts one byte per element (the backward dequantizes it when it needs it).
  An activation the backward reads only to build a 0/1 mask (the compared operand
  of relu_grad / clamp_grad, possibly through quant.dcast: ReLU, ReLU6 and the
  int8 ops' saturation masks) counts 1 bit per element, as the Tiny Training
  Engine stores it; `saved_for_backward_ir_bytes` counts it as the tensor the IR
  keeps (one int8 or f32 element each);
- *trainable parameters*: the parameter elements the step updates (for a
  partial-channel weight, its first k channels only), in their storage type;
- *gradients*: the gradient tensors fed to the optimizer ops (f32);
- *momentum*: the momentum buffer arguments (optimizer=momentum).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..dialects import train
from ..passes.train_prune import StepRegions, momentum_of, return_op, update_of
from .errors import InputError
from .pipeline import run_pipeline
from .source import find_function, load_module, new_context


MASK_OPERANDS = {"train.relu_grad": 1, "train.clamp_grad": 1}
"""Gradient ops that only compare operand #i (a 0/1 mask of it would do)."""
CASTS = ("quant.dcast", "quant.scast")


@dataclass
class Tensor:
    """One tensor of the report; a mask-only activation counts `bytes` = 1 bit per
    element and `ir_bytes` = the tensor itself."""

    name: str
    type: str
    bytes: int
    ir_bytes: int = 0
    mask: bool = False


@dataclass
class Update:
    """One updated parameter: `bytes` of it are updated (all of them unless partial)."""

    name: str
    bytes: int
    total_bytes: int
    gradient_bytes: int
    channels: int | None = None


@dataclass
class Analysis:
    """The memory report of one training step."""

    model: str = ""
    scheme: str | None = None
    saved: list[Tensor] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    momentum: list[Tensor] = field(default_factory=list)
    parameter_bytes: int = 0        # every parameter of the model, for scale

    @property
    def saved_bytes(self) -> int:
        return sum(t.bytes for t in self.saved)

    @property
    def saved_ir_bytes(self) -> int:
        return sum(t.ir_bytes for t in self.saved)

    @property
    def trainable_parameter_bytes(self) -> int:
        return sum(u.bytes for u in self.updates)

    @property
    def gradient_bytes(self) -> int:
        return sum(u.gradient_bytes for u in self.updates)

    @property
    def momentum_bytes(self) -> int:
        return sum(t.bytes for t in self.momentum)

    def summary(self) -> dict:
        return {"saved_for_backward_bytes": self.saved_bytes,
                "saved_for_backward_ir_bytes": self.saved_ir_bytes,
                "saved_masks": sum(1 for t in self.saved if t.mask),
                "trainable_parameter_bytes": self.trainable_parameter_bytes,
                "gradient_bytes": self.gradient_bytes,
                "momentum_bytes": self.momentum_bytes,
                "parameter_bytes": self.parameter_bytes,
                "updated_parameters": len(self.updates),
                "partial_parameters": sum(1 for u in self.updates if u.channels),
                "saved_tensors": len(self.saved)}

    def to_json(self) -> dict:
        return {"model": self.model, "scheme": self.scheme, **self.summary(),
                "saved": [asdict(t) for t in self.saved],
                "updates": [asdict(u) for u in self.updates],
                "momentum": [asdict(t) for t in self.momentum]}

    def table(self, details: bool = False) -> str:
        s = self.summary()
        rows = [("saved for backward", s["saved_for_backward_bytes"],
                 f"{s['saved_tensors']} activations, {s['saved_masks']} of them "
                 "1-bit masks"),
                ("  as IR tensors", s["saved_for_backward_ir_bytes"],
                 "masks as the int8/f32 values they compare"),
                ("trainable parameters", s["trainable_parameter_bytes"],
                 f"{s['updated_parameters']} tensors, {s['partial_parameters']} partial"),
                ("gradients", s["gradient_bytes"], "f32"),
                ("momentum", s["momentum_bytes"], f"{len(self.momentum)} buffers"),
                ("all parameters", s["parameter_bytes"], "for scale")]
        lines = [f"model: {self.model}" + (f"   scheme: {self.scheme}" if self.scheme else "")]
        width = max(len(r[0]) for r in rows)
        for label, value, note in rows:
            lines.append(f"  {label:<{width}}  {value:>12,} B  {_kib(value):>9}  ({note})")
        if details:
            lines.append("saved for backward:")
            lines += [f"  {t.bytes:>10,} B  {t.name}  {t.type}" + ("  (mask)" if t.mask else "")
                      for t in self.saved]
            lines.append("updates:")
            for u in self.updates:
                part = f"  (first {u.channels} channels)" if u.channels else ""
                lines.append(f"  {u.bytes:>10,} B  {u.name}{part}")
        return "\n".join(lines)


def _kib(value: int) -> str:
    return f"{value / 1024:.1f} KiB"


# ---------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------

def element_bytes(element: ir.Type) -> int:
    """Storage bytes of one element (a quantized type's storage type)."""
    if isinstance(element, quant.QuantizedType):
        return max(1, element.storage_type_integral_width // 8)
    if isinstance(element, ir.IntegerType):
        return max(1, element.width // 8)
    match = re.fullmatch(r"[a-z]*?(\d+)", str(element))
    if match:
        return max(1, int(match.group(1)) // 8)
    raise InputError(f"cannot size the element type {element}")


def tensor_bytes(value_type: ir.Type) -> int:
    t = ir.RankedTensorType(value_type)
    count = 1
    for d in t.shape:
        count *= d
    return count * element_bytes(t.element_type)


# ---------------------------------------------------------------------------------------
# Measuring a step
# ---------------------------------------------------------------------------------------

_NAME_LOC = re.compile(r'loc\("([^"]+)"\)')


def _value_name(step: func.FuncOp, value: ir.Value) -> str:
    if isinstance(value, ir.BlockArgument):
        return train.arg_name(step, value.arg_number)
    op = value.owner
    if op.name == "train.slice":
        source = _value_name(step, op.operands[0])
        return f"{source}[slice {list(ir.DenseI64ArrayAttr(op.attributes['sizes']))}]"
    match = _NAME_LOC.fullmatch(str(op.location))
    where = match.group(1) if match else str(op.location).removeprefix("loc(").rstrip(")")
    return f"{op.name} at {where}"


def analyze_step(module: ir.Module, step_name: str = "train_step",
                 model: str = "", scheme: str | None = None) -> Analysis:
    """The memory report of the training step @step_name of `module`."""
    step = find_function(module, step_name)
    regions = StepRegions.of(step)
    report = Analysis(model=model, scheme=scheme)
    for value in regions.saved():
        size = tensor_bytes(value.type)
        mask = _mask_only(value, regions)
        count = size // element_bytes(ir.RankedTensorType(value.type).element_type)
        report.saved.append(Tensor(_value_name(step, value), str(value.type),
                                   (count + 7) // 8 if mask else size, size, mask))
    args = step.entry_block.arguments
    for i, arg in enumerate(args):
        if train.arg_role(step, i) is not None:
            report.parameter_bytes += tensor_bytes(arg.type)
    ret = return_op(step)
    for position, value in enumerate(ret.operands):
        index = train.updated_arg(step, position)
        if index is None:
            continue
        if momentum_of(step, index) is not None:
            report.momentum.append(Tensor(train.arg_name(step, index), str(args[index].type),
                                          tensor_bytes(args[index].type)))
            continue
        update = update_of(value)
        total = tensor_bytes(args[index].type)
        if update is None:
            report.updates.append(Update(train.arg_name(step, index), total, total, 0))
            continue
        grad = update.operands[1]
        if not isinstance(grad, ir.BlockArgument) and grad.owner.name == "train.pad_to":
            grad = grad.owner.operands[0]
        element = element_bytes(ir.RankedTensorType(args[index].type).element_type)
        grad_count = tensor_bytes(grad.type) // element_bytes(
            ir.RankedTensorType(grad.type).element_type)
        channels = _channels(step, index)
        report.updates.append(Update(train.arg_name(step, index), grad_count * element, total,
                                     tensor_bytes(grad.type), channels))
    return report


def _mask_only(value: ir.Value, regions: StepRegions) -> bool:
    """Whether the backward reads `value` only as the compared operand of mask ops."""
    for use in value.uses:
        owner = use.owner
        if len(owner.results) and regions.in_forward(owner.results[0]) and \
                value != owner.results[0]:
            continue                    # a forward use
        if owner.name in CASTS:
            if not _mask_only(owner.results[0], regions):
                return False
        elif MASK_OPERANDS.get(owner.name) != use.operand_number:
            return False
    return True


def _channels(step, index: int) -> int | None:
    from .schemes import arg_channels
    return arg_channels(step, index)


# ---------------------------------------------------------------------------------------
# From a model file
# ---------------------------------------------------------------------------------------

@dataclass
class StepOptions:
    """How the analysed step is derived (when the module has none)."""

    scheme: object = None             # FILE or FILE#KEY, a scheme dict or a Scheme
    optimizer: str | None = None      # None: the scheme's, else sgd
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    qas: bool | None = None
    forward: str = "forward"
    step: str = "train_step"
    memory_passes: tuple[str, ...] = ()   # run after prune (the Cortex-M pipeline's)

    def pipeline(self) -> list[str]:
        """The autodiff + prune pipeline (a scheme given as a file), then
        `memory_passes`."""
        options = [f"forward={self.forward}", f"step={self.step}"]
        if isinstance(self.scheme, (str, Path)) and str(self.scheme):
            options.append(f'scheme="{self.scheme}"')
        for key, value in (("optimizer", self.optimizer), ("lr", self.lr),
                           ("momentum", self.momentum), ("weight-decay", self.weight_decay)):
            if value is not None:
                options.append(f"{key}={value!r}" if not isinstance(value, str)
                               else f"{key}={value}")
        if self.qas is not None:
            options.append(f"qas={'true' if self.qas else 'false'}")
        return ["train-autodiff{" + " ".join(options) + "}", f"train-prune{{step={self.step}}}",
                *self.memory_passes]


def derive_step(module: ir.Module, options: StepOptions, filename: str | None = None) -> None:
    """Runs autodiff (with the scheme) and prune unless @step already exists."""
    names = [op.sym_name.value for op in module.body.operations if isinstance(op, func.FuncOp)]
    if options.step in names:
        if options.scheme:
            raise InputError(f"the model already has @{options.step}; a scheme applies to "
                             "a model with only @forward", filename)
        return
    if options.scheme is not None and not isinstance(options.scheme, (str, Path)):
        # A scheme object: applied here, its optimizer settings unless given.
        from .schemes import apply_scheme, load_scheme
        scheme = load_scheme(options.scheme)
        apply_scheme(find_function(module, options.forward), scheme)
        settings = {}
        if scheme.optimizer is not None:
            for name in ("lr", "momentum", "weight_decay"):
                if getattr(options, name) is None:
                    settings[name] = getattr(scheme.optimizer, name)
            if options.optimizer is None:
                settings["optimizer"] = scheme.optimizer.name
        if options.qas is None:
            settings["qas"] = scheme.qas
        options = replace(options, scheme=None, **settings)
    run_pipeline(module, options.pipeline(), filename)


def analyze_file(path: str | Path, options: StepOptions) -> Analysis:
    """`tcc analyze`: loads a model, derives its step, measures it."""
    module = load_module(path, new_context())
    derive_step(module, options, str(path))
    return analyze_step(module, options.step, model=str(path), scheme=options.scheme)


def analyze_module(module: ir.Module, options: StepOptions, model: str = "") -> Analysis:
    """Like analyze_file for a module already loaded (it is modified)."""
    derive_step(module, options, model or None)
    scheme = options.scheme if isinstance(options.scheme, (str, Path)) or \
        options.scheme is None else "(given)"
    return analyze_step(module, options.step, model=model, scheme=scheme)


def to_json_text(report: Analysis) -> str:
    return json.dumps(report.to_json(), indent=2)

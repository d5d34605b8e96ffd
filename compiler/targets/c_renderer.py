"""Renders a trained model (its `forward` and `train_step` functions) as C.

Every op becomes one call into the C kernel library (`kernels/c`), chosen from
the `KERNELS` table. Intermediate tensors live in one static arena at offsets
from `memory_plan`; parameters are static arrays (frozen ones `const`, so they
stay in flash on a microcontroller); SGD updates parameters in place. A target
is a subclass that overrides attributes, not a copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..._mlir import ir
from ..._mlir.dialects import func
from ...dialects import train
from ..errors import UnsupportedError, format_location
from ..memory_plan import Buffer, liveness_lower_bound, plan_first_fit
from ..source import find_function


def c_identifier(name: str) -> str:
    return re.sub(r"\W", "_", name).strip("_") or "param"


def _dims(value) -> list[int]:
    return train.shape_of(value)


def _size(value) -> int:
    return int(np.prod(_dims(value), dtype=np.int64))


def _conv_params(op, x_shape, w_shape, y_shape) -> str:
    g = train.ConvGeometry.of(op)
    n, c, h, w = x_shape
    o, _, kh, kw = w_shape
    return ("{" + ", ".join(map(str, [n, c, h, w, o, kh, kw, y_shape[2], y_shape[3],
                                       g.stride[0], g.stride[1], g.padding[0], g.padding[1],
                                       g.dilation[0], g.dilation[1], g.groups])) + "}")


# Each entry renders one op as C statements from its operand and result expressions.
def _linear(op, a, r):
    n, k = _dims(op.operands[0])
    bias = a[2] if len(a) > 2 else "NULL"
    return [f"tcc_linear_f32({a[0]}, {a[1]}, {bias}, {r}, {n}, {k}, {_dims(op.operands[1])[0]});"]


def _conv2d(op, a, r):
    p = _conv_params(op, _dims(op.operands[0]), _dims(op.operands[1]), _dims(op.results[0]))
    bias = a[2] if len(a) > 2 else "NULL"
    return ["{", f"  static const tcc_conv2d_params p = {p};",
            f"  tcc_conv2d_f32({a[0]}, {a[1]}, {bias}, {r}, &p);", "}"]


def _conv2d_grad_input(op, a, r):
    p = _conv_params(op, _dims(op.results[0]), _dims(op.operands[1]), _dims(op.operands[0]))
    return ["{", f"  static const tcc_conv2d_params p = {p};",
            f"  tcc_conv2d_grad_input_f32({a[0]}, {a[1]}, {r}, &p);", "}"]


def _conv2d_grad_weight(op, a, r):
    p = _conv_params(op, _dims(op.operands[1]), _dims(op.results[0]), _dims(op.operands[0]))
    return ["{", f"  static const tcc_conv2d_params p = {p};",
            f"  tcc_conv2d_grad_weight_f32({a[0]}, {a[1]}, {r}, &p);", "}"]


def _linear_grad(kernel):
    def render(op, a, r):
        n, m = _dims(op.operands[0])
        k = _dims(op.results[0])[1]
        return [f"{kernel}({a[0]}, {a[1]}, {r}, {n}, {k}, {m});"]
    return render


def _bias_grad(op, a, r):
    shape = _dims(op.operands[0])
    inner = int(np.prod(shape[2:], dtype=np.int64))
    return [f"tcc_bias_grad_f32({a[0]}, {r}, {shape[0]}, {shape[1]}, {inner});"]


def _elementwise(kernel):
    def render(op, a, r):
        return [f"{kernel}({', '.join(a)}, {r}, {_size(op.results[0])});"]
    return render


def _cross_entropy(kernel):
    def render(op, a, r):
        n, c = _dims(op.operands[0])
        return [f"{kernel}({a[0]}, {a[1]}, {r}, {n}, {c});"]
    return render


def _sgd(op, a, r):
    lr = ir.FloatAttr(op.attributes["lr"]).value
    wd = ir.FloatAttr(op.attributes["weight_decay"]).value
    return [f"tcc_sgd_f32({a[0]}, {a[1]}, {_float(lr)}, {_float(wd)}, "
            f"{_size(op.results[0])});"]


def _float(value: float) -> str:
    """A C float literal that reads back as exactly this float32."""
    return f"{np.float32(value)}f"  # numpy prints the shortest round-trip form


KERNELS: dict[str, Callable] = {
    "train.linear": _linear,
    "train.conv2d": _conv2d,
    "train.add": _elementwise("tcc_add_f32"),
    "train.relu": _elementwise("tcc_relu_f32"),
    "train.relu_grad": _elementwise("tcc_relu_grad_f32"),
    "train.cross_entropy": _cross_entropy("tcc_cross_entropy_f32"),
    "train.cross_entropy_grad": _cross_entropy("tcc_cross_entropy_grad_f32"),
    "train.linear_grad_input": _linear_grad("tcc_linear_grad_input_f32"),
    "train.linear_grad_weight": _linear_grad("tcc_linear_grad_weight_f32"),
    "train.bias_grad": _bias_grad,
    "train.conv2d_grad_input": _conv2d_grad_input,
    "train.conv2d_grad_weight": _conv2d_grad_weight,
    "train.sgd": _sgd,
}

# Ops that produce no new storage: their result is a view of their first operand.
VIEWS = {"train.reshape"}


@dataclass
class FunctionPlan:
    """One function's buffers (offsets in bytes) and its rendered body."""

    buffers: list[Buffer]
    arena_bytes: int
    lower_bound: int
    lines: list[str] = field(default_factory=list)


class CRenderer:
    """Renders `model.h` and `model.c` for a host C compiler."""

    alignment = 8                 # bytes between arena buffers
    const_qualifier = "const"     # frozen parameters
    float_type = "float"

    def __init__(self, module: ir.Module, parameters: dict[int, np.ndarray],
                 forward: str = "forward", step: str = "train_step"):
        self.module = module
        self.parameters = parameters
        self.forward = find_function(module, forward)
        self.step = find_function(module, step)
        self._check_signature()

    def _check_signature(self) -> None:
        data = [i for i in range(len(self.forward.entry_block.arguments))
                if train.arg_role(self.forward, i) is None]
        if len(data) != 1:
            raise UnsupportedError(f"the C target needs exactly one data input in "
                                   f"@{self.forward.sym_name.value}, found {len(data)}",
                                   format_location(self.forward.location))
        self.input_index = data[0]
        self.input_value = self.forward.entry_block.arguments[self.input_index]
        for op in self.step.entry_block.operations:
            if not isinstance(op, func.ReturnOp) and op.name not in KERNELS \
                    and op.name not in VIEWS:
                raise UnsupportedError(f"the C target has no kernel for '{op.name}'",
                                       format_location(op.location))
            for result in op.results:
                element = str(ir.RankedTensorType(result.type).element_type)
                if element != "f32":
                    raise UnsupportedError(f"the C target supports f32 tensors only, "
                                           f"'{op.name}' produces {element}",
                                           format_location(op.location))

    # -- storage ------------------------------------------------------------

    def param_symbol(self, index: int) -> str:
        return f"tcc_param_{c_identifier(train.arg_name(self.forward, index))}"

    def _plan(self, function: func.FuncOp, roots: dict) -> tuple[dict, FunctionPlan]:
        """Storage expression of every value; arena buffers of the intermediates."""
        ops = list(function.entry_block.operations)
        storage = dict(roots)
        owner: dict = {}          # value -> Buffer it lives in
        buffers: list[Buffer] = []
        for index, op in enumerate(ops):
            for operand in op.operands:
                if operand in owner:
                    owner[operand].end = max(owner[operand].end, index)
            if isinstance(op, func.ReturnOp):
                continue
            result = op.results[0]
            if op.name in VIEWS:
                storage[result] = storage[op.operands[0]]
                if op.operands[0] in owner:
                    owner[result] = owner[op.operands[0]]
            elif op.name == "train.sgd":
                storage[result] = storage[op.operands[0]]  # in-place update
            else:
                buffer = Buffer(f"v{len(buffers)}", _size(result) * 4, index, index)
                buffers.append(buffer)
                owner[result] = buffer
        arena = plan_first_fit(buffers, self.alignment)
        for value, buffer in owner.items():
            storage.setdefault(value, f"(tcc_arena + {buffer.offset // 4})")
        return storage, FunctionPlan(buffers, arena, liveness_lower_bound(buffers))

    def _roots(self, function: func.FuncOp, data_names: dict[int, str]) -> dict:
        roots = {}
        for index, arg in enumerate(function.entry_block.arguments):
            roots[arg] = data_names.get(index) or self.param_symbol(index)
        return roots

    def _render_ops(self, function: func.FuncOp, storage: dict) -> list[str]:
        lines = []
        ops = list(function.entry_block.operations)
        for index, op in enumerate(ops):
            if isinstance(op, func.ReturnOp) or op.name in VIEWS:
                continue
            if op.name == "train.sgd":
                self._check_update_is_last_use(op, ops[index + 1:])
            args = [storage[v] for v in op.operands]
            lines.append(f"/* {op.name} at {format_location(op.location) or 'unknown'} */")
            lines += KERNELS[op.name](op, args, storage[op.results[0]])
        return lines

    def _check_update_is_last_use(self, op, later_ops) -> None:
        param = op.operands[0]
        if any(param in list(later.operands) for later in later_ops
               if not isinstance(later, func.ReturnOp)):
            raise UnsupportedError("a parameter is read after its in-place SGD update",
                                   format_location(op.location))

    # -- files --------------------------------------------------------------

    def render(self) -> dict[str, str]:
        infer_storage, infer_plan = self._plan(self.forward, self._roots(
            self.forward, {self.input_index: "input"}))
        labels_index = len(self.step.entry_block.arguments) - 1
        step_storage, step_plan = self._plan(self.step, self._roots(
            self.step, {self.input_index: "input", labels_index: "labels"}))
        self.infer_plan, self.step_plan = infer_plan, step_plan
        self.arena_bytes = max(infer_plan.arena_bytes, step_plan.arena_bytes, 4)
        return {"model.h": self._header(), "model.c": self._source(
            infer_storage, step_storage)}

    def _header(self) -> str:
        batch, classes = _dims(self.forward.entry_block.operations[
            len(self.forward.entry_block.operations) - 1].operands[0])
        return "\n".join([
            "/* Generated by tcc. API of the compiled model. */",
            "#ifndef TCC_MODEL_H", "#define TCC_MODEL_H", "", "#include <stdint.h>", "",
            f"#define TCC_BATCH {batch}               /* samples per step */",
            f"#define TCC_INPUT_SIZE {_size(self.input_value)}  /* floats in one batch of input */",
            f"#define TCC_NUM_CLASSES {classes}",
            f"#define TCC_ARENA_BYTES {self.arena_bytes}", "",
            "/* Restores the initial parameters. */",
            "void tcc_model_init(void);",
            "/* logits[TCC_BATCH * TCC_NUM_CLASSES] = forward(input). */",
            "void tcc_model_infer(const float *input, float *logits);",
            "/* One SGD step on (input, labels); returns the loss before the update. */",
            "float tcc_model_train_step(const float *input, const int32_t *labels);",
            "/* Trainable parameters, for reading or writing what the device learned. */",
            "typedef struct { const char *name; float *data; int32_t size; } tcc_param;",
            "int32_t tcc_model_num_params(void);",
            "tcc_param tcc_model_param(int32_t index);", "",
            "#endif", ""])

    def _source(self, infer_storage: dict, step_storage: dict) -> str:
        lines = ["/* Generated by tcc: forward and training step over one static arena. */",
                 "#include <stddef.h>", "#include <string.h>", "",
                 '#include "model.h"', '#include "tcc_kernels.h"', "",
                 f"static float tcc_arena[{self.arena_bytes // 4}] __attribute__((aligned(8)));",
                 ""]
        trainable = [i for i in sorted(self.parameters)
                     if train.arg_role(self.forward, i) == "trainable"]
        for index in sorted(self.parameters):
            values = self.parameters[index].astype(np.float32).ravel()
            body = ", ".join(_float(v) for v in values)
            if index in trainable:
                lines.append(f"static const float {self.param_symbol(index)}_init[{values.size}] = {{{body}}};")
                lines.append(f"static float {self.param_symbol(index)}[{values.size}];")
            else:
                lines.append(f"static {self.const_qualifier} float {self.param_symbol(index)}"
                             f"[{values.size}] = {{{body}}};")
        lines += ["", "void tcc_model_init(void) {"]
        lines += [f"  memcpy({self.param_symbol(i)}, {self.param_symbol(i)}_init, "
                  f"sizeof {self.param_symbol(i)});" for i in trainable]
        lines += ["}", "", "void tcc_model_infer(const float *input, float *logits) {"]
        lines += ["  " + line for line in self._render_ops(self.forward, infer_storage)]
        logits = self._returned(self.forward)[0]
        lines += [f"  tcc_copy_f32({infer_storage[logits]}, logits, {_size(logits)});", "}", ""]
        lines += ["float tcc_model_train_step(const float *input, const int32_t *labels) {"]
        lines += ["  " + line for line in self._render_ops(self.step, step_storage)]
        loss = self._returned(self.step)[0]
        lines += [f"  return {step_storage[loss]}[0];", "}", ""]
        lines += ["static const tcc_param tcc_params[] = {"]
        lines += [f'  {{"{train.arg_name(self.forward, i)}", {self.param_symbol(i)}, '
                  f"{self.parameters[i].size}}}," for i in trainable]
        if not trainable:
            lines.append("  {NULL, NULL, 0},")
        lines += ["};", "",
                  f"int32_t tcc_model_num_params(void) {{ return {len(trainable)}; }}", "",
                  "tcc_param tcc_model_param(int32_t index) { return tcc_params[index]; }", ""]
        return "\n".join(lines)

    @staticmethod
    def _returned(function: func.FuncOp) -> list:
        ops = function.entry_block.operations
        return list(ops[len(ops) - 1].operands)

"""Renders a trained model (its `forward` and `train_step` functions) as C.

Every op becomes one call into the C kernel library (`kernels/c`), chosen from
the `KERNELS` table. Tensors live where the module's memory plan (`--plan-memory`)
puts them: inputs, labels, trainable parameters and intermediates in one static
arena at their planned offsets, frozen parameters in `const` arrays (flash on a
microcontroller). A result the plan gives its operand's offset is computed in
place (SGD updates, element-wise kernels, reshapes). A target is a subclass that
overrides attributes, not a copy.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from ..._mlir import ir
from ..._mlir.dialects import func
from ...dialects import train
from ..errors import UnsupportedError, format_location
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

# Ops whose result is their operand's bytes: no code where the plan gives both one
# offset, a copy where it does not.
VIEWS = {"train.reshape"}

# Optimizer updates: the kernel updates its first operand in place.
UPDATES = {"train.sgd"}

ARENA_POINTERS = {"f32": "TCC_F32", "i32": "TCC_I32"}
"""Macros for a typed pointer at a byte offset of the arena, by element type."""


class CRenderer:
    """Renders `model.h` and `model.c` for a host C compiler.

    Storage follows the module's memory plan (`--plan-memory`; run here if the module
    has none): data inputs, labels, trainable parameters and intermediates live in
    one static byte arena at their planned offsets, frozen parameters in `const`
    arrays (flash on a microcontroller).
    """

    alignment = 16                # of the plan, when the renderer has to run it
    const_qualifier = "const"     # frozen parameters
    float_type = "float"

    def __init__(self, module: ir.Module, parameters: dict[int, np.ndarray],
                 forward: str = "forward", step: str = "train_step"):
        self.module = module
        self.parameters = parameters
        self.forward = find_function(module, forward)
        self.step = find_function(module, step)
        self._check_signature()
        self._ensure_plan()

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

    def _ensure_plan(self) -> None:
        """Plans the functions the module has no plan for (the renderer itself never
        allocates)."""
        from ...passes.plan_memory import PlanMemory, is_planned
        attributes = self.module.operation.attributes
        for function in (self.step, self.forward):
            if not is_planned(self.module, function):
                alignment = ir.IntegerAttr(attributes["train.arena_alignment"]).value \
                    if "train.arena_alignment" in attributes else self.alignment
                PlanMemory(function=function.sym_name.value,
                           alignment=alignment).run(self.module)
        self.arena_bytes = max(ir.IntegerAttr(attributes["train.arena_size"]).value,
                               self.arena_alignment)
        self.param_offsets = {}       # offset -> symbol of a trainable parameter
        for index in range(len(self.step.entry_block.arguments)):
            offset = train.arg_attribute(self.step, index, "train.offset")
            if offset is not None and train.arg_role(self.step, index) == "trainable":
                self.param_offsets[ir.IntegerAttr(offset).value] = self.param_symbol(index)

    @property
    def arena_alignment(self) -> int:
        return ir.IntegerAttr(self.module.operation.attributes["train.arena_alignment"]).value

    # -- storage ------------------------------------------------------------

    def param_symbol(self, index: int) -> str:
        return f"tcc_param_{c_identifier(train.arg_name(self.forward, index))}"

    def _arena(self, offset: int, value) -> str:
        """A value at `offset`: its parameter's name in the parameters' part of the
        arena (the parameter or its in-place update), else a typed pointer."""
        if offset in self.param_offsets:
            return self.param_offsets[offset]
        element = str(ir.RankedTensorType(value.type).element_type)
        return f"{ARENA_POINTERS[element]}({offset})"

    def _storage(self, function: func.FuncOp, data_names: dict[int, str]):
        """The C expression of every value's storage, from the plan; and the copies
        of the data arguments into the arena that start the function."""
        from ...passes.plan_memory import value_offsets
        offsets = iter(value_offsets(function))
        storage, prologue = {}, []
        for index, arg in enumerate(function.entry_block.arguments):
            offset = next(offsets)
            if index in data_names:
                if offset >= 0:
                    storage[arg] = self._arena(offset, arg)
                    prologue.append(f"memcpy(tcc_arena + {offset}, {data_names[index]}, "
                                    f"{_size(arg) * 4});  /* {data_names[index]} */")
                else:
                    storage[arg] = data_names[index]
            elif offset >= 0:
                storage[arg] = self._arena(offset, arg)
            elif train.arg_role(function, index) == "frozen":
                storage[arg] = self.param_symbol(index)
            else:
                raise UnsupportedError(f"argument #{index} of @{function.sym_name.value} "
                                       "has no storage in the memory plan",
                                       format_location(function.location))
        for op in function.entry_block.operations:
            for result in op.results:
                offset = next(offsets)
                if offset >= 0:
                    storage[result] = self._arena(offset, result)
                elif op.name in VIEWS:          # a view of a frozen parameter
                    storage[result] = storage[op.operands[0]]
                else:
                    raise UnsupportedError(
                        f"'{op.name}' computes a constant from frozen parameters; the C "
                        "target cannot fold it yet", format_location(op.location))
        return storage, prologue

    def _render_ops(self, function: func.FuncOp, storage: dict) -> list[str]:
        lines = []
        for op in function.entry_block.operations:
            if isinstance(op, func.ReturnOp):
                continue
            args = [storage[v] for v in op.operands]
            result = storage[op.results[0]]
            if op.name in VIEWS:
                if result != args[0]:
                    lines.append(f"tcc_copy_f32({args[0]}, {result}, {_size(op.results[0])});")
                continue
            lines.append(f"/* {op.name} at {format_location(op.location) or 'unknown'} */")
            if op.name in UPDATES and result != args[0]:
                # Not in place: update a copy (written back when the step returns).
                lines.append(f"tcc_copy_f32({args[0]}, {result}, {_size(op.results[0])});")
                args[0] = result
            lines += KERNELS[op.name](op, args, result)
        return lines

    def _write_back(self, function: func.FuncOp, storage: dict) -> list[str]:
        """Copies of the updates not made in place to their parameters' storage."""
        lines = []
        args = function.entry_block.arguments
        for position, value in enumerate(self._returned(function)):
            target = train.updated_arg(function, position)
            if target is not None and storage[value] != storage[args[target]]:
                lines.append(f"tcc_copy_f32({storage[value]}, {storage[args[target]]}, "
                             f"{_size(value)});")
        return lines

    # -- files --------------------------------------------------------------

    def render(self) -> dict[str, str]:
        self.infer_storage, infer_prologue = self._storage(
            self.forward, {self.input_index: "input"})
        labels_index = len(self.step.entry_block.arguments) - 1
        self.step_storage, step_prologue = self._storage(
            self.step, {self.input_index: "input", labels_index: "labels"})
        self._check_shared_parameters()
        return {"model.h": self._header(), "model.c": self._source(
            infer_prologue, step_prologue)}

    def _check_shared_parameters(self) -> None:
        """@forward and @train_step must keep each trainable parameter in one place."""
        for index in self.parameters:
            if train.arg_role(self.forward, index) != "trainable":
                continue
            mine = self.infer_storage[self.forward.entry_block.arguments[index]]
            theirs = self.step_storage[self.step.entry_block.arguments[index]]
            if mine != theirs:
                raise UnsupportedError(f"the memory plan puts parameter "
                                       f"'{train.arg_name(self.forward, index)}' at "
                                       f"different offsets in @{self.forward.sym_name.value}"
                                       f" and @{self.step.sym_name.value}; plan both again")

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

    def _source(self, infer_prologue: list[str], step_prologue: list[str]) -> str:
        alignment = self.arena_alignment
        lines = ["/* Generated by tcc: forward and training step over one static arena. */",
                 "#include <stddef.h>", "#include <stdint.h>", "#include <string.h>", "",
                 '#include "model.h"', '#include "tcc_kernels.h"', "",
                 "/* Inputs, labels, trainable parameters and every intermediate tensor, at",
                 "   the byte offsets of the memory plan (--plan-memory). */",
                 f"static uint8_t tcc_arena[TCC_ARENA_BYTES] "
                 f"__attribute__((aligned({alignment})));",
                 "#define TCC_F32(offset) ((float *)(tcc_arena + (offset)))",
                 "#define TCC_I32(offset) ((int32_t *)(tcc_arena + (offset)))", ""]
        trainable = [i for i in sorted(self.parameters)
                     if train.arg_role(self.forward, i) == "trainable"]
        lines += [f"#define {symbol} TCC_F32({offset})"
                  for offset, symbol in sorted(self.param_offsets.items())]
        for index in sorted(self.parameters):
            values = self.parameters[index].astype(np.float32).ravel()
            body = ", ".join(_float(v) for v in values)
            if index in trainable:
                lines.append(f"static const float {self.param_symbol(index)}_init"
                             f"[{values.size}] = {{{body}}};")
            else:
                lines.append(f"static {self.const_qualifier} float {self.param_symbol(index)}"
                             f"[{values.size}] = {{{body}}};")
        lines += ["", "void tcc_model_init(void) {"]
        lines += [f"  memcpy({self.param_symbol(i)}, {self.param_symbol(i)}_init, "
                  f"sizeof {self.param_symbol(i)}_init);" for i in trainable]
        lines += ["}", "", "void tcc_model_infer(const float *input, float *logits) {"]
        lines += ["  " + line for line in infer_prologue]
        lines += ["  " + line for line in self._render_ops(self.forward, self.infer_storage)]
        logits = self._returned(self.forward)[0]
        lines += [f"  tcc_copy_f32({self.infer_storage[logits]}, logits, {_size(logits)});",
                  "}", ""]
        lines += ["float tcc_model_train_step(const float *input, const int32_t *labels) {"]
        lines += ["  " + line for line in step_prologue]
        lines += ["  " + line for line in self._render_ops(self.step, self.step_storage)]
        lines += ["  " + line for line in self._write_back(self.step, self.step_storage)]
        loss = self._returned(self.step)[0]
        lines += [f"  return {self.step_storage[loss]}[0];", "}", ""]
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

"""Renders a model (its `forward` function, and `train_step` when it has one) as C.

Every op becomes one call into the C kernel library (`kernels/c`: fp32 kernels in
tcc_kernels.h, int8 kernels in tcc_int8.h), chosen from the `KERNELS` table (the int8
entries live in c_int8_ops.py). Tensors live where the module's memory plan
(`--plan-memory`) puts them: inputs, labels, trainable parameters and intermediates in
one static arena at their planned offsets (int8 storage for quantized tensors), frozen
parameters in `const` arrays (flash on a microcontroller). A result the plan gives its
operand's offset is computed in place (SGD updates, element-wise kernels, reshapes).
A target is a subclass that overrides attributes, not a copy.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..._mlir import ir
from ..._mlir.dialects import func
from ...dialects import train
from ..errors import UnsupportedError, format_location
from ..source import find_function
from .c_expressions import (C_TYPES, c_float, c_identifier, conv_params, dims,
                            element_kind, size)
from .c_int8_ops import INT8_KERNELS


# Each entry renders one op as C statements from its operand and result expressions.
def _linear(op, a, r):
    n, k = dims(op.operands[0])
    bias = a[2] if len(a) > 2 else "NULL"
    return [f"tcc_linear_f32({a[0]}, {a[1]}, {bias}, {r}, {n}, {k}, {dims(op.operands[1])[0]});"]


def _conv2d(op, a, r):
    p = conv_params(op, dims(op.operands[0]), dims(op.operands[1]), dims(op.results[0]))
    bias = a[2] if len(a) > 2 else "NULL"
    return ["{", f"  static const tcc_conv2d_params p = {p};",
            f"  tcc_conv2d_f32({a[0]}, {a[1]}, {bias}, {r}, &p);", "}"]


def _conv2d_grad_input(op, a, r):
    p = conv_params(op, dims(op.results[0]), dims(op.operands[1]), dims(op.operands[0]))
    return ["{", f"  static const tcc_conv2d_params p = {p};",
            f"  tcc_conv2d_grad_input_f32({a[0]}, {a[1]}, {r}, &p);", "}"]


def _conv2d_grad_weight(op, a, r):
    p = conv_params(op, dims(op.operands[1]), dims(op.results[0]), dims(op.operands[0]))
    return ["{", f"  static const tcc_conv2d_params p = {p};",
            f"  tcc_conv2d_grad_weight_f32({a[0]}, {a[1]}, {r}, &p);", "}"]


def _linear_grad(kernel):
    def render(op, a, r):
        n, m = dims(op.operands[0])
        k = dims(op.results[0])[1]
        return [f"{kernel}({a[0]}, {a[1]}, {r}, {n}, {k}, {m});"]
    return render


def _bias_grad(op, a, r):
    shape = dims(op.operands[0])
    inner = int(np.prod(shape[2:], dtype=np.int64))
    return [f"tcc_bias_grad_f32({a[0]}, {r}, {shape[0]}, {shape[1]}, {inner});"]


def _elementwise(kernel):
    def render(op, a, r):
        return [f"{kernel}({', '.join(a)}, {r}, {size(op.results[0])});"]
    return render


def _cross_entropy(kernel):
    def render(op, a, r):
        n, c = dims(op.operands[0])
        return [f"{kernel}({a[0]}, {a[1]}, {r}, {n}, {c});"]
    return render


def _sgd(op, a, r):
    lr = ir.FloatAttr(op.attributes["lr"]).value
    wd = ir.FloatAttr(op.attributes["weight_decay"]).value
    return [f"tcc_sgd_f32({a[0]}, {a[1]}, {c_float(lr)}, {c_float(wd)}, "
            f"{size(op.results[0])});"]


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
    **INT8_KERNELS,
}

# Ops whose result is their operand's bytes: no code where the plan gives both one
# offset, a copy where it does not.
VIEWS = {"train.reshape"}

# Optimizer updates: the kernel updates its first operand in place.
UPDATES = {"train.sgd"}


ARENA_POINTERS = {"f32": "TCC_F32", "i32": "TCC_I32", "i8": "TCC_I8"}
"""Macros for a typed pointer at a byte offset of the arena, by element kind."""

ELEMENT_BYTES = {"f32": 4, "i32": 4, "i8": 1}




def _bytes(value) -> int:
    return size(value) * ELEMENT_BYTES[element_kind(value)]


class CRenderer:
    """Renders `model.h` and `model.c` for a host C compiler.

    Storage follows the module's memory plan (`--plan-memory`; run here if the module
    has none): data inputs, labels, trainable parameters and intermediates live in
    one static byte arena at their planned offsets, frozen parameters in `const`
    arrays (flash on a microcontroller). Without a `step` function (step=None, or
    none in the module) the project is inference only: `tcc_<name>_infer` takes one
    pointer per data input of @forward. `name` names the files and the API
    (`tcc_model_infer` for "model"), so several models can link into one program.
    """

    alignment = 16                # of the plan, when the renderer has to run it
    const_qualifier = "const"     # frozen parameters
    float_type = "float"
    values_per_line = 24          # of the parameter tables

    def __init__(self, module: ir.Module, parameters: dict[int, np.ndarray],
                 forward: str = "forward", step: str | None = "train_step",
                 name: str = "model"):
        self.module = module
        self.parameters = parameters
        self.name = c_identifier(name)
        self.api = f"tcc_{self.name}"
        self.forward = find_function(module, forward)
        self.step = find_function(module, step) if step is not None and \
            _has_function(module, step) else None
        self._check_signature()
        self._ensure_plan()

    @property
    def functions(self) -> list[func.FuncOp]:
        """The functions rendered: the step first (it defines the parameters' places)."""
        return [f for f in (self.step, self.forward) if f is not None]

    def _check_signature(self) -> None:
        self.data_indices = [i for i in range(len(self.forward.entry_block.arguments))
                             if train.arg_role(self.forward, i) is None]
        if not self.data_indices or (self.step is not None and len(self.data_indices) != 1):
            raise UnsupportedError(f"the C target needs {'exactly' if self.step else 'at least'}"
                                   f" one data input in @{self.forward.sym_name.value}, "
                                   f"found {len(self.data_indices)}",
                                   format_location(self.forward.location))
        self.input_index = self.data_indices[0]
        self.input_value = self.forward.entry_block.arguments[self.input_index]
        for function in self.functions:
            for arg in function.entry_block.arguments:
                if element_kind(arg) is None:
                    raise UnsupportedError(
                        f"the C target cannot store {arg.type} (argument of "
                        f"@{function.sym_name.value})", format_location(function.location))
            for op in function.entry_block.operations:
                if not isinstance(op, func.ReturnOp) and op.name not in KERNELS \
                        and op.name not in VIEWS:
                    raise UnsupportedError(f"the C target has no kernel for '{op.name}'",
                                           format_location(op.location))
                for result in op.results:
                    if element_kind(result) is None:
                        raise UnsupportedError(
                            f"the C target stores f32, i32 and int8 tensors, '{op.name}' "
                            f"produces {ir.RankedTensorType(result.type).element_type}",
                            format_location(op.location))
                    if self.step is not None and element_kind(result) != "f32":
                        raise UnsupportedError(
                            f"the C target trains f32 models only, '{op.name}' produces "
                            f"{ir.RankedTensorType(result.type).element_type}",
                            format_location(op.location))

    def _ensure_plan(self) -> None:
        """Plans the functions the module has no plan for (the renderer itself never
        allocates)."""
        from ...passes.plan_memory import PlanMemory, is_planned
        attributes = self.module.operation.attributes
        for function in self.functions:
            if not is_planned(self.module, function):
                alignment = ir.IntegerAttr(attributes["train.arena_alignment"]).value \
                    if "train.arena_alignment" in attributes else self.alignment
                PlanMemory(function=function.sym_name.value,
                           alignment=alignment).run(self.module)
        self.arena_bytes = max(ir.IntegerAttr(attributes["train.arena_size"]).value,
                               self.arena_alignment)
        self.param_offsets = {}       # offset -> symbol of a trainable parameter
        self.param_kinds = {}         # symbol -> element kind
        owner = self.functions[0]
        for index, arg in enumerate(owner.entry_block.arguments):
            offset = train.arg_attribute(owner, index, "train.offset")
            if offset is not None and train.arg_role(owner, index) == "trainable":
                self.param_offsets[ir.IntegerAttr(offset).value] = self.param_symbol(index)
                self.param_kinds[self.param_symbol(index)] = element_kind(arg)

    @property
    def arena_alignment(self) -> int:
        return ir.IntegerAttr(self.module.operation.attributes["train.arena_alignment"]).value

    # -- storage ------------------------------------------------------------

    def param_symbol(self, index: int) -> str:
        return f"tcc_param_{c_identifier(train.arg_name(self.forward, index))}"

    def input_name(self, index: int) -> str:
        """The C parameter of data argument `index` of @forward."""
        if len(self.data_indices) == 1:
            return "input"
        return f"input_{c_identifier(train.arg_name(self.forward, index))}"

    def _arena(self, offset: int, value) -> str:
        """A value at `offset`: its parameter's name in the parameters' part of the
        arena (the parameter or its in-place update), else a typed pointer."""
        if offset in self.param_offsets:
            return self.param_offsets[offset]
        return f"{ARENA_POINTERS[element_kind(value)]}({offset})"

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
                                    f"{_bytes(arg)});  /* {data_names[index]} */")
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

    @staticmethod
    def _copy(source: str, target: str, value) -> str:
        """C statement copying `value`'s elements from `source` to `target`."""
        if element_kind(value) == "f32":
            return f"tcc_copy_f32({source}, {target}, {size(value)});"
        return f"memmove({target}, {source}, {_bytes(value)});"

    def _render_ops(self, function: func.FuncOp, storage: dict) -> list[str]:
        lines = []
        for op in function.entry_block.operations:
            if isinstance(op, func.ReturnOp):
                continue
            args = [storage[v] for v in op.operands]
            result = storage[op.results[0]]
            if op.name in VIEWS:
                if result != args[0]:
                    lines.append(self._copy(args[0], result, op.results[0]))
                continue
            lines.append(f"/* {op.name} at {format_location(op.location) or 'unknown'} */")
            if op.name in UPDATES and result != args[0]:
                # Not in place: update a copy (written back when the step returns).
                lines.append(self._copy(args[0], result, op.results[0]))
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
                lines.append(self._copy(storage[value], storage[args[target]], value))
        return lines

    # -- files --------------------------------------------------------------

    def render(self) -> dict[str, str]:
        self.infer_storage, infer_prologue = self._storage(
            self.forward, {i: self.input_name(i) for i in self.data_indices})
        step_prologue = []
        if self.step is not None:
            labels_index = len(self.step.entry_block.arguments) - 1
            self.step_storage, step_prologue = self._storage(
                self.step, {self.input_index: "input", labels_index: "labels"})
            self._check_shared_parameters()
        return {f"{self.name}.h": self._header(), f"{self.name}.c": self._source(
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

    def _infer_signature(self) -> str:
        args = self.forward.entry_block.arguments
        inputs = [f"const {C_TYPES[element_kind(args[i])]} *{self.input_name(i)}"
                  for i in self.data_indices]
        output = self._returned(self.forward)[0]
        return (f"void {self.api}_infer({', '.join(inputs)}, "
                f"{C_TYPES[element_kind(output)]} *logits)")

    def _header(self) -> str:
        output = self._returned(self.forward)[0]
        guard = f"TCC_{self.name.upper()}_H"
        lines = ["/* Generated by tcc. API of the compiled model. */",
                 f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", ""]
        if len(dims(output)) == 2:
            batch, classes = dims(output)
            lines += [f"#define TCC_BATCH {batch}               /* samples per call */",
                      f"#define TCC_NUM_CLASSES {classes}"]
        if len(self.data_indices) == 1:
            lines += [f"#define TCC_INPUT_SIZE {size(self.input_value)}  /* elements in one "
                      "batch of input */",
                      f"typedef {C_TYPES[element_kind(self.input_value)]} tcc_input_t;"]
        lines += [f"#define TCC_OUTPUT_SIZE {size(output)}  /* elements of infer's output */",
                  f"typedef {C_TYPES[element_kind(output)]} tcc_output_t;",
                  f"#define TCC_ARENA_BYTES {self.arena_bytes}", "",
                  "/* Restores the initial parameters. */",
                  f"void {self.api}_init(void);",
                  "/* logits[TCC_OUTPUT_SIZE] = forward(input). */",
                  self._infer_signature() + ";"]
        if self.step is not None:
            lines += ["/* One SGD step on (input, labels); returns the loss before the "
                      "update. */",
                      f"float {self.api}_train_step(const float *input, "
                      "const int32_t *labels);"]
        lines += ["/* Trainable parameters, for reading or writing what the device learned. */",
                  "typedef struct { const char *name; void *data; int32_t size; } tcc_param;",
                  f"int32_t {self.api}_num_params(void);",
                  f"tcc_param {self.api}_param(int32_t index);", "", "#endif", ""]
        return "\n".join(lines)

    def _parameter_table(self, index: int, trainable: bool) -> list[str]:
        """The C array of parameter `index`'s initial values, in its storage type."""
        array = self.parameters[index]
        kind = element_kind(self.forward.entry_block.arguments[index])
        values = np.asarray(array).astype({"f32": np.float32, "i32": np.int32,
                                           "i8": np.int8}[kind]).ravel()
        text = [c_float(v) for v in values] if kind == "f32" else \
            [str(v) for v in values.tolist()]
        step = self.values_per_line
        rows = [", ".join(text[i:i + step]) for i in range(0, len(text), step)]
        symbol = self.param_symbol(index)
        head = f"static const {C_TYPES[kind]} {symbol}_init" if trainable else \
            f"static {self.const_qualifier} {C_TYPES[kind]} {symbol}"
        if len(rows) <= 1:
            return [f"{head}[{values.size}] = {{{''.join(rows)}}};"]
        return [f"{head}[{values.size}] = {{"] + [f"  {row}," for row in rows] + ["};"]

    def _source(self, infer_prologue: list[str], step_prologue: list[str]) -> str:
        alignment = self.arena_alignment
        lines = [f"/* Generated by tcc: forward{' and training step' if self.step else ''}"
                 " over one static arena. */",
                 "#include <stddef.h>", "#include <stdint.h>", "#include <string.h>", "",
                 f'#include "{self.name}.h"', '#include "tcc_kernels.h"',
                 '#include "tcc_int8.h"', "",
                 "/* Inputs, labels, trainable parameters and every intermediate tensor, at",
                 "   the byte offsets of the memory plan (--plan-memory). */",
                 f"static uint8_t tcc_arena[TCC_ARENA_BYTES] "
                 f"__attribute__((aligned({alignment})));",
                 "#define TCC_F32(offset) ((float *)(tcc_arena + (offset)))",
                 "#define TCC_I32(offset) ((int32_t *)(tcc_arena + (offset)))",
                 "#define TCC_I8(offset) ((int8_t *)(tcc_arena + (offset)))", ""]
        trainable = [i for i in sorted(self.parameters)
                     if train.arg_role(self.forward, i) == "trainable"]
        lines += [f"#define {symbol} {ARENA_POINTERS[self.param_kinds[symbol]]}({offset})"
                  for offset, symbol in sorted(self.param_offsets.items())]
        for index in sorted(self.parameters):
            lines += self._parameter_table(index, index in trainable)
        lines += ["", f"void {self.api}_init(void) {{"]
        lines += [f"  memcpy({self.param_symbol(i)}, {self.param_symbol(i)}_init, "
                  f"sizeof {self.param_symbol(i)}_init);" for i in trainable]
        lines += ["}", "", self._infer_signature() + " {"]
        lines += ["  " + line for line in infer_prologue]
        lines += ["  " + line for line in self._render_ops(self.forward, self.infer_storage)]
        logits = self._returned(self.forward)[0]
        lines += ["  " + self._copy(self.infer_storage[logits], "logits", logits), "}", ""]
        if self.step is not None:
            lines += [f"float {self.api}_train_step(const float *input, "
                      "const int32_t *labels) {"]
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
                  f"int32_t {self.api}_num_params(void) {{ return {len(trainable)}; }}", "",
                  f"tcc_param {self.api}_param(int32_t index) {{ return tcc_params[index]; }}",
                  ""]
        return "\n".join(lines)

    @staticmethod
    def _returned(function: func.FuncOp) -> list:
        ops = function.entry_block.operations
        return list(ops[len(ops) - 1].operands)


def _has_function(module: ir.Module, name: str) -> bool:
    return any(isinstance(op, func.FuncOp) and op.sym_name.value == name
               for op in module.body.operations)

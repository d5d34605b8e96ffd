"""PyTorch modules into the train dialect, through torch.export.

The module is exported in eval mode (`torch.export.export`), decomposed with PyTorch's
default table minus the ops tcc has natively (`KEPT_OPS`), and each FX node is turned
into train ops by its converter in `CONVERTERS` (aten op -> function). Parameters and
buffers become arguments of `@forward` named by their module path; their values go to
the weights dict. Eval-mode batch norm that directly follows a convolution or linear
layer is folded into its weights and bias at import (the statistics are known); any
other batch norm becomes `train.batch_norm` with its running statistics as frozen
arguments.

Every op carries the location of the line in the user's model file that produced it
(the last frame of the FX node's stack trace in that file), so an unsupported op is
reported as `model.py:LINE: error: unsupported op aten.xyz`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import logging
import math
import operator
import os
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import fx
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind

from ..errors import InputError, UnsupportedError
from ..source import new_context, parse_module
from .model_file import ImportedModel

aten = torch.ops.aten

# Composite ops that torch.export's default table would decompose but tcc maps directly
# (the rest of what tcc maps, e.g. convolution, hardtanh, gelu, _softmax,
# native_layer_norm, avg_pool2d, mean.dim, is core ATen and is never decomposed).
KEPT_OPS = (aten.linear.default, aten.matmul.default, aten.hardswish.default,
            aten.silu.default, aten.adaptive_avg_pool2d.default, aten.max_pool2d.default)

_BATCH_NORMS = (aten._native_batch_norm_legit_no_training.default, aten.batch_norm.default)


# --------------------------------------------------------------------------
# Values, types and attributes as MLIR text
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Value:
    """An SSA value of the function being built: its name and static f32 shape."""

    name: str
    shape: tuple[int, ...]

    @property
    def type(self) -> str:
        return tensor_type(self.shape)


def tensor_type(shape) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + "f32>"


def float_text(value: float) -> str:
    """A float literal MLIR parses back to the same float32 (it needs a '.')."""
    value = np.float32(value)
    if np.isinf(value):
        return "0x7F800000" if value > 0 else "0xFF800000"
    text = str(value)           # the shortest text that reads back as this float32
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + (f"e{exponent}" if exponent else "")


def f32_attr(value: float) -> str:
    return f"{float_text(value)} : f32"


def i64_attr(value: int) -> str:
    return f"{int(value)} : i64"


def i64_array(values) -> str:
    return "array<i64: " + ", ".join(str(int(v)) for v in values) + ">"


def op_name(target) -> str:
    """`aten.cumsum` for aten.cumsum.default, `aten.mul.Scalar` for other overloads."""
    if isinstance(target, torch._ops.OpOverload):
        packet = f"{target.namespace}.{target._opname}"
        return packet if target._overloadname == "default" else f"{packet}.{target._overloadname}"
    return getattr(target, "__name__", str(target))


# --------------------------------------------------------------------------
# The importer: FX graph -> MLIR text of @forward
# --------------------------------------------------------------------------

class _Importer:
    """Walks an exported program's graph and writes the ops of `@forward`."""

    def __init__(self, program: ExportedProgram, source: _Source, *, fold: bool = True,
                 input_names: list[str] | None = None):
        self.program = program
        self.fold = fold                        # fold eval-mode batch norms into weights
        self.input_names = input_names          # train.name of each user input, if given
        self.graph = program.graph
        self.source = source
        self.ops: list[tuple[str, list[str], str]] = []    # result, operands, text
        self.reshaped: dict[str, Value] = {}               # reshape result -> its input
        self.params: list[tuple[Value, str, str]] = []     # value, train.name, role
        self.weights: dict[str, np.ndarray] = {}
        self.values: dict[fx.Node, Any] = {}
        self.count = 0
        self.loc = "loc(unknown)"
        self.node: fx.Node | None = None
        signature = program.graph_signature
        self.kinds = {spec.arg.name: spec for spec in signature.input_specs}
        self.folds: dict[fx.Node, fx.Node] = {}     # conv/linear node -> batch norm folded in
        self.absorbed: set[fx.Node] = set()          # parameters of the folded layers
        self.pending: dict[fx.Node, tuple] = {}      # parameters not used yet

    # -- values -------------------------------------------------------------

    def fresh(self) -> str:
        self.count += 1
        return f"%v{self.count}"

    def emit(self, name: str, operands: list[Value], shape, attrs: dict[str, str] | None = None
             ) -> Value:
        """One op in generic form, at the current node's location."""
        result = Value(self.fresh(), tuple(int(d) for d in shape))
        attr_text = ""
        if attrs:
            attr_text = " {" + ", ".join(k if v is None else f"{k} = {v}"
                                         for k, v in attrs.items()) + "}"
        types = ", ".join(v.type for v in operands)
        self.ops.append((result.name, [v.name for v in operands],
                         f'{result.name} = "{name}"({", ".join(v.name for v in operands)})'
                         f"{attr_text} : ({types}) -> {result.type} {self.loc}"))
        return result

    def constant(self, value: float, shape) -> Value:
        """A splat f32 constant."""
        result = Value(self.fresh(), tuple(int(d) for d in shape))
        self.ops.append((result.name, [], f"{result.name} = arith.constant "
                         f"dense<{float_text(value)}> : {result.type} {self.loc}"))
        return result

    def param(self, name: str, array: np.ndarray, role: str) -> Value:
        """The `@forward` argument holding parameter `name` (added on first use)."""
        for value, existing, _ in self.params:
            if existing == name:
                return value
        array = np.ascontiguousarray(array, dtype=np.float32)
        value = Value(f"%p{len(self.params)}", tuple(array.shape))
        self.params.append((value, name, role))
        self.weights[name] = array
        return value

    def operand(self, arg) -> Value:
        """The Value of an FX argument that must be one tensor."""
        if not isinstance(arg, fx.Node):
            self.unsupported(f"a constant operand ({arg!r}) where a tensor is expected")
        if arg in self.pending:       # a parameter's argument is added at its first use
            self.values[arg] = self.param(*self.pending.pop(arg))
        value = self.values[arg]
        if not isinstance(value, Value):
            self.unsupported(f"a non-tensor value '{arg.name}' where a tensor is expected")
        return value

    def optional(self, arg) -> Value | None:
        return None if arg is None else self.operand(arg)

    def shape_of(self, node: fx.Node) -> tuple[int, ...]:
        """Static shape of a node's (first) tensor result."""
        val = node.meta.get("val")
        if isinstance(val, (tuple, list)):
            val = val[0]
        return tuple(int(d) for d in val.shape)

    # -- parameters ---------------------------------------------------------

    def placeholder_array(self, node: fx.Node) -> tuple[str, np.ndarray, str] | None:
        """(train.name, value, role) of a parameter, buffer or constant placeholder."""
        spec = self.kinds.get(node.name)
        if spec is None or spec.kind == InputKind.USER_INPUT:
            return None
        target = spec.target
        if target in self.program.state_dict:
            tensor = self.program.state_dict[target]
        else:
            tensor = self.program.constants[target]
        role = ("trainable" if spec.kind == InputKind.PARAMETER and tensor.requires_grad
                else "frozen")
        return target, tensor.detach().to(torch.float32).numpy(), role

    # -- errors -------------------------------------------------------------

    def unsupported(self, message: str):
        raise UnsupportedError(message, self.source.line_of(self.node))

    # -- the walk -----------------------------------------------------------

    def run(self) -> tuple[str, dict[str, np.ndarray]]:
        self.check_static()
        if self.fold:
            self.folds, self.absorbed = _foldable_batch_norms(self)
        inputs: list[Value] = []
        outputs: list[Value] = []
        for node in self.graph.nodes:
            self.node = node
            self.loc = self.source.loc(node)
            if node.op == "placeholder":
                self.placeholder(node, inputs)
            elif node.op == "call_function":
                self.values[node] = self.call(node)
            elif node.op == "output":
                outputs = [self.output(arg) for arg in node.args[0]]
            else:
                self.unsupported(f"FX node kind '{node.op}'")
        return self.function_text(inputs, outputs), self.weights

    def check_static(self) -> None:
        for node in self.graph.nodes:
            val = node.meta.get("val")
            vals = val if isinstance(val, (tuple, list)) else [val]
            for v in vals:
                if isinstance(v, torch.Tensor):
                    if not all(isinstance(d, int) for d in v.shape):
                        self.node = node
                        shape = ", ".join(str(d) for d in v.shape)
                        self.unsupported(
                            f"dynamic shape: {op_name(node.target)} gives a tensor of size "
                            f"({shape}); tcc needs static shapes")
                elif isinstance(v, torch.SymInt):
                    self.node = node
                    self.unsupported(f"dynamic shape: {op_name(node.target)} gives the "
                                     f"symbolic size {v}; tcc needs static shapes")

    def check_float(self, node: fx.Node) -> None:
        """Rejects a used tensor that is not float32."""
        val = node.meta.get("val")
        for index, v in enumerate(val if isinstance(val, (tuple, list)) else [val]):
            used = node.op != "call_function" or not isinstance(val, (tuple, list)) or any(
                user.target is operator.getitem and user.args[1] == index for user in node.users)
            if isinstance(v, torch.Tensor) and used and v.dtype != torch.float32:
                what = (op_name(node.target) if node.op == "call_function"
                         else f"input '{node.name}'")
                dtype = str(v.dtype).removeprefix("torch.")
                self.unsupported(f"{what} gives a {dtype} tensor; tcc imports float32 models only")

    def placeholder(self, node: fx.Node, inputs: list[Value]) -> None:
        found = self.placeholder_array(node)
        if found is None:
            self.check_float(node)
            value = Value(f"%x{len(inputs)}", self.shape_of(node))
            inputs.append(value)
            self.values[node] = value
        elif node.users and node not in self.absorbed:
            self.check_float(node)
            self.pending[node] = found

    def call(self, node: fx.Node):
        if node.target is operator.getitem:
            parts, index = self.values[node.args[0]], node.args[1]
            if not isinstance(parts, tuple) or parts[index] is None:
                self.unsupported(f"result #{index} of {op_name(node.args[0].target)}")
            return parts[index]
        converter = CONVERTERS.get(node.target)
        if converter is None:
            self.unsupported(f"unsupported op {op_name(node.target)}")
        self.check_float(node)
        return converter(self, node)

    def output(self, arg) -> Value:
        if not isinstance(arg, fx.Node):
            self.unsupported(f"a non-tensor model output ({arg!r})")
        return self.operand(arg)

    def live_ops(self, outputs: list[Value]) -> tuple[list[str], set[str]]:
        """The text of the ops the outputs depend on (all ops are pure), and the names
        of every value they use."""
        live = {v.name for v in outputs}
        kept = []
        for result, operands, text in reversed(self.ops):
            if result in live:
                live.update(operands)
                kept.append(text)
        return kept[::-1], live

    def function_text(self, inputs: list[Value], outputs: list[Value]) -> str:
        ops, live = self.live_ops(outputs)
        for value, name, _ in self.params:
            if value.name not in live:
                del self.weights[name]
        names = self.input_names or [None] * len(inputs)
        args = [f"{v.name}: {v.type}" + (f' {{train.name = "{name}"}}' if name else "")
                for v, name in zip(inputs, names)]
        args += [f'{v.name}: {v.type} {{train.name = "{name}", train.role = #train.role<{role}>}}'
                 for v, name, role in self.params if v.name in live]
        results = ", ".join(v.type for v in outputs)
        results = results if len(outputs) == 1 else f"({results})"
        lines = [f"func.func @forward({', '.join(args)}) -> {results} {{",
                 *("    " + text for text in ops),
                 f"    return {', '.join(v.name for v in outputs)} : "
                 f"{', '.join(v.type for v in outputs)}",
                 f"}} {self.source.function_loc}"]
        return "module {\n" + "\n".join("  " + line for line in lines) + "\n}\n"


# --------------------------------------------------------------------------
# Batch-norm folding
# --------------------------------------------------------------------------

def _foldable_batch_norms(importer: _Importer) -> tuple[dict, set]:
    """Eval-mode batch norms that fold into the conv/linear producing their input:
    ({producer node: batch norm node}, the parameter placeholders they absorb). Both
    layers must use parameters of their own, and the producer feed nothing else."""
    folds, absorbed = {}, set()
    for node in importer.graph.nodes:
        if node.op != "call_function" or node.target not in _BATCH_NORMS:
            continue
        if node.target == aten.batch_norm.default and node.args[5]:
            continue                                         # training-mode batch norm
        producer = node.args[0]
        if not isinstance(producer, fx.Node) or len(producer.users) != 1:
            continue
        if producer.target == aten.convolution.default:
            if producer.args[6]:
                continue                                     # transposed
        elif producer.target != aten.linear.default or len(importer.shape_of(producer)) != 2:
            continue
        own = [a for a in (*producer.args[1:3], *node.args[1:5]) if a is not None]
        if all(isinstance(a, fx.Node) and importer.placeholder_array(a) is not None
               and len(a.users) == 1 for a in own):
            folds[producer] = node
            absorbed.update(own)
    return folds, absorbed


def _folded(importer: _Importer, producer: fx.Node) -> tuple[Value, Value]:
    """Weight and bias of a conv/linear with its batch norm folded in (float64 math):
    w' = w · γ/√(var+ε) per output channel, b' = (b − mean) · γ/√(var+ε) + β."""
    bn = importer.folds[producer]
    weight_name, weight, role = importer.placeholder_array(producer.args[1])
    bias_node = producer.args[2] if len(producer.args) > 2 else None
    channels = weight.shape[0]

    def array(arg, default):
        return (np.full(channels, default) if arg is None
                else importer.placeholder_array(arg)[1].astype(np.float64))

    bias = array(bias_node, 0.0)
    gamma, beta, mean, var = (array(a, d) for a, d in zip(bn.args[1:5], (1.0, 0.0, 0.0, 1.0)))
    eps = bn.args[7] if bn.target == aten.batch_norm.default else bn.args[6]
    scale = gamma / np.sqrt(var + eps)
    folded_weight = weight.astype(np.float64) * scale.reshape(-1, *[1] * (weight.ndim - 1))
    folded_bias = (bias - mean) * scale + beta
    bias_name = (importer.placeholder_array(bias_node)[0] if bias_node is not None
                 else weight_name.removesuffix(".weight") + ".bias")
    return (importer.param(weight_name, folded_weight, role),
            importer.param(bias_name, folded_bias, role))


# --------------------------------------------------------------------------
# Converters: aten op -> train ops
# --------------------------------------------------------------------------

Converter = Callable[[_Importer, fx.Node], Any]
CONVERTERS: dict[Any, Converter] = {}


def _converts(*names: str):
    """Registers a converter for the aten ops `names` ("convolution", "add.Tensor", ...)."""
    def register(fn: Converter) -> Converter:
        for name in names:
            packet, _, overload = name.partition(".")
            CONVERTERS[getattr(getattr(aten, packet), overload or "default")] = fn
        return fn
    return register


def _arg(node: fx.Node, index: int, name: str, default=None):
    """Argument `index` (or keyword `name`) of an FX call, else `default`."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _pair(value) -> tuple[int, int]:
    value = list(value) if isinstance(value, (list, tuple)) else [value]
    return (value[0], value[0]) if len(value) == 1 else (value[0], value[1])


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _reshape(imp: _Importer, value: Value, shape) -> Value:
    """`value` reshaped; a reshape of a reshape starts from the first one's input."""
    shape = tuple(int(d) for d in shape)
    value = imp.reshaped.get(value.name, value)
    if value.shape == shape:
        return value
    result = imp.emit("train.reshape", [value], shape)
    imp.reshaped[result.name] = value
    return result


def _broadcast(imp: _Importer, arg, shape) -> Value:
    """A tensor or Python scalar broadcast to `shape` (numpy rules)."""
    if not isinstance(arg, fx.Node):
        return imp.constant(arg, shape)
    value = imp.operand(arg)
    if value.shape == tuple(shape):
        return value
    return imp.emit("train.broadcast", [value], shape)


def _scale(imp: _Importer, value: Value, factor: float) -> Value:
    if factor == 1:
        return value
    return imp.emit("train.mul", [value, imp.constant(factor, value.shape)], value.shape)


@_converts("add.Tensor", "add.Scalar", "sub.Tensor", "sub.Scalar")
def _add(imp, node):
    shape = imp.shape_of(node)
    alpha = node.kwargs.get("alpha", node.args[2] if len(node.args) > 2 else 1)
    if node.target in (aten.sub.Tensor, aten.sub.Scalar):
        alpha = -alpha
    lhs = _broadcast(imp, node.args[0], shape)
    other = node.args[1]
    if isinstance(other, fx.Node):
        rhs = _scale(imp, _broadcast(imp, other, shape), alpha)
    else:
        rhs = imp.constant(other * alpha, shape)
    return imp.emit("train.add", [lhs, rhs], shape)


@_converts("mul.Tensor", "mul.Scalar", "div.Tensor", "div.Scalar")
def _mul(imp, node):
    shape = imp.shape_of(node)
    lhs, rhs = node.args[:2]
    if node.target in (aten.div.Tensor, aten.div.Scalar):
        if isinstance(rhs, fx.Node) or node.kwargs.get("rounding_mode"):
            imp.unsupported(f"{op_name(node.target)} by a tensor (tcc has no division op)")
        rhs = 1.0 / rhs
    return imp.emit("train.mul", [_broadcast(imp, lhs, shape), _broadcast(imp, rhs, shape)],
                    shape)


@_converts("relu")
def _relu(imp, node):
    return imp.emit("train.relu", [imp.operand(node.args[0])], imp.shape_of(node))


@_converts("hardtanh", "clamp")
def _clamp(imp, node):
    if node.target == aten.hardtanh.default:
        low, high = _arg(node, 1, "min_val", -1.0), _arg(node, 2, "max_val", 1.0)
    else:
        low, high = _arg(node, 1, "min"), _arg(node, 2, "max")
        low = -math.inf if low is None else low
        high = math.inf if high is None else high
    return imp.emit("train.clamp", [imp.operand(node.args[0])], imp.shape_of(node),
                    {"min": f32_attr(low), "max": f32_attr(high)})


@_converts("hardswish", "sigmoid")
def _unary(imp, node):
    return imp.emit(f"train.{node.target._opname}", [imp.operand(node.args[0])],
                    imp.shape_of(node))


@_converts("silu")
def _silu(imp, node):
    x = imp.operand(node.args[0])
    return imp.emit("train.mul", [x, imp.emit("train.sigmoid", [x], x.shape)], x.shape)


@_converts("gelu")
def _gelu(imp, node):
    approximate = node.kwargs.get("approximate", node.args[1] if len(node.args) > 1 else "none")
    return imp.emit("train.gelu", [imp.operand(node.args[0])], imp.shape_of(node),
                    {"tanh": None} if approximate == "tanh" else None)


@_converts("_softmax", "softmax.int")
def _softmax(imp, node):
    x = imp.operand(node.args[0])
    return imp.emit("train.softmax", [x], x.shape,
                    {"axis": i64_attr(_axis(node.args[1], len(x.shape)))})


@_converts("native_layer_norm")
def _layer_norm(imp, node):
    x, normalized, weight, bias, eps = node.args
    w = imp.optional(weight) or imp.constant(1.0, normalized)
    b = imp.optional(bias) or imp.constant(0.0, normalized)
    y = imp.emit("train.layer_norm", [imp.operand(x), w, b], imp.shape_of(node),
                 {"epsilon": f32_attr(eps)})
    return (y, None, None)     # mean and rstd are not available


@_converts("_native_batch_norm_legit_no_training", "batch_norm")
def _batch_norm(imp, node):
    x = node.args[0]
    if node.target == aten.batch_norm.default:
        if node.args[5]:
            imp.unsupported("batch norm in training mode (export the module in eval mode)")
        eps = node.args[7]
    else:
        eps = node.args[6]
    if imp.folds.get(x) is node:
        y = imp.values[x]                       # folded into the producer's weights
    else:
        channels = imp.shape_of(x)[1]
        gamma, beta = (imp.optional(a) or imp.constant(d, [channels])
                       for a, d in ((node.args[1], 1.0), (node.args[2], 0.0)))
        if node.args[3] is None or node.args[4] is None:
            imp.unsupported("batch norm without running statistics")
        y = imp.emit("train.batch_norm",
                     [imp.operand(x), gamma, beta, imp.operand(node.args[3]),
                      imp.operand(node.args[4])], imp.shape_of(node),
                     {"epsilon": f32_attr(eps)})
    return y if node.target == aten.batch_norm.default else (y, None, None)


@_converts("convolution")
def _convolution(imp, node):
    x, weight, bias, stride, padding, dilation, transposed, _, groups = node.args
    if transposed:
        imp.unsupported("transposed convolution")
    if len(imp.shape_of(weight)) != 4:
        imp.unsupported(f"{len(imp.shape_of(weight)) - 2}-d convolution (tcc has conv2d)")
    operands = (list(_folded(imp, node)) if node in imp.folds
                else [imp.operand(weight)] + ([imp.operand(bias)] if bias is not None else []))
    return imp.emit("train.conv2d", [imp.operand(x), *operands], imp.shape_of(node),
                    {"stride": i64_array(_pair(stride)), "padding": i64_array(_pair(padding)),
                     "dilation": i64_array(_pair(dilation)), "groups": i64_attr(groups)})


@_converts("linear")
def _linear(imp, node):
    x = imp.operand(node.args[0])
    if node in imp.folds:
        operands = list(_folded(imp, node))
    else:
        bias = _arg(node, 2, "bias")
        operands = [imp.operand(node.args[1])] + ([imp.operand(bias)] if bias is not None else [])
    shape = imp.shape_of(node)
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    y = imp.emit("train.linear", [_reshape(imp, x, (rows, x.shape[-1])), *operands],
                 (rows, shape[-1]))
    return _reshape(imp, y, shape)


@_converts("matmul", "mm", "bmm")
def _matmul(imp, node):
    shape = imp.shape_of(node)
    a, b = (imp.operand(arg) for arg in node.args[:2])
    if len(a.shape) < 2 or len(b.shape) < 2:
        imp.unsupported("matmul of a vector (tcc's matmul takes matrices)")
    batch = shape[:-2]
    a = a if a.shape[:-2] == batch else imp.emit(
        "train.broadcast", [a], (*batch, *a.shape[-2:]))
    b = b if b.shape[:-2] == batch else imp.emit("train.broadcast", [b], (*batch, *b.shape[-2:]))
    return imp.emit("train.matmul", [a, b], shape)


@_converts("addmm")
def _addmm(imp, node):
    if node.kwargs.get("beta", 1) != 1 or node.kwargs.get("alpha", 1) != 1:
        imp.unsupported("addmm with alpha or beta other than 1")
    shape = imp.shape_of(node)
    product = imp.emit("train.matmul", [imp.operand(node.args[1]), imp.operand(node.args[2])],
                       shape)
    return imp.emit("train.add", [product, _broadcast(imp, node.args[0], shape)], shape)


@_converts("view", "_unsafe_view", "reshape", "flatten.using_ints", "squeeze.dim",
           "squeeze.dims", "squeeze", "unsqueeze")
def _view(imp, node):
    return _reshape(imp, imp.operand(node.args[0]), imp.shape_of(node))


@_converts("permute", "transpose.int", "t")
def _permute(imp, node):
    x = imp.operand(node.args[0])
    rank = len(x.shape)
    if node.target == aten.permute.default:
        permutation = [_axis(d, rank) for d in node.args[1]]
    else:
        first, second = (0, 1) if node.target == aten.t.default else (
            _axis(node.args[1], rank), _axis(node.args[2], rank))
        permutation = list(range(rank))
        permutation[first], permutation[second] = second, first
    if permutation == sorted(permutation):
        return x
    return imp.emit("train.transpose", [x], imp.shape_of(node),
                    {"permutation": i64_array(permutation)})


@_converts("clone", "alias", "contiguous", "detach", "lift_fresh_copy", "dropout")
def _identity(imp, node):
    if node.target == aten.dropout.default and _arg(node, 2, "train", False):
        imp.unsupported("dropout in training mode (export the module in eval mode)")
    return imp.operand(node.args[0])


@_converts("full", "full_like")
def _full(imp, node):
    value = _arg(node, 1, "fill_value")
    if not isinstance(value, (int, float)):
        imp.unsupported(f"{op_name(node.target)} with a fill value that is not a number")
    return imp.constant(value, imp.shape_of(node))


@_converts("expand")
def _expand(imp, node):
    return _broadcast(imp, node.args[0], imp.shape_of(node))


@_converts("cat")
def _cat(imp, node):
    values = [imp.operand(a) for a in node.args[0]]
    shape = imp.shape_of(node)
    axis = _axis(_arg(node, 1, "dim", 0), len(shape))
    values = [v for v in values if v.shape != (0,)]     # torch.cat skips empty 1-d tensors
    return imp.emit("train.concat", values, shape, {"axis": i64_attr(axis)})


def _pool_geometry(node, kernel_index: int = 1):
    kernel = _pair(node.args[kernel_index])
    stride = _arg(node, kernel_index + 1, "stride", [])
    stride = _pair(stride) if stride else kernel
    padding = _pair(_arg(node, kernel_index + 2, "padding", 0))
    return kernel, stride, padding


@_converts("max_pool2d_with_indices", "max_pool2d")
def _max_pool2d(imp, node):
    kernel, stride, padding = _pool_geometry(node)
    if _pair(_arg(node, 4, "dilation", 1)) != (1, 1):
        imp.unsupported("max pooling with dilation")
    if _arg(node, 5, "ceil_mode", False):
        imp.unsupported("max pooling with ceil_mode=True")
    y = imp.emit("train.max_pool2d", [imp.operand(node.args[0])], imp.shape_of(node),
                 {"kernel": i64_array(kernel), "stride": i64_array(stride),
                  "padding": i64_array(padding)})
    return y if node.target == aten.max_pool2d.default else (y, None)


@_converts("avg_pool2d")
def _avg_pool2d(imp, node):
    kernel, stride, padding = _pool_geometry(node)
    if _arg(node, 4, "ceil_mode", False):
        imp.unsupported("average pooling with ceil_mode=True")
    if _arg(node, 6, "divisor_override") is not None:
        imp.unsupported("average pooling with divisor_override")
    attrs = {"kernel": i64_array(kernel), "stride": i64_array(stride),
             "padding": i64_array(padding)}
    if _arg(node, 5, "count_include_pad", True):
        attrs["count_include_pad"] = None
    return imp.emit("train.avg_pool2d", [imp.operand(node.args[0])], imp.shape_of(node), attrs)


@_converts("adaptive_avg_pool2d", "_adaptive_avg_pool2d")
def _adaptive_avg_pool2d(imp, node):
    x = imp.operand(node.args[0])
    shape = imp.shape_of(node)
    if len(x.shape) != 4:
        imp.unsupported("adaptive average pooling of a tensor that is not NCHW")
    if shape[2:] == (1, 1):
        return imp.emit("train.global_avg_pool", [x], shape)
    (h, w), (oh, ow) = x.shape[2:], shape[2:]
    if h % oh or w % ow:
        imp.unsupported(f"adaptive average pooling from {h}x{w} to {oh}x{ow} "
                        "(the sizes must divide)")
    kernel = i64_array((h // oh, w // ow))
    return imp.emit("train.avg_pool2d", [x], shape,
                    {"kernel": kernel, "stride": kernel, "padding": i64_array((0, 0))})


@_converts("mean.dim", "mean")
def _mean(imp, node):
    """A mean over any axes as a global average pool: the kept axes move to the front
    and become the channels of a [1, K, R, 1] tensor whose R averaged values are rows."""
    x = imp.operand(node.args[0])
    rank = len(x.shape)
    dims = _arg(node, 1, "dim") if node.target == aten.mean.dim else None
    axes = sorted({_axis(d, rank) for d in dims}) if dims else list(range(rank))
    kept = [d for d in range(rank) if d not in axes]
    shape = imp.shape_of(node)
    if rank == 4 and axes == [2, 3]:
        return _reshape(imp, imp.emit("train.global_avg_pool", [x], (*x.shape[:2], 1, 1)), shape)
    permutation = kept + axes
    if permutation != list(range(rank)):
        x = imp.emit("train.transpose", [x], [x.shape[d] for d in permutation],
                     {"permutation": i64_array(permutation)})
    channels = int(np.prod([x.shape[i] for i in range(len(kept))], dtype=np.int64))
    rows = int(np.prod(x.shape[len(kept):], dtype=np.int64))
    pooled = imp.emit("train.global_avg_pool", [_reshape(imp, x, (1, channels, rows, 1))],
                      (1, channels, 1, 1))
    return _reshape(imp, pooled, shape)


# --------------------------------------------------------------------------
# Locations: the user's line of each FX node
# --------------------------------------------------------------------------

class _Source:
    """The user's model file: finds the line of each node in its stack trace."""

    def __init__(self, module: torch.nn.Module, filename: str | None):
        code = getattr(inspect.unwrap(type(module).forward), "__code__", None)
        self.path = code.co_filename if code is not None else None
        self.name = filename or (_display_path(self.path) if self.path else None)
        self.torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
        self.function_loc = (self.mlir_loc(code.co_firstlineno) if code is not None and self.name
                             else "loc(unknown)")

    def mlir_loc(self, line: int) -> str:
        return f'loc("{self.name}":{line}:1)'

    def frames(self, node) -> list[tuple[str, int]]:
        trace = node.meta.get("stack_trace") if node is not None else None
        frames = []
        for text in (trace or "").splitlines():
            text = text.strip()
            if text.startswith('File "') and '", line ' in text:
                file, _, rest = text[6:].partition('", line ')
                digits = rest.split(",")[0].strip()
                if digits.isdigit():
                    frames.append((file, int(digits)))
        return frames

    def line(self, node) -> int | None:
        """The last frame of the node's stack trace in the model file, else the last one
        outside PyTorch."""
        frames = self.frames(node)
        mine = [line for file, line in frames if self.path and _same_file(file, self.path)]
        if mine:
            return mine[-1]
        other = [line for file, line in frames
                 if not os.path.abspath(file).startswith(self.torch_dir)]
        return other[-1] if other else None

    def error_location(self, error: BaseException) -> str | None:
        """`file:line` of the last frame of an exception's traceback in the model file."""
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
                 if self.path and _same_file(frame.filename, self.path)]
        return f"{self.name}:{lines[-1]}" if lines and self.name else self.name

    def loc(self, node) -> str:
        line = self.line(node)
        return self.mlir_loc(line) if line and self.name else "loc(unknown)"

    def line_of(self, node) -> str | None:
        """`file:line` of a node for an error, or just the file."""
        line = self.line(node)
        return f"{self.name}:{line}" if line and self.name else self.name


class _GraphSource(_Source):
    """Locations in a graph captured by torch.compile: a node's last frame outside
    PyTorch, in whichever file that is (such a graph has no one model file)."""

    def __init__(self):
        self.path = None
        self.name = None
        self.torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
        self.function_loc = "loc(unknown)"

    def user_frame(self, node) -> tuple[str, int] | None:
        frames = [(file, line) for file, line in self.frames(node)
                  if not os.path.abspath(file).startswith(self.torch_dir)]
        return frames[-1] if frames else None

    def loc(self, node) -> str:
        frame = self.user_frame(node)
        return f'loc("{_display_path(frame[0])}":{frame[1]}:1)' if frame else "loc(unknown)"

    def line_of(self, node) -> str | None:
        frame = self.user_frame(node)
        return f"{_display_path(frame[0])}:{frame[1]}" if frame else None

    def error_location(self, error: BaseException) -> str | None:
        return None


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _display_path(path: str) -> str:
    """A path as the user would write it: relative to the working directory if inside it."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute.startswith(cwd + os.sep):
        return os.path.relpath(absolute, cwd)
    return path


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------

def decomposition_table() -> dict:
    """torch.export's default decompositions minus the ops tcc converts directly."""
    table = torch.export.default_decompositions()
    for op in KEPT_OPS:
        if op in table:
            del table[op]
    return table


@contextlib.contextmanager
def _quiet_torch():
    """Silences PyTorch's deprecation warnings, log records and the partial graph it
    prints when an export fails: the importer reports what went wrong as one error."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logging.disable(previous)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def export(module: torch.nn.Module, example_inputs: tuple, source: _Source) -> ExportedProgram:
    """torch.export of the module in eval mode, decomposed for tcc.

    The module first runs eagerly, so that a model that fails on inputs of this shape
    is told apart from one that torch.export cannot capture.
    """
    module.eval()
    try:
        with torch.no_grad():
            module(*example_inputs)
    except Exception as error:  # the user's code: any exception
        shapes = ", ".join("x".join(map(str, x.shape)) for x in example_inputs
                           if isinstance(x, torch.Tensor))
        raise InputError(f"the model fails on inputs of shape {shapes}: {_first_line(error)}",
                         source.error_location(error)) from None
    try:
        with _quiet_torch():
            program = torch.export.export(module, tuple(example_inputs))
            return program.run_decompositions(decomposition_table())
    except Exception as error:  # torch raises many kinds; all mean "cannot export"
        location = source.error_location(error)
        if "data-dependent" in str(error):
            raise UnsupportedError(f"control flow or shapes that depend on tensor values are "
                                   f"not supported ({_first_line(error)})", location) from None
        raise UnsupportedError(f"torch.export failed: {_first_line(error)}", location) from None


def import_module(module: torch.nn.Module, example_inputs: tuple, *,
                  filename: str | None = None, fold_batch_norm: bool = True) -> ImportedModel:
    """`@forward` of a PyTorch module for inputs shaped like `example_inputs`.

    `filename` names the model file in locations (default: the file defining the
    module's class, relative to the working directory when inside it).
    `fold_batch_norm=False` keeps eval-mode batch norms as `train.batch_norm` (their
    weight and bias stay the module's own parameters).
    """
    source = _Source(module, filename)
    program = export(module, example_inputs, source)
    text, weights = _Importer(program, source, fold=fold_batch_norm).run()
    return ImportedModel(parse_module(text, source.name or "<torch>", new_context()), weights)


def import_graph(graph: fx.GraphModule, example_inputs, *,
                 input_names: list[str] | None = None) -> ImportedModel:
    """`@forward` of an FX graph captured by torch.compile (parameters lifted to
    inputs): argument i is the graph's input i (named `input_names[i]`), in order;
    tensors the graph holds as attributes follow as frozen parameters. Batch norms are
    not folded (their parameters are inputs, not known values)."""
    source = _GraphSource()
    inputs = tuple(t.detach() for t in example_inputs)
    try:
        with _quiet_torch(), torch.no_grad():
            program = torch.export.export(graph, inputs)
            program = program.run_decompositions(decomposition_table())
    except Exception as error:  # torch raises many kinds; all mean "cannot export"
        raise UnsupportedError(f"torch.export failed: {_first_line(error)}") from None
    text, weights = _Importer(program, source, fold=False, input_names=input_names).run()
    return ImportedModel(parse_module(text, "<torch.compile>", new_context()), weights)


def _load_file(path: str):
    """Executes a Python file as a fresh module (its folder importable meanwhile)."""
    file = Path(path)
    if not file.is_file():
        raise InputError("no such file", path)
    name = f"_tcc_torch_model_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError("not a Python file", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(file.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise InputError(f"cannot load the model file: {type(error).__name__}: {error}",
                         path) from None
    finally:
        sys.path.remove(str(file.parent))
    return module


def import_torch_file(spec: str, input_shape) -> ImportedModel:
    """`@forward` of class CLASS in "path/model.py:CLASS", constructed without arguments,
    for a float32 input of `input_shape`."""
    path, colon, class_name = spec.rpartition(":")
    if not colon or not path or not class_name:
        raise InputError(f"expected MODEL.py:CLASS, got '{spec}'")
    module = _load_file(path)
    classes = sorted(name for name, value in vars(module).items()
                     if inspect.isclass(value) and issubclass(value, torch.nn.Module)
                     and value.__module__ == module.__name__)
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, torch.nn.Module)):
        listed = ", ".join(classes) or "none"
        raise InputError(f"no nn.Module class '{class_name}' in the file "
                         f"(classes: {listed})", path)
    try:
        instance = cls()
    except Exception as error:
        raise InputError(f"cannot construct {class_name}(): {type(error).__name__}: {error}",
                         path) from None
    generator = torch.Generator().manual_seed(0)
    example = torch.randn(*[int(d) for d in input_shape], generator=generator)
    return import_module(instance, (example,), filename=path)

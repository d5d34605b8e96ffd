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

import re
from dataclasses import dataclass
from importlib import resources
from typing import Callable

import numpy as np

from ..._mlir import ir
from ..._mlir.dialects import func, quant
from ...dialects import train
from ...runtime import quantized_training
from ...runtime.quantized_ops import mask_interval
from .. import liveness
from ..errors import UnsupportedError, format_location
from ..source import find_function
from . import c_fixed_point_ops
from .c_expressions import (C_TYPES, c_float, c_identifier, c_ints, conv_params, dims,
                            element_kind, scratch_offset, size)
from .c_int8_ops import INT8_KERNELS, Streamed, _requant, _storage as _int8_storage


# Each entry renders one op as C statements from its operand and result expressions
# (a list of them for an op with several results). Weight operands of linear and conv
# ops are `tcc_weight` descriptors (a[1] is a pointer to one, see CRenderer._weight).
def _linear(op, a, r):
    n, k = dims(op.operands[0])
    bias = a[2] if len(a) > 2 else "NULL"
    return [f"tcc_linear_w_f32({a[0]}, {a[1]}, {bias}, {r}, {n}, {k}, "
            f"{dims(op.operands[1])[0]});"]


def _conv(kernel, x, w, y, with_bias=False):
    def render(op, a, r):
        p = conv_params(op, dims(op.operands[x] if x >= 0 else op.results[0]),
                        dims(op.operands[w] if w >= 0 else op.results[0]),
                        dims(op.operands[y] if y >= 0 else op.results[0]))
        bias = (f"{a[2] if len(a) > 2 else 'NULL'}, " if with_bias else "")
        return ["{", f"  static const tcc_conv2d_params p = {p};",
                f"  {kernel}({a[0]}, {a[1]}, {bias}{r}, &p);", "}"]
    return render


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


def _elementwise(kernel, *attributes):
    """`kernel(operands..., result, [float attributes...,] size)`."""
    def render(op, a, r):
        extra = "".join(f", {c_float(_float(op, name))}" for name in attributes)
        if attributes:
            return [f"{kernel}({', '.join(a)}, {r}{extra}, {size(op.results[0])});"]
        return [f"{kernel}({', '.join(a)}, {r}, {size(op.results[0])});"]
    return render


def _float(op, name: str, default: float | None = None) -> float:
    if name not in op.attributes and default is not None:
        return default
    return ir.FloatAttr(op.attributes[name]).value


def _gelu(kernel):
    def render(op, a, r):
        return [f"{kernel}({', '.join(a)}, {r}, {size(op.results[0])}, "
                f"{int('tanh' in op.attributes)});"]
    return render


def _cross_entropy(kernel):
    def render(op, a, r):
        n, c = dims(op.operands[0])
        return [f"{kernel}({a[0]}, {a[1]}, {r}, {n}, {c});"]
    return render


def _mse(kernel):
    def render(op, a, r):
        return [f"{kernel}({a[0]}, {a[1]}, {r}, {size(op.operands[0])});"]
    return render


def _sgd(op, a, r):
    lr, wd = _float(op, "lr"), _float(op, "weight_decay", 0.0)
    return [f"tcc_sgd_f32({a[0]}, {a[1]}, {c_float(lr)}, {c_float(wd)}, "
            f"{size(op.results[0])});"]


def _sgd_momentum(op, a, r):
    lr, momentum = _float(op, "lr"), _float(op, "momentum")
    wd = _float(op, "weight_decay", 0.0)
    return [f"tcc_sgd_momentum_f32({a[0]}, {a[1]}, {a[2]}, {c_float(lr)}, "
            f"{c_float(momentum)}, {c_float(wd)}, {size(op.results[0])});"]


def _i64s(op, name: str) -> list[int]:
    return list(ir.DenseI64ArrayAttr(op.attributes[name]))


def _pool_params(op, x_shape, y_shape) -> str:
    g = train.PoolGeometry.of(op)
    n, c, h, w = x_shape
    return "{" + c_ints([n, c, h, w, y_shape[2], y_shape[3], *g.kernel, *g.stride,
                         *g.padding, int("count_include_pad" in op.attributes)]) + "}"


def _pool(kernel, grad: bool = False):
    def render(op, a, r):
        x_shape = dims(op.results[0]) if grad else dims(op.operands[0])
        y_shape = dims(op.operands[0]) if grad else dims(op.results[0])
        return ["{", f"  static const tcc_pool2d_params p = {_pool_params(op, x_shape, y_shape)};",
                f"  {kernel}({', '.join(a)}, {r}, &p);", "}"]
    return render


def _global_avg_pool(op, a, r):
    n, c, h, w = dims(op.operands[0])
    return [f"tcc_global_avg_pool_f32({a[0]}, {r}, {n * c}, {h * w});"]


def _axis_blocks(shape, axis):
    return (int(np.prod(shape[:axis], dtype=np.int64)), shape[axis],
            int(np.prod(shape[axis + 1:], dtype=np.int64)))


def _softmax(kernel):
    def render(op, a, r):
        axis = ir.IntegerAttr(op.attributes["axis"]).value
        outer, n, inner = _axis_blocks(dims(op.results[0]), axis)
        return [f"{kernel}({', '.join(a)}, {r}, {outer}, {n}, {inner});"]
    return render


def _norm_rows(op):
    """(rows, m): layer norm over the trailing dims of its weight's rank."""
    m = size(op.operands[2 if op.name == "train.layer_norm_grad_input" else 1])
    return size(op.operands[0]) // m, m


def _layer_norm(op, a, r):
    rows, m = _norm_rows(op)
    return [f"tcc_layer_norm_f32({a[0]}, {a[1]}, {a[2]}, {r}, {rows}, {m}, "
            f"{c_float(_float(op, 'epsilon'))});"]


def _layer_norm_grad_input(op, a, r):
    rows, m = _norm_rows(op)
    return [f"tcc_layer_norm_grad_input_f32({a[0]}, {a[1]}, {a[2]}, {r}, {rows}, {m}, "
            f"{c_float(_float(op, 'epsilon'))});"]


def _batch_norm(op, a, r):
    shape = dims(op.operands[0])
    inner = int(np.prod(shape[2:], dtype=np.int64))
    return [f"tcc_batch_norm_f32({', '.join(a)}, {r}, {shape[0]}, {shape[1]}, {inner}, "
            f"{c_float(_float(op, 'epsilon'))});"]


def _matmul(op, a, r):
    m, k = dims(op.operands[0])[-2:]
    n = dims(op.operands[1])[-1]
    batch = int(np.prod(dims(op.operands[0])[:-2], dtype=np.int64))
    return [f"tcc_matmul_f32({a[0]}, {a[1]}, {r}, {batch}, {m}, {k}, {n});"]


def _int_table(name: str, values) -> str:
    values = list(values) or [0]
    return f"static const int32_t {name}[{len(values)}] = {{{c_ints(values)}}};"


def _element_bytes(value) -> int:
    return ELEMENT_BYTES[element_kind(value)]


def _aligned(shape, rank):
    """`shape` padded with leading 1s to `rank` dims."""
    return [1] * (rank - len(shape)) + list(shape)


def _transpose(op, a, r):
    shape = dims(op.operands[0])
    perm = list(ir.DenseI64ArrayAttr(op.attributes["permutation"]))
    return ["{", "  " + _int_table("shape", shape), "  " + _int_table("perm", perm),
            f"  tcc_transpose({a[0]}, {r}, {len(shape)}, shape, perm, "
            f"{_element_bytes(op.results[0])});", "}"]


def _broadcast(op, a, r):
    shape = dims(op.results[0])
    source = _aligned(dims(op.operands[0]), len(shape))
    return ["{", "  " + _int_table("from", source), "  " + _int_table("shape", shape),
            f"  tcc_broadcast({a[0]}, {r}, {len(shape)}, from, shape, "
            f"{_element_bytes(op.results[0])});", "}"]


def _sum_to(op, a, r):
    shape = dims(op.operands[0])
    to = _aligned(dims(op.results[0]), len(shape))
    return ["{", "  " + _int_table("shape", shape), "  " + _int_table("to", to),
            f"  tcc_sum_to_f32({a[0]}, {r}, {len(shape)}, shape, to);", "}"]


def _pad_to(op, a, r):
    shape = dims(op.results[0])
    return ["{", "  " + _int_table("shape", shape),
            "  " + _int_table("offsets", _i64s(op, "offsets")),
            "  " + _int_table("sizes", dims(op.operands[0])),
            f"  tcc_pad_to({a[0]}, {r}, {len(shape)}, shape, offsets, sizes, "
            f"{_element_bytes(op.results[0])});", "}"]


def _clamp_mask(op, a, r):
    count = size(op.operands[0])
    lo, hi = _float(op, "min"), _float(op, "max")
    element = ir.RankedTensorType(op.operands[0].type).element_type
    if not isinstance(element, quant.UniformQuantizedType):
        return [f"tcc_clamp_mask_f32({a[0]}, {r}, {c_float(lo)}, {c_float(hi)}, {count});"]
    qa, qb = mask_interval(scale=element.scale, zp=element.zero_point,
                           qmin=element.storage_type_min, qmax=element.storage_type_max,
                           lo=lo, hi=hi)
    return [f"tcc_clamp_mask_s8({a[0]}, {r}, {qa}, {qb}, {count});"]


def _mask_grad(op, a, r):
    return [f"tcc_mask_grad_f32({a[0]}, {a[1]}, {r}, {size(op.results[0])});"]


KERNELS: dict[str, Callable] = {
    "train.linear": _linear,
    "train.conv2d": _conv("tcc_conv2d_w_f32", 0, 1, -1, with_bias=True),
    "train.matmul": _matmul,
    "train.add": _elementwise("tcc_add_f32"),
    "train.mul": _elementwise("tcc_mul_f32"),
    "train.relu": _elementwise("tcc_relu_f32"),
    "train.relu_grad": _elementwise("tcc_relu_grad_f32"),
    "train.clamp": _elementwise("tcc_clamp_f32", "min", "max"),
    "train.clamp_grad": _elementwise("tcc_clamp_grad_f32", "min", "max"),
    "train.clamp_mask": _clamp_mask,
    "train.mask_grad": _mask_grad,
    "train.hardswish": _elementwise("tcc_hardswish_f32"),
    "train.hardswish_grad": _elementwise("tcc_hardswish_grad_f32"),
    "train.sigmoid": _elementwise("tcc_sigmoid_f32"),
    "train.sigmoid_grad": _elementwise("tcc_sigmoid_grad_f32"),
    "train.gelu": _gelu("tcc_gelu_f32"),
    "train.gelu_grad": _gelu("tcc_gelu_grad_f32"),
    "train.softmax": _softmax("tcc_softmax_f32"),
    "train.softmax_grad": _softmax("tcc_softmax_grad_f32"),
    "train.layer_norm": _layer_norm,
    "train.layer_norm_grad_input": _layer_norm_grad_input,
    "train.batch_norm": _batch_norm,
    "train.avg_pool2d": _pool("tcc_avg_pool2d_f32"),
    "train.avg_pool2d_grad": _pool("tcc_avg_pool2d_grad_f32", grad=True),
    "train.max_pool2d": _pool("tcc_max_pool2d_f32"),
    "train.max_pool2d_grad": _pool("tcc_max_pool2d_grad_f32", grad=True),
    "train.global_avg_pool": _global_avg_pool,
    "train.transpose": _transpose,
    "train.broadcast": _broadcast,
    "train.sum_to": _sum_to,
    "train.pad_to": _pad_to,
    "train.cross_entropy": _cross_entropy("tcc_cross_entropy_f32"),
    "train.cross_entropy_grad": _cross_entropy("tcc_cross_entropy_grad_f32"),
    "train.mse": _mse("tcc_mse_f32"),
    "train.mse_grad": _mse("tcc_mse_grad_f32"),
    "train.linear_grad_input": _linear_grad("tcc_linear_grad_input_w_f32"),
    "train.linear_grad_weight": _linear_grad("tcc_linear_grad_weight_f32"),
    "train.bias_grad": _bias_grad,
    "train.conv2d_grad_input": _conv("tcc_conv2d_grad_input_w_f32", -1, 1, 0),
    "train.conv2d_grad_weight": _conv("tcc_conv2d_grad_weight_f32", 1, -1, 0),
    "train.sgd": _sgd,
    "train.sgd_momentum": _sgd_momentum,
    **INT8_KERNELS,
}

# Ops whose result is their operand's bytes: no code where the plan gives both one
# offset, a copy where it does not.
VIEWS = {"train.reshape"}

# Optimizer updates: result index -> the operand it updates in place (a copy first
# where the plan gives them different storage).
UPDATES = {"train.sgd": {0: 0}, "train.sgd_momentum": {0: 0, 1: 2}, "train.qsgd": {0: 0},
           "train.conv2d_qsgd": {0: 0}, "train.bottleneck_grad": {3: 6}}

MAX_TAPS = 121
"""KH * KW of the largest kernel whose weight gradient the C kernels stage on the stack
(TCC_MAX_TAPS of tcc_kernels.h)."""

# Ops that read a weight (operand 1) through a `tcc_weight` descriptor.
WEIGHT_OPS = {"train.linear", "train.conv2d", "train.linear_grad_input",
              "train.conv2d_grad_input"}

# train.bottleneck_grad's weights (project, depthwise, expand), each read through a
# `tcc_weight` descriptor of its own.
BOTTLENECK_GRAD_WEIGHTS = (1, 2, 4)

# Ops the renderer writes itself (storage-aware): layout of partial-channel
# parameters, the integer update, float dequantization, split int8 weights.
RENDERER_OPS = {"train.slice", "train.concat", "train.qsgd", "train.conv2d_qsgd",
                "train.bottleneck_grad", "quant.dcast",
                "arith.constant"}

OP_MARKERS = [
    '#include "tcc_count.h"',
    "/* Per-op markers of a counting build: tcc_count.h's DBG hints, word-aligned because",
    "   qemu's plugin API misreads an instruction that straddles a 1 KB page (the aligning",
    "   NOP, if any, adds one counted instruction). */",
    "#if defined(__arm__) && defined(__thumb2__)",
    "#define TCC_OP_MARK(option) \\",
    '  __asm__ volatile(".balign 4\\n\\tdbg #%c0" ::"i"(option) : "memory")',
    "#else",
    "#define TCC_OP_MARK(option) TCC_COUNT_MARK_(option)",
    "#endif"]
"""Lines of model.c defining TCC_OP_MARK for `op_region` (runtime/qemu_plugin/tcc_count.h)."""

KERNEL_SOURCES = ("tcc_qtrain.h", "tcc_qtrain.c", "tcc_fxtrain.h", "tcc_fxtrain.c")
"""Kernel files the renderer adds to the files it returns (the training kernels)."""


ARENA_POINTERS = {"f32": "TCC_F32", "i32": "TCC_I32", "i16": "TCC_I16", "i8": "TCC_I8"}
"""Macros for a typed pointer at a byte offset of the arena, by element kind."""

ELEMENT_BYTES = {"f32": 4, "i32": 4, "i16": 2, "i8": 1}

NUMPY_TYPES = {"f32": np.float32, "i32": np.int32, "i16": np.int16, "i8": np.int8}


def _bytes(value) -> int:
    return size(value) * ELEMENT_BYTES[element_kind(value)]


@dataclass(frozen=True)
class Split:
    """A partial-channel parameter's storage: its first `k` of `total` channels along
    `axis` (contiguous, in the arena) and the rest (`rest`, a const array)."""

    axis: int
    k: int
    total: int
    rest: str

    def shape(self, full: list[int]) -> list[int]:
        """The trained slice's shape."""
        return [self.k if d == self.axis else n for d, n in enumerate(full)]


def _reads_weight(op, position: int) -> bool:
    """Whether operand `position` of `op` is a weight its kernel reads through a
    `tcc_weight` descriptor (which may dequantize it)."""
    return (op.name in WEIGHT_OPS and position == 1) or \
        (op.name == "train.bottleneck_grad" and position in BOTTLENECK_GRAD_WEIGHTS)


@dataclass(frozen=True)
class Dequantized:
    """The f32 value of an int8 value that its reader dequantizes as it reads it (a
    `quant.dcast` the plan fused: no storage of its own)."""

    source: ir.Value


def _scale_pair(scales) -> tuple[list[str], list[str]]:
    """float64 scales as float pairs hi + lo (hi = float(s), lo = float(s - hi))."""
    hi = np.asarray(scales, dtype=np.float64).astype(np.float32)
    lo = (np.asarray(scales, dtype=np.float64) - hi.astype(np.float64)).astype(np.float32)
    return [c_float(v) for v in hi], [c_float(v) for v in lo]


def _quantization(value, where) -> tuple[list[float], int, int]:
    """(scales, zero point, axis) of an int8 value: per tensor (one scale, axis 0) or
    per axis with one zero point."""
    element = ir.RankedTensorType(value.type).element_type
    if isinstance(element, quant.UniformQuantizedType):
        return [element.scale], element.zero_point, 0
    if isinstance(element, quant.UniformQuantizedPerAxisType):
        zero_points = set(element.zero_points)
        if len(zero_points) != 1:
            raise UnsupportedError("the C target dequantizes per-axis types with one zero "
                                   f"point only, not {element}", where)
        return list(element.scales), zero_points.pop(), element.quantized_dimension
    raise UnsupportedError(f"the C target cannot dequantize {element}", where)


class CRenderer:
    """Renders `model.h` and `model.c` for a host C compiler.

    Storage follows the module's memory plan (`--plan-memory`; run here if the module
    has none): data inputs, labels, trainable parameters and intermediates live in
    one static byte arena at their planned offsets, frozen parameters in `const`
    arrays (flash on a microcontroller). Without a `step` function (step=None, or
    none in the module) the project is inference only: `tcc_<name>_infer` takes one
    pointer per data input of @forward. `name` names the files and the API
    (`tcc_model_infer` for "model"), so several models can link into one program.

    The memory model (compiler/liveness.py) is followed as planned: a partial-channel
    parameter keeps its trained channels in the arena and the rest in a const array
    (kernels read the two parts through `tcc_weight` / the split int8 kernel); a
    `quant.dcast` of a parameter with no storage is dequantized by its reader; a
    fused zero padding of a partial gradient is read unpadded by its update; values
    computed from frozen parameters alone are folded into const arrays here.
    """

    alignment = 16                # of the plan, when the renderer has to run it
    const_qualifier = "const"     # frozen parameters
    float_type = "float"
    values_per_line = 24          # of the parameter tables
    op_region: int | None = None  # counting builds: wrap each op in this tcc_count.h region

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
        known = set(KERNELS) | VIEWS | RENDERER_OPS
        for function in self.functions:
            for arg in function.entry_block.arguments:
                if element_kind(arg) is None:
                    raise UnsupportedError(
                        f"the C target cannot store {arg.type} (argument of "
                        f"@{function.sym_name.value})", format_location(function.location))
            for op in function.entry_block.operations:
                if not isinstance(op, func.ReturnOp) and op.name not in known:
                    raise UnsupportedError(f"the C target has no kernel for '{op.name}'",
                                           format_location(op.location))
                for result in op.results:
                    if element_kind(result) is None:
                        raise UnsupportedError(
                            f"the C target stores f32, i32 and int8 tensors, '{op.name}' "
                            f"produces {ir.RankedTensorType(result.type).element_type}",
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
        self.param_splits = {}        # parameter index -> Split
        owner = self.functions[0]
        for index, arg in enumerate(owner.entry_block.arguments):
            offset = train.arg_attribute(owner, index, "train.offset")
            if offset is not None and train.arg_role(owner, index) == "trainable":
                self.param_offsets[ir.IntegerAttr(offset).value] = self.param_symbol(index)
                self.param_kinds[self.param_symbol(index)] = element_kind(arg)
                split = self._split_of(owner, index)
                if split is not None:
                    self.param_splits[index] = split

    def _split_of(self, function: func.FuncOp, index: int) -> Split | None:
        from ..liveness import _trained_slice
        part = _trained_slice(function, index)
        if part is None:
            return None
        param = train.momentum_of(function, index)
        return Split(*part, rest=f"{self.param_symbol(index if param is None else param)}"
                     f"{'_rest' if param is None else '_zero_rest'}")

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

    def _count(self, value) -> int:
        """Elements stored for `value` (a partial-channel value: its trained slice)."""
        split = self.splits.get(value)
        return size(value) if split is None else size(value) // split.total * split.k

    def _storage(self, function: func.FuncOp, data_names: dict[int, str]):
        """The C expression of every value's storage, from the plan; and the copies
        of the data arguments into the arena that start the function."""
        from ...passes.plan_memory import value_offsets
        from ..liveness import UPDATES as PLAN_UPDATES, _padded_gradient
        offsets = iter(value_offsets(function))
        storage, prologue = {}, []
        for index, arg in enumerate(function.entry_block.arguments):
            offset = next(offsets)
            split = self._split_of(function, index)
            if split is not None:
                self.splits[arg] = split
            if index in self.parameters:
                self.constants[arg] = self.parameters[index]
            elif train.momentum_of(function, index) is not None:
                # Its untrained channels stay zero: the same constant.
                self.constants[arg] = np.zeros(dims(arg), np.float32)
            if index in data_names:
                if offset >= 0:
                    storage[arg] = self._arena(offset, arg)
                    self.input_slots[(function.sym_name.value, index)] = offset
                    # A caller may have read the data straight into its slot.
                    prologue.append(f"if ((const void *){data_names[index]} != "
                                    f"(const void *)(tcc_arena + {offset})) "
                                    f"memcpy(tcc_arena + {offset}, {data_names[index]}, "
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
        returned = set()
        ops = list(function.entry_block.operations)
        for position, value in enumerate(ops[-1].operands):
            target = train.updated_arg(function, position)
            if target is not None and function.entry_block.arguments[target] in self.splits:
                self.splits[value] = self.splits[function.entry_block.arguments[target]]
                returned.add(value)
        for op in ops[:-1]:
            if op.name in PLAN_UPDATES and op.operands[0] in self.splits:
                self.splits[op.results[0]] = self.splits[op.operands[0]]
            for result in op.results:
                offset = next(offsets)
                if offset >= 0:
                    storage[result] = self._arena(offset, result)
                elif op.name in VIEWS:          # a view of a frozen parameter
                    storage[result] = storage[op.operands[0]]
                    if op.operands[0] in self.constants:
                        self.constants[result] = np.reshape(self.constants[op.operands[0]],
                                                            dims(result))
                elif op.name == "quant.dcast" and op.operands[0] in storage:
                    storage[result] = Dequantized(op.operands[0])
                elif train.STREAMED in op.attributes:   # its reader runs it
                    storage[result] = Streamed(op, tuple(storage[v] for v in op.operands))
                elif _padded_gradient(op) and isinstance(storage.get(op.operands[0]), str):
                    storage[result] = storage[op.operands[0]]     # read unpadded
                    self.padded[result] = op.operands[0]
                else:
                    storage[result] = self._fold(op, result)
        return storage, prologue

    def _fold(self, op, result) -> str:
        """A const array holding `result`, computed now from constant operands."""
        from ...runtime.interpreter import _execute
        if not all(v in self.constants for v in op.operands):
            raise UnsupportedError(f"'{op.name}' has no storage in the memory plan and "
                                   "does not read constants only", format_location(op.location))
        for value, array in zip(op.results, _execute(op, [self.constants[v]
                                                          for v in op.operands])):
            self.constants[value] = array
        symbol = f"tcc_const_{len(self.folded)}"
        kind = element_kind(result)
        values = np.asarray(self.constants[result]).astype(NUMPY_TYPES[kind]).ravel()
        self.folded[symbol] = (self._array(f"static {self.const_qualifier} {C_TYPES[kind]} "
                                       f"{symbol}", values, kind))
        return symbol

    def _array(self, head: str, values: np.ndarray, kind: str) -> list[str]:
        """`head[n] = {...};` with the values in rows."""
        text = [c_float(v) for v in values] if kind == "f32" else \
            [str(v) for v in values.tolist()]
        step = self.values_per_line
        rows = [", ".join(text[i:i + step]) for i in range(0, len(text), step)]
        if len(rows) <= 1:
            return [f"{head}[{max(values.size, 1)}] = {{{''.join(rows) or '0'}}};"]
        return [f"{head}[{values.size}] = {{"] + [f"  {row}," for row in rows] + ["};"]

    def _copy(self, source: str, target: str, value) -> str:
        """C statement copying `value`'s stored elements from `source` to `target`."""
        count = self._count(value)
        if element_kind(value) == "f32":
            return f"tcc_copy_f32({source}, {target}, {count});"
        return f"memmove({target}, {source}, {count * ELEMENT_BYTES[element_kind(value)]});"

    # -- ops ----------------------------------------------------------------

    def _render_ops(self, function: func.FuncOp, storage: dict) -> list[str]:
        lines = []
        float_dequantize = function is self.step
        for op in function.entry_block.operations:
            if isinstance(op, func.ReturnOp):
                continue
            results = [storage[r] for r in op.results]
            if not all(isinstance(r, str) for r in results) or \
                    all(r.startswith("tcc_const_") for r in results) or \
                    all(r in self.padded for r in op.results):
                continue                      # fused into its readers, or folded
            args = [storage[v] for v in op.operands]
            if op.name in VIEWS:
                if results[0] != args[0]:
                    lines.append(self._copy(args[0], results[0], op.results[0]))
                continue
            self._check_reads(op)
            lines.append(f"/* {op.name} at {format_location(op.location) or 'unknown'} */")
            for r, operand in UPDATES.get(op.name, {}).items():
                if r < len(results) and results[r] != args[operand]:
                    # Not in place: update a copy (written back when the step returns).
                    lines.append(self._copy(args[operand], results[r], op.operands[operand]))
                    args[operand] = results[r]
            body = self._render_op(op, args, results, storage, float_dequantize)
            if self.op_region is not None and body:
                self.counted_ops.append((function.sym_name.value, op))
                body = [f"TCC_OP_MARK({self.op_region});"] + body + \
                    [f"TCC_OP_MARK({8 + self.op_region});"]
            lines += body
        return lines

    def _check_reads(self, op) -> None:
        """A partial-channel value is read by the kernels that know its two parts."""
        for position, value in enumerate(op.operands):
            if value not in self.splits:
                continue
            allowed = _reads_weight(op, position) or \
                (op.name in ("train.qconv2d", "train.qlinear") and position == 1) or \
                op.name in ("train.slice", "train.concat") or \
                position in UPDATES.get(op.name, {}).values()
            if not allowed:
                raise UnsupportedError(f"'{op.name}' reads the partial-channel parameter "
                                       "as a whole; the C target cannot",
                                       format_location(op.location))

    def _render_op(self, op, args, results, storage, float_dequantize) -> list[str]:
        where = format_location(op.location)
        result = results[0] if len(results) == 1 else results
        for position, arg in enumerate(args):
            if isinstance(arg, Dequantized) and not _reads_weight(op, position):
                raise UnsupportedError(f"'{op.name}' reads a fused dequantization; the C "
                                       "target fuses it into linear and conv ops only", where)
        fixed = c_fixed_point_ops.render(op, args, result, self._fixed_point_weight(op, storage))
        if fixed is not None:
            return fixed
        if op.name == "train.slice":
            return self._slice(op, args, result)
        if op.name == "train.concat":
            return self._concat(op, args, result)
        if op.name == "train.qsgd":
            return self._qsgd(op, args, result)
        if op.name == "train.conv2d_qsgd":
            return self._conv2d_qsgd(op, args, result)
        if op.name == "train.bottleneck_grad":
            return self._bottleneck_grad(op, args, results, storage)
        if op.name == "quant.dcast":
            if float_dequantize:
                return self._dequantize(op, args, result)
            return INT8_KERNELS["quant.dcast"](op, args, result)
        if op.name in ("train.qconv2d", "train.qlinear") and op.operands[1] in self.splits:
            return self._split_qconv(op, args, result)
        if op.name in WEIGHT_OPS:
            declarations = self._weight(op.operands[1], storage, where)
            args = args[:1] + ["&w"] + args[2:]
            body = KERNELS[op.name](op, args, result)
            return ["{"] + ["  " + line for line in declarations + body] + ["}"]
        return KERNELS[op.name](op, args, result)

    def _fixed_point_weight(self, op, storage):
        """What c_fixed_point_ops needs of a weight: conv2d_grad_input's int8 weight as
        (trained, rest, split axis, k), conv2d_qsgd's stored input channels."""
        value = op.operands[1] if op.name == "train.conv2d_grad_input" else \
            op.operands[0] if op.name == "train.conv2d_qsgd" else None
        if value is None or not isinstance(storage.get(value), str):
            return None
        split = self.splits.get(value)
        if op.name == "train.conv2d_qsgd":
            return (split.shape(dims(value)) if split else dims(value))[1]
        if split is None:
            return storage[value], "NULL", 0, dims(value)[0]
        return storage[value], split.rest, split.axis, split.k

    def _weight(self, value, storage, where, name: str = "w") -> list[str]:
        """Declarations of `name`, the tcc_weight descriptor of `value`."""
        source = storage[value]
        full = dims(value)
        lines, scales = [], ("NULL", "NULL", 0, 0)
        if isinstance(source, Dequantized):
            quantized = source.source
            values, zp, axis = _quantization(quantized, where)
            if len(values) > 1 and axis != 0:
                raise UnsupportedError("the C target dequantizes weights per output channel "
                                       f"(axis 0) only, not axis {axis}", where)
            hi, lo = _scale_pair(values)
            lines += [f"static const float {name}_hi[{len(hi)}] = {{{', '.join(hi)}}};",
                      f"static const float {name}_lo[{len(lo)}] = {{{', '.join(lo)}}};"]
            scales = (f"{name}_hi", f"{name}_lo", int(len(values) > 1), zp)
            split = self.splits.get(quantized)
            data = storage[quantized]
            pointers = ["NULL", "NULL", data, split.rest if split else "NULL"]
        else:
            split = self.splits.get(value)
            pointers = [source, split.rest if split else "NULL", "NULL", "NULL"]
        axis, k = (split.axis, split.k) if split else (0, full[0])
        lines.append(f"const tcc_weight {name} = {{{', '.join(pointers)}, {scales[0]}, "
                     f"{scales[1]}, {scales[2]}, {scales[3]}, {axis}, {k}}};")
        return lines

    def _slice(self, op, args, result) -> list[str]:
        source = op.operands[0]
        offsets, sizes = _i64s(op, "offsets"), _i64s(op, "sizes")
        shape = dims(source)
        split = self.splits.get(source)
        if split is not None:
            if offsets[split.axis] + sizes[split.axis] > split.k:
                raise UnsupportedError("a slice of a partial-channel parameter reaches into "
                                       "its frozen channels", format_location(op.location))
            shape = split.shape(shape)
        return ["{", "  " + _int_table("shape", shape), "  " + _int_table("offsets", offsets),
                "  " + _int_table("sizes", sizes),
                f"  tcc_slice({args[0]}, {result}, {len(shape)}, shape, offsets, sizes, "
                f"{_element_bytes(op.results[0])});", "}"]

    def _concat(self, op, args, result) -> list[str]:
        if op.results[0] in self.splits:
            # The update of a partial-channel parameter: its trained part alone is kept.
            split = self.splits[op.results[0]]
            if dims(op.operands[0]) != split.shape(dims(op.results[0])):
                raise UnsupportedError("the update of a partial-channel parameter must "
                                       "start with its trained channels",
                                       format_location(op.location))
            return [] if args[0] == result else [self._copy(args[0], result, op.results[0])]
        axis = ir.IntegerAttr(op.attributes["axis"]).value
        outer, _, inner = _axis_blocks(dims(op.results[0]), axis)
        widths = [dims(v)[axis] for v in op.operands]
        return ["{", f"  const void *const parts[{len(args)}] = {{{', '.join(args)}}};",
                "  " + _int_table("widths", widths),
                f"  tcc_concat(parts, widths, {len(args)}, {result}, {outer}, {inner}, "
                f"{_element_bytes(op.results[0])});", "}"]

    def _dequantize(self, op, args, result) -> list[str]:
        source = op.operands[0]
        values, zp, axis = _quantization(source, format_location(op.location))
        shape = dims(source)
        channels, inner = (1, size(source)) if len(values) == 1 else \
            (shape[axis], int(np.prod(shape[axis + 1:], dtype=np.int64)))
        hi, lo = _scale_pair(values)
        return ["{", f"  static const float hi[{len(hi)}] = {{{', '.join(hi)}}};",
                f"  static const float lo[{len(lo)}] = {{{', '.join(lo)}}};",
                f"  tcc_dequantize_f32({args[0]}, {result}, {size(source)}, {channels}, "
                f"{inner}, hi, lo, {zp});", "}"]

    def _qsgd(self, op, args, result) -> list[str]:
        """train.qsgd as runtime/quantized_training.py computes it, with the
        per-channel coefficient lr / s (QAS) or lr * s folded into float constants."""
        grad = op.operands[1]
        shape = dims(self.padded.get(grad, grad))         # the update's real extent
        lines, kind = self._qsgd_params(op, shape)
        return lines + [f"  tcc_qsgd_{'s8' if kind == 'i8' else 's32'}({result}, {args[1]}, "
                        f"{int(np.prod(shape, dtype=np.int64))}, &q);", "}"]

    def _conv2d_qsgd(self, op, args, result) -> list[str]:
        """train.conv2d_qsgd: the weight gradient's blocks go to the update as they
        are computed (tcc_conv2d_grad_weight_qsgd_s8)."""
        shape = list(train.conv2d_qsgd_gradient_shape(op))
        if shape[2] * shape[3] > MAX_TAPS:
            raise UnsupportedError(f"train.conv2d_qsgd of a {shape[2]}x{shape[3]} kernel "
                                   f"(the C target's fused update takes at most {MAX_TAPS} "
                                   "taps)", format_location(op.location))
        lines, _ = self._qsgd_params(op, shape)
        p = conv_params(op, dims(op.operands[2]), shape, dims(op.operands[1]))
        lines.append(f"  static const tcc_conv2d_params p = {p};")
        if not liveness.dequantizes_input(op):
            return lines + [f"  tcc_conv2d_grad_weight_qsgd_s8({args[1]}, {args[2]}, "
                            f"{result}, &p, &q);", "}"]
        return lines + self._dequantize_table(op.operands[2], format_location(op.location)) + [
            f"  tcc_conv2d_grad_weight_qsgd_s8x({args[1]}, {args[2]}, table, "
            f"TCC_F32({scratch_offset(op)}), {result}, &p, &q);", "}"]

    def _dequantize_table(self, value, where: str) -> list[str]:
        """`table`: each int8 value of per-tensor `value` as quant.dcast gives it,
        (q - z) * s in double, as float."""
        scale, zp, _ = _quantization(value, where)
        table = ((np.arange(-128, 128, dtype=np.float64) - zp) * scale[0]).astype(np.float32)
        return ["  " + line for line in self._array("static const float table", table, "f32")]

    def _bottleneck_grad(self, op, args, results, storage) -> list[str]:
        """train.bottleneck_grad: tcc_bottleneck_grad_f32 with a weight descriptor for
        each of its weights and, for the update, its qsgd parameters and x's table."""
        where = format_location(op.location)
        n, o, oh, ow = dims(op.operands[0])
        _, c, h, w = dims(op.results[0])
        e = dims(op.operands[4])[0]
        update = len(op.results) == 4
        k = dims(op.operands[7])[1] if update else 0
        if update:
            lines, _ = self._qsgd_params(op, [e, k, 1, 1], op.operands[6])
            lines += self._dequantize_table(op.operands[7], where)
        else:
            lines = ["{"]
        for name, position in zip(("wp", "wd", "we"), BOTTLENECK_GRAD_WEIGHTS):
            lines += ["  " + line for line in self._weight(op.operands[position], storage,
                                                           where, name)]
        g = train.bottleneck_grad_depthwise(op)
        depthwise = [n, e, h, w, e, *dims(op.operands[2])[2:], oh, ow, *g.stride, *g.padding,
                     1, 1, e]
        lines.append(f"  static const tcc_bottleneck_grad_params p = {{{n}, {o}, {e}, {c}, "
                     f"{k}, {{{c_ints(depthwise)}}}}};")
        param, x = (results[3], args[7]) if update else ("NULL", "NULL")
        return lines + [
            f"  tcc_bottleneck_grad_f32({args[0]}, &wp, &wd, {args[3]}, &we, {args[5]}, "
            f"{results[0]}, {results[1]}, {results[2]}, {param}, {x}, "
            f"{'table' if update else 'NULL'}, {'&q' if update else 'NULL'}, "
            f"TCC_F32({scratch_offset(op)}), &p);", "}"]

    def _qsgd_params(self, op, shape: list[int], param=None) -> tuple[list[str], str]:
        """The opening of an update's block up to `q`, its tcc_qsgd_params, for the
        parameter (operand 0 unless given) values of extent `shape`; and the
        parameter's kind."""
        where = format_location(op.location)
        param = op.operands[0] if param is None else param
        lr, wd = _float(op, "lr"), _float(op, "weight_decay", 0.0)
        kind = element_kind(param)
        if kind == "i8":
            scales, zp, axis = _quantization(param, where)
            element = ir.RankedTensorType(param.type).element_type
            qmin, qmax = element.storage_type_min, element.storage_type_max
        elif kind == "i32":
            if "scales" not in op.attributes:
                raise UnsupportedError("an int32 parameter's update needs `scales`", where)
            scales, zp, axis = list(ir.DenseF64ArrayAttr(op.attributes["scales"])), 0, 0
            qmin, qmax = quantized_training.INT32_MIN, quantized_training.INT32_MAX
        else:
            raise UnsupportedError(f"{op.name} of a {kind} parameter", where)
        dead = quantized_training.dead_channels(scales)
        if len(scales) == 1:
            channels, inner = 1, int(np.prod(shape, dtype=np.int64))
        else:
            channels, inner = shape[axis], int(np.prod(shape[axis + 1:], dtype=np.int64))
        s = np.asarray(scales, dtype=np.float64)[:channels]
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            coef = (lr / s if "qas" in op.attributes else lr * s).astype(np.float32)
        coef = np.where(dead[:channels], np.float32(0), coef)
        lines = ["{", f"  static const float coef[{channels}] = "
                      f"{{{', '.join(c_float(v) for v in coef)}}};"]
        dead_table = "NULL"
        if dead[:channels].any():
            lines.append(f"  static const uint8_t dead[{channels}] = "
                         f"{{{c_ints(dead[:channels].astype(int))}}};")
            dead_table = "dead"
        lines.append(f"  const tcc_qsgd_params q = {{coef, {dead_table}, "
                     f"{c_float(np.float32(lr) * np.float32(wd))}, {channels}, {inner}, {zp}, "
                     f"{qmin}, {qmax}}};")
        return lines, kind

    def _split_qconv(self, op, args, result) -> list[str]:
        """qconv2d / qlinear whose weight is a partial-channel parameter."""
        from ...runtime import quantized_execution as qx
        x = _int8_storage(op, op.operands[0], "input")
        y = _int8_storage(op, op.results[0], "result")
        split = self.splits[op.operands[1]]
        if op.name == "train.qlinear":
            n, k = dims(op.operands[0])
            m = dims(op.operands[1])[0]
            shape = [n, k, 1, 1, m, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1]
        else:
            g = train.ConvGeometry.of(op)
            o, _, kh, kw = dims(op.operands[1])
            shape = [*dims(op.operands[0]), o, kh, kw, *dims(op.results[0])[2:], *g.stride,
                     *g.padding, *g.dilation, g.groups]
        bias = args[2] if len(args) > 2 else "NULL"
        return (["{"] + _requant(op, x, y, qx.weight_scales(op, op.operands[1])) +
                [f"  const tcc_q_conv_shape s = {{{c_ints(shape)}}};",
                 f"  tcc_q_conv2d_split_s8({args[0]}, {args[1]}, {split.rest}, {split.axis}, "
                 f"{split.k}, {bias}, {result}, s, rq);", "}"])

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
        """model.h, model.c and the training kernels they need (tcc_qtrain.[ch])."""
        self.splits: dict = {}        # value -> Split (partial-channel storage)
        self.padded: dict = {}        # fused zero padding -> the unpadded gradient
        self.constants: dict = {}     # value -> numpy array, where known now
        self.folded: dict = {}        # symbol -> const array of a folded value
        self.counted_ops: list = []   # (function name, op) per op_region entry, in order
        self.input_slots: dict = {}   # (function name, argument) -> arena offset of data
        self.infer_storage, infer_prologue = self._storage(
            self.forward, {i: self.input_name(i) for i in self.data_indices})
        step_prologue = []
        if self.step is not None:
            labels_index = len(self.step.entry_block.arguments) - 1
            self.step_storage, step_prologue = self._storage(
                self.step, {self.input_index: "input", labels_index: "labels"})
            self._check_shared_parameters()
        files = {f"{self.name}.h": self._header(), f"{self.name}.c": self._source(
            infer_prologue, step_prologue)}
        kernels = resources.files("tcc.kernels") / "c"
        files.update({name: (kernels / name).read_text() for name in KERNEL_SOURCES})
        return files

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
            lines += ["/* One training step on (input, labels): forward, loss, backward "
                      "and the\n   parameter updates; returns the loss before the update. */",
                      f"float {self.api}_train_step(const tcc_input_t *input, "
                      "const int32_t *labels);"]
        if self._has_input_slots():
            lines += ["/* Where infer and train_step keep their input in the arena: a program",
                      "   may read its input straight into it and pass that pointer (no second",
                      "   copy in RAM); the call overwrites it. */",
                      "#define TCC_HAS_INPUT_SLOTS 1",
                      f"tcc_input_t *{self.api}_infer_input(void);"]
            if self.step is not None:
                lines.append(f"tcc_input_t *{self.api}_train_input(void);")
        lines += ["/* Trainable parameters, for reading or writing what the device learned",
                  "   (size elements of the parameter's type; a partial-channel parameter",
                  "   holds its trained channels only, the first k along its channel axis). */",
                  "typedef struct { const char *name; void *data; int32_t size; int32_t bytes; } "
                  "tcc_param;  /* bytes: of one element */",
                  f"int32_t {self.api}_num_params(void);",
                  f"tcc_param {self.api}_param(int32_t index);", "", "#endif", ""]
        return "\n".join(lines)

    def _has_input_slots(self) -> bool:
        """Whether the single data input has an arena slot in each function."""
        if len(self.data_indices) != 1:
            return False
        functions = [self.forward] + ([self.step] if self.step is not None else [])
        return all((f.sym_name.value, self.input_index) in self.input_slots for f in functions)

    def _parameter_table(self, index: int, trainable: bool) -> list[str]:
        """The C arrays of parameter `index`'s initial values, in its storage type: a
        partial-channel parameter's trained slice (`_init`) and the rest (`_rest`)."""
        kind = element_kind(self.forward.entry_block.arguments[index])
        values = np.asarray(self.parameters[index]).astype(NUMPY_TYPES[kind])
        symbol = self.param_symbol(index)
        if not trainable:
            return self._array(f"static {self.const_qualifier} {C_TYPES[kind]} {symbol}",
                               values.ravel(), kind)
        split = self.param_splits.get(index)
        lines = []
        if split is not None:
            rest = np.take(values, range(split.k, split.total), axis=split.axis)
            lines += self._array(f"static {self.const_qualifier} {C_TYPES[kind]} "
                                 f"{split.rest}", rest.ravel(), kind)
            values = np.take(values, range(split.k), axis=split.axis)
        return lines + self._array(f"static const {C_TYPES[kind]} {symbol}_init",
                                   values.ravel(), kind)

    def _source(self, infer_prologue: list[str], step_prologue: list[str]) -> str:
        alignment = self.arena_alignment
        lines = [f"/* Generated by tcc: forward{' and training step' if self.step else ''}"
                 " over one static arena. */",
                 "#include <stddef.h>", "#include <stdint.h>", "#include <string.h>", "",
                 f'#include "{self.name}.h"', '#include "tcc_kernels.h"',
                 '#include "tcc_int8.h"', '#include "tcc_qtrain.h"',
                 '#include "tcc_fxtrain.h"'] + \
            (OP_MARKERS if self.op_region is not None else []) + ["",
                 "/* Inputs, labels, trainable parameters and every intermediate tensor, at",
                 "   the byte offsets of the memory plan (--plan-memory). */",
                 f"static uint8_t tcc_arena[TCC_ARENA_BYTES] "
                 f"__attribute__((aligned({alignment})));",
                 "#define TCC_F32(offset) ((float *)(tcc_arena + (offset)))",
                 "#define TCC_I32(offset) ((int32_t *)(tcc_arena + (offset)))",
                 "#define TCC_I16(offset) ((int16_t *)(tcc_arena + (offset)))",
                 "#define TCC_I8(offset) ((int8_t *)(tcc_arena + (offset)))", ""]
        trainable = [i for i in sorted(self.parameters)
                     if train.arg_role(self.forward, i) == "trainable"]
        lines += [f"#define {symbol} {ARENA_POINTERS[self.param_kinds[symbol]]}({offset})"
                  for offset, symbol in sorted(self.param_offsets.items())]
        for index in sorted(self.parameters):
            lines += self._parameter_table(index, index in trainable)
        body = self._functions(infer_prologue, step_prologue)
        used = set(re.findall(r"\btcc_const_\d+\b", "\n".join(body)))
        if used:
            lines += ["", "/* Values computed from frozen parameters alone, at compile time. */"]
            for symbol, array in self.folded.items():
                if symbol in used:
                    lines += array
        return "\n".join(lines + body)

    def _functions(self, infer_prologue: list[str], step_prologue: list[str]) -> list[str]:
        """The API's functions and the parameter table."""
        trainable = [i for i in sorted(self.parameters)
                     if train.arg_role(self.forward, i) == "trainable"]
        lines = ["", f"void {self.api}_init(void) {{"]
        lines += [f"  memcpy({self.param_symbol(i)}, {self.param_symbol(i)}_init, "
                  f"sizeof {self.param_symbol(i)}_init);" for i in trainable]
        lines += ["}", "", self._infer_signature() + " {"]
        lines += ["  " + line for line in infer_prologue]
        lines += ["  " + line for line in self._render_ops(self.forward, self.infer_storage)]
        logits = self._returned(self.forward)[0]
        lines += ["  " + self._copy(self.infer_storage[logits], "logits", logits), "}", ""]
        if self.step is not None:
            lines += [f"float {self.api}_train_step(const tcc_input_t *input, "
                      "const int32_t *labels) {"]
            lines += ["  " + line for line in step_prologue]
            lines += ["  " + line for line in self._render_ops(self.step, self.step_storage)]
            lines += ["  " + line for line in self._write_back(self.step, self.step_storage)]
            loss = self._returned(self.step)[0]
            lines += [f"  return {self.step_storage[loss]}[0];", "}", ""]
        if self._has_input_slots():
            lines += [f"tcc_input_t *{self.api}_infer_input(void) {{",
                      f"  return (tcc_input_t *)(tcc_arena + "
                      f"{self.input_slots[(self.forward.sym_name.value, self.input_index)]});",
                      "}", ""]
            if self.step is not None:
                lines += [f"tcc_input_t *{self.api}_train_input(void) {{",
                          f"  return (tcc_input_t *)(tcc_arena + "
                          f"{self.input_slots[(self.step.sym_name.value, self.input_index)]});",
                          "}", ""]
        lines += ["static const tcc_param tcc_params[] = {"]
        lines += [f'  {{"{train.arg_name(self.forward, i)}", {self.param_symbol(i)}, '
                  f"{self._stored_size(i)}, "
                  f"{ELEMENT_BYTES[self.param_kinds[self.param_symbol(i)]]}}},"
                  for i in trainable]
        if not trainable:
            lines.append("  {NULL, NULL, 0, 0},")
        lines += ["};", "",
                  f"int32_t {self.api}_num_params(void) {{ return {len(trainable)}; }}", "",
                  f"tcc_param {self.api}_param(int32_t index) {{ return tcc_params[index]; }}",
                  ""]
        return lines

    def _stored_size(self, index: int) -> int:
        split = self.param_splits.get(index)
        total = self.parameters[index].size
        return total if split is None else total // split.total * split.k

    @staticmethod
    def _returned(function: func.FuncOp) -> list:
        ops = function.entry_block.operations
        return list(ops[len(ops) - 1].operands)


def _has_function(module: ir.Module, name: str) -> bool:
    return any(isinstance(op, func.FuncOp) and op.sym_name.value == name
               for op in module.body.operations)

"""--convert-train-to-linalg: rewrites every float train op into upstream linalg, tensor,
scf, arith and math ops on tensors, with the semantics of runtime/reference_ops.py.

Each train op becomes a call of a private "kernel" function that computes it (built as
MLIR text and parsed into the module's context; identical ops share one kernel); the
upstream inliner then inlines the kernels (option `inline`, on by default), so every
function becomes a flat sequence of linalg / tensor / arith / math ops.

The plain form (default), with named linalg ops where they exist:
- linear, linear_grad_input, linear_grad_weight, matmul: `linalg.matmul` (indexing maps
  read a transposed operand) / `linalg.batch_matmul` (batch dims beyond one collapsed);
  a bias initializes the accumulator.
- conv2d: `tensor.pad`, then `linalg.conv_2d_nchw_fchw` (groups 1),
  `linalg.depthwise_conv_2d_nchw_chw` (groups = in = out channels) or
  `linalg.conv_2d_ngchw_gfchw` (other groups, through expand/collapse_shape).
- conv2d_grad_input: the transposed convolution: dy dilated by the stride and padded by
  dilation·(k-1)-padding (`tensor.insert_slice` with strides into zeros, cropped where
  that padding is negative), convolved with the flipped, channel-swapped weight by the
  same named ops. avg_pool2d_grad: the same with `linalg.pooling_nchw_sum` (a broadcast
  when the windows tile the input).
- conv2d_grad_weight: one linalg.generic contracting batch and output pixels.
- avg_pool2d / max_pool2d: `linalg.pooling_nchw_sum` / `pooling_nchw_max` on the zero /
  -inf padded input (count_include_pad=false divides by a constant of window sizes).
- max_pool2d_grad: a linalg.generic finds the first maximum of each window (strict `>`
  in row-major window order, as PyTorch), a second gathers dy at those positions.
- reshape: collapse_shape / expand_shape where the op is (no kernel); slice: extract_slice; pad_to: tensor.pad;
  concat: insert_slice; transpose: linalg.transpose; broadcast / sum_to: linalg.generic.
- element-wise ops, activations, losses, normalizations, optimizers: linalg.generic with
  arith / math bodies evaluated in the reference's order (exact gelu and its gradient
  evaluate erf in f64, as the reference does). Reductions that sum carry
  `fastmath<reassoc>` so LLVM can vectorize them (the summation order is then LLVM's).
- clamp_mask: a linalg.generic of i8 bits on the flattened input (zero-padded to whole
  bytes), then a reduction over [bytes, 8] or-ing bit j << j. Its int8 (per-tensor)
  input reaches the kernel as storage values (a quant.scast) compared with the interval
  of storage values whose f32 real value passes, computed at compile time.
  mask_grad: one linalg.generic over the flattened dy, the mask read at d0 floordiv 8.

The packed form (option `packed`, what the CPU target compiles) differs for the
convolutions and matmuls: groups-1 convolutions and their gradients loop over the batch
(scf.for) and pack one sample's windows (im2col, a linalg.generic copy) for a
`linalg.matmul`; stride-1 depthwise convolutions and their gradients run over the
flattened rows of the padded input (one contiguous loop per window tap); every matmul
has plain row-major operands (transposes materialized), a column count padded to a
multiple of 8 or 16, and a `tcc.tile_sizes` register tile for the CPU target's transform
schedule.

int8 ops (qconv2d, ...), quant casts and layout ops on quantized tensors (other than
clamp_mask's input) are not converted yet: an UnsupportedError names the op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._mlir import ir, passmanager
from .._mlir.dialects import func, quant, tensor
from ..compiler.errors import PassError, UnsupportedError, format_location
from ..dialects import train

KERNEL_PREFIX = "__tcc_"
TILE_SIZES = "tcc.tile_sizes"
"""Attribute of the packed form's matmuls: the register tile of the CPU schedule."""


def padded_columns(n: int) -> int:
    """The column count a packed matmul computes: n rounded up to a multiple of 8
    (below 16) or of 16."""
    if n % 8 == 0:
        return n
    step = 8 if n < 16 else 16
    return -(-n // step) * step


def register_tile(m: int, n: int) -> tuple[int, int]:
    """Tile (rows, columns) of a matmul's result held in vector registers: up to 8 rows
    and 32 columns, dividing the result's shape (no partial tiles). The columns are a
    power of two (a vector<24xf32> runs ten times slower than vector<8xf32>)."""
    tm = max(d for d in range(1, min(m, 8) + 1) if m % d == 0)
    tn = max(d for d in (1, 2, 4, 8, 16, 32) if n % d == 0)
    return tm, tn


@dataclass
class ConvertTrainToLinalg:
    """Options: `packed` (the CPU target's form), `inline` (kernels inlined)."""

    packed: bool = False
    inline: bool = True

    def run(self, module: ir.Module) -> None:
        convert(module, packed=self.packed, inline=self.inline)


def convert(module: ir.Module, *, packed: bool = False, inline: bool = True) -> None:
    """Converts every train op of every function of `module` in place.

    `packed`: the CPU target's form (see the module docstring); every matmul carries
    `tcc.tile_sizes = array<i64: ...>`, the register tile the CPU target's transform
    schedule tiles and vectorizes it with.

    `inline=False` keeps each kernel a private function (named `__tcc_<op>_<i>`) called
    by the converted op: the CPU target compiles each distinct kernel once, and LLVM
    optimizes many small functions much faster than one function of every loop. With
    `inline` (the default) the upstream inliner runs over the whole module (other
    calls it can inline are inlined too).
    """
    targets = []

    def collect(op):
        if op.name.startswith("train."):
            targets.append(op)
        return ir.WalkResult.ADVANCE
    module.operation.walk(collect)      # ir.Operations: no dialect Python classes needed
    if not targets:
        return
    kernels: dict[str, str] = {}        # kernel text (with a placeholder name) -> symbol
    taken = {op.sym_name.value for op in module.body.operations if isinstance(op, func.FuncOp)}
    calls, views = [], []
    for op in targets:
        lower = _LOWERINGS.get(op.name)
        if lower is None and op.name not in VIEWS:
            raise UnsupportedError(f"--convert-train-to-linalg does not support '{op.name}'",
                                   format_location(op.location))
        for value in list(op.operands) + list(op.results):
            if not _converts(op, value):
                raise UnsupportedError(f"--convert-train-to-linalg: '{op.name}' on "
                                       f"{value.type} (only float tensors)",
                                       format_location(op.location))
        if op.name in VIEWS:
            views.append(op)
            continue
        kernel = _Kernel([_storage_type(v.type) for v in op.operands],
                         [r.type for r in op.results])
        kernel.packed = packed
        results = lower(kernel, op, *kernel.args)
        text = kernel.function("@KERNEL", results if isinstance(results, list) else [results])
        symbol = kernels.get(text)
        if symbol is None:
            index = len(kernels)
            while f"{KERNEL_PREFIX}{op.name[len('train.'):]}_{index}" in taken:
                index += 1
            symbol = f"{KERNEL_PREFIX}{op.name[len('train.'):]}_{index}"
            kernels[text] = symbol
            taken.add(symbol)
        calls.append((op, symbol))

    context = module.context
    with context:
        for op in views:
            _reshape_in_place(op)
    if not kernels:
        return
    source = "module {\n" + "\n".join(
        text.replace("@KERNEL", "@" + symbol) for text, symbol in kernels.items()) + "\n}"
    try:
        parsed = ir.Module.parse(source, context=context)
    except ir.MLIRError as error:          # a bug in a lowering, not the user's
        raise PassError(f"--convert-train-to-linalg built invalid IR: {error}") from None
    with context:
        for kernel_op in list(parsed.body.operations):
            kernel_op.operation.detach_from_parent()
            module.body.append(kernel_op.operation)
        for op, symbol in calls:
            with ir.InsertionPoint(op), op.location:
                call = func.CallOp([r.type for r in op.results],
                                   ir.FlatSymbolRefAttr.get(symbol),
                                   [_storage_value(v) for v in op.operands])
            for old, new in zip(op.results, call.results):
                old.replace_all_uses_with(new)
            op.erase()
    if not inline:
        return
    passmanager.PassManager.parse('builtin.module(inline{default-pipeline=""})',
                                  context).run(module.operation)
    for op in list(module.body.operations):       # kernels the inliner left (none)
        if isinstance(op, func.FuncOp) and op.sym_name.value.startswith(KERNEL_PREFIX):
            op.operation.erase()


VIEWS = ("train.reshape",)
"""Ops lowered where they are (no kernel): views of their operand's bytes, so that a
planned reshape shares its operand's storage after bufferization, as planned."""


def _reshape_in_place(op) -> None:
    """train.reshape -> tensor.collapse_shape / expand_shape (both, through 1-D, where
    the dims do not group)."""
    source = op.operands[0]
    old, new = _shape(source), _shape(op.results[0])
    result_type = op.results[0].type
    element = ir.RankedTensorType(result_type).element_type

    def collapse(value, groups, shape):
        return tensor.CollapseShapeOp(ir.RankedTensorType.get(shape, element), value,
                                      _groups_attr(groups)).result

    def expand(value, groups, shape):
        return tensor.ExpandShapeOp(ir.RankedTensorType.get(shape, element), value,
                                    _groups_attr(groups), [], shape).result

    with ir.InsertionPoint(op), op.location:
        if old == new:
            value = source
        elif not old:
            value = expand(source, [], new)
        elif not new:
            value = collapse(source, [], new)
        elif len(new) < len(old) and _reassociation(old, new) is not None:
            value = collapse(source, _reassociation(old, new), new)
        elif len(new) > len(old) and _reassociation(new, old) is not None:
            value = expand(source, _reassociation(new, old), new)
        else:
            size = int(np.prod(old))
            flat = source if len(old) == 1 else collapse(source, [list(range(len(old)))],
                                                         [size])
            value = flat if len(new) == 1 else expand(flat, [list(range(len(new)))], new)
    op.results[0].replace_all_uses_with(value)
    op.erase()


def _groups_attr(groups) -> ir.ArrayAttr:
    i64 = ir.IntegerType.get_signless(64)
    return ir.ArrayAttr.get([ir.ArrayAttr.get([ir.IntegerAttr.get(i64, d) for d in g])
                             for g in groups])


def _reassociation(long: list, short: list) -> list | None:
    """Groups of consecutive dims of `long` whose products are the dims of `short`
    (trailing unit dims join the last group), or None."""
    groups, i = [], 0
    for size in short:
        if i >= len(long):
            return None
        group, product = [i], long[i]
        i += 1
        while product < size and i < len(long):
            group.append(i)
            product *= long[i]
            i += 1
        if product != size:
            return None
        groups.append(group)
    if any(long[j] != 1 for j in range(i, len(long))) or not groups:
        return None
    groups[-1].extend(range(i, len(long)))
    return groups


def _is_float_tensor(type_: ir.Type) -> bool:
    return (isinstance(type_, ir.RankedTensorType)
            and str(ir.RankedTensorType(type_).element_type) in _FLOATS)


def _converts(op, value) -> bool:
    """Whether the conversion takes `value` of `op`: a float tensor, the labels of a
    cross entropy, the i8 mask of clamp_mask / mask_grad, the per-tensor int8 input of
    clamp_mask."""
    if _is_float_tensor(value.type):
        return True
    if op.name.startswith("train.cross_entropy"):
        return value == op.operands[1]
    if op.name == "train.mask_grad":
        return value == op.operands[1]
    if op.name == "train.clamp_mask":
        return value == op.results[0] or _int8_per_tensor(value.type) is not None
    return False


def _int8_per_tensor(type_: ir.Type):
    """The !quant.uniform element type of a tensor of per-tensor signed int8 values, or
    None."""
    element = ir.RankedTensorType(type_).element_type
    if isinstance(element, quant.UniformQuantizedType) and element.is_signed and \
            ir.IntegerType(element.storage_type).width == 8:
        return element
    return None


def _storage_type(type_: ir.Type) -> ir.Type:
    """A kernel's operand type: a quantized tensor's storage integer tensor, else the
    type itself."""
    element = ir.RankedTensorType(type_).element_type
    if not isinstance(element, quant.QuantizedType):
        return type_
    return ir.RankedTensorType.get(ir.RankedTensorType(type_).shape, element.storage_type,
                                   loc=ir.Location.unknown(type_.context))


def _storage_value(value: ir.Value) -> ir.Value:
    """A kernel's operand: a quantized tensor's storage values (a quant.scast, which
    canonicalization cancels against a quant.scast that made the quantized tensor)."""
    storage = _storage_type(value.type)
    if storage == value.type:
        return value
    return ir.Operation.create("quant.scast", results=[storage], operands=[value]).result


# ---------------------------------------------------------------------------------------
# Text building
# ---------------------------------------------------------------------------------------

_FLOATS = {"f16": np.float16, "f32": np.float32, "f64": np.float64}
_INF_HEX = {"f16": ("0x7C00", "0xFC00"), "f32": ("0x7F800000", "0xFF800000"),
            "f64": ("0x7FF0000000000000", "0xFFF0000000000000")}


def _tt(shape, elem: str) -> str:
    """`tensor<...>` text."""
    return f"tensor<{''.join(f'{d}x' for d in shape)}{elem}>"


def _dims(rank: int) -> str:
    return ", ".join(f"d{i}" for i in range(rank))


def _map(rank: int, exprs) -> str:
    return f"affine_map<({_dims(rank)}) -> ({', '.join(str(e) for e in exprs)})>"


def _identity(rank: int) -> str:
    return _map(rank, [f"d{i}" for i in range(rank)])


def _i64s(values) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _dense2(values) -> str:
    return f"dense<{_i64s(values)}> : tensor<2xi64>"


def float_literal(value: float, elem: str) -> str:
    """A float attribute value of type `elem` that parses back to exactly the value
    rounded to `elem` (a decimal with 17 digits, hexadecimal for infinities)."""
    value = _FLOATS[elem](value)
    if np.isinf(value):
        return _INF_HEX[elem][int(value < 0)]
    if np.isnan(value):
        raise PassError("NaN constant")
    return f"{float(value):.17e}"


@dataclass
class _T:
    """A tensor value of a kernel: SSA name, shape, element type."""

    name: str
    shape: list
    elem: str

    @property
    def type(self) -> str:
        return _tt(self.shape, self.elem)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        return self.name


class _Kernel:
    """The body of one private function, as text, with builders for the ops used."""

    def __init__(self, operand_types, result_types):
        self.args = []
        for i, t in enumerate(operand_types):
            t = ir.RankedTensorType(t)
            self.args.append(_T(f"%arg{i}", list(t.shape), str(t.element_type)))
        self.results = [ir.RankedTensorType(t) for t in result_types]
        self.lines: list[str] = []
        self.indent = 1
        self.count = 0
        self.packed = False

    # -- plumbing -----------------------------------------------------------------------
    def fresh(self, prefix: str = "v") -> str:
        self.count += 1
        return f"%{prefix}{self.count}"

    def line(self, text: str) -> None:
        self.lines.append("  " * self.indent + text)

    def emit(self, text: str) -> str:
        """`%vN = text`; returns %vN."""
        name = self.fresh()
        self.line(f"{name} = {text}")
        return name

    def function(self, symbol: str, results: list) -> str:
        params = ", ".join(f"{a.name}: {a.type}" for a in self.args)
        types = ", ".join(str(t) for t in self.results)
        names = ", ".join(str(r) for r in results)
        for result, expected in zip(results, self.results):
            if result.type != str(expected):
                raise PassError(f"kernel result {result.type} does not match {expected}")
        body = "\n".join(self.lines)
        return (f"func.func private {symbol}({params}) -> ({types}) {{\n{body}\n"
                f"  return {names} : {types}\n}}")

    # -- scalars (inside region bodies) -------------------------------------------------
    def const(self, value: float, elem: str) -> str:
        return self.emit(f"arith.constant {float_literal(value, elem)} : {elem}")

    def index_const(self, value: int) -> str:
        return self.emit(f"arith.constant {int(value)} : index")

    def bin(self, op: str, a: str, b: str, elem: str, reassoc: bool = False) -> str:
        """A binary arith op; `reassoc` (fastmath) lets LLVM vectorize a reduction's
        accumulation (the summation order then differs from the reference's)."""
        flags = " fastmath<reassoc>" if reassoc else ""
        return self.emit(f"arith.{op} {a}, {b}{flags} : {elem}")

    def un(self, op: str, a: str, elem: str) -> str:
        return self.emit(f"{op} {a} : {elem}")

    def cmpf(self, pred: str, a: str, b: str, elem: str) -> str:
        return self.emit(f"arith.cmpf {pred}, {a}, {b} : {elem}")

    def select(self, cond: str, a: str, b: str, elem: str) -> str:
        return self.emit(f"arith.select {cond}, {a}, {b} : {elem}")

    # -- tensors ------------------------------------------------------------------------
    def empty(self, shape, elem: str) -> _T:
        return _T(self.emit(f"tensor.empty() : {_tt(shape, elem)}"), list(shape), elem)

    def full(self, shape, elem: str, value: float) -> _T:
        """A tensor filled with `value` (float or signless integer elements)."""
        empty = self.empty(shape, elem)
        if elem in _FLOATS:
            scalar = self.const(value, elem)
        else:
            scalar = self.emit(f"arith.constant {int(value)} : {elem}")
        return self.fill(scalar, empty)

    def fill(self, scalar: str, init: _T) -> _T:
        name = self.emit(f"linalg.fill ins({scalar} : {init.elem}) outs({init} : {init.type})"
                         f" -> {init.type}")
        return _T(name, init.shape, init.elem)

    def constant(self, array: np.ndarray, elem: str) -> _T:
        values = ", ".join(float_literal(v, elem) for v in array.ravel())
        shape = list(array.shape)
        name = self.emit(f"arith.constant dense<[{values}]> : {_tt([array.size], elem)}")
        flat = _T(name, [array.size], elem)
        return self.reshape(flat, shape)

    def generic(self, ins, outs, maps, iterators, body):
        """linalg.generic; `ins`/`outs` are _T values, `maps` one map text per operand,
        `body(args)` gets the block arguments' names (ins then outs) and returns the
        yielded scalars. Returns the result tensors (one per out)."""
        names = [self.fresh() for _ in outs]
        iters = ", ".join(f'"{i}"' for i in iterators)
        ins_text = (f" ins({', '.join(str(v) for v in ins)} : "
                    f"{', '.join(v.type for v in ins)})") if ins else ""
        self.line(f"{', '.join(names)} = linalg.generic {{indexing_maps = [{', '.join(maps)}], "
                  f"iterator_types = [{iters}]}}{ins_text} outs({', '.join(str(v) for v in outs)}"
                  f" : {', '.join(v.type for v in outs)}) {{")
        args = [self.fresh("a") for _ in list(ins) + list(outs)]
        elems = [v.elem for v in list(ins) + list(outs)]
        self.line("^bb0(" + ", ".join(f"{a}: {e}" for a, e in zip(args, elems)) + "):")
        self.indent += 1
        yielded = body(args)
        self.line(f"linalg.yield {', '.join(yielded)} : {', '.join(v.elem for v in outs)}")
        self.indent -= 1
        types = ", ".join(v.type for v in outs)
        self.line(f"}} -> {types if len(outs) == 1 else f'({types})'}")
        return [_T(n, v.shape, v.elem) for n, v in zip(names, outs)]

    def elementwise(self, inputs, body, elem=None, maps=None, shape=None) -> _T:
        """One result of `shape` (the first input's by default) computed element by
        element; `maps` give the inputs' indexing (identity by default)."""
        shape = list(inputs[0].shape if shape is None else shape)
        elem = elem or inputs[0].elem
        rank = len(shape)
        init = self.empty(shape, elem)
        maps = list(maps or [_identity(rank)] * len(inputs)) + [_identity(rank)]
        (result,) = self.generic(inputs, [init], maps, ["parallel"] * rank,
                                 lambda a: [body(*a[:len(inputs)])])
        return result

    def reduce(self, x: _T, axes, combine: str = "addf", init_value: float = 0.0,
               body=None) -> _T:
        """Reduction of x over `axes` (kept dims dropped from the result); `body(x)` maps
        each element before it is combined. Runs of adjacent reduced (or kept) dims are
        collapsed first: one long innermost loop instead of nested short ones."""
        axes = sorted(a % x.rank for a in axes)
        kept = [d for d in range(x.rank) if d not in axes]
        kept_shape = [x.shape[d] for d in kept]
        groups = []
        for d in range(x.rank):
            if groups and (d in axes) == (groups[-1][0] in axes):
                groups[-1].append(d)
            else:
                groups.append([d])
        if len(groups) < x.rank:
            flat = self.collapse(x, groups)
            flat_axes = [i for i, g in enumerate(groups) if g[0] in axes]
            return self.reshape(self.reduce(flat, flat_axes, combine, init_value, body),
                                kept_shape)
        init = self.full(kept_shape, x.elem, init_value)
        iterators = ["reduction" if d in axes else "parallel" for d in range(x.rank)]

        def region(a):
            value = body(a[0]) if body else a[0]
            return [self.bin(combine, value, a[1], x.elem, reassoc=combine == "addf")]
        (result,) = self.generic([x], [init], [_identity(x.rank), _map(x.rank, [
            f"d{d}" for d in kept])], iterators, region)
        return result

    def kept_map(self, rank: int, axes) -> str:
        """Indexing of a reduced tensor (over `axes`) from the full iteration space."""
        axes = [a % rank for a in axes]
        return _map(rank, [f"d{d}" for d in range(rank) if d not in axes])

    def reshape(self, x: _T, shape) -> _T:
        """Row-major reshape: one collapse_shape or expand_shape where the dims group,
        else a collapse to 1-D and an expand."""
        shape = list(shape)
        if shape == x.shape:
            return x
        if int(np.prod(shape)) != int(np.prod(x.shape)):
            raise PassError(f"cannot reshape {x.shape} to {shape}")
        if x.rank == 0:
            return self.expand(x, [], shape)
        if not shape:
            return self.collapse(x, [])
        if len(shape) < x.rank:
            groups = _reassociation(x.shape, shape)
            if groups is not None:
                return self.collapse(x, groups)
        elif len(shape) > x.rank:
            groups = _reassociation(shape, x.shape)
            if groups is not None:
                return self.expand(x, groups, shape)
        flat = x if x.rank == 1 else self.collapse(x, [list(range(x.rank))])
        if len(shape) == 1:
            return flat
        return self.expand(flat, [list(range(len(shape)))], shape)

    def expand(self, x: _T, groups, shape) -> _T:
        """expand_shape with explicit reassociation `groups` (lists of result dims)."""
        text = "[" + ", ".join(_i64s(g) for g in groups) + "]"
        return _T(self.emit(f"tensor.expand_shape {x} {text} output_shape {_i64s(shape)} : "
                            f"{x.type} into {_tt(shape, x.elem)}"), list(shape), x.elem)

    def collapse(self, x: _T, groups) -> _T:
        shape = [int(np.prod([x.shape[d] for d in g])) for g in groups]
        text = "[" + ", ".join(_i64s(g) for g in groups) + "]"
        return _T(self.emit(f"tensor.collapse_shape {x} {text} : {x.type} into "
                            f"{_tt(shape, x.elem)}"), shape, x.elem)

    def extract_slice(self, x: _T, offsets, sizes) -> _T:
        if list(sizes) == x.shape:
            return x
        ones = [1] * x.rank
        return _T(self.emit(f"tensor.extract_slice {x}{_i64s(offsets)} {_i64s(sizes)} "
                            f"{_i64s(ones)} : {x.type} to {_tt(sizes, x.elem)}"),
                  list(sizes), x.elem)

    def insert_slice(self, x: _T, into: _T, offsets, strides=None) -> _T:
        strides = strides or [1] * x.rank
        return _T(self.emit(f"tensor.insert_slice {x} into {into}{_i64s(offsets)} "
                            f"{_i64s(x.shape)} {_i64s(strides)} : {x.type} into {into.type}"),
                  into.shape, into.elem)

    def pad(self, x: _T, low, high, value: float) -> _T:
        """Pads (or crops, for negative amounts) each dimension of x."""
        crop_lo = [max(-v, 0) for v in low]
        crop_hi = [max(-v, 0) for v in high]
        if any(crop_lo) or any(crop_hi):
            sizes = [d - a - b for d, a, b in zip(x.shape, crop_lo, crop_hi)]
            x = self.extract_slice(x, crop_lo, sizes)
        low = [max(v, 0) for v in low]
        high = [max(v, 0) for v in high]
        if not any(low) and not any(high):
            return x
        shape = [d + a + b for d, a, b in zip(x.shape, low, high)]
        name = self.fresh()
        self.line(f"{name} = tensor.pad {x} low{_i64s(low)} high{_i64s(high)} {{")
        indices = [self.fresh("i") for _ in shape]
        self.line("^bb0(" + ", ".join(f"{i}: index" for i in indices) + "):")
        self.indent += 1
        scalar = self.const(value, x.elem)
        self.line(f"tensor.yield {scalar} : {x.elem}")
        self.indent -= 1
        self.line(f"}} : {x.type} to {_tt(shape, x.elem)}")
        return _T(name, shape, x.elem)

    def named(self, op: str, ins, init: _T, attrs: str = "") -> _T:
        attrs = f" {{{attrs}}}" if attrs else ""
        name = self.emit(f"linalg.{op}{attrs} ins({', '.join(str(v) for v in ins)} : "
                         f"{', '.join(v.type for v in ins)}) outs({init} : {init.type}) "
                         f"-> {init.type}")
        return _T(name, init.shape, init.elem)

    def matmul(self, a: _T, b: _T, init: _T, maps=None) -> _T:
        """linalg.matmul (optional indexing maps over (m, n, k))."""
        attrs = ""
        if maps:
            attrs = f" indexing_maps = [{', '.join(maps)}]"
        name = self.emit(f"linalg.matmul{attrs} ins({a}, {b} : {a.type}, {b.type}) "
                         f"outs({init} : {init.type}) -> {init.type}")
        return _T(name, init.shape, init.elem)

    def transpose(self, x: _T, perm) -> _T:
        init = self.empty([x.shape[p] for p in perm], x.elem)
        name = self.emit(f"linalg.transpose ins({x} : {x.type}) outs({init} : {init.type}) "
                         f"permutation = {_i64s(perm)}")
        return _T(name, init.shape, init.elem)

    def tiled_matmul(self, a: _T, b: _T, init: _T) -> _T:
        """Packed form: linalg.matmul (a [M, K], b [K, N]), linalg.batch_matmul (a and b
        batched), or a batch_matmul sharing a [M, K] across b's batch [B, K, N]; with
        the register tile `tcc.tile_sizes`. A column count N that is not a multiple of
        8 is padded with zeros (b and init) to one of 8 or 16 and the result sliced:
        vector registers stay full (at most 15 wasted columns)."""
        m, n = init.shape[-2:]
        padded = padded_columns(n)
        if padded != n:
            high = [0] * (b.rank - 1) + [padded - n]
            b = self.pad(b, [0] * b.rank, high, 0.0)
            full = self.pad(init, [0] * init.rank, [0] * (init.rank - 1) + [padded - n], 0.0)
            result = self.tiled_matmul(a, b, full)
            return self.extract_slice(result, [0] * init.rank, init.shape)
        tm, tn = register_tile(m, n)
        if init.rank == 2:
            op, maps, tiles = "matmul", "", [tm, tn, 1]
        else:
            op, tiles = "batch_matmul", [1, tm, tn, 1]
            maps = "" if a.rank == 3 else (
                " indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d1, d3)>, "
                "affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, "
                "affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>]")
        name = self.emit(f"linalg.{op}{maps} ins({a}, {b} : {a.type}, {b.type}) "
                         f"outs({init} : {init.type}) {{{TILE_SIZES} = array<i64: "
                         f"{', '.join(str(t) for t in tiles)}>}} -> {init.type}")
        return _T(name, init.shape, init.elem)

    def sample(self, x: _T, index: str) -> _T:
        """x[index] (a rank-reduced slice along dim 0 at the SSA index `index`)."""
        sizes = [1] + x.shape[1:]
        zeros = ", ".join(["0"] * (x.rank - 1))
        return _T(self.emit(f"tensor.extract_slice {x}[{index}, {zeros}] {_i64s(sizes)} "
                            f"{_i64s([1] * x.rank)} : {x.type} to {_tt(x.shape[1:], x.elem)}"),
                  x.shape[1:], x.elem)

    def put_sample(self, value: _T, into: _T, index: str) -> _T:
        """into with into[index] = value."""
        zeros = ", ".join(["0"] * value.rank)
        return _T(self.emit(f"tensor.insert_slice {value} into {into}[{index}, {zeros}] "
                            f"{_i64s([1] + value.shape)} {_i64s([1] * into.rank)} : "
                            f"{value.type} into {into.type}"), into.shape, into.elem)

    def for_each_sample(self, count: int, acc: _T, body) -> _T:
        """scf.for over `count` samples carrying `acc`: body(index, acc) -> new acc.
        The packed convolutions work one sample at a time, so that a sample's window
        packing stays in cache."""
        lower, upper, step = self.index_const(0), self.index_const(count), self.index_const(1)
        name, index, carried = self.fresh(), self.fresh("n"), self.fresh("acc")
        self.line(f"{name} = scf.for {index} = {lower} to {upper} step {step} "
                  f"iter_args({carried} = {acc}) -> ({acc.type}) {{")
        self.indent += 1
        result = body(index, _T(carried, acc.shape, acc.elem))
        self.line(f"scf.yield {result} : {acc.type}")
        self.indent -= 1
        self.line("}")
        return _T(name, acc.shape, acc.elem)

    def broadcast_to(self, x: _T, shape, dims) -> _T:
        """x broadcast to `shape`: x's dim i is the result's dim dims[i]."""
        rank = len(shape)
        return self.elementwise([x], lambda v: v, maps=[_map(rank, [f"d{d}" for d in dims])],
                                shape=shape)


# ---------------------------------------------------------------------------------------
# Attributes
# ---------------------------------------------------------------------------------------

def _f32(op, name: str, default: float | None = None) -> float:
    if name not in op.attributes:
        return default
    return ir.FloatAttr(op.attributes[name]).value


def _int(op, name: str) -> int:
    return ir.IntegerAttr(op.attributes[name]).value


def _array(op, name: str) -> list[int]:
    return list(ir.DenseI64ArrayAttr(op.attributes[name]))


def _shape(value) -> list[int]:
    return list(ir.RankedTensorType(value.type).shape)


def _unit(op, name: str) -> bool:
    return name in op.attributes


# ---------------------------------------------------------------------------------------
# Lowerings: (kernel, op, *operands) -> result(s)
# ---------------------------------------------------------------------------------------

_LOWERINGS = {}


def _lowering(*names):
    def register(fn):
        for name in names:
            _LOWERINGS[f"train.{name}"] = fn
        return fn
    return register


_MNK = ["affine_map<(d0, d1, d2) -> (d0, d2)>", "affine_map<(d0, d1, d2) -> (d2, d1)>",
        "affine_map<(d0, d1, d2) -> (d0, d1)>"]
_TRANSPOSE_B = [_MNK[0], "affine_map<(d0, d1, d2) -> (d1, d2)>", _MNK[2]]
_TRANSPOSE_A = ["affine_map<(d0, d1, d2) -> (d2, d0)>", _MNK[1], _MNK[2]]


@_lowering("linear")
def _linear(k: _Kernel, op, x, w, b=None):
    shape = [x.shape[0], w.shape[0]]
    init = k.broadcast_to(b, shape, [1]) if b is not None else k.full(shape, x.elem, 0.0)
    if k.packed:
        return k.tiled_matmul(x, k.transpose(w, [1, 0]), init)
    return k.matmul(x, w, init, _TRANSPOSE_B)


@_lowering("linear_grad_input")
def _linear_grad_input(k: _Kernel, op, dy, w):
    init = k.full([dy.shape[0], w.shape[1]], dy.elem, 0.0)
    if k.packed:
        return k.tiled_matmul(dy, w, init)
    return k.matmul(dy, w, init)


@_lowering("linear_grad_weight")
def _linear_grad_weight(k: _Kernel, op, dy, x):
    init = k.full([dy.shape[1], x.shape[1]], dy.elem, 0.0)
    if k.packed:
        return k.tiled_matmul(k.transpose(dy, [1, 0]), x, init)
    return k.matmul(dy, x, init, _TRANSPOSE_A)


@_lowering("matmul")
def _matmul(k: _Kernel, op, a, b):
    shape = _shape(op.results[0])
    if a.rank == 2:
        init = k.full(shape, a.elem, 0.0)
        return k.tiled_matmul(a, b, init) if k.packed else k.matmul(a, b, init)
    batch = int(np.prod(a.shape[:-2]))
    if a.rank > 3:
        lead = list(range(a.rank - 2))
        groups = [lead, [a.rank - 2], [a.rank - 1]]
        a, b = k.collapse(a, groups), k.collapse(b, groups)
    init = k.full([batch, shape[-2], shape[-1]], a.elem, 0.0)
    result = (k.tiled_matmul(a, b, init) if k.packed
              else k.named("batch_matmul", [a, b], init))
    return k.reshape(result, shape)


def _conv_geometry(op):
    g = train.ConvGeometry.of(op)
    return list(g.stride), list(g.padding), list(g.dilation), g.groups


def _strides_attrs(strides, dilations) -> str:
    return f"dilations = {_dense2(dilations)}, strides = {_dense2(strides)}"


def _conv(k: _Kernel, x: _T, w: _T, init: _T, groups: int, strides, dilations) -> _T:
    """Convolution of the (already padded) NCHW x with the OIHW w into init (NCHW)."""
    attrs = _strides_attrs(strides, dilations)
    n, c = x.shape[:2]
    o = w.shape[0]
    if groups == 1:
        return k.named("conv_2d_nchw_fchw", [x, w], init, attrs)
    if groups == c == o:                  # depthwise, one filter per channel
        w3 = k.collapse(w, [[0, 1], [2], [3]])
        return k.named("depthwise_conv_2d_nchw_chw", [x, w3], init, attrs)
    g = groups
    xg = k.expand(x, [[0], [1, 2], [3], [4]], [n, g, c // g, *x.shape[2:]])
    wg = k.expand(w, [[0, 1], [2], [3], [4]], [g, o // g, *w.shape[1:]])
    init_g = k.expand(init, [[0], [1, 2], [3], [4]], [n, g, o // g, *init.shape[2:]])
    y = k.named("conv_2d_ngchw_gfchw", [xg, wg], init_g, attrs)
    return k.collapse(y, [[0], [1, 2], [3], [4]])


@_lowering("conv2d")
def _conv2d(k: _Kernel, op, x, w, b=None):
    strides, padding, dilations, groups = _conv_geometry(op)
    shape = _shape(op.results[0])
    xp = k.pad(x, [0, 0, *padding], [0, 0, *padding], 0.0)
    if k.packed and groups == 1:
        # y[n] = W [O, C·KH·KW] · cols(x[n]) [C·KH·KW, OH·OW] (+ bias), sample by sample
        n, o, oh, ow = shape
        init = (k.broadcast_to(b, [n, o, oh * ow], [1]) if b is not None
                else k.full([n, o, oh * ow], x.elem, 0.0))
        wm = k.collapse(w, [[0], [1, 2, 3]])

        def sample(i, acc):
            cols = _im2col(k, k.sample(xp, i), w.shape[2:], strides, dilations, (oh, ow))
            return k.put_sample(k.tiled_matmul(wm, cols, k.sample(acc, i)), acc, i)
        return k.reshape(k.for_each_sample(n, init, sample), shape)
    if k.packed and _is_depthwise(x, w, groups):
        return _depthwise(k, xp, w, b, strides, dilations)
    init = (k.broadcast_to(b, shape, [1]) if b is not None
            else k.full(shape, x.elem, 0.0))
    return _conv(k, xp, w, init, groups, strides, dilations)


def _is_depthwise(x: _T, w: _T, groups: int) -> bool:
    return groups == x.shape[1] == w.shape[0] and groups > 1


def _im2col(k: _Kernel, xp: _T, kernel, strides, dilations, out_hw) -> _T:
    """The windows of one padded sample xp [C, Hp, Wp] as cols [C·KH·KW, OH·OW]:
    cols[(c, a, b), (i, j)] = xp[c, i·s + a·d, j·s + b·d]."""
    c = xp.shape[0]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, strides, dilations, out_hw
    if (kh, kw, sh, sw) == (1, 1, 1, 1) and list(xp.shape[1:]) == [oh, ow]:
        return k.collapse(xp, [[0], [1, 2]])
    init = k.empty([c, kh, kw, oh, ow], xp.elem)
    maps = [_map(5, ["d0", f"d3 * {sh} + d1 * {dh}", f"d4 * {sw} + d2 * {dw}"]),
            _identity(5)]
    (cols,) = k.generic([xp], [init], maps, ["parallel"] * 5, lambda a: [a[0]])
    return k.collapse(cols, [[0, 1, 2], [3, 4]])


def _depthwise(k: _Kernel, xp: _T, w: _T, bias, strides, dilations, flip=False) -> _T:
    """Depthwise convolution of the padded xp [N, C, Hp, Wp] with w [C, 1, KH, KW] (+ the
    optional bias [C]); `flip` reads the weight rotated by 180° (the transposed
    convolution). Stride 1: `_depthwise_flat`. Otherwise one linalg.generic with loops
    (n, c, a, b, i, j), the output width innermost."""
    (sh, sw), (dh, dw) = strides, dilations
    kh, kw = w.shape[2:]
    n, c, hp, wp = xp.shape
    oh, ow = (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1
    if (sh, sw) == (1, 1):
        return _depthwise_flat(k, xp, w, bias, dilations, flip, (oh, ow))
    shape = [n, c, oh, ow]
    init = k.broadcast_to(bias, shape, [1]) if bias is not None else k.full(shape, xp.elem, 0.0)
    wa, wb = (f"{kh - 1} - d2", f"{kw - 1} - d3") if flip else ("d2", "d3")
    ins = [xp, w, k.empty([kh, kw], xp.elem)]       # the last gives the window's extent
    maps = [_map(6, ["d0", "d1", f"d4 * {sh} + d2 * {dh}", f"d5 * {sw} + d3 * {dw}"]),
            _map(6, ["d1", "0", wa, wb]), _map(6, ["d2", "d3"]), _map(6, ["d0", "d1", "d4", "d5"])]
    e = xp.elem

    def body(a):
        return [k.bin("addf", a[3], k.bin("mulf", a[0], a[1], e), e)]
    (y,) = k.generic(ins, [init], maps, ["parallel", "parallel", "reduction",
                                         "reduction", "parallel", "parallel"], body)
    return y


def _flat_rows(k: _Kernel, xp: _T, extra: int) -> _T:
    """xp [N, C, Hp, Wp] as [N, C, Hp·Wp + extra], `extra` zeros at the end."""
    n, c, hp, wp = xp.shape
    flat = k.collapse(xp, [[0], [1], [2, 3]])
    return k.pad(flat, [0, 0, 0], [0, 0, extra], 0.0)


def _depthwise_flat(k: _Kernel, xp: _T, w: _T, bias, dilations, flip, out_hw) -> _T:
    """Stride-1 depthwise convolution over the flattened rows of xp: the wide output
    y[n, c, q] = Σ_{a, b} xp_flat[n, c, q + a·d·Wp + b·d], q over OH rows of the padded
    width Wp, is one long contiguous (vectorizable) loop per window tap; its first OW
    columns of each row are the result (the other Wp - OW are discarded)."""
    (dh, dw), (oh, ow) = dilations, out_hw
    kh, kw = w.shape[2:]
    n, c, hp, wp = xp.shape
    e = xp.elem
    xf = _flat_rows(k, xp, (kw - 1) * dw)
    wide = [n, c, oh * wp]
    init = k.broadcast_to(bias, wide, [1]) if bias is not None else k.full(wide, e, 0.0)
    if flip:        # a copy of the (small) weight rotated by 180°
        w = k.elementwise([w], lambda v: v, maps=[_map(4, ["d0", "d1", f"{kh - 1} - d2",
                                                          f"{kw - 1} - d3"])])
    maps = [_map(5, ["d0", "d1", f"d4 + d2 * {dh * wp} + d3 * {dw}"]),
            _map(5, ["d1", "0", "d2", "d3"]), _map(5, ["d0", "d1", "d4"])]

    def body(a):
        return [k.bin("addf", a[2], k.bin("mulf", a[0], a[1], e), e)]
    (y,) = k.generic([xf, w], [init], maps,
                     ["parallel", "parallel", "reduction", "reduction", "parallel"], body)
    y = k.expand(y, [[0], [1], [2, 3]], [n, c, oh, wp])
    return k.extract_slice(y, [0, 0, 0, 0], [n, c, oh, ow])


def _dilate_pad(k: _Kernel, dy: _T, stride, low, size, value: float = 0.0) -> _T:
    """dy [N, C, OH, OW] with stride - 1 `value`s between its pixels, placed at `low`
    (negative: cropped) in a tensor of spatial `size` filled with `value`."""
    dilated = [(d - 1) * s + 1 for d, s in zip(dy.shape[2:], stride)]
    lo = [max(v, 0) for v in low]
    crop = [max(-v, 0) for v in low]
    full = [max(lo[i] + dilated[i], crop[i] + size[i]) for i in range(2)]
    z = k.full([*dy.shape[:2], *full], dy.elem, value)
    placed = k.insert_slice(dy, z, [0, 0, *lo], [1, 1, *stride])
    return k.extract_slice(placed, [0, 0, *crop], [*dy.shape[:2], *size])


@_lowering("conv2d_grad_input")
def _conv2d_grad_input(k: _Kernel, op, dy, w):
    strides, padding, dilations, groups = _conv_geometry(op)
    shape = _shape(op.results[0])                     # N, C, H, W
    n, c, h, wd = shape
    o, cg, kh, kw = w.shape
    if k.packed and groups == 1:
        return _col2im_grad_input(k, dy, w, shape, strides, padding, dilations)
    low = [d * (kk - 1) - p for d, kk, p in zip(dilations, (kh, kw), padding)]
    size = [s + d * (kk - 1) for s, d, kk in zip((h, wd), dilations, (kh, kw))]
    dyp = _dilate_pad(k, dy, strides, low, size)
    if k.packed and groups == c == o:
        return _depthwise(k, dyp, w, None, [1, 1], dilations, flip=True)
    init = k.full(shape, dy.elem, 0.0)
    g = groups
    # Flipped weight with the channels swapped, grouped: wt[g, c, o, a, b] =
    # w[g·O/G + o, c, KH-1-a, KW-1-b], as OIHW [C, O/G, KH, KW] (O/G input channels).
    flipped = [f"{kh - 1} - d3", f"{kw - 1} - d4"]
    wg = k.expand(w, [[0, 1], [2], [3], [4]], [g, o // g, cg, kh, kw])
    wt = k.elementwise([wg], lambda v: v, shape=[g, cg, o // g, kh, kw],
                       maps=[_map(5, ["d0", "d2", "d1", *flipped])])
    wt = k.collapse(wt, [[0, 1], [2], [3], [4]])           # [C, O/G, KH, KW]
    return _conv(k, dyp, wt, init, groups, [1, 1], dilations)


def _col2im_grad_input(k: _Kernel, dy: _T, w: _T, shape, strides, padding, dilations):
    """Packed input gradient of a groups-1 convolution, sample by sample: the window
    gradients dcols = Wᵀ [C·KH·KW, O] · dy[n] [O, OH·OW], each (a, b) plane added into
    the padded input gradient at rows a·d + i·s and columns b·d + j·s (strided
    slices), which is then cropped."""
    n, c, h, wd = shape
    o, _, kh, kw = w.shape
    oh, ow = dy.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = strides, padding, dilations
    e = dy.elem
    w_t = k.transpose(k.collapse(w, [[0], [1, 2, 3]]), [1, 0])        # [C·KH·KW, O]
    dy3 = k.collapse(dy, [[0], [1], [2, 3]])
    padded = [max(h + 2 * ph, (oh - 1) * sh + (kh - 1) * dh + 1),
              max(wd + 2 * pw, (ow - 1) * sw + (kw - 1) * dw + 1)]

    def sample(i, acc):
        dcols = k.tiled_matmul(w_t, k.sample(dy3, i), k.full([c * kh * kw, oh * ow], e, 0.0))
        dcols = k.expand(dcols, [[0, 1, 2], [3, 4]], [c, kh, kw, oh, ow])
        dxp = k.full([c, *padded], e, 0.0)
        for a in range(kh):
            for b in range(kw):
                plane = _T(k.emit(f"tensor.extract_slice {dcols}[0, {a}, {b}, 0, 0] "
                                  f"[{c}, 1, 1, {oh}, {ow}] [1, 1, 1, 1, 1] : "
                                  f"{dcols.type} to {_tt([c, oh, ow], e)}"), [c, oh, ow], e)
                offsets, sizes, steps = [0, a * dh, b * dw], [c, oh, ow], [1, sh, sw]
                target = _T(k.emit(f"tensor.extract_slice {dxp}{_i64s(offsets)} "
                                   f"{_i64s(sizes)} {_i64s(steps)} : {dxp.type} to "
                                   f"{_tt(sizes, e)}"), sizes, e)
                (added,) = k.generic([plane], [target], [_identity(3)] * 2,
                                     ["parallel"] * 3, lambda v: [k.bin("addf", v[1], v[0], e)])
                dxp = k.insert_slice(added, dxp, offsets, steps)
        return k.put_sample(k.extract_slice(dxp, [0, ph, pw], [c, h, wd]), acc, i)
    return k.for_each_sample(n, k.empty(shape, e), sample)


@_lowering("conv2d_grad_weight")
def _conv2d_grad_weight(k: _Kernel, op, dy, x):
    strides, padding, dilations, groups = _conv_geometry(op)
    o, cg, kh, kw = _shape(op.results[0])
    n, c = x.shape[:2]
    g = groups
    xp = k.pad(x, [0, 0, *padding], [0, 0, *padding], 0.0)
    if k.packed and groups == 1:
        return _packed_grad_weight(k, dy, xp, (o, cg, kh, kw), strides, dilations)
    if k.packed and groups == c == o:
        return _depthwise_grad_weight(k, dy, xp, (o, cg, kh, kw), strides, dilations)
    xg = k.expand(xp, [[0], [1, 2], [3], [4]], [n, g, cg, *xp.shape[2:]])
    dyg = k.expand(dy, [[0], [1, 2], [3], [4]], [n, g, o // g, *dy.shape[2:]])
    init = k.full([g, o // g, cg, kh, kw], dy.elem, 0.0)
    # loops (g, f, c, a, b, n, i, j): dw[g, f, c, a, b] += dy[n, g, f, i, j] ·
    # x[n, g, c, i·s + a·d, j·s + b·d]
    (sh, sw), (dh, dw) = strides, dilations
    maps = [_map(8, ["d5", "d0", "d1", "d6", "d7"]),
            _map(8, ["d5", "d0", "d2", f"d6 * {sh} + d3 * {dh}", f"d7 * {sw} + d4 * {dw}"]),
            _map(8, ["d0", "d1", "d2", "d3", "d4"])]

    def body(a):
        return [k.bin("addf", a[2], k.bin("mulf", a[0], a[1], dy.elem), dy.elem)]
    (result,) = k.generic([dyg, xg], [init], maps, ["parallel"] * 5 + ["reduction"] * 3, body)
    return k.collapse(result, [[0, 1], [2], [3], [4]])


def _packed_grad_weight(k: _Kernel, dy: _T, xp: _T, shape, strides, dilations) -> _T:
    """dWᵀ [C·KH·KW, O] = Σ_n cols(x[n]) [C·KH·KW, OH·OW] · dy[n]ᵀ [OH·OW, O], with the
    forward's window packing (cheap: contiguous along the output width), accumulated
    sample by sample (dy[n]ᵀ zero-padded to the matmul's padded column count), then
    transposed to [O, C, KH, KW]."""
    o, c, kh, kw = shape
    n = xp.shape[0]
    oh, ow = dy.shape[2:]
    padded = padded_columns(o)
    dy3 = k.collapse(dy, [[0], [1], [2, 3]])

    def sample(i, acc):
        cols = _im2col(k, k.sample(xp, i), (kh, kw), strides, dilations, (oh, ow))
        dy_t = k.transpose(k.sample(dy3, i), [1, 0])                 # [OH·OW, O]
        dy_t = k.pad(dy_t, [0, 0], [0, padded - o], 0.0)
        return k.tiled_matmul(cols, dy_t, acc)
    dw_t = k.for_each_sample(n, k.full([c * kh * kw, padded], dy.elem, 0.0), sample)
    dw_t = k.extract_slice(dw_t, [0, 0], [c * kh * kw, o])
    return k.expand(k.transpose(dw_t, [1, 0]), [[0], [1, 2, 3]], list(shape))


def _depthwise_grad_weight(k: _Kernel, dy: _T, xp: _T, shape, strides, dilations) -> _T:
    """dW[c, 0, a, b] = Σ_{n, i, j} dy[n, c, i, j] · xp[n, c, i·s + a·d, j·s + b·d].
    Stride 1: over the flattened rows (dy widened to the padded width with zeros), a
    contiguous reduction per tap. Otherwise accumulated per output column j first (the
    innermost loop stays parallel) and then summed over j."""
    c, _, kh, kw = shape
    oh, ow = dy.shape[2:]
    (sh, sw), (dh, dw) = strides, dilations
    e = dy.elem
    if (sh, sw) == (1, 1):
        n, _, hp, wp = xp.shape
        xf = _flat_rows(k, xp, (kw - 1) * dw)
        dyf = k.collapse(k.pad(dy, [0, 0, 0, 0], [0, 0, 0, wp - ow], 0.0), [[0], [1], [2, 3]])
        # loops (c, a, b, n, q)
        maps = [_map(5, ["d3", "d0", "d4"]),
                _map(5, ["d3", "d0", f"d4 + d1 * {dh * wp} + d2 * {dw}"]),
                _map(5, ["d0", "d1", "d2"])]
        (dw_,) = k.generic([dyf, xf], [k.full([c, kh, kw], e, 0.0)], maps,
                           ["parallel"] * 3 + ["reduction"] * 2,
                           lambda a: [k.bin("addf", a[2], k.bin("mulf", a[0], a[1], e), e,
                                            reassoc=True)])
        return k.reshape(dw_, list(shape))
    init = k.full([c, kh, kw, ow], e, 0.0)
    # loops (c, a, b, n, i, j)
    maps = [_map(6, ["d3", "d0", "d4", "d5"]),
            _map(6, ["d3", "d0", f"d4 * {sh} + d1 * {dh}", f"d5 * {sw} + d2 * {dw}"]),
            _map(6, ["d0", "d1", "d2", "d5"])]
    (partial,) = k.generic([dy, xp], [init], maps, ["parallel"] * 3 + ["reduction"] * 2
                           + ["parallel"], lambda a: [k.bin("addf", a[2], k.bin(
                               "mulf", a[0], a[1], e), e)])
    return k.reshape(k.reduce(partial, [3]), list(shape))


# -- element-wise ---------------------------------------------------------------------------

def _binary(opname):
    def lower(k: _Kernel, op, a, b):
        return k.elementwise([a, b], lambda x, y: k.bin(opname, x, y, a.elem))
    return lower


_LOWERINGS["train.add"] = _binary("addf")
_LOWERINGS["train.mul"] = _binary("mulf")


def _max_of(k: _Kernel, v: str, bound: str, e: str) -> str:
    """max(v, bound) propagating NaN as np.maximum (a compare and select, which
    vectorizes better than arith.maximumf)."""
    return k.select(k.cmpf("olt", v, bound, e), bound, v, e)


def _min_of(k: _Kernel, v: str, bound: str, e: str) -> str:
    return k.select(k.cmpf("ogt", v, bound, e), bound, v, e)


@_lowering("relu")
def _relu(k: _Kernel, op, x):
    return k.elementwise([x], lambda v: _max_of(k, v, k.const(0.0, x.elem), x.elem))


@_lowering("clamp")
def _clamp(k: _Kernel, op, x):
    lo, hi = _f32(op, "min"), _f32(op, "max")
    e = x.elem
    return k.elementwise([x], lambda v: _min_of(k, _max_of(k, v, k.const(lo, e), e),
                                                k.const(hi, e), e))


@_lowering("hardswish")
def _hardswish(k: _Kernel, op, x):
    e = x.elem

    def body(v):
        shifted = k.bin("addf", v, k.const(3.0, e), e)
        clamped = _min_of(k, _max_of(k, shifted, k.const(0.0, e), e), k.const(6.0, e), e)
        return k.bin("divf", k.bin("mulf", v, clamped, e), k.const(6.0, e), e)
    return k.elementwise([x], body)


@_lowering("sigmoid")
def _sigmoid(k: _Kernel, op, x):
    e = x.elem

    def body(v):
        # e = exp(-|x|); x >= 0 ? 1 / (1 + e) : e / (1 + e)
        ex = k.un("math.exp", k.un("arith.negf", k.un("math.absf", v, e), e), e)
        one = k.const(1.0, e)
        denominator = k.bin("addf", one, ex, e)
        positive = k.bin("divf", one, denominator, e)
        negative = k.bin("divf", ex, denominator, e)
        return k.select(k.cmpf("oge", v, k.const(0.0, e), e), positive, negative, e)
    return k.elementwise([x], body)


def _erf64(k: _Kernel, v: str, elem: str) -> tuple[str, str]:
    """(x as f64, erf(x / √2) in f64)."""
    wide = v if elem == "f64" else k.emit(f"arith.extf {v} : {elem} to f64")
    scaled = k.bin("divf", wide, k.const(math.sqrt(2), "f64"), "f64")
    return wide, k.un("math.erf", scaled, "f64")


def _narrow(k: _Kernel, v: str, elem: str) -> str:
    return v if elem == "f64" else k.emit(f"arith.truncf {v} : f64 to {elem}")


@_lowering("gelu")
def _gelu(k: _Kernel, op, x):
    e = x.elem
    tanh = _unit(op, "tanh")

    def body(v):
        half_x = k.bin("divf", v, k.const(2.0, e), e)
        if tanh:
            cube = k.bin("mulf", k.bin("mulf", v, v, e), v, e)
            inner = k.bin("mulf", k.const(math.sqrt(2 / math.pi), e), k.bin(
                "addf", v, k.bin("mulf", k.const(0.044715, e), cube, e), e), e)
            t = k.un("math.tanh", inner, e)
        else:
            t = _narrow(k, _erf64(k, v, e)[1], e)
        return k.bin("mulf", half_x, k.bin("addf", k.const(1.0, e), t, e), e)
    return k.elementwise([x], body)


@_lowering("relu_grad")
def _relu_grad(k: _Kernel, op, dy, y):
    e = dy.elem

    def body(g, v):
        return k.select(k.cmpf("ogt", v, k.const(0.0, e), e), g, k.const(0.0, e), e)
    return k.elementwise([dy, y], body)


@_lowering("clamp_grad")
def _clamp_grad(k: _Kernel, op, dy, x):
    e = dy.elem
    lo, hi = _f32(op, "min"), _f32(op, "max")

    def body(g, v):
        above = k.cmpf("ogt", v, k.const(lo, e), e)
        below = k.cmpf("olt", v, k.const(hi, e), e)
        inside = k.emit(f"arith.andi {above}, {below} : i1")
        return k.select(inside, g, k.const(0.0, e), e)
    return k.elementwise([dy, x], body)


@_lowering("clamp_mask")
def _clamp_mask(k: _Kernel, op, x):
    """One bit [lo < x_i < hi] per element, eight a byte (least significant first): the
    bits of the flattened input (zero-padded to whole bytes) as [bytes, 8], each row
    reduced by or-ing bit j shifted left by j."""
    count = int(np.prod(x.shape))
    size = -(-count // 8)
    inside = _mask_predicate(k, op, x.elem)
    flat = k.reshape(x, [count])
    bits = k.elementwise([flat], lambda v: k.emit(f"arith.extui {inside(v)} : i1 to i8"),
                         elem="i8")
    if size * 8 != count:
        bits = k.insert_slice(bits, k.full([size * 8], "i8", 0), [0])
    rows = k.expand(bits, [[0, 1]], [size, 8])

    def pack(a):
        shift = k.emit(f"arith.index_cast {k.emit('linalg.index 1 : index')} : index to i8")
        return [k.emit(f"arith.ori {k.emit(f'arith.shli {a[0]}, {shift} : i8')}, {a[1]} : i8")]
    (mask,) = k.generic([rows], [k.full([size], "i8", 0)], [_identity(2), _map(2, ["d0"])],
                        ["parallel", "reduction"], pack)
    return mask


def _mask_predicate(k: _Kernel, op, elem: str):
    """v -> the i1 [lo < v < hi] of an element of clamp_mask's input. An int8 input is
    compared as a storage value: qa <= q <= qb, the interval of the storage values whose
    f32 real value (as quant.dcast rounds it) lies strictly inside the bounds (dequantize
    is increasing, so they are an interval; an empty one has qa > qb)."""
    lo, hi = _f32(op, "min"), _f32(op, "max")
    if elem in _FLOATS:
        def inside(v):
            above = k.cmpf("ogt", v, k.const(lo, elem), elem)
            below = k.cmpf("olt", v, k.const(hi, elem), elem)
            return k.emit(f"arith.andi {above}, {below} : i1")
        return inside
    from ..runtime.quantized_ops import mask_interval
    element = _int8_per_tensor(op.operands[0].type)
    qa, qb = mask_interval(scale=element.scale, zp=element.zero_point, qmin=-128, qmax=127,
                           lo=lo, hi=hi)

    def inside_storage(q):
        above = k.emit(f"arith.cmpi sge, {q}, {k.emit(f'arith.constant {qa} : i8')} : i8")
        below = k.emit(f"arith.cmpi sle, {q}, {k.emit(f'arith.constant {qb} : i8')} : i8")
        return k.emit(f"arith.andi {above}, {below} : i1")
    return inside_storage


@_lowering("mask_grad")
def _mask_grad(k: _Kernel, op, dy, mask):
    """dx_i = dy_i where bit i % 8 of mask byte i / 8 is 1, else 0: one linalg.generic
    over the flattened dy reading the byte of each element (map d0 floordiv 8)."""
    e = dy.elem
    count = int(np.prod(dy.shape))
    flat = k.reshape(dy, [count])

    def body(a):
        position = k.emit(f"arith.remui {k.emit('linalg.index 0 : index')}, "
                          f"{k.index_const(8)} : index")
        shift = k.emit(f"arith.index_cast {position} : index to i8")
        bit = k.emit(f"arith.andi {k.emit(f'arith.shrui {a[1]}, {shift} : i8')}, "
                     f"{k.emit('arith.constant 1 : i8')} : i8")
        hit = k.emit(f"arith.cmpi ne, {bit}, {k.emit('arith.constant 0 : i8')} : i8")
        return [k.select(hit, a[0], k.const(0.0, e), e)]
    (dx,) = k.generic([flat, mask], [k.empty([count], e)],
                      [_identity(1), _map(1, ["d0 floordiv 8"]), _identity(1)],
                      ["parallel"], body)
    return k.reshape(dx, dy.shape)


@_lowering("sigmoid_grad")
def _sigmoid_grad(k: _Kernel, op, dy, y):
    e = dy.elem

    def body(g, v):
        return k.bin("mulf", k.bin("mulf", g, k.bin("subf", k.const(1.0, e), v, e), e), v, e)
    return k.elementwise([dy, y], body)


@_lowering("hardswish_grad")
def _hardswish_grad(k: _Kernel, op, dy, x):
    e = dy.elem

    def body(g, v):
        middle = k.bin("mulf", g, k.bin("addf", k.bin("divf", v, k.const(3.0, e), e),
                                        k.const(0.5, e), e), e)
        upper = k.select(k.cmpf("olt", v, k.const(3.0, e), e), middle, g, e)
        return k.select(k.cmpf("ole", v, k.const(-3.0, e), e), k.const(0.0, e), upper, e)
    return k.elementwise([dy, x], body)


@_lowering("gelu_grad")
def _gelu_grad(k: _Kernel, op, dy, x):
    e = dy.elem
    tanh = _unit(op, "tanh")

    def body(g, v):
        if tanh:
            beta, kappa, half = k.const(math.sqrt(2 / math.pi), e), k.const(0.044715, e), \
                k.const(0.5, e)
            one = k.const(1.0, e)
            cube = k.bin("mulf", k.bin("mulf", k.bin("mulf", kappa, v, e), v, e), v, e)
            t = k.un("math.tanh", k.bin("mulf", beta, k.bin("addf", v, cube, e), e), e)
            left = k.bin("mulf", half, k.bin("addf", one, t, e), e)
            # half * x * (1 - t*t) * beta * (1 + 3 * kappa * x * x)
            three_kappa = k.const(float(np.float32(3) * np.float32(0.044715)) if e == "f32"
                                  else 3 * _FLOATS[e](0.044715), e)
            poly = k.bin("addf", one, k.bin("mulf", k.bin("mulf", three_kappa, v, e), v, e), e)
            right = k.bin("mulf", k.bin("mulf", k.bin("mulf", k.bin("mulf", half, v, e),
                                                      k.bin("subf", one, k.bin(
                                                          "mulf", t, t, e), e), e),
                                        beta, e), poly, e)
            return k.bin("mulf", g, k.bin("addf", left, right, e), e)
        wide, erf = _erf64(k, v, e)
        cdf = k.bin("mulf", k.const(0.5, "f64"), k.bin("addf", k.const(1.0, "f64"), erf, "f64"),
                    "f64")
        square = k.bin("mulf", k.bin("mulf", k.const(-0.5, "f64"), wide, "f64"), wide, "f64")
        pdf = k.bin("divf", k.un("math.exp", square, "f64"),
                    k.const(math.sqrt(2 * math.pi), "f64"), "f64")
        slope = k.bin("addf", cdf, k.bin("mulf", wide, pdf, "f64"), "f64")
        return k.bin("mulf", g, _narrow(k, slope, e), e)
    return k.elementwise([dy, x], body)


# -- layout ---------------------------------------------------------------------------------

@_lowering("transpose")
def _transpose(k: _Kernel, op, x):
    perm = _array(op, "permutation")
    init = k.empty(_shape(op.results[0]), x.elem)
    name = k.emit(f"linalg.transpose ins({x} : {x.type}) outs({init} : {init.type}) "
                  f"permutation = {_i64s(perm)}")
    return _T(name, init.shape, init.elem)


@_lowering("broadcast")
def _broadcast(k: _Kernel, op, x):
    shape = _shape(op.results[0])
    lead = len(shape) - x.rank
    exprs = [("0" if d == 1 and shape[lead + i] != 1 else f"d{lead + i}")
             for i, d in enumerate(x.shape)]
    return k.elementwise([x], lambda v: v, maps=[_map(len(shape), exprs)], shape=shape)


@_lowering("sum_to")
def _sum_to(k: _Kernel, op, x):
    shape = _shape(op.results[0])
    lead = x.rank - len(shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(shape)
                                if d == 1 and x.shape[lead + i] != 1]
    if not axes:
        return k.reshape(x, shape)
    return k.reshape(k.reduce(x, axes), shape)


@_lowering("slice")
def _slice(k: _Kernel, op, x):
    return k.extract_slice(x, _array(op, "offsets"), _array(op, "sizes"))


@_lowering("pad_to")
def _pad_to(k: _Kernel, op, x):
    offsets = _array(op, "offsets")
    shape = _shape(op.results[0])
    high = [s - o - d for s, o, d in zip(shape, offsets, x.shape)]
    return k.pad(x, offsets, high, 0.0)


@_lowering("concat")
def _concat(k: _Kernel, op, *values):
    axis = _int(op, "axis")
    shape = _shape(op.results[0])
    if len(values) == 1:
        return values[0]
    result = k.empty(shape, values[0].elem)
    offset = 0
    for v in values:
        offsets = [0] * len(shape)
        offsets[axis] = offset
        result = k.insert_slice(v, result, offsets)
        offset += v.shape[axis]
    return result


# -- pooling --------------------------------------------------------------------------------

def _pool_geometry(op):
    g = train.PoolGeometry.of(op)
    return list(g.kernel), list(g.stride), list(g.padding)


def _window_counts(input_hw, kernel, stride, padding, out_hw) -> np.ndarray:
    """How many input (not padding) pixels each pooling window covers: [OH, OW]."""
    counts = []
    for size, kk, s, p, out in zip(input_hw, kernel, stride, padding, out_hw):
        start = np.arange(out) * s - p
        counts.append(np.minimum(start + kk, size) - np.maximum(start, 0))
    return np.outer(counts[0], counts[1]).astype(np.float64)


def _divide_by_window(k: _Kernel, x: _T, count_include_pad, kernel, stride, padding,
                      input_hw) -> _T:
    e = x.elem
    if count_include_pad:
        return k.elementwise([x], lambda v: k.bin("divf", v, k.const(
            kernel[0] * kernel[1], e), e))
    counts = k.constant(_window_counts(input_hw, kernel, stride, padding, x.shape[2:]), e)
    return k.elementwise([x, counts], lambda v, c: k.bin("divf", v, c, e),
                         maps=[_identity(4), _map(4, ["d2", "d3"])])


@_lowering("avg_pool2d")
def _avg_pool2d(k: _Kernel, op, x):
    kernel, stride, padding = _pool_geometry(op)
    shape = _shape(op.results[0])
    xp = k.pad(x, [0, 0, *padding], [0, 0, *padding], 0.0)
    window = k.empty(kernel, x.elem)
    sums = k.named("pooling_nchw_sum", [xp, window], k.full(shape, x.elem, 0.0),
                   _strides_attrs(stride, [1, 1]))
    return _divide_by_window(k, sums, _unit(op, "count_include_pad"), kernel, stride,
                             padding, x.shape[2:])


@_lowering("max_pool2d")
def _max_pool2d(k: _Kernel, op, x):
    kernel, stride, padding = _pool_geometry(op)
    shape = _shape(op.results[0])
    xp = k.pad(x, [0, 0, *padding], [0, 0, *padding], -math.inf)
    window = k.empty(kernel, x.elem)
    return k.named("pooling_nchw_max", [xp, window], k.full(shape, x.elem, -math.inf),
                   _strides_attrs(stride, [1, 1]))


@_lowering("global_avg_pool")
def _global_avg_pool(k: _Kernel, op, x):
    e = x.elem
    count = x.shape[2] * x.shape[3]
    sums = k.reduce(x, [2, 3])
    mean = k.elementwise([sums], lambda v: k.bin("divf", v, k.const(count, e), e))
    return k.reshape(mean, _shape(op.results[0]))


@_lowering("avg_pool2d_grad")
def _avg_pool2d_grad(k: _Kernel, op, dy):
    kernel, stride, padding = _pool_geometry(op)
    shape = _shape(op.results[0])
    g = _divide_by_window(k, dy, _unit(op, "count_include_pad"), kernel, stride, padding,
                          shape[2:])
    if kernel == stride and padding == [0, 0]:
        # Windows that tile the input: each input pixel gets its window's g (the pixels
        # beyond the last window get 0).
        (kh, kw), (oh, ow) = kernel, dy.shape[2:]
        covered = [*shape[:2], oh * kh, ow * kw]
        dx = k.elementwise([g], lambda v: v, shape=covered, maps=[
            _map(4, ["d0", "d1", f"d2 floordiv {kh}", f"d3 floordiv {kw}"])])
        return k.pad(dx, [0, 0, 0, 0], [0, 0, shape[2] - covered[2], shape[3] - covered[3]],
                     0.0)
    low = [kk - 1 - p for kk, p in zip(kernel, padding)]
    size = [s + kk - 1 for s, kk in zip(shape[2:], kernel)]
    gp = _dilate_pad(k, g, stride, low, size)
    window = k.empty(kernel, dy.elem)
    return k.named("pooling_nchw_sum", [gp, window], k.full(shape, dy.elem, 0.0),
                   _strides_attrs([1, 1], [1, 1]))


@_lowering("max_pool2d_grad")
def _max_pool2d_grad(k: _Kernel, op, dy, x):
    kernel, stride, padding = _pool_geometry(op)
    (kh, kw), (sh, sw) = kernel, stride
    e = x.elem
    xp = k.pad(x, [0, 0, *padding], [0, 0, *padding], -math.inf)
    # First maximum of each window: loops (n, c, i, j, a, b), strict > keeps the first.
    best = k.full(dy.shape, e, -math.inf)
    first = k.full(dy.shape, "i32", 0)
    window = k.empty(kernel, e)
    maps = [_map(6, ["d0", "d1", f"d2 * {sh} + d4", f"d3 * {sw} + d5"]), _map(6, ["d4", "d5"]),
            _map(6, ["d0", "d1", "d2", "d3"]), _map(6, ["d0", "d1", "d2", "d3"])]

    def argmax(a):
        position = k.emit(f"arith.index_cast {_window_position(k, kw)} : index to i32")
        greater = k.cmpf("ogt", a[0], a[2], e)
        return [k.select(greater, a[0], a[2], e),
                k.emit(f"arith.select {greater}, {position}, {a[3]} : i32")]
    _, first = k.generic([xp, window], [best, first], maps,
                         ["parallel"] * 4 + ["reduction"] * 2, argmax)
    # dx[h, w] = Σ_{a, b} dy at window (i, j) with i·s + (KH-1-a) = h + p ... computed on
    # dy and first dilated and padded like a transposed convolution: the flipped window
    # position (KH-1-a, KW-1-b) must be the window's first maximum.
    shape = x.shape
    low = [kk - 1 - p for kk, p in zip(kernel, padding)]
    size = [s + kk - 1 for s, kk in zip(shape[2:], kernel)]
    dyp = _dilate_pad(k, dy, stride, low, size)
    firstp = _dilate_pad(k, first, stride, low, size, -1)     # -1: no window position
    init = k.full(shape, e, 0.0)
    maps = [_map(6, ["d0", "d1", "d2 + d4", "d3 + d5"]),
            _map(6, ["d0", "d1", "d2 + d4", "d3 + d5"]), _map(6, ["d4", "d5"]),
            _map(6, ["d0", "d1", "d2", "d3"])]

    def gather(a):
        a_index = k.emit("linalg.index 4 : index")
        b_index = k.emit("linalg.index 5 : index")
        flipped_a = k.emit(f"arith.subi {k.index_const(kh - 1)}, {a_index} : index")
        flipped_b = k.emit(f"arith.subi {k.index_const(kw - 1)}, {b_index} : index")
        row = k.emit(f"arith.muli {flipped_a}, {k.index_const(kw)} : index")
        position = k.emit(f"arith.addi {row}, {flipped_b} : index")
        position = k.emit(f"arith.index_cast {position} : index to i32")
        hit = k.emit(f"arith.cmpi eq, {a[1]}, {position} : i32")
        return [k.bin("addf", a[3], k.select(hit, a[0], k.const(0.0, e), e), e)]
    (result,) = k.generic([dyp, firstp, window], [init], maps,
                          ["parallel"] * 4 + ["reduction"] * 2, gather)
    return result


def _window_position(k: _Kernel, kw: int) -> str:
    """Row-major position a·KW + b of loops 4, 5 in a window."""
    a_index = k.emit("linalg.index 4 : index")
    b_index = k.emit("linalg.index 5 : index")
    row = k.emit(f"arith.muli {a_index}, {k.index_const(kw)} : index")
    return k.emit(f"arith.addi {row}, {b_index} : index")


# -- normalization, softmax -------------------------------------------------------------------

@_lowering("batch_norm")
def _batch_norm(k: _Kernel, op, x, gamma, beta, mean, var):
    e = x.elem
    eps = _f32(op, "epsilon")
    channel = _map(x.rank, ["d1"])

    def body(v, g, b, m, s):
        rstd = k.un("math.sqrt", k.bin("addf", s, k.const(eps, e), e), e)
        return k.bin("addf", k.bin("mulf", k.bin("divf", k.bin("subf", v, m, e), rstd, e),
                                   g, e), b, e)
    return k.elementwise([x, gamma, beta, mean, var], body,
                         maps=[_identity(x.rank)] + [channel] * 4)


@_lowering("softmax")
def _softmax(k: _Kernel, op, x):
    e = x.elem
    axis = _int(op, "axis")
    reduced = k.kept_map(x.rank, [axis])
    peak = k.reduce(x, [axis], "maximumf", -math.inf)
    ex = k.elementwise([x, peak], lambda v, m: k.un("math.exp", k.bin("subf", v, m, e), e),
                       maps=[_identity(x.rank), reduced])
    total = k.reduce(ex, [axis])
    return k.elementwise([ex, total], lambda v, s: k.bin("divf", v, s, e),
                         maps=[_identity(x.rank), reduced])


@_lowering("softmax_grad")
def _softmax_grad(k: _Kernel, op, dy, y):
    e = dy.elem
    axis = _int(op, "axis")
    reduced = k.kept_map(y.rank, [axis])
    product = k.elementwise([dy, y], lambda g, v: k.bin("mulf", g, v, e))
    total = k.reduce(product, [axis])
    return k.elementwise([dy, y, total], lambda g, v, s: k.bin(
        "mulf", v, k.bin("subf", g, s, e), e), maps=[_identity(y.rank)] * 2 + [reduced])


def _moments(k: _Kernel, x: _T, axes):
    """(x - mean, var) over `axes` (biased), as the reference computes them."""
    e = x.elem
    count = int(np.prod([x.shape[a] for a in axes]))
    reduced = k.kept_map(x.rank, axes)
    mean = k.elementwise([k.reduce(x, axes)], lambda s: k.bin("divf", s, k.const(count, e), e))
    centered = k.elementwise([x, mean], lambda v, m: k.bin("subf", v, m, e),
                             maps=[_identity(x.rank), reduced])
    squares = k.reduce(centered, axes, body=lambda v: k.bin("mulf", v, v, e))
    var = k.elementwise([squares], lambda s: k.bin("divf", s, k.const(count, e), e))
    return centered, var, reduced


@_lowering("layer_norm")
def _layer_norm(k: _Kernel, op, x, w, b):
    e = x.elem
    eps = _f32(op, "epsilon")
    axes = list(range(x.rank - w.rank, x.rank))
    centered, var, reduced = _moments(k, x, axes)
    params = _map(x.rank, [f"d{a}" for a in axes])

    def body(c, s, weight, bias):
        rstd = k.un("math.sqrt", k.bin("addf", s, k.const(eps, e), e), e)
        return k.bin("addf", k.bin("mulf", k.bin("divf", c, rstd, e), weight, e), bias, e)
    return k.elementwise([centered, var, w, b], body,
                         maps=[_identity(x.rank), reduced, params, params])


@_lowering("layer_norm_grad_input")
def _layer_norm_grad_input(k: _Kernel, op, dy, x, w):
    e = x.elem
    eps = _f32(op, "epsilon")
    axes = list(range(x.rank - w.rank, x.rank))
    count = int(np.prod([x.shape[a] for a in axes]))
    centered, var, reduced = _moments(k, x, axes)
    params = _map(x.rank, [f"d{a}" for a in axes])
    ident = _identity(x.rank)
    rstd = k.elementwise([var], lambda s: k.bin("divf", k.const(1.0, e), k.un(
        "math.sqrt", k.bin("addf", s, k.const(eps, e), e), e), e))
    xhat = k.elementwise([centered, rstd], lambda c, r: k.bin("mulf", c, r, e),
                         maps=[ident, reduced])
    g = k.elementwise([dy, w], lambda a, b: k.bin("mulf", a, b, e), maps=[ident, params])
    mean_g = k.elementwise([k.reduce(g, axes)], lambda s: k.bin("divf", s, k.const(count, e), e))
    gx = k.elementwise([g, xhat], lambda a, b: k.bin("mulf", a, b, e))
    mean_gx = k.elementwise([k.reduce(gx, axes)],
                            lambda s: k.bin("divf", s, k.const(count, e), e))

    def body(r, gv, mg, xh, mgx):
        inner = k.bin("subf", k.bin("subf", gv, mg, e), k.bin("mulf", xh, mgx, e), e)
        return k.bin("mulf", r, inner, e)
    return k.elementwise([rstd, g, mean_g, xhat, mean_gx], body, shape=x.shape,
                         maps=[reduced, ident, reduced, ident, reduced])


@_lowering("bias_grad")
def _bias_grad(k: _Kernel, op, dy):
    return k.reduce(dy, [0] + list(range(2, dy.rank)))


# -- losses ---------------------------------------------------------------------------------

def _scalar_op(k: _Kernel, x: _T, body) -> _T:
    """A 0-d tensor computed from the 0-d x."""
    init = k.empty([], x.elem)
    (result,) = k.generic([x], [init], ["affine_map<() -> ()>"] * 2, [],
                          lambda a: [body(a[0])])
    return result


@_lowering("mse")
def _mse(k: _Kernel, op, p, t):
    e = p.elem
    diff = k.elementwise([p, t], lambda a, b: k.bin("subf", a, b, e))
    total = k.reduce(diff, list(range(p.rank)), body=lambda v: k.bin("mulf", v, v, e))
    size = int(np.prod(p.shape))
    return _scalar_op(k, total, lambda v: k.bin("divf", v, k.const(size, e), e))


@_lowering("mse_grad")
def _mse_grad(k: _Kernel, op, p, t):
    e = p.elem
    scale = 2 / int(np.prod(p.shape))
    return k.elementwise([p, t], lambda a, b: k.bin("mulf", k.bin("subf", a, b, e),
                                                    k.const(scale, e), e))


def _label_hit(k: _Kernel, label: str, label_type: str) -> str:
    """i1: the class loop index (1) equals the label."""
    c = k.emit("linalg.index 1 : index")
    index = k.emit(f"arith.index_cast {label} : {label_type} to index")
    return k.emit(f"arith.cmpi eq, {c}, {index} : index")


def _softmax_rows(k: _Kernel, x: _T):
    """(max over classes [N], exp(x - max) [N, C], its row sums [N])."""
    e = x.elem
    peak = k.reduce(x, [1], "maximumf", -math.inf)
    row = _map(2, ["d0"])
    ex = k.elementwise([x, peak], lambda v, m: k.un("math.exp", k.bin("subf", v, m, e), e),
                       maps=[_identity(2), row])
    return peak, ex, k.reduce(ex, [1])


@_lowering("cross_entropy")
def _cross_entropy(k: _Kernel, op, x, labels):
    e = x.elem
    n = x.shape[0]
    peak, _, total = _softmax_rows(k, x)
    row = _map(2, ["d0"])
    # picked[n] = Σ_c (c == label[n] ? x[n, c] : 0)
    init = k.full([n], e, 0.0)

    def pick(a):
        hit = _label_hit(k, a[1], labels.elem)
        return [k.bin("addf", a[2], k.select(hit, a[0], k.const(0.0, e), e), e)]
    (picked,) = k.generic([x, labels], [init], [_identity(2), row, row],
                          ["parallel", "reduction"], pick)
    init = k.full([], e, 0.0)
    one_d = "affine_map<(d0) -> (d0)>"

    def loss(a):
        lse = k.bin("addf", a[0], k.un("math.log", a[1], e), e)
        return [k.bin("addf", a[3], k.bin("subf", lse, a[2], e), e)]
    (summed,) = k.generic([peak, total, picked], [init],
                          [one_d] * 3 + ["affine_map<(d0) -> ()>"], ["reduction"], loss)
    return _scalar_op(k, summed, lambda v: k.bin("divf", v, k.const(n, e), e))


@_lowering("cross_entropy_grad")
def _cross_entropy_grad(k: _Kernel, op, x, labels):
    e = x.elem
    n = x.shape[0]
    _, ex, total = _softmax_rows(k, x)
    row = _map(2, ["d0"])
    init = k.empty(x.shape, e)

    def body(a):
        hit = _label_hit(k, a[2], labels.elem)
        onehot = k.select(hit, k.const(1.0, e), k.const(0.0, e), e)
        return [k.bin("divf", k.bin("subf", k.bin("divf", a[0], a[1], e), onehot, e),
                      k.const(n, e), e)]
    (result,) = k.generic([ex, total, labels], [init], [_identity(2), row, row, _identity(2)],
                          ["parallel", "parallel"], body)
    return result


# -- optimizers -----------------------------------------------------------------------------

def _decayed(k: _Kernel, g: str, p: str, weight_decay: float, e: str) -> str:
    if not weight_decay:
        return g
    return k.bin("addf", g, k.bin("mulf", k.const(weight_decay, e), p, e), e)


@_lowering("sgd")
def _sgd(k: _Kernel, op, p, g):
    e = p.elem
    lr, wd = _f32(op, "lr"), _f32(op, "weight_decay", 0.0)
    return k.elementwise([p, g], lambda pv, gv: k.bin("subf", pv, k.bin(
        "mulf", k.const(lr, e), _decayed(k, gv, pv, wd, e), e), e))


@_lowering("sgd_momentum")
def _sgd_momentum(k: _Kernel, op, p, g, m):
    e = p.elem
    lr, momentum = _f32(op, "lr"), _f32(op, "momentum")
    wd = _f32(op, "weight_decay", 0.0)
    outs = [k.empty(p.shape, e), k.empty(p.shape, e)]

    def body(a):
        pv, gv, mv = a[:3]
        new_m = k.bin("addf", k.bin("mulf", k.const(momentum, e), mv, e),
                      _decayed(k, gv, pv, wd, e), e)
        return [k.bin("subf", pv, k.bin("mulf", k.const(lr, e), new_m, e), e), new_m]
    return k.generic([p, g, m], outs, [_identity(p.rank)] * 5, ["parallel"] * p.rank, body)

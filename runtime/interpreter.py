"""Reference interpreter: runs a train-dialect function on numpy arrays.

Each op is executed by its function in `reference_ops` (the documented
semantics), one op at a time in program order; quantized ops (and quant.qcast /
quant.dcast) by `quantized_execution.EXECUTORS`. Arrays take the dtype of the
MLIR element type (f32 -> float32, i32 -> int32, ...; a quantized type -> its
storage type, int8). This is the oracle that every code generator is tested
against.
"""

from __future__ import annotations

import functools
import importlib
from typing import Callable, Mapping, Sequence

import numpy as np

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..compiler.errors import InputError, UnsupportedError, format_location
from ..compiler.source import find_function
from ..dialects import train
from . import reference_ops as ref

_DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i1": np.bool_,
           "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64}


def quantized_type(element_type: ir.Type) -> quant.QuantizedType | None:
    """`element_type` as a quant dialect type, or None if it is not one."""
    return element_type if isinstance(element_type, quant.QuantizedType) else None


def numpy_dtype(element_type: ir.Type) -> np.dtype:
    """The array dtype of an element type; a quantized type's is its storage type."""
    q = quantized_type(element_type)
    if q is not None:
        width = q.storage_type_integral_width
        if width not in (8, 16, 32, 64):
            raise UnsupportedError(f"element type {element_type} is not supported by the "
                                   "interpreter")
        return np.dtype(f"{'i' if q.is_signed else 'u'}{width // 8}")
    key = str(element_type)
    if key not in _DTYPES:
        raise UnsupportedError(f"element type {key} is not supported by the interpreter")
    return np.dtype(_DTYPES[key])


@functools.cache
def _quantized_executors() -> Mapping[str, Callable]:
    """`quantized_execution.EXECUTORS`, or nothing while that module does not exist."""
    name = f"{__package__}.quantized_execution"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return {}
    return module.EXECUTORS


@functools.cache
def _fixed_point():
    """The executors of int16 fixed-point gradient ops (imported on first use)."""
    return importlib.import_module(f"{__package__}.fixed_point_execution")


def _geometry(op) -> dict:
    g = train.ConvGeometry.of(op)
    return dict(stride=g.stride, padding=g.padding, dilation=g.dilation, groups=g.groups)


def _pool(op) -> dict:
    g = train.PoolGeometry.of(op)
    return dict(kernel=g.kernel, stride=g.stride, padding=g.padding)


def _result_shape(op) -> tuple:
    return tuple(train.shape_of(op.results[0]))


def _f32(op, name: str) -> float:
    return ir.FloatAttr(op.attributes[name]).value


def _i64(op, name: str) -> int:
    return ir.IntegerAttr(op.attributes[name]).value


def _f32_or(op, name: str, default: float) -> float:
    """An optional (default-valued) float attribute."""
    return _f32(op, name) if name in op.attributes else default


def _i64_array(op, name: str) -> tuple:
    return tuple(ir.DenseI64ArrayAttr(op.attributes[name]))


def _clamp(op) -> dict:
    """Real bounds; on a quantized result the storage bounds round_half_even(v/s) + z,
    within the storage range of the type."""
    lo, hi = _f32(op, "min"), _f32(op, "max")
    q = quantized_type(ir.RankedTensorType(op.results[0].type).element_type)
    if q is None:
        return {"min": lo, "max": hi}
    if not isinstance(q, quant.UniformQuantizedType):
        raise UnsupportedError(f"clamp of {q} (only per-tensor uniform quantization)",
                               format_location(op.location))
    # np.rint rounds half to even; infinite bounds clip to the storage range.
    lo, hi = (int(np.clip(np.rint(v / q.scale) + q.zero_point,
                          q.storage_type_min, q.storage_type_max)) for v in (lo, hi))
    return {"min": lo, "max": hi}


# Keyword attributes each op's reference function takes, read from the op.
_KWARGS: dict[str, Callable] = {
    "train.conv2d": _geometry,
    "train.conv2d_grad_input": lambda op: {**_geometry(op), "input_shape": _result_shape(op)},
    "train.conv2d_grad_weight": lambda op: {**_geometry(op), "weight_shape": _result_shape(op)},
    "train.reshape": lambda op: {"shape": _result_shape(op)},
    "train.broadcast": lambda op: {"shape": _result_shape(op)},
    "train.sgd": lambda op: {"lr": _f32(op, "lr"),
                             "weight_decay": _f32_or(op, "weight_decay", 0.0)},
    "train.sgd_momentum": lambda op: {"lr": _f32(op, "lr"), "momentum": _f32(op, "momentum"),
                                      "weight_decay": _f32_or(op, "weight_decay", 0.0)},
    "train.clamp": _clamp,
    "train.gelu": lambda op: {"tanh": "tanh" in op.attributes},
    "train.avg_pool2d": lambda op: {**_pool(op),
                                    "count_include_pad": "count_include_pad" in op.attributes},
    "train.max_pool2d": _pool,
    "train.concat": lambda op: {"axis": _i64(op, "axis")},
    "train.softmax": lambda op: {"axis": _i64(op, "axis")},
    "train.transpose": lambda op: {
        "permutation": tuple(ir.DenseI64ArrayAttr(op.attributes["permutation"]))},
    "train.batch_norm": lambda op: {"epsilon": _f32(op, "epsilon")},
    "train.layer_norm": lambda op: {"epsilon": _f32(op, "epsilon")},
    # Gradient ops.
    "train.sum_to": lambda op: {"shape": _result_shape(op)},
    "train.slice": lambda op: {"offsets": _i64_array(op, "offsets"),
                               "sizes": _i64_array(op, "sizes")},
    "train.pad_to": lambda op: {"offsets": _i64_array(op, "offsets"),
                                "shape": _result_shape(op)},
    "train.avg_pool2d_grad": lambda op: {
        **_pool(op), "input_shape": _result_shape(op),
        "count_include_pad": "count_include_pad" in op.attributes},
    "train.max_pool2d_grad": _pool,
    "train.clamp_grad": lambda op: {"min": _f32(op, "min"), "max": _f32(op, "max")},
    "train.clamp_mask": lambda op: {"min": _f32(op, "min"), "max": _f32(op, "max")},
    "train.gelu_grad": lambda op: {"tanh": "tanh" in op.attributes},
    "train.softmax_grad": lambda op: {"axis": _i64(op, "axis")},
    "train.layer_norm_grad_input": lambda op: {"epsilon": _f32(op, "epsilon")},
}


def _execute(op, args: list) -> list:
    name = op.name
    if name == "arith.constant":
        return [np.array(ir.DenseElementsAttr(op.attributes["value"]))]
    if name in _fixed_point().EXECUTORS and _fixed_point().is_fixed_point(op):
        return [np.asarray(result) for result in _fixed_point().EXECUTORS[name](op, args)]
    executor = _quantized_executors().get(name)
    if executor is not None:
        return [np.asarray(result) for result in executor(op, args)]
    if name not in ref.OPS:
        raise UnsupportedError(f"the interpreter does not support '{name}'",
                               format_location(op.location))
    kwargs = _KWARGS.get(name, lambda _: {})(op)
    results = ref.OPS[name](*args, **kwargs)
    # An op with several results (sgd_momentum) returns a tuple of arrays.
    results = list(results) if isinstance(results, tuple) else [results]
    if len(results) != len(op.results):
        raise UnsupportedError(f"'{name}' has {len(op.results)} results but its reference "
                               f"function gives {len(results)}", format_location(op.location))
    return [np.asarray(result) for result in results]


def bind_inputs(function: func.FuncOp, arrays: Mapping[str, np.ndarray]) -> list:
    """Orders named arrays as the function's arguments.

    An argument is found by its `train.name`, by `arg<i>` or by its position `<i>`.
    """
    bound = []
    for index, arg in enumerate(function.entry_block.arguments):
        keys = [train.arg_name(function, index), f"arg{index}", str(index)]
        key = next((k for k in keys if k in arrays), None)
        if key is None:
            raise InputError(f"no input for argument #{index} ({keys[0]}); "
                             f"inputs given: {', '.join(sorted(arrays)) or 'none'}")
        bound.append(arrays[key])
    return bound


def _coerce(function: func.FuncOp, inputs: Sequence) -> list:
    args = function.entry_block.arguments
    if len(inputs) != len(args):
        raise InputError(f"@{function.sym_name.value} takes {len(args)} arguments, "
                         f"got {len(inputs)}")
    coerced = []
    for index, (arg, value) in enumerate(zip(args, inputs)):
        tensor = ir.RankedTensorType(arg.type)
        array = np.asarray(value)
        if list(array.shape) != list(tensor.shape):
            raise InputError(f"argument #{index} ({train.arg_name(function, index)}) "
                             f"expects shape {list(tensor.shape)}, got {list(array.shape)}")
        q = quantized_type(tensor.element_type)
        if q is not None and not (np.issubdtype(array.dtype, np.integer) and (
                array.size == 0 or q.storage_type_min <= array.min() <= array.max()
                <= q.storage_type_max)):
            raise InputError(f"argument #{index} ({train.arg_name(function, index)}) "
                             f"of type {q} expects integer storage values in "
                             f"[{q.storage_type_min}, {q.storage_type_max}]")
        coerced.append(array.astype(numpy_dtype(tensor.element_type), copy=False))
    return coerced


def run_function(module: ir.Module, name: str, inputs: Sequence,
                 observe: Callable | None = None) -> list[np.ndarray]:
    """Runs @name on `inputs` (one array per argument) and returns its results;
    `observe(op, results)` is called after each op if given."""
    function = find_function(module, name)
    values = dict(zip(function.entry_block.arguments, _coerce(function, inputs)))
    for op in function.entry_block.operations:
        args = [values[v] for v in op.operands]
        if isinstance(op, func.ReturnOp):
            return args
        try:
            results = _execute(op, args)
        except ValueError as error:
            raise InputError(f"'{op.name}': {error}", format_location(op.location)) from None
        values.update(zip(op.results, results))
        if observe is not None:
            observe(op, results)
    raise InputError(f"@{name} has no return")


def result_names(module: ir.Module, name: str) -> list[str]:
    """Names of @name's results (their `train.name`, else `result<i>`)."""
    function = find_function(module, name)
    count = len(ir.FunctionType(function.function_type.value).results)
    return [train.result_name(function, i) for i in range(count)]

"""Reference interpreter: runs a train-dialect function on numpy arrays.

Each op is executed by its function in `reference_ops` (the documented
semantics), one op at a time in program order. Arrays take the dtype of the
MLIR element type (f32 -> float32, i32 -> int32, ...). This is the oracle that
every code generator is tested against.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from .._mlir import ir
from .._mlir.dialects import func
from ..compiler.errors import InputError, UnsupportedError, format_location
from ..compiler.source import find_function
from ..dialects import train
from . import reference_ops as ref

_DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i1": np.bool_,
           "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64}


def numpy_dtype(element_type: ir.Type) -> np.dtype:
    key = str(element_type)
    if key not in _DTYPES:
        raise UnsupportedError(f"element type {key} is not supported by the interpreter")
    return np.dtype(_DTYPES[key])


def _geometry(op) -> dict:
    g = train.ConvGeometry.of(op)
    return dict(stride=g.stride, padding=g.padding, dilation=g.dilation, groups=g.groups)


def _result_shape(op) -> tuple:
    return tuple(train.shape_of(op.results[0]))


# Keyword attributes each op's reference function takes, read from the op.
_KWARGS: dict[str, Callable] = {
    "train.conv2d": _geometry,
    "train.conv2d_grad_input": lambda op: {**_geometry(op), "input_shape": _result_shape(op)},
    "train.conv2d_grad_weight": lambda op: {**_geometry(op), "weight_shape": _result_shape(op)},
    "train.reshape": lambda op: {"shape": _result_shape(op)},
    "train.sgd": lambda op: {"lr": ir.FloatAttr(op.attributes["lr"]).value,
                             "weight_decay": ir.FloatAttr(op.attributes["weight_decay"]).value},
}


def _execute(op, args: list) -> list:
    name = op.name
    if name == "arith.constant":
        return [np.array(ir.DenseElementsAttr(op.attributes["value"]))]
    if name not in ref.OPS:
        raise UnsupportedError(f"the interpreter does not support '{name}'",
                               format_location(op.location))
    kwargs = _KWARGS.get(name, lambda _: {})(op)
    if name == "train.reshape":
        return [ref.reshape(args[0], kwargs["shape"])]
    return [np.asarray(ref.OPS[name](*args, **kwargs))]


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
        coerced.append(array.astype(numpy_dtype(tensor.element_type), copy=False))
    return coerced


def run_function(module: ir.Module, name: str, inputs: Sequence) -> list[np.ndarray]:
    """Runs @name on `inputs` (one array per argument) and returns its results."""
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
    raise InputError(f"@{name} has no return")


def result_names(module: ir.Module, name: str) -> list[str]:
    """Names of @name's results (their `train.name`, else `result<i>`)."""
    function = find_function(module, name)
    count = len(ir.FunctionType(function.function_type.value).results)
    return [train.result_name(function, i) for i in range(count)]

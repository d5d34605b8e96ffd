"""Initial values of a model's parameters: from a weights file, or PyTorch's
default initialisation computed at compile time with a fixed seed."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from .._mlir import ir
from .._mlir.dialects import func
from ..dialects import train
from ..runtime.interpreter import numpy_dtype
from .errors import InputError


def parameter_indices(function: func.FuncOp) -> list[int]:
    """Arguments that carry a `train.role`, in order."""
    count = len(function.entry_block.arguments)
    return [i for i in range(count) if train.arg_role(function, i) is not None]


def _fan_in(function: func.FuncOp, index: int) -> int:
    """Fan-in of the layer a parameter belongs to (its weight's in × kh × kw)."""
    arg = function.entry_block.arguments[index]
    for use in arg.uses:
        owner = use.owner
        if owner.name in ("train.linear", "train.conv2d"):
            weight = train.shape_of(owner.operands[1])
            return int(np.prod(weight[1:]))
    shape = train.shape_of(arg)
    return int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]


def default_parameters(function: func.FuncOp, seed: int = 0) -> dict[int, np.ndarray]:
    """PyTorch's default init for linear and conv layers: U(-1/√fan_in, 1/√fan_in)."""
    rng = np.random.default_rng(seed)
    values = {}
    for index in parameter_indices(function):
        shape = train.shape_of(function.entry_block.arguments[index])
        bound = 1.0 / np.sqrt(_fan_in(function, index))
        values[index] = rng.uniform(-bound, bound, size=shape).astype(np.float32)
    return values


def read_weights(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of a weights .npz by key."""
    try:
        with np.load(path) as data:
            return dict(data)
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read arrays: {error}", str(path)) from None


def load_parameters(function: func.FuncOp, path: str | Path) -> dict[int, np.ndarray]:
    """Parameters from an .npz keyed by `train.name`, `arg<i>` or position."""
    return select_parameters(function, read_weights(path), str(path))


def select_parameters(function: func.FuncOp, arrays: Mapping[str, np.ndarray],
                      source: str) -> dict[int, np.ndarray]:
    values = {}
    for index in parameter_indices(function):
        name = train.arg_name(function, index)
        key = next((k for k in (name, f"arg{index}", str(index)) if k in arrays), None)
        if key is None:
            raise InputError(f"no array for parameter '{name}' (argument #{index})", source)
        arg = function.entry_block.arguments[index]
        shape = train.shape_of(arg)
        # Quantized parameters keep their integer storage (int8 weights, int32 biases).
        dtype = numpy_dtype(ir.RankedTensorType(arg.type).element_type)
        array = np.asarray(arrays[key])
        if array.dtype != dtype and not (array.dtype.kind == "f" and dtype.kind == "f"):
            raise InputError(f"parameter '{name}' expects {dtype} values, got {array.dtype}",
                             source)
        array = array.astype(dtype, copy=False)
        if list(array.shape) != shape:
            raise InputError(f"parameter '{name}' expects shape {shape}, "
                             f"got {list(array.shape)}", source)
        values[index] = array
    return values

"""Triton kernels for the train dialect's ops: the GPU target's kernel library.

Each module exports `OPS` (op name -> a wrapper taking the reference function's
arguments plus `out=`), `FUSED` (op-name chain -> a fused wrapper), `AOT_CASES`
((jit function, signature, constexprs) triples that compile ahead of time) and, where
a wrapper takes keywords the interpreter's do not give (an int8 operand's
quantization), `KWARGS` (op name -> function of the MLIR op giving them). This package
merges them: `OPS`, `FUSED`, `KWARGS`, and `KERNELS`, every AOT case with its signature
in the kernel's argument order.

Run with TRITON_INTERPRET=1 (set before triton is imported) to execute the kernels on
CPU tensors.
"""

from __future__ import annotations

import importlib
from typing import Callable

MODULES = ("elementwise", "layout", "reduce", "pool", "norm", "loss", "optim",
           "matmul", "conv", "quantized", "mask")


def _load(name: str):
    """A kernel module, or None while it does not exist yet."""
    full = f"{__name__}.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as error:
        if error.name != full:
            raise
        return None


def _ordered(fn, signature: dict) -> dict:
    """`signature` in the order of fn's arguments (what ASTSource expects)."""
    names = list(getattr(fn, "arg_names", signature))
    missing = [n for n in names if n not in signature]
    if missing:
        raise ValueError(f"AOT signature of {getattr(fn, '__name__', fn)} lacks {missing}")
    return {n: signature[n] for n in names}


OPS: dict[str, Callable] = {}
FUSED: dict[tuple[str, ...], Callable] = {}
KWARGS: dict[str, Callable] = {}
KERNELS: list[tuple] = []
LOADED: list[str] = []

for _name in MODULES:
    _module = _load(_name)
    if _module is None:
        continue
    LOADED.append(_name)
    OPS.update(getattr(_module, "OPS", {}))
    FUSED.update(getattr(_module, "FUSED", {}))
    KWARGS.update(getattr(_module, "KWARGS", {}))
    for _fn, _signature, _constexprs in getattr(_module, "AOT_CASES", ()):
        KERNELS.append((_fn, _ordered(_fn, _signature), dict(_constexprs)))
del _name, _module

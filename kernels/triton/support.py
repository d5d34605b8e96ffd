"""Argument checks and result allocation shared by the Triton kernel wrappers.

Every wrapper takes torch tensors, checks them here (an `InputError` for a shape or
dtype mismatch, an `UnsupportedError` for what the kernels do not handle) and writes
its result into `out` (an arena view from the GPU target) or a fresh tensor.
"""

from __future__ import annotations

import os

import torch
import triton

from ...compiler.errors import InputError, UnsupportedError

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
"""Kernels run in Triton's interpreter (on CPU tensors): use few, large blocks."""

MAX_RANK = 6
"""Rank limit of the strided copy and reduction kernels."""

FLOATS = (torch.float32,)


def tensor(op: str, name: str, value, *, ndim: int | None = None,
           dtypes=FLOATS) -> torch.Tensor:
    """`value` checked: a torch tensor of one of `dtypes` (None: any) and rank `ndim`."""
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{op}: {name} must be a torch tensor, got {type(value).__name__}")
    if dtypes is not None and value.dtype not in dtypes:
        raise UnsupportedError(f"{op}: {name} has dtype {value.dtype}; the Triton kernel "
                               f"takes {', '.join(str(d) for d in dtypes)}")
    if ndim is not None and value.dim() != ndim:
        raise InputError(f"{op}: {name} must have rank {ndim}, got shape {tuple(value.shape)}")
    if value.dim() > MAX_RANK:
        raise UnsupportedError(f"{op}: {name} has rank {value.dim()}; the Triton kernels "
                               f"take ranks up to {MAX_RANK}")
    return value if value.is_contiguous() else value.contiguous()


def same_shape(op: str, **tensors: torch.Tensor) -> None:
    """All named tensors have one shape and one dtype."""
    (first, a), *rest = tensors.items()
    for name, other in rest:
        if other.shape != a.shape:
            raise InputError(f"{op}: shape mismatch, {first} {tuple(a.shape)} vs "
                             f"{name} {tuple(other.shape)}")
        if other.dtype != a.dtype:
            raise InputError(f"{op}: dtype mismatch, {first} is {a.dtype} but {name} "
                             f"is {other.dtype}")
        if other.device != a.device:
            raise InputError(f"{op}: {first} is on {a.device} but {name} on {other.device}")


def result(op: str, out, shape, dtype: torch.dtype, device) -> torch.Tensor:
    """`out` checked against the result's shape and dtype, or a new tensor."""
    shape = tuple(int(d) for d in shape)
    if out is None:
        return torch.empty(shape, dtype=dtype, device=device)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape or out.dtype != dtype:
        got = (tuple(out.shape), out.dtype) if isinstance(out, torch.Tensor) else type(out)
        raise InputError(f"{op}: out must be a {dtype} tensor of shape {shape}, got {got}")
    if not out.is_contiguous():
        raise InputError(f"{op}: out must be contiguous")
    return out


def results(op: str, out, specs) -> tuple[torch.Tensor, ...]:
    """`result` for a multi-result op: `out` is None or a tuple with one entry each."""
    outs = (None,) * len(specs) if out is None else tuple(out)
    if len(outs) != len(specs):
        raise InputError(f"{op}: out must hold {len(specs)} tensors, got {len(outs)}")
    return tuple(result(op, o, *spec) for o, spec in zip(outs, specs))


def block(n: int, largest: int = 1024, smallest: int = 16) -> int:
    """A power-of-two block size for `n` elements, at most `largest`."""
    return max(smallest, min(largest, triton.next_power_of_2(max(int(n), 1))))


def elementwise_block(n: int) -> int:
    """Elements per program of the element-wise kernels (larger when interpreting,
    where each program costs a Python call)."""
    return block(n, 4096 if INTERPRET else 1024)


def pair(op: str, name: str, value, minimum: int) -> tuple[int, int]:
    """An int or 2-sequence attribute as a pair of ints >= `minimum`."""
    try:
        values = (int(value), int(value)) if not hasattr(value, "__len__") else \
            tuple(int(v) for v in value)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 2 or min(values) < minimum:
        raise InputError(f"{op}: {name} must be an int or a pair of ints >= {minimum}, "
                         f"got {value!r}")
    return values

"""Layout ops as copy kernels: reshape (a view, or a copy into `out`), broadcast,
transpose, concat, slice and pad_to.

One strided copy kernel does them all: the source and the destination are torch views
of up to six dims (a broadcast source has stride 0, a transposed one permuted strides,
a slice or a concat operand an offset view), and program p copies elements
[p*BLOCK, (p+1)*BLOCK) of their common shape in row-major order. pad_to first fills
its result with zeros. Any dtype: the kernels only move values.
"""

from __future__ import annotations

import builtins

import torch
import triton
import triton.language as tl

from . import support
from .support import InputError

_LAYOUT_DTYPES = None   # every dtype: these kernels move bytes


@triton.jit
def copy_kernel(
        # pointers
        src_ptr, dst_ptr,
        # sizes: n elements, dims 1..5 of the shape (dim 0 is implied)
        n, D1, D2, D3, D4, D5,
        # strides (elements) of the source and of the destination
        S0, S1, S2, S3, S4, S5,
        T0, T1, T2, T3, T4, T5,
        # meta-parameters
        BLOCK: tl.constexpr):
    """dst[i0..i5] = src[i0..i5] over a six-dim shape."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    # Row-major coordinates of each element, the last dim fastest.
    i5 = index % D5
    rest = index // D5
    i4 = rest % D4
    rest = rest // D4
    i3 = rest % D3
    rest = rest // D3
    i2 = rest % D2
    rest = rest // D2
    i1 = rest % D1
    i0 = rest // D1
    source = i0 * S0 + i1 * S1 + i2 * S2 + i3 * S3 + i4 * S4 + i5 * S5
    target = i0 * T0 + i1 * T1 + i2 * T2 + i3 * T3 + i4 * T4 + i5 * T5
    values = tl.load(src_ptr + source, mask=mask)
    tl.store(dst_ptr + target, values, mask=mask)


@triton.jit
def fill_kernel(dst_ptr, n, value, BLOCK: tl.constexpr):
    """dst[i] = value for i < n (a contiguous destination)."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    tl.store(dst_ptr + index, tl.full([BLOCK], value, dst_ptr.dtype.element_ty), mask=mask)


def strided_copy(src: torch.Tensor, dst: torch.Tensor) -> None:
    """Copies the view `src` into the view `dst` of the same shape (rank <= 6)."""
    if tuple(src.shape) != tuple(dst.shape):
        raise InputError(f"copy: shapes differ, {tuple(src.shape)} vs {tuple(dst.shape)}")
    n = src.numel()
    if n == 0:
        return
    pad = support.MAX_RANK - src.dim()
    if pad < 0:
        raise support.UnsupportedError(f"copy of rank {src.dim()} (at most "
                                       f"{support.MAX_RANK})")
    shape = [1] * pad + list(src.shape)
    strides_src = [0] * pad + list(src.stride())
    strides_dst = [0] * pad + list(dst.stride())
    size = support.elementwise_block(n)
    copy_kernel[(triton.cdiv(n, size),)](src, dst, n, *shape[1:], *strides_src, *strides_dst,
                                         BLOCK=size)


def fill(dst: torch.Tensor, value) -> None:
    """dst[...] = value for a contiguous `dst`."""
    n = dst.numel()
    if n:
        size = support.elementwise_block(n)
        fill_kernel[(triton.cdiv(n, size),)](dst, n, value, BLOCK=size)


def _shape(op: str, name: str, values) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in values)
    except (TypeError, ValueError):
        raise InputError(f"{op}: {name} must be a sequence of ints, got {values!r}") from None
    if min(shape, default=0) < 0:
        raise InputError(f"{op}: {name} must not be negative, got {list(shape)}")
    return shape


# ---------------------------------------------------------------------------------------
# Wrappers
# ---------------------------------------------------------------------------------------

def reshape(x, shape, *, out=None):
    """A view of x; a copy only when `out` is other memory."""
    x = support.tensor("train.reshape", "x", x, dtypes=_LAYOUT_DTYPES)
    shape = _shape("train.reshape", "shape", shape)
    if x.numel() != _numel(shape):
        raise InputError(f"train.reshape: cannot reshape {tuple(x.shape)} ({x.numel()} "
                         f"elements) to {shape}")
    view = x.view(shape)
    if out is None or (out.data_ptr() == x.data_ptr() and out.dtype == x.dtype):
        return view if out is None else out
    y = support.result("train.reshape", out, shape, x.dtype, x.device)
    strided_copy(view, y)
    return y


def broadcast(x, shape, *, out=None):
    op = "train.broadcast"
    x = support.tensor(op, "x", x, dtypes=_LAYOUT_DTYPES)
    shape = _shape(op, "shape", shape)
    if len(shape) < x.dim() or any(d not in (1, s) for d, s in
                                   zip(reversed(x.shape), reversed(shape))):
        raise InputError(f"{op}: cannot broadcast {tuple(x.shape)} to {shape}")
    y = support.result(op, out, shape, x.dtype, x.device)
    source = x.reshape((1,) * (len(shape) - x.dim()) + tuple(x.shape)).expand(shape)
    strided_copy(source, y)
    return y


def transpose(x, permutation, *, out=None):
    op = "train.transpose"
    x = support.tensor(op, "x", x, dtypes=_LAYOUT_DTYPES)
    perm = tuple(int(p) for p in permutation)
    if sorted(perm) != list(range(x.dim())):
        raise InputError(f"{op}: {list(permutation)} is not a permutation of the "
                         f"{x.dim()} dims of shape {tuple(x.shape)}")
    source = x.permute(perm)
    y = support.result(op, out, source.shape, x.dtype, x.device)
    strided_copy(source, y)
    return y


def concat(*values, axis, out=None):
    op = "train.concat"
    if not values:
        raise InputError(f"{op} needs at least one operand")
    tensors = [support.tensor(op, f"operand #{i}", v, dtypes=_LAYOUT_DTYPES)
               for i, v in enumerate(values)]
    first = tensors[0]
    if int(axis) != axis or not 0 <= axis < first.dim():
        raise InputError(f"{op}: axis must be an int in [0, {first.dim()}), got {axis!r}")
    for i, t in enumerate(tensors[1:], 1):
        if t.dtype != first.dtype or t.dim() != first.dim() or any(
                d != e for k, (d, e) in enumerate(zip(t.shape, first.shape)) if k != axis):
            raise InputError(f"{op}: operand #{i} ({tuple(t.shape)}, {t.dtype}) does not "
                             f"match {tuple(first.shape)} ({first.dtype}) outside axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(t.shape[axis] for t in tensors)
    y = support.result(op, out, shape, first.dtype, first.device)
    start = 0
    for t in tensors:
        strided_copy(t, y.narrow(axis, start, t.shape[axis]))
        start += t.shape[axis]
    return y


def _window(op: str, x_shape, offsets, sizes) -> tuple:
    offsets = _shape(op, "offsets", offsets)
    sizes = _shape(op, "sizes", sizes)
    if len(offsets) != len(x_shape) or len(sizes) != len(x_shape):
        raise InputError(f"{op}: offsets and sizes need {len(x_shape)} entries each, got "
                         f"{list(offsets)} and {list(sizes)}")
    if any(o + s > d for o, s, d in zip(offsets, sizes, x_shape)):
        raise InputError(f"{op}: offsets {list(offsets)} + sizes {list(sizes)} exceed "
                         f"the shape {tuple(x_shape)}")
    return tuple(builtins.slice(o, o + s) for o, s in zip(offsets, sizes))


def slice(x, *, offsets, sizes, out=None):  # noqa: A001 - the op's name
    op = "train.slice"
    x = support.tensor(op, "x", x, dtypes=_LAYOUT_DTYPES)
    window = _window(op, x.shape, offsets, sizes)
    source = x[window]
    y = support.result(op, out, source.shape, x.dtype, x.device)
    strided_copy(source, y)
    return y


def pad_to(x, *, offsets, shape, out=None):
    op = "train.pad_to"
    x = support.tensor(op, "x", x)
    shape = _shape(op, "shape", shape)
    if len(shape) != x.dim():
        raise InputError(f"{op}: shape {list(shape)} must have the rank of x {tuple(x.shape)}")
    window = _window(op, shape, offsets, x.shape)
    y = support.result(op, out, shape, x.dtype, x.device)
    fill(y, 0.0)
    strided_copy(x, y[window])
    return y


def _numel(shape) -> int:
    count = 1
    for d in shape:
        count *= d
    return count


OPS = {f"train.{fn.__name__}": fn for fn in (
    reshape, broadcast, transpose, concat, slice, pad_to)}

FUSED: dict = {}

_SIZES = {name: "i32" for name in ("n", "D1", "D2", "D3", "D4", "D5", "S0", "S1", "S2", "S3",
                                   "S4", "S5", "T0", "T1", "T2", "T3", "T4", "T5")}
AOT_CASES = [
    (copy_kernel, {"src_ptr": f"*{t}", "dst_ptr": f"*{t}", **_SIZES, "BLOCK": "constexpr"},
     {"BLOCK": 1024}) for t in ("fp32", "i8", "i32")
] + [(fill_kernel, {"dst_ptr": "*fp32", "n": "i32", "value": "fp32", "BLOCK": "constexpr"},
      {"BLOCK": 1024})]

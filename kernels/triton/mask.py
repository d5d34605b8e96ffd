"""1-bit masks of the backward pass: train.clamp_mask and train.mask_grad, bit-exact
with runtime/reference_ops.py (and the interpreter, for an int8 input).

    clamp_mask(x, *, min, max, scale=None, zp=None)   # [ceil(numel / 8)] int8
    mask_grad(dy, mask)                              # dy where the bit is 1, else 0

Bit i % 8 (least significant first) of byte i / 8 is [min < x_i < max], x_i the i-th
element in row-major order; the bits past numel are 0. A float32 x is compared as it
is. An int8 x holds storage values of a per-tensor quantized tensor (`scale`, `zp`):
its real values (q - zp) * scale, rounded once to f32 as quant.dcast rounds them, are
compared; dequantizing is increasing in q, so the passing storage values are an
interval [qa, qb] (quantized_ops.mask_interval, computed on the host) and the kernel
compares integers. `KWARGS["train.clamp_mask"](op)` reads these keywords from the op.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...runtime import quantized_ops
from .matmul import aot_case
from .support import INTERPRET, InputError, block, elementwise_block, result, tensor

__all__ = ["clamp_mask_kernel", "mask_grad_kernel", "clamp_mask", "mask_grad", "OPS",
           "FUSED", "KWARGS", "AOT_CASES"]


@triton.jit
def clamp_mask_kernel(
        # Pointers: x (float32 values or int8 storage values), m (int8 mask bytes).
        x_ptr, m_ptr,
        # Sizes: n elements, size = ceil(n / 8) bytes; the bounds: float lo < x < hi, or
        # the storage interval lo <= q <= hi (integers) when QUANTIZED.
        n, size, lo, hi,
        # Meta-parameters: BLOCK bytes per program.
        QUANTIZED: tl.constexpr, BLOCK: tl.constexpr):
    """m[b] = sum_j [x[8b + j] inside] << j over the elements 8b + j < n."""
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    bits = tl.arange(0, 8)
    index = rows[:, None] * 8 + bits[None, :]
    valid = index < n
    if QUANTIZED:
        q = tl.load(x_ptr + index, mask=valid, other=0).to(tl.int32)
        inside = (q >= lo) & (q <= hi)
    else:
        x = tl.load(x_ptr + index, mask=valid, other=0.0)
        inside = (x > lo) & (x < hi)
    inside = inside & valid
    # The bits are distinct, so their sum is their bitwise or.
    byte = tl.sum(inside.to(tl.int32) << bits[None, :], axis=1)
    byte = tl.where(byte > 127, byte - 256, byte)     # as a signed byte
    tl.store(m_ptr + rows, byte.to(tl.int8), mask=rows < size)


@triton.jit
def mask_grad_kernel(
        # Pointers: dy (float32), m (int8 mask bytes), y (float32).
        dy_ptr, m_ptr, y_ptr,
        # Sizes: n elements.
        n,
        # Meta-parameters.
        BLOCK: tl.constexpr):
    """y[i] = dy[i] where bit i % 8 of m[i / 8] is 1, else 0."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    valid = index < n
    dy = tl.load(dy_ptr + index, mask=valid, other=0.0)
    byte = tl.load(m_ptr + index // 8, mask=valid, other=0).to(tl.int32)
    bit = (byte >> (index % 8)) & 1
    tl.store(y_ptr + index, tl.where(bit != 0, dy, 0.0), mask=valid)


# ---------------------------------------------------------------------------------------
# Wrappers
# ---------------------------------------------------------------------------------------

def _mask_bytes(count: int) -> int:
    return (count + 7) // 8


def clamp_mask(x, *, min, max, scale=None, zp=None, out=None):  # noqa: A002
    """train.clamp_mask of a float32 tensor, or of an int8 storage tensor quantized per
    tensor by `scale` and `zp`: the packed bits [min < x < max]."""
    op = "train.clamp_mask"
    if not min <= max:
        raise InputError(f"{op}: min {min!r} must not exceed max {max!r}")
    quantized = scale is not None or zp is not None
    if quantized:
        if scale is None or zp is None:
            raise InputError(f"{op}: an int8 x needs both its scale and its zero point")
        x = tensor(op, "x", x, dtypes=(torch.int8,))
        lo, hi = quantized_ops.mask_interval(scale=float(scale), zp=int(zp), qmin=-128,
                                             qmax=127, lo=min, hi=max)
    else:
        if isinstance(x, torch.Tensor) and not x.dtype.is_floating_point:
            raise InputError(f"{op}: an integer x needs its scale and zero point")
        x = tensor(op, "x", x)
        lo, hi = float(min), float(max)
    n = x.numel()
    size = _mask_bytes(n)
    m = result(op, out, (size,), torch.int8, x.device)
    if size:
        rows = block(size, 512 if INTERPRET else 128)
        clamp_mask_kernel[(triton.cdiv(size, rows),)](x, m, n, size, lo, hi,
                                                      QUANTIZED=quantized, BLOCK=rows)
    return m


def mask_grad(dy, mask, *, out=None):
    """train.mask_grad: dy where the bit of each element in `mask` is 1, else 0."""
    op = "train.mask_grad"
    dy = tensor(op, "dy", dy)
    mask = tensor(op, "mask", mask, ndim=1, dtypes=(torch.int8,))
    if mask.numel() != _mask_bytes(dy.numel()):
        raise InputError(f"{op}: a mask of {_mask_bytes(dy.numel())} bytes is needed for "
                         f"{dy.numel()} elements, got {mask.numel()}")
    if mask.device != dy.device:
        raise InputError(f"{op}: dy is on {dy.device} but mask on {mask.device}")
    y = result(op, out, dy.shape, dy.dtype, dy.device)
    n = dy.numel()
    if n:
        size = elementwise_block(n)
        mask_grad_kernel[(triton.cdiv(n, size),)](dy, mask, y, n, BLOCK=size)
    return y


def _clamp_mask_kwargs(op) -> dict:
    """min and max; of an int8 input, its per-tensor scale and zero point."""
    from ..._mlir import ir
    from ..._mlir.dialects import quant
    from ...runtime import quantized_execution as qe
    keywords = {name: ir.FloatAttr(op.attributes[name]).value for name in ("min", "max")}
    element = ir.RankedTensorType(op.operands[0].type).element_type
    if not isinstance(element, quant.QuantizedType):
        return keywords
    element = qe.per_tensor(op, op.operands[0], "input")
    if not element.is_signed or ir.IntegerType(element.storage_type).width != 8:
        raise qe._unsupported(op, f"the input must hold signed 8-bit values, got {element}")
    return dict(keywords, scale=element.scale, zp=element.zero_point)


OPS = {"train.clamp_mask": clamp_mask, "train.mask_grad": mask_grad}

FUSED: dict = {}

KWARGS = {"train.clamp_mask": _clamp_mask_kwargs}

_TYPES = {"x_ptr": "*fp32", "m_ptr": "*i8", "dy_ptr": "*fp32", "y_ptr": "*fp32", "n": "i32",
          "size": "i32", "lo": "fp32", "hi": "fp32"}

AOT_CASES = [
    aot_case(clamp_mask_kernel, _TYPES, dict(QUANTIZED=False, BLOCK=128)),
    aot_case(clamp_mask_kernel, dict(_TYPES, x_ptr="*i8", lo="i32", hi="i32"),
             dict(QUANTIZED=True, BLOCK=128)),
    aot_case(mask_grad_kernel, _TYPES, dict(BLOCK=1024)),
]

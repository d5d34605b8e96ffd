"""Small pieces of C text shared by the C renderer's op tables: identifiers, shapes,
exact float literals."""

from __future__ import annotations

import re

import numpy as np

from ..._mlir import ir
from ..._mlir.dialects import quant
from ...dialects import train


def c_identifier(name: str) -> str:
    return re.sub(r"\W", "_", name).strip("_") or "param"


def dims(value) -> list[int]:
    return train.shape_of(value)


def size(value) -> int:
    return int(np.prod(dims(value), dtype=np.int64))


def scratch_offset(op) -> int:
    """The arena offset of `op`'s planned scratch (`train.scratch_offset`)."""
    from ..errors import UnsupportedError, format_location
    from ...passes.plan_memory import SCRATCH_OFFSET
    if SCRATCH_OFFSET not in op.attributes:
        raise UnsupportedError(f"'{op.name}' has no planned scratch ({SCRATCH_OFFSET}): "
                               "run --plan-memory", format_location(op.location))
    return ir.IntegerAttr(op.attributes[SCRATCH_OFFSET]).value


def conv_params(op, x_shape, w_shape, y_shape) -> str:
    g = train.ConvGeometry.of(op)
    n, c, h, w = x_shape
    o, _, kh, kw = w_shape
    return ("{" + ", ".join(map(str, [n, c, h, w, o, kh, kw, y_shape[2], y_shape[3],
                                       g.stride[0], g.stride[1], g.padding[0], g.padding[1],
                                       g.dilation[0], g.dilation[1], g.groups])) + "}")



def c_float(value: float) -> str:
    """A C float literal that reads back as exactly this float32."""
    return f"{np.float32(value)}f"  # numpy prints the shortest round-trip form

def c_double(value: float) -> str:
    """A C double literal that reads back as exactly this float64."""
    return repr(float(value))


def c_ints(values) -> str:
    return ", ".join(str(int(v)) for v in values)


C_TYPES = {"f32": "float", "i32": "int32_t", "i16": "int16_t", "i8": "int8_t"}
"""The C type of each element kind the C target stores."""

def element_kind(value) -> str | None:
    """"f32", "i32", "i16" or "i8" (quantized types by their signed storage: int8
    activations and weights, int16 / int32 fixed-point gradients); None otherwise."""
    element = ir.RankedTensorType(value.type).element_type
    if isinstance(element, quant.QuantizedType):
        width = element.storage_type_integral_width
        return f"i{width}" if element.is_signed and width in (8, 16, 32) else None
    text = str(element)
    return text if text in C_TYPES else None

"""train.clamp_mask and train.mask_grad on the CPU target (--convert-train-to-linalg,
JIT-compiled) against the reference interpreter, bit for bit.

Float and per-tensor int8 inputs (the int8 ones arrive as storage values and become
quantized through a quant.scast, which the lowering's own quant.scast cancels), element
counts that are and are not multiples of 8, values exactly at the bounds, empty and
full storage intervals; mask_grad(dy, clamp_mask(x)) equals clamp_grad(dy, x). Both the
packed, vectorized form and the plain one (named ops, loops only).
"""

from __future__ import annotations

import numpy as np
import pytest

from tcc._mlir import ir
from tcc.compiler.source import new_context
from tcc.compiler.targets import cpu
from tcc.runtime import quantized_ops
from tcc.runtime.interpreter import run_function

# (name, shape, scale, zero point, min, max) of the int8 cases.
INT8_CASES = [
    ("relu6", (1, 8, 4, 4), 0.1, -128, 0.0, 6.0),       # q = -68 is exactly 6.0
    ("odd", (3, 5, 7), 0.05, 3, -1.5, 2.0),             # 105 elements
    ("tiny", (5,), 0.25, 0, -0.25, 0.25),               # one byte, 3 bits unused
    ("empty", (2, 9), 0.1, 0, 2.0, 2.0),                # no value strictly inside
    ("full", (4, 3), 0.1, 0, -1000.0, 1000.0),          # every storage value inside
]
FLOAT_SHAPES = [(1, 8, 4, 4), (3, 5, 7), (5,), (2, 1, 3)]


def _tt(shape, element: str) -> str:
    return f"tensor<{''.join(f'{d}x' for d in shape)}{element}>"


def _bytes(shape) -> int:
    return (int(np.prod(shape)) + 7) // 8


def float_function(index: int, shape) -> str:
    """@f<i>(x, dy) -> (clamp_mask, mask_grad of it, clamp_grad) with bounds [0, 6]."""
    x, m = _tt(shape, "f32"), _tt([_bytes(shape)], "i8")
    return f"""
  func.func @f{index}(%x: {x}, %dy: {x}) -> ({m}, {x}, {x}) {{
    %m = train.clamp_mask %x min 0.0 max 6.0 : {x} -> {m}
    %dx = train.mask_grad %dy, %m : {x}, {m}
    %ref = train.clamp_grad %dy, %x min 0.0 max 6.0 : {x}
    return %m, %dx, %ref : {m}, {x}, {x}
  }}"""


def int8_function(name: str, shape, scale, zp, lo, hi) -> str:
    """@<name>(storage, dy) -> (clamp_mask of the quantized tensor, mask_grad of it)."""
    q = _tt(shape, f"!quant.uniform<i8:f32, {scale!r}:{zp}>")
    s, f, m = _tt(shape, "i8"), _tt(shape, "f32"), _tt([_bytes(shape)], "i8")
    return f"""
  func.func @{name}(%s: {s}, %dy: {f}) -> ({m}, {f}) {{
    %q = quant.scast %s : {s} to {q}
    %m = train.clamp_mask %q min {lo!r} max {hi!r} : {q} -> {m}
    %dx = train.mask_grad %dy, %m : {f}, {m}
    return %m, %dx : {m}, {f}
  }}"""


def build_module() -> ir.Module:
    functions = [float_function(i, shape) for i, shape in enumerate(FLOAT_SHAPES)]
    functions += [int8_function(*case) for case in INT8_CASES]
    module = ir.Module.parse("module {" + "".join(functions) + "\n}", context=new_context())
    module.operation.verify()
    return module


@pytest.fixture(scope="module", params=["packed", "plain"])
def compiled(request):
    module = build_module()
    if request.param == "packed":
        return module, cpu.jit(module)
    return module, cpu.jit(module, opt_level=1, vectorize=False)


def float_inputs(shape, seed: int) -> list[np.ndarray]:
    """x around [0, 6] with exact 0s and 6s (the bounds) mixed in, and dy."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4 + 3).astype(np.float32)
    flat = x.reshape(-1)
    flat[rng.integers(0, flat.size, max(flat.size // 4, 1))] = 0.0
    flat[rng.integers(0, flat.size, max(flat.size // 4, 1))] = 6.0
    return [x, rng.standard_normal(shape).astype(np.float32)]


def int8_inputs(shape, seed: int) -> list[np.ndarray]:
    """Storage values covering [-128, 127] and dy."""
    rng = np.random.default_rng(seed)
    storage = rng.integers(-128, 128, shape).astype(np.int8)
    flat = storage.reshape(-1)
    flat[:2] = (-128, 127)[:flat.size]
    return [storage, rng.standard_normal(shape).astype(np.float32)]


def assert_same(actual, expected) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_array_equal(a.view(np.uint8), e.view(np.uint8))


@pytest.mark.parametrize("index", range(len(FLOAT_SHAPES)))
def test_float_masks(compiled, index):
    module, program = compiled
    inputs = float_inputs(FLOAT_SHAPES[index], index)
    expected = run_function(module, f"f{index}", inputs)
    actual = program.call(f"f{index}", inputs)
    assert_same(actual, expected)
    mask, dx, reference = actual
    np.testing.assert_array_equal(dx.view(np.uint32), reference.view(np.uint32))
    assert mask.size == _bytes(FLOAT_SHAPES[index])


@pytest.mark.parametrize("case", INT8_CASES, ids=[c[0] for c in INT8_CASES])
def test_int8_masks(compiled, case):
    module, program = compiled
    name, shape, scale, zp, lo, hi = case
    inputs = int8_inputs(shape, len(name))
    expected = run_function(module, name, inputs)
    actual = program.call(name, inputs)
    assert_same(actual, expected)
    # The gradient equals clamp_grad on the dequantized values.
    real = quantized_ops.dequantize(inputs[0], scale=scale, zp=zp)
    inside = (real > np.float32(lo)) & (real < np.float32(hi))
    np.testing.assert_array_equal(actual[1], np.where(inside, inputs[1], np.float32(0)))


def test_boundary_storage_values_are_outside(compiled):
    """relu6 at scale 0.1, zero point -128: q = -128 is 0.0 and q = -68 is 6.0 (both
    excluded); q = -127 and q = -69 are inside."""
    _, program = compiled
    storage = np.array([-128, -127, -69, -68, 127, -100, -128, -68] * 16,
                       np.int8).reshape(1, 8, 4, 4)
    dy = np.ones((1, 8, 4, 4), np.float32)
    mask, dx = program.call("relu6", [storage, dy])
    expected = np.packbits(np.array([0, 1, 1, 0, 0, 1, 0, 0] * 16, bool),
                           bitorder="little").view(np.int8)
    np.testing.assert_array_equal(mask, expected)
    assert dx.reshape(-1)[:8].tolist() == [0, 1, 1, 0, 0, 1, 0, 0]


"""The Triton kernels of train.clamp_mask and train.mask_grad (kernels/triton/mask.py)
against the reference ops (runtime/reference_ops.py), bit for bit, and both ops on the
GPU target (compiler/targets/gpu.py) against the reference interpreter.

The kernels run in Triton's interpreter on CPU tensors, which must be switched on
before triton is imported: the outer test re-runs this file in a child pytest with
TRITON_INTERPRET=1 (TCC_TRITON_MASK_TESTS=interpret); a second child, without the
interpreter, compiles the kernels ahead of time for an sm_90 GPU
(TCC_TRITON_MASK_TESTS=aot). Element counts are mostly not multiples of 8 or of the
blocks; inputs hold values exactly at the bounds.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("triton")
import torch  # noqa: E402

from triton_child import run_child  # noqa: E402

MODE = os.environ.get("TCC_TRITON_MASK_TESTS")
interpreted = pytest.mark.skipif(MODE != "interpret", reason="runs in the interpreter child")
compiled = pytest.mark.skipif(MODE != "aot", reason="runs in the AOT child")


@pytest.mark.skipif(MODE is not None, reason="the parent test")
@pytest.mark.parametrize("mode", ["interpret", "aot"])
def test_children(mode):
    run_child(__file__, "TCC_TRITON_MASK_TESTS", mode)


# ---------------------------------------------------------------------------------------
# Helpers (child processes only)
# ---------------------------------------------------------------------------------------

SHAPES = [(7,), (1, 8, 4, 4), (3, 5, 11), (2, 1029), (5, 2000)]
# (scale, zero point, min, max) of int8 inputs: exact bounds, empty and full intervals.
QUANTIZATIONS = [(0.1, -128, 0.0, 6.0), (0.05, 3, -1.5, 2.0), (0.25, 0, -0.25, 0.25),
                 (0.1, 0, 2.0, 2.0), (0.1, 0, -1000.0, 1000.0), (0.02, 10, -0.3, 6.0)]


def _ref():
    from tcc.runtime import reference_ops
    return reference_ops


def _mask():
    from tcc.kernels.triton import mask
    return mask


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _x(rng, shape, lo=0.0, hi=6.0):
    """Floats around [lo, hi] with a quarter of them exactly lo or hi."""
    x = (rng.standard_normal(shape) * (hi - lo + 1) + (lo + hi) / 2).astype(np.float32)
    flat = x.reshape(-1)
    count = max(flat.size // 8, 1)
    flat[rng.integers(0, flat.size, count)] = lo
    flat[rng.integers(0, flat.size, count)] = hi
    return x


def _storage(rng, shape):
    """int8 storage values with every value of [-128, 127] where there is room."""
    q = rng.integers(-128, 128, shape).astype(np.int8)
    flat = q.reshape(-1)
    flat[:min(256, flat.size)] = np.arange(-128, 128)[:min(256, flat.size)]
    return q


def _same_bits(actual: torch.Tensor, expected: np.ndarray) -> None:
    expected = np.asarray(expected)
    assert actual.dtype == _t(expected).dtype and tuple(actual.shape) == expected.shape
    np.testing.assert_array_equal(actual.numpy().view(np.uint8), expected.view(np.uint8))


# ---------------------------------------------------------------------------------------
# Interpreted kernels vs the reference
# ---------------------------------------------------------------------------------------

@interpreted
@pytest.mark.parametrize("shape", SHAPES)
def test_clamp_mask_float(shape):
    rng = np.random.default_rng(len(shape))
    for lo, hi in ((0.0, 6.0), (-1.0, 1.0), (2.0, 2.0)):
        x = _x(rng, shape, lo, hi)
        expected = _ref().clamp_mask(x, min=lo, max=hi)
        _same_bits(_mask().clamp_mask(_t(x), min=lo, max=hi), expected)
        out = torch.full(expected.shape, 85, dtype=torch.int8)
        assert _mask().clamp_mask(_t(x), min=lo, max=hi, out=out) is out
        _same_bits(out, expected)


@interpreted
@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_clamp_mask_int8(quantization):
    from tcc.runtime.quantized_ops import dequantize
    scale, zp, lo, hi = quantization
    rng = np.random.default_rng(3)
    for shape in SHAPES:
        q = _storage(rng, shape)
        expected = _ref().clamp_mask(dequantize(q, scale=scale, zp=zp), min=lo, max=hi)
        _same_bits(_mask().clamp_mask(_t(q), min=lo, max=hi, scale=scale, zp=zp), expected)


@interpreted
@pytest.mark.parametrize("shape", SHAPES)
def test_mask_grad(shape):
    rng = np.random.default_rng(10 + len(shape))
    x, dy = _x(rng, shape), rng.standard_normal(shape).astype(np.float32)
    mask = _ref().clamp_mask(x, min=0.0, max=6.0)
    expected = _ref().mask_grad(dy, mask)
    _same_bits(_mask().mask_grad(_t(dy), _t(mask)), expected)
    _same_bits(_mask().mask_grad(_t(dy), _t(mask)),
               _ref().clamp_grad(dy, x, min=0.0, max=6.0))
    # Random masks (the bits past the elements set too), in place.
    noise = rng.integers(-128, 128, mask.shape).astype(np.int8)
    grad = _t(dy.copy())
    assert _mask().mask_grad(grad, _t(noise), out=grad) is grad
    _same_bits(grad, _ref().mask_grad(dy, noise))


@interpreted
def test_registered_with_the_kernel_library():
    import tcc.kernels.triton as kernels
    assert kernels.OPS["train.clamp_mask"] is _mask().clamp_mask
    assert kernels.OPS["train.mask_grad"] is _mask().mask_grad
    assert "train.clamp_mask" in kernels.KWARGS and "quant.dcast" in kernels.KWARGS


@interpreted
def test_bad_arguments_are_user_errors():
    from tcc.compiler.errors import InputError
    mask = _mask()
    with pytest.raises(InputError, match="must not exceed"):
        mask.clamp_mask(torch.zeros(9), min=1.0, max=0.0)
    with pytest.raises(InputError, match="scale and"):
        mask.clamp_mask(torch.zeros(9, dtype=torch.int8), min=0.0, max=1.0)
    with pytest.raises(InputError, match="both its scale and its zero point"):
        mask.clamp_mask(torch.zeros(9, dtype=torch.int8), min=0.0, max=1.0, scale=0.1)
    with pytest.raises(InputError, match="out must be"):
        mask.clamp_mask(torch.zeros(9), min=0.0, max=1.0, out=torch.zeros(1, dtype=torch.int8))
    with pytest.raises(InputError, match="a mask of 2 bytes"):
        mask.mask_grad(torch.zeros(9), torch.zeros(1, dtype=torch.int8))


# ---------------------------------------------------------------------------------------
# The GPU target vs the interpreter
# ---------------------------------------------------------------------------------------

QUANTIZED = "!quant.uniform<i8:f32, 0.1:-128>"
MODULE = f"""
func.func @float(%x: tensor<3x5x7xf32>, %dy: tensor<3x5x7xf32>)
    -> (tensor<14xi8>, tensor<3x5x7xf32>) {{
  %m = train.clamp_mask %x min 0.0 max 6.0 : tensor<3x5x7xf32> -> tensor<14xi8>
  %dx = train.mask_grad %dy, %m : tensor<3x5x7xf32>, tensor<14xi8>
  return %m, %dx : tensor<14xi8>, tensor<3x5x7xf32>
}}
func.func @int8(%y: tensor<1x8x4x5x{QUANTIZED}>, %dy: tensor<1x8x4x5xf32>)
    -> (tensor<20xi8>, tensor<1x8x4x5xf32>, tensor<1x8x4x5xf32>) {{
  %m = train.clamp_mask %y min 0.0 max 6.0 : tensor<1x8x4x5x{QUANTIZED}> -> tensor<20xi8>
  %dx = train.mask_grad %dy, %m : tensor<1x8x4x5xf32>, tensor<20xi8>
  %r = quant.dcast %y : tensor<1x8x4x5x{QUANTIZED}> to tensor<1x8x4x5xf32>
  %ref = train.clamp_grad %dy, %r min 0.0 max 6.0 : tensor<1x8x4x5xf32>
  return %m, %dx, %ref : tensor<20xi8>, tensor<1x8x4x5xf32>, tensor<1x8x4x5xf32>
}}
"""


@interpreted
def test_gpu_target_equals_the_interpreter():
    from tcc.compiler.source import new_context, parse_module
    from tcc.compiler.targets import gpu
    from tcc.runtime.interpreter import run_function
    rng = np.random.default_rng(8)
    cases = {"float": [_x(rng, (3, 5, 7)), rng.standard_normal((3, 5, 7)).astype(np.float32)],
             "int8": [_storage(rng, (1, 8, 4, 5)),
                      rng.standard_normal((1, 8, 4, 5)).astype(np.float32)]}
    for name, args in cases.items():
        module = parse_module(MODULE, "mask.mlir", new_context())
        expected = run_function(module, name, args)
        got = gpu.run_function(module, name, args)
        assert len(got) == len(expected)
        for a, e in zip(got, expected):
            assert a.dtype == e.dtype and a.shape == e.shape
            np.testing.assert_array_equal(a.view(np.uint8), e.view(np.uint8))
        if name == "int8":          # mask_grad of the mask = clamp_grad of the dcast
            np.testing.assert_array_equal(got[1], got[2])


# ---------------------------------------------------------------------------------------
# Ahead-of-time compilation for an sm_90 GPU
# ---------------------------------------------------------------------------------------

@compiled
def test_aot_compiles_for_sm90():
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from tcc.kernels.triton import KERNELS, _ordered
    cases = _mask().AOT_CASES
    assert len(cases) == 3
    assert all(any(fn is k[0] for k in KERNELS) for fn, _, _ in cases)
    for fn, signature, constexprs in cases:
        source = ASTSource(fn, _ordered(fn, signature), constexprs)
        kernel = triton.compile(source, target=GPUTarget("cuda", 90, 32))
        assert ".version" in kernel.asm["ptx"], fn.__name__

"""--train-save-masks and the 1-bit mask ops (train.clamp_mask, train.mask_grad).

- The reference ops: mask_grad(dy, clamp_mask(x)) equals clamp_grad(dy, x) bit for bit,
  for sizes that are not a multiple of 8 and values on the bounds.
- The int8 interval the C target compares storage values with (mask_interval) gives
  the interpreter's mask for every int8 value, for random scales, zero points, bounds.
- The pass changes no result: the training steps of the TTE MCUNet-5FPS (skipped
  without ../shared) and the zoo MobileNetV2 blocks (ReLU6), run by the interpreter
  on random arguments before and after it, return the same bits; and the liveness
  lower bound of the reordered step drops (the activations die in the forward pass).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tcc
from tcc._mlir import ir
from tcc._mlir.dialects import quant
from tcc.compiler import liveness
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function
from tcc.runtime import quantized_ops as qo
from tcc.runtime import reference_ops as ref
from tcc.runtime.interpreter import run_function

TTE_DIR = Path(tcc.__file__).resolve().parent / ".." / "shared" / "models" / "tte"


@pytest.mark.parametrize("size", [1, 7, 8, 13, 64, 1001])
def test_mask_grad_of_clamp_mask_is_clamp_grad(size):
    rng = np.random.default_rng(size)
    x = rng.choice(np.float32([-1, 0, 0.5, 3, 6, 7]), size) + \
        rng.choice(np.float32([0, 0, 0.25]), size)
    dy = rng.standard_normal(size).astype(np.float32)
    mask = ref.clamp_mask(x, min=0.0, max=6.0)
    assert mask.dtype == np.int8 and mask.shape == ((size + 7) // 8,)
    np.testing.assert_array_equal(ref.mask_grad(dy, mask),
                                  ref.clamp_grad(dy, x, min=0.0, max=6.0))
    # The bits past the last element are 0.
    assert int(mask.view(np.uint8)[-1]) >> (size - 8 * (size // 8) or 8) == 0


def test_mask_grad_rejects_a_mask_of_the_wrong_size():
    with pytest.raises(ValueError, match="a mask of 2 bytes is needed for 9 elements"):
        ref.mask_grad(np.zeros(9, np.float32), np.zeros(3, np.int8))


def test_int8_interval_equals_the_dequantized_comparison():
    rng = np.random.default_rng(7)
    q = np.arange(-128, 128, dtype=np.int8)
    for _ in range(200):
        scale = float(np.float32(10.0 ** rng.uniform(-4, 0)))
        zp = int(rng.integers(-128, 128))
        lo, hi = sorted(float(np.float32(v)) for v in rng.uniform(-3, 3, 2) * scale * 128)
        if rng.random() < 0.3:      # bounds exactly on storage values (ReLU6 folded)
            lo = float(qo.dequantize(np.int8(-128), scale=scale, zp=zp))
            hi = max(hi, lo)
        qa, qb = qo.mask_interval(scale=scale, zp=zp, qmin=-128, qmax=127, lo=lo, hi=hi)
        expected = ref.clamp_mask(qo.dequantize(q, scale=scale, zp=zp), min=lo, max=hi)
        np.testing.assert_array_equal(
            np.packbits((q >= qa) & (q <= qb), bitorder="little").view(np.int8), expected)


# ------------------------------------------------------------------ the pass on steps

def _random_arguments(function, rng) -> list[np.ndarray]:
    """Seeded values of every argument of `function`, of its type."""
    values = []
    for argument in function.arguments:
        t = ir.RankedTensorType(argument.type)
        element = t.element_type
        shape = list(t.shape)
        if isinstance(element, quant.QuantizedType):
            values.append(rng.integers(-128, 128, shape).astype(np.int8))
        elif isinstance(element, ir.IntegerType):
            width = ir.IntegerType(element).width
            high = 2 if width == 32 and len(shape) == 1 and shape[0] <= 8 else 1000
            values.append(rng.integers(0 if high == 2 else -high, high, shape)
                          .astype(np.dtype(f"i{width // 8}")))
        else:
            values.append((rng.standard_normal(shape) * 0.5).astype(np.float32))
    return values


def _check_unchanged(module, name: str):
    """The step's results are the same bits with masks; the reordered bound drops."""
    text = str(module)
    masked = ir.Module.parse(text, context=module.context)
    run_pipeline(masked, ["train-save-masks"], name)
    step, masked_step = find_function(module, "train_step"), find_function(masked, "train_step")
    assert any(op.name == "train.clamp_mask" for op in masked_step.entry_block.operations)
    assert not any(op.name == "train.clamp_grad" for op in masked_step.entry_block.operations)
    arguments = _random_arguments(step, np.random.default_rng(3))
    for a, b in zip(run_function(module, "train_step", arguments),
                    run_function(masked, "train_step", arguments)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    run_pipeline(module, ["train-reorder"], name)
    run_pipeline(masked, ["train-reorder"], name)
    before = liveness.lower_bound(find_function(module, "train_step"))
    after = liveness.lower_bound(find_function(masked, "train_step"))
    assert after < before
    return before, after


@pytest.mark.skipif(not (TTE_DIR / "mcunet-5fps.json").is_file() or
                    not (TTE_DIR / "schemes.json").is_file(),
                    reason=f"the TTE models are not in {TTE_DIR}")
def test_mcunet_step_is_unchanged_and_smaller():
    from tcc.compiler.analysis import StepOptions, derive_step
    from tcc.compiler.frontends.tte import import_tte

    path = TTE_DIR / "mcunet-5fps.json"
    module = import_tte(path, num_classes=10, rounding="multiplier_shift").module
    derive_step(module, StepOptions(scheme=f"{TTE_DIR / 'schemes.json'}#mcunet-5fps/49kb"),
                str(path))
    before, after = _check_unchanged(module, str(path))
    # Most of what the backward pass kept were ReLU6 outputs read only for their masks.
    assert after < 0.85 * before


def test_mobilenetv2_blocks_step_is_unchanged():
    pytest.importorskip("torch")
    import test_zoo_training as zoo

    _, _, text, _ = zoo.zoo_model("mobilenetv2.py")
    module, _ = zoo.compile_step(text, "full", "sgd", prune=True)
    _check_unchanged(module, "mobilenetv2.py")

"""--train-fuse-update and train.conv2d_qsgd (an int8 conv weight's update that
computes its own gradient).

- The pass changes no result: the TTE MCUNet-5FPS training steps (skipped without
  ../shared) of a scheme that trains whole weights (148kb) and of one that trains
  partial channels (49kb, zero-padded gradients), run by the interpreter on random
  arguments before and after it, return the same bits.
- No f32 weight gradient is left, and the liveness lower bound of the reordered
  step does not grow (148kb: it drops by more than 48 KB).
(The chains the pass leaves alone are in test/Passes/train-fuse-update.mlir.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tcc
from tcc._mlir import ir
from tcc.compiler import liveness
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function
from tcc.runtime.interpreter import run_function

from test_save_masks import _random_arguments

TTE_DIR = Path(tcc.__file__).resolve().parent / ".." / "shared" / "models" / "tte"
needs_tte = pytest.mark.skipif(not (TTE_DIR / "mcunet-5fps.json").is_file() or
                               not (TTE_DIR / "schemes.json").is_file(),
                               reason=f"the TTE models are not in {TTE_DIR}")


def _mcunet_step(scheme: str, weight_decay: float = 0.0):
    from tcc.compiler.analysis import StepOptions, derive_step
    from tcc.compiler.frontends.tte import import_tte

    path = TTE_DIR / "mcunet-5fps.json"
    module = import_tte(path, num_classes=10, rounding="multiplier_shift").module
    derive_step(module, StepOptions(scheme=f"{TTE_DIR / 'schemes.json'}#mcunet-5fps/{scheme}",
                                    weight_decay=weight_decay), str(path))
    return module, str(path)


def _names(module) -> list[str]:
    return [op.name for op in find_function(module, "train_step").entry_block.operations]


@needs_tte
@pytest.mark.parametrize("scheme", ["148kb", "49kb"])
def test_mcunet_step_is_unchanged_and_smaller(scheme):
    module, name = _mcunet_step(scheme)
    fused = ir.Module.parse(str(module), context=module.context)
    run_pipeline(fused, ["train-fuse-update"], name)
    names = _names(fused)
    assert "train.conv2d_grad_weight" not in names
    assert names.count("train.conv2d_qsgd") == _names(module).count("train.conv2d_grad_weight")
    if scheme == "49kb":
        assert "train.pad_to" in _names(module) and "train.pad_to" not in names
    arguments = _random_arguments(find_function(module, "train_step"),
                                  np.random.default_rng(5))
    for a, b in zip(run_function(module, "train_step", arguments),
                    run_function(fused, "train_step", arguments), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    run_pipeline(module, ["train-reorder"], name)
    run_pipeline(fused, ["train-reorder"], name)
    before = liveness.lower_bound(find_function(module, "train_step"))
    after = liveness.lower_bound(find_function(fused, "train_step"))
    # No order of the ops beats the any-order floor; this one is not below it either.
    assert 0 < liveness.any_order_bound(find_function(fused, "train_step")) <= after
    # 148kb: its largest weight gradient (blocks.12.pointwise1, 147,456 B) was the
    # peak; 49kb trains small slices, whose gradients were never at the peak.
    assert (after < before - 48 * 1024 if scheme == "148kb" else after <= before), \
        (before, after)

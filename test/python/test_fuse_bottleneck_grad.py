"""--train-fuse-bottleneck-grad and train.bottleneck_grad (a trained inverted
bottleneck's backward, a few expanded channels at a time).

- The pass changes no result: MCUNet-5FPS's 124kb training step (trained expansion
  weights, whole and partial, bias-only blocks; skipped without ../shared), run by the
  interpreter on random arguments before and after it, returns the same bits.
- It lowers the arena: that step's reordered liveness bound (frozen forward blocks
  fused too) drops below the paper's 173 KB (the stride-2 depthwise gradient of
  blocks.10, 60 KB, no longer exists).
- The C kernel (tcc_bottleneck_grad_f32, host build) trains as the interpreter does,
  the TTE test tolerances of test_c_training.
- The memory report of that plan counts each op's scratch in its lower bound.
(The chains the pass leaves alone are in test/Passes/train-fuse-bottleneck-grad.mlir.)
"""

from __future__ import annotations

import numpy as np
import pytest

from tcc._mlir import ir
from tcc.compiler import liveness
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function
from tcc.runtime.interpreter import run_function

from test_c_training import (PLAIN_FLAGS, check_tte_run, kernel_objects,  # noqa: F401
                             needs_gcc, tte_data, tte_model)
from test_fuse_update import _mcunet_step, needs_tte
from test_save_masks import _random_arguments

STEP = "train_step"
CORTEX_M = [f"train-save-masks{{function={STEP}}}", f"train-fuse-update{{function={STEP}}}",
            f"train-mark-inplace{{function={STEP}}}"]


def _count(module, name: str) -> int:
    return [op.name for op in find_function(module, STEP).entry_block.operations].count(name)


@needs_tte
def test_mcunet_step_is_unchanged_and_smaller():
    module, name = _mcunet_step("124kb")
    run_pipeline(module, CORTEX_M, name)
    fused = ir.Module.parse(str(module), context=module.context)
    run_pipeline(fused, [f"train-fuse-bottleneck-grad{{function={STEP}}}"], name)
    # blocks 10 to 16 (the trained ones that pass a gradient on); block 9's backward
    # ends the step (no input gradient) and stays as it is
    assert _count(fused, "train.bottleneck_grad") == 7
    assert _count(fused, "train.conv2d_qsgd") < _count(module, "train.conv2d_qsgd")
    arguments = _random_arguments(find_function(module, STEP), np.random.default_rng(7))
    for a, b in zip(run_function(module, STEP, arguments),
                    run_function(fused, STEP, arguments), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # with the frozen forward fused as well (its stem is the peak otherwise)
    run_pipeline(module, ["train-fuse-bottleneck", "train-reorder"], name)
    run_pipeline(fused, ["train-fuse-bottleneck", "train-reorder"], name)
    before = liveness.lower_bound(find_function(module, STEP))
    after = liveness.lower_bound(find_function(fused, STEP))
    assert after <= 173 * 1024 < before, (before, after)


@pytest.fixture(scope="module")
def mcunet_fused(tmp_path_factory):
    """MCUNet-5FPS 124kb planned for the M7 with every bottleneck fused."""
    return tte_model("mcunet-5fps", tmp_path_factory.mktemp("mcunet") / "project",
                     scheme="124kb", fuse="always")


@needs_tte
def test_report_counts_the_scratch(mcunet_fused):
    """The memory report's lower bound counts each op's planned scratch (the fused
    forward's rows at the peak, 9,920 B): the plan is within 2% of it."""
    from tcc.compiler import memory_report
    report = memory_report.function_report(mcunet_fused.module, STEP)
    scratch = [t for t in report.tensors if t.kind == "scratch"]
    assert any(t.op == "train.bottleneck_grad" for t in scratch)
    assert all(t.upper == t.lower + 1 for t in scratch)
    assert report.lower_bound_bytes <= report.peak_bytes <= report.lower_bound_bytes * 1.02
    assert report.lower_bound_bytes == liveness.lower_bound(
        find_function(mcunet_fused.module, STEP))


@needs_gcc
@needs_tte
def test_c_step_equals_interpreter(kernel_objects, mcunet_fused):  # noqa: F811
    """MCUNet-5FPS 124kb with every bottleneck fused: the C step equals the
    interpreter."""
    name, model = "mcunet-5fps", mcunet_fused
    assert _count(model.module, "train.bottleneck_grad") == 7
    inputs, labels = tte_data(model, 2, 17)
    model.write_data(inputs, labels)
    program = model.build_host(kernel_objects(PLAIN_FLAGS), PLAIN_FLAGS)
    check_tte_run(name, model, inputs, labels, model.run(program, 2))

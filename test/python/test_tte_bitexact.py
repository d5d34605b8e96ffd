"""The imported TTE int8 models, run by the interpreter, equal an independent numpy
implementation of the models' README formulas bit for bit.

Each model of ../shared/models/tte (JSON + NPZ, data of another project that is never
copied into this repository) is imported with `import_tte`, and `@forward` runs on 20
seeded random int8 images. The int8 logits (the operand of the final quant.dcast) and
the dequantized f32 logits must equal tte_numpy_reference's exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tte_numpy_reference as reference

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO.parent / "shared" / "models" / "tte"
NUM_INPUTS = 20
SEED = 20240


def _model_names() -> list[str]:
    if not MODELS.is_dir():
        return []
    return sorted(p.stem for p in MODELS.glob("*.json") if p.with_suffix(".npz").is_file())


NAMES = _model_names()
pytestmark = pytest.mark.skipif(
    not NAMES, reason=f"the TTE models are not available ({MODELS} is absent)")


def _images(name: str) -> np.ndarray:
    rng = np.random.default_rng([SEED, sum(name.encode())])
    return rng.integers(-128, 128, size=(NUM_INPUTS, 3, 128, 128), dtype=np.int8)


class _Recorder:
    """Wraps the quant.dcast executor to keep its int8 operand (the quantized logits)."""

    def __init__(self, executor):
        self.executor = executor
        self.seen: list[np.ndarray] = []

    def __call__(self, op, args):
        self.seen.append(np.array(args[0], copy=True))
        return self.executor(op, args)


def _run(model, images: np.ndarray, monkeypatch) -> tuple[np.ndarray, np.ndarray]:
    """int8 and f32 logits of each image, one @forward call per image."""
    from tcc.compiler.source import find_function
    from tcc.dialects import train
    from tcc.runtime import quantized_execution
    from tcc.runtime.interpreter import bind_inputs, run_function

    function = find_function(model.module, "forward")
    data = [i for i in range(len(function.entry_block.arguments))
            if train.arg_role(function, i) is None]
    assert len(data) == 1, "@forward must take exactly one data input (the image)"
    recorder = _Recorder(quantized_execution.EXECUTORS["quant.dcast"])
    monkeypatch.setitem(quantized_execution.EXECUTORS, "quant.dcast", recorder)
    logits = []
    for image in images:
        inputs = bind_inputs(function, {**model.weights, f"arg{data[0]}": image[None]})
        (out,) = run_function(model.module, "forward", inputs)
        logits.append(np.asarray(out))
    assert len(recorder.seen) == len(images), "@forward must end in one quant.dcast"
    return np.concatenate(recorder.seen), np.concatenate(logits)


@pytest.fixture(scope="module", params=NAMES)
def tte(request):
    """(name, layer tree, images, reference int8 logits) of one model."""
    name = request.param
    tree, _ = reference.load(MODELS / f"{name}.json")
    images = _images(name)
    return name, tree, images, reference.logits_int8(tree, images)


def test_reference_logits_are_informative(tte):
    """Guards the comparison itself: the logits vary and are mostly not clamped."""
    _, _, _, expected = tte
    assert expected.dtype == np.int8 and expected.shape == (NUM_INPUTS, 1000)
    assert len(np.unique(expected)) > 30
    assert np.mean((expected == -128) | (expected == 127)) < 0.5


def test_interpreter_equals_numpy_reference_bit_for_bit(tte, monkeypatch):
    from tcc.compiler.frontends.tte import import_tte

    name, tree, images, expected = tte
    model = import_tte(MODELS / f"{name}.json")
    got_int8, got_f32 = _run(model, images, monkeypatch)
    assert got_int8.dtype == np.int8 and got_f32.dtype == np.float32
    mismatch = np.argwhere(got_int8.reshape(expected.shape) != expected)
    assert mismatch.size == 0, (
        f"{name}: {len(mismatch)} of {expected.size} int8 logits differ, first at "
        f"(image, class) {tuple(mismatch[0])}: interpreter "
        f"{got_int8.reshape(expected.shape)[tuple(mismatch[0])]}, reference "
        f"{expected[tuple(mismatch[0])]}")
    np.testing.assert_array_equal(got_f32, reference.dequantize_logits(tree, expected))


def test_multiplier_shift_model_runs_close_to_float_scale(tte, monkeypatch):
    """Smoke test of the TFLite-style integer pipeline on a whole model: it runs (dead
    channels, all ADD multipliers in range) and its logits stay within a few codes of the
    float_scale ones; where they differ is ±1 requantization flips compounding."""
    from tcc.compiler.frontends.tte import import_tte

    name, _, images, expected = tte
    model = import_tte(MODELS / f"{name}.json", rounding="multiplier_shift")
    got_int8, _ = _run(model, images[:2], monkeypatch)
    diff = np.abs(got_int8.reshape(2, -1).astype(int) - expected[:2].astype(int))
    assert diff.max() <= 8
    assert diff.mean() < 1.5

"""The on-device transfer-learning demo (examples/transfer_digits.py), end to end on a
small configuration: MCUNet-5FPS at 32x32, the paper's 49kb scheme, a few steps.

- the digits split is seeded, disjoint and quantized with the model's input scale;
- the float model is the int8 model dequantized (its logits track the int8 forward's)
  and trains exactly the scheme's parameters and channels;
- the int8 training step in qemu equals the reference interpreter's step by step (loss
  to float rounding, int8/int32 parameters except +-1 flips where a float gradient lands
  on a rounding boundary), and the device's int8 forward gives the interpreter's logits
  bit for bit (skipped without arm-none-eabi-gcc and qemu-system-arm);
- a quick run of the three trainings measures accuracy on the held-out split: fp32 and
  int8 + QAS learn, int8 without QAS stays where it started.
Skipped without ../shared/models/tte or scikit-learn.
"""

from __future__ import annotations

import importlib.util
import sys
from argparse import Namespace

import numpy as np
import pytest
import torch

from conftest import EXAMPLES

DEMO_FILE = EXAMPLES / "transfer_digits.py"
RESOLUTION = 32
SCHEME = "49kb"

pytest.importorskip("sklearn", reason="scikit-learn is not installed")


def _load_demo():
    spec = importlib.util.spec_from_file_location("transfer_digits", DEMO_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module       # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


demo = _load_demo()

requires_models = pytest.mark.skipif(
    not (demo.MODELS_DIR / f"{demo.MODEL}.json").is_file(),
    reason=f"the TTE models are not in {demo.MODELS_DIR}")
needs_arm = pytest.mark.skipif(not demo.Qemu.available(),
                               reason="needs arm-none-eabi-gcc, qemu-system-arm and make")

pytestmark = requires_models


@pytest.fixture(scope="module")
def model():
    return demo.load_int8_model(demo.MODELS_DIR, RESOLUTION, f"{demo.MODEL}/{SCHEME}", 0)


@pytest.fixture(scope="module")
def split(model):
    scale, zero_point = model.input_q
    return demo.digits_split(RESOLUTION, scale, zero_point, 60, 0)


def test_split_is_seeded_disjoint_and_quantized(model, split):
    assert sorted(np.concatenate([split.train_index, split.test_index]).tolist()) == \
        list(range(1797))
    assert not set(split.train_index) & set(split.test_index)
    assert split.train_x.shape == (1737, 1, 3, RESOLUTION, RESOLUTION)
    assert split.test_x.dtype == np.int8 and len(split.test_y) == 60
    assert set(split.test_y.tolist()) == set(range(10))
    scale, zero_point = model.input_q
    # The three channels are the same grey image; a blank pixel is -1 (TTE's [-1, 1]).
    assert np.array_equal(split.test_x[:, :, 0], split.test_x[:, :, 2])
    assert split.test_x.min() == np.clip(np.rint(-1 / scale) + zero_point, -128, 127)
    again = demo.digits_split(RESOLUTION, scale, zero_point, 60, 0)
    assert np.array_equal(again.test_index, split.test_index)
    other = demo.digits_split(RESOLUTION, scale, zero_point, 60, 1)
    assert not np.array_equal(other.test_index, split.test_index)
    order = demo.training_order(len(split.train_x), 2000, 0)
    assert sorted(order[:1737].tolist()) == list(range(1737))   # one epoch each


def test_float_model_tracks_the_int8_forward(model, split):
    module, params = demo.step_module(model, lr=0.003, qas=True)
    xs = split.test_x[:24]
    int8 = demo.Interpreter().logits(module, params, xs)
    scale, zero_point = model.input_q
    with torch.no_grad():
        real = torch.from_numpy((xs[:, 0].astype(np.float32) - zero_point) * scale)
        fp32 = demo.float_model(model.tree)(real).numpy()
    assert int8.shape == fp32.shape == (24, 10)
    assert np.corrcoef(int8.ravel(), fp32.ravel())[0, 1] > 0.97
    assert np.mean(np.abs(int8 - fp32)) < 0.2 * np.mean(np.abs(fp32))


def test_float_training_updates_only_the_scheme(model, split):
    partial = {n: a for n, a in model.trained.items() if a.channels is not None}
    assert partial and "classifier.weight" in model.trained
    order = demo.training_order(len(split.train_x), 3, 0)
    *_, net = demo.train_float(model, split, order, 0.003)
    fresh = dict(demo.float_model(model.tree).named_parameters())
    for name, p in net.named_parameters():
        delta = (p.detach() - fresh[name].detach()).abs()
        if name not in model.trained:
            assert not delta.any(), name
            continue
        assert delta.any(), name
        a = partial.get(name)
        if a is not None:
            assert delta.narrow(a.axis, 0, a.channels).any(), name
            rest = delta.narrow(a.axis, a.channels, p.shape[a.axis] - a.channels)
            assert not rest.any(), name


@needs_arm
def test_device_steps_equal_interpreter(model, split, tmp_path):
    module, params = demo.step_module(model, lr=0.003, qas=True)
    qemu, reference = demo.Qemu(tmp_path), demo.Interpreter()
    xs, ys = split.train_x[:4], split.train_y[:4]
    dumps, losses = qemu.train(module, params, xs, ys, every_step=True)
    assert len(dumps) == len(losses) == 4
    state, flips, moved = dict(params), 0, 0
    for x, y, loss, dump in zip(xs, ys, losses, dumps):
        want, (want_loss,) = reference.train(module, state, [x], [y])
        assert abs(loss - want_loss) <= 1e-6 * max(abs(want_loss), 1.0)
        for index in dump:
            diff = dump[index].astype(np.int64) - want[index].astype(np.int64)
            assert np.abs(diff).max() <= 1, index
            flips += int(np.count_nonzero(diff))
            moved += int(np.count_nonzero(dump[index] != state[index]))
        state = dump                       # the next step from the device's values
    print(f"{len(xs)} steps: {moved} stored values changed, {flips} +-1 flips")
    assert moved > 100                     # QAS steps move many int8 values
    assert flips <= max(2, moved // 100)
    # The device's int8 forward (all samples in one run) is bit-exact.
    logits = qemu.logits(module, state, split.test_x[:16])
    assert np.array_equal(logits, reference.logits(module, state, split.test_x[:16]))


def test_quick_run_measures_held_out_accuracy():
    args = Namespace(steps=120, resolution=RESOLUTION, scheme=SCHEME, lr=0.01,
                     held_out=50, seed=0, models_dir=demo.MODELS_DIR, int16=True)
    results = demo.run(args, demo.Interpreter(), log=lambda line: None)
    fp32, qas, no_qas, int16 = results
    for r in results:      # accuracies over the 50 held-out images
        assert round(r.before * 50, 6).is_integer() and round(r.after * 50, 6).is_integer()
        assert len(r.losses) == 120
    assert qas.before == no_qas.before
    # fp32 and int8 + QAS learn: the training loss falls; without QAS the integer steps
    # are s^2 times too small to move a weight, so accuracy stays where it started.
    for r in (fp32, qas, int16):
        assert np.mean(r.losses[-50:]) < np.mean(r.losses[:50]) - 0.3, r.label
    assert qas.after > no_qas.after == no_qas.before
    assert int16.before == qas.before and "int16 backward" in int16.label
    text = demo.table(results)
    assert "int8 + QAS vs fp32" in text and "QAS vs no QAS" in text
    assert "int16 backward vs f32 backward" in text

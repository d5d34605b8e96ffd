"""The int16 fixed-point backward pass (--train-int16-gradients, `--gradients int16`).

The integer semantics (runtime/fixed_point.py) against float arithmetic; the pass's
errors; and the C kernels (kernels/c/tcc_fxtrain.c) against the reference
interpreter: each TTE model's int16 training step, built for the host with
-fsanitize=address,undefined, gives the interpreter's parameters bit for bit (no
rounding-boundary flips: the arithmetic is integer), and MCUNet-5FPS runs the same
bits in qemu on a Cortex-M3, which has no FPU.
"""

from __future__ import annotations

import math
import shutil
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tcc.compiler.errors import PassError
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import new_context, parse_module
from tcc.passes.train_int16_gradients import exponent_for
from tcc.runtime import cortex_m_runner as runner
from tcc.runtime import fixed_point as fx
from tcc.runtime import reference_ops as ref
from tcc.runtime.interpreter import run_function

import test_c_training as ct
from test_c_training import kernel_objects  # noqa: F401  (fixture)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(1 << 50), 1 << 50), st.integers(-4, 40))
def test_round_shift_rounds_to_nearest_ties_away_from_zero(x, n):
    exact = Fraction(x, 1 << n) if n > 0 else Fraction(x * (1 << -n))
    got = int(fx.round_shift(np.array([x]), n)[0])
    magnitude = math.floor(abs(exact) + Fraction(1, 2))
    assert got == (magnitude if exact >= 0 else -magnitude)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-12, 1e6))
def test_multiplier_has_15_significant_bits(real):
    k, q = fx.multiplier(real)
    assert 1 << 14 <= k <= 1 << 15
    assert abs(math.ldexp(k, -q) - real) <= real * 2.0 ** -15


@pytest.mark.parametrize("value_range", [1e-9, 3e-4, 0.5, 1.0, 7.3, 1e5])
def test_exponent_for_keeps_headroom_without_wasting_a_bit(value_range):
    e = exponent_for(value_range, 2.0)
    assert 2 * value_range <= math.ldexp(32767, e)
    assert 2 * value_range > math.ldexp(32767, e - 1)


@pytest.mark.parametrize("seed", range(6))
def test_conv2d_grad_input_is_the_float_result_rounded(seed):
    """Up to the 15-bit multipliers and one rounding, the transposed convolution of
    the real values."""
    rng = np.random.default_rng(seed)
    groups = [1, 8][seed % 2]
    c, o = 8, 8 if groups == 8 else 6
    k, stride, pad = [(1, 1, 0), (3, 2, 1), (3, 1, 1)][seed % 3]
    dy = rng.integers(-3000, 3000, (1, o, 4, 4)).astype(np.int16)
    w = rng.integers(-127, 128, (o, c // groups, k, k)).astype(np.int8)
    scales = rng.uniform(0.002, 0.02, o)
    e_dy, e_dx = -14, -12
    h = (4 - 1) * stride - 2 * pad + k
    geometry = dict(stride=(stride, stride), padding=(pad, pad), dilation=(1, 1),
                    groups=groups, input_shape=(1, c, h, h))
    got = fx.conv2d_grad_input(dy, w, w_scales=scales, e_dy=e_dy, e_dx=e_dx, **geometry)
    real = ref.conv2d_grad_input(dy * 2.0 ** e_dy, w * scales.reshape(-1, 1, 1, 1), **geometry)
    bound = ref.conv2d_grad_input(np.abs(dy) * 2.0 ** e_dy,
                                  np.abs(w) * scales.reshape(-1, 1, 1, 1), **geometry)
    error = np.abs(got * 2.0 ** e_dx - np.clip(real, -2.0 ** (15 + e_dx), 2.0 ** (15 + e_dx)))
    assert (error <= 2.0 ** (e_dx - 1) + bound * 2.0 ** -14 + 1e-12).all()


@pytest.mark.parametrize("scale", [0.02, 0.17, 0.6])
def test_cross_entropy_grad_is_softmax_minus_onehot_in_q15(scale):
    rng = np.random.default_rng(3)
    logits = rng.integers(-128, 128, (4, 10)).astype(np.int8)
    labels = rng.integers(0, 10, 4).astype(np.int32)
    got = fx.cross_entropy_grad(logits, labels, scale=scale)
    real = ref.cross_entropy_grad((logits.astype(np.float64) + 5) * scale, labels)
    assert np.abs(got * 2.0 ** -15 - real).max() <= 2.0 ** -15


@pytest.mark.parametrize("top, shift", [(0, 0), (1, 14), (3000, 3), (16383, 1), (16384, 0),
                                        (32768, 0)])
def test_loss_shift_is_the_largest_that_stays_in_int16(top, shift):
    assert fx.loss_shift(np.array([0, -top, top // 2])) == shift


def test_scaled_loss_gradient_and_update_undo_each_other():
    """Dynamic loss scaling changes the bits of the loss gradient, not the update: a
    bias step from the scaled gradient with the shift equals the unscaled one."""
    logits = np.array([[120, 110, -30, 5]], dtype=np.int8)
    labels = np.array([0], dtype=np.int32)
    plain = fx.cross_entropy_grad(logits, labels, scale=0.1)
    scaled, k = fx.scaled_cross_entropy_grad(logits, labels, scale=0.1)
    assert k > 0 and np.array_equal(scaled, plain * 2 ** k)
    update = dict(lr=0.05, grad_scale=2.0 ** -15, scales=[1e-4] * 4, qas=True,
                  qmin=-2 ** 31, qmax=2 ** 31 - 1)
    bias = np.array([1000, -5, 7, 0], dtype=np.int32)
    assert np.array_equal(fx.qsgd(bias, plain[0], **update),
                          fx.qsgd(bias, scaled[0], shift=k, **update))


def test_avg_pool2d_grad_spreads_the_mean():
    dy = np.array([[[[1000]], [[-3]]]], dtype=np.int16)
    got = fx.avg_pool2d_grad(dy, e_dy=-10, e_dx=-12, input_shape=(1, 2, 4, 4), kernel=(4, 4),
                             stride=(1, 1), padding=(0, 0), count_include_pad=True)
    # 1000 · 2^-10 / 16 in units of 2^-12: 250; -3 · 4 / 16 = -0.75 -> -1 (ties away).
    assert (got[0, 0] == 250).all() and (got[0, 1] == -1).all()


STEP_WITH_UNFUSED_GRADIENT = """
!x = !quant.uniform<i8:f32, 0.05:-3>
!w = !quant.uniform<i8:f32:0, {0.01, 0.02}>
func.func @train_step(%x: tensor<1x2x4x4x!x>, %w: tensor<2x2x1x1x!w>,
                      %label: tensor<1xi32>) -> tensor<2x2x1x1xf32> {
  %y = train.qconv2d %x, %w rounding multiplier_shift
      : (tensor<1x2x4x4x!x>, tensor<2x2x1x1x!w>) -> tensor<1x2x4x4x!x>
  %r = train.reshape %y : tensor<1x2x4x4x!x> -> tensor<1x32x!x>
  %l = quant.dcast %r : tensor<1x32x!x> to tensor<1x32xf32>
  %g = train.cross_entropy_grad %l, %label : tensor<1x32xf32>, tensor<1xi32> -> tensor<1x32xf32>
  %g4 = train.reshape %g : tensor<1x32xf32> -> tensor<1x2x4x4xf32>
  %xf = quant.dcast %x : tensor<1x2x4x4x!x> to tensor<1x2x4x4xf32>
  %gw = train.conv2d_grad_weight %g4, %xf : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<2x2x1x1xf32>
  return %gw : tensor<2x2x1x1xf32>
}
"""


STEP_WITH_MAX_POOL = """
!y = !quant.uniform<i8:f32, 0.1:-128>
func.func @train_step(%logits: tensor<1x16x!y>, %x: tensor<1x1x8x8xf32>,
                      %label: tensor<1xi32>) -> tensor<1x1x8x8xf32> {
  %l = quant.dcast %logits : tensor<1x16x!y> to tensor<1x16xf32>
  %g = train.cross_entropy_grad %l, %label : tensor<1x16xf32>, tensor<1xi32> -> tensor<1x16xf32>
  %g4 = train.reshape %g : tensor<1x16xf32> -> tensor<1x1x4x4xf32>
  %dx = train.max_pool2d_grad %g4, %x kernel [2, 2] stride [2, 2]
      : (tensor<1x1x4x4xf32>, tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32>
  return %dx : tensor<1x1x8x8xf32>
}
"""


@pytest.mark.parametrize("text, message", [
    (STEP_WITH_UNFUSED_GRADIENT, ":13:9: error: 'train.conv2d_grad_weight' has no "
                                 "int16 fixed-point form: int16 gradients update an int8 "
                                 "weight in train.conv2d_qsgd"),
    (STEP_WITH_MAX_POOL, ":8:9: error: 'train.max_pool2d_grad' has no int16 "
                         "fixed-point form (supported: cross_entropy_grad"),
], ids=["unfused-weight-gradient", "max-pool"])
def test_pass_names_an_op_without_a_fixed_point_form(text, message):
    module = parse_module(text, "step.mlir", new_context())
    with pytest.raises(PassError) as error:
        run_pipeline(module, ["train-int16-gradients"], "step.mlir")
    assert message in str(error.value)


@ct.needs_gcc
@ct.requires_tte
@pytest.mark.parametrize("name", ["mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3"])
def test_tte_int16_step_equals_interpreter_bit_for_bit(kernel_objects, name, tmp_path):
    model = ct.tte_model(name, tmp_path / name, gradients="int16")
    inputs, labels = ct.tte_data(model, 2, 21)
    model.write_data(inputs, labels)
    program = model.build_host(kernel_objects(ct.HOST_FLAGS), ct.HOST_FLAGS)
    losses, dumps = model.run(program, 2)
    loss_error, _, flips = ct.compare_steps(model, inputs, labels, losses, dumps)
    print(f"{name} int16: loss {loss_error:.1e}, flips {sum(flips.values())}")
    assert loss_error <= 1e-6
    assert sum(flips.values()) == 0, flips


@ct.needs_gcc
@ct.requires_tte
def test_tte_int16_weight_decay_equals_interpreter_bit_for_bit(kernel_objects, tmp_path):
    """Whole int8 weights (MobileNetV2's 138kb scheme) with weight decay: the decay
    term of the fixed-point update, in C as in the interpreter."""
    model = ct.tte_model("mbv2-w0.35", tmp_path / "wd", gradients="int16", scheme="138kb",
                         weight_decay=1e-3)
    inputs, labels = ct.tte_data(model, 1, 24)
    model.write_data(inputs, labels)
    program = model.build_host(kernel_objects(ct.PLAIN_FLAGS), ct.PLAIN_FLAGS)
    losses, dumps = model.run(program, 1)
    _, _, flips = ct.compare_steps(model, inputs, labels, losses, dumps)
    assert sum(flips.values()) == 0, flips


@ct.needs_gcc
@ct.needs_arm
@ct.requires_tte
def test_tte_mcunet_int16_on_cortex_m3_equals_host(kernel_objects, tmp_path):
    model = ct.tte_model("mcunet-5fps", tmp_path / "m3", gradients="int16", target="cortex-m3")
    inputs, labels = ct.tte_data(model, 1, 22)
    model.write_data(inputs, labels)
    host = model.run(model.build_host(kernel_objects(ct.PLAIN_FLAGS), ct.PLAIN_FLAGS), 1)
    elf = runner.build(model.directory, cpu="cortex-m3")
    result = runner.run_qemu(elf, cwd=model.directory, cpu="cortex-m3", timeout=900)
    assert result.exit_code == 0, result.stderr[-2000:]
    qemu = (runner.parse_losses(result.stdout), model.read_params(1))
    ct.assert_same_run(host, qemu)


@ct.needs_gcc
@ct.requires_tte
def test_tcc_run_on_cortex_m_returns_partial_channel_parameters_whole(tmp_path):
    """`tcc run --target=cortex-m7` of a step whose weights train their first channels
    only: the device returns those channels, the driver puts them back into the whole
    parameter (int16 gradients: the interpreter's bits exactly)."""
    from tcc.compiler import driver
    model = ct.tte_model("mcunet-5fps", tmp_path / "p", gradients="int16")
    inputs, labels = ct.tte_data(model, 1, 23)
    args = model.step.entry_block.arguments
    values = [model.parameters.get(i) for i in range(len(args))]
    values[model.input_index], values[-1] = inputs[0], labels[0]
    expected = run_function(model.module, "train_step", values)
    got = driver.run_on_cortex_m(model.module, "train_step", values, "cortex-m7", host=True)
    partial = [i for i, _, shape in model.stored if shape != np.shape(model.parameters[i])]
    assert partial, "the 49kb scheme trains partial channels"
    for mine, theirs in zip(got[1:], expected[1:]):
        assert mine.shape == theirs.shape and np.array_equal(mine, theirs)


SLICED_MODEL = """
!x = !quant.uniform<i8:f32, 0.05:-3>
!y = !quant.uniform<i8:f32, 0.1:-128>
!w = !quant.uniform<i8:f32:0, {0.01, 0.02, 0.015, 0.03}>
!v = !quant.uniform<i8:f32:0, {0.02, 0.01, 0.025}>
func.func @forward(%x: tensor<1x2x4x4x!x> {train.name = "input"},
    %w: tensor<4x2x1x1x!w> {train.name = "conv.weight", train.role = #train.role<trainable>},
    %b: tensor<4xi32> {train.name = "conv.bias", train.role = #train.role<trainable>},
    %w2: tensor<3x2x1x1x!v> {train.name = "head.weight", train.role = #train.role<trainable>},
    %b2: tensor<3xi32> {train.name = "head.bias", train.role = #train.role<trainable>})
    -> tensor<1x3xf32> {
  %y = train.qconv2d %x, %w, %b rounding multiplier_shift
      : (tensor<1x2x4x4x!x>, tensor<4x2x1x1x!w>, tensor<4xi32>) -> tensor<1x4x4x4x!y>
  %s = train.slice %y offsets [0, 1, 0, 0] sizes [1, 2, 4, 4]
      : tensor<1x4x4x4x!y> -> tensor<1x2x4x4x!y>
  %p = train.qglobal_avg_pool %s rounding multiplier_shift
      : tensor<1x2x4x4x!y> -> tensor<1x2x1x1x!y>
  %h = train.qconv2d %p, %w2, %b2 rounding multiplier_shift
      : (tensor<1x2x1x1x!y>, tensor<3x2x1x1x!v>, tensor<3xi32>) -> tensor<1x3x1x1x!y>
  %l = train.reshape %h : tensor<1x3x1x1x!y> -> tensor<1x3x!y>
  %f = quant.dcast %l : tensor<1x3x!y> to tensor<1x3xf32>
  return %f : tensor<1x3xf32>
}
"""


@ct.needs_gcc
def test_sliced_int8_model_trains_on_cortex_m3_as_the_interpreter(tmp_path):
    """`--target=cortex-m3` defaults an int8 model to int16 gradients (calibrated on
    random samples: no data given); the gradient of a forward slice is an int16
    train.pad_to, and one step on the host build equals the interpreter's."""
    from tcc.compiler import driver
    path = tmp_path / "sliced.mlir"
    path.write_text(SLICED_MODEL)
    rng = np.random.default_rng(4)
    np.savez(tmp_path / "w.npz",
             **{"conv.weight": rng.integers(-127, 128, (4, 2, 1, 1)).astype(np.int8),
                "conv.bias": rng.integers(-500, 500, 4).astype(np.int32),
                "head.weight": rng.integers(-127, 128, (3, 2, 1, 1)).astype(np.int8),
                "head.bias": rng.integers(-500, 500, 3).astype(np.int32)})
    model = driver.prepare(path, driver.TrainingOptions(target="cortex-m3", lr=0.05,
                                                        weights=tmp_path / "w.npz"))
    step = driver.find_function(model.module, "train_step")
    assert any(op.name == "train.pad_to" and "i16" in str(op.results[0].type)
               for op in step.entry_block.operations)
    args = step.entry_block.arguments
    values = [model.parameters.get(i) for i in range(len(args))]
    inputs, labels = driver.random_batches(model, 1)
    values[next(i for i in range(len(args) - 1) if i not in model.parameters)] = inputs[0]
    values[-1] = labels[0]
    expected = run_function(model.module, "train_step", values)
    got = driver.run_on_cortex_m(model.module, "train_step", values, "cortex-m3", host=True)
    for mine, theirs in zip(got[1:], expected[1:]):
        assert np.array_equal(mine, theirs)
    before = [model.parameters[driver.train.updated_arg(step, i)] for i in range(1, len(got))]
    assert any(not np.array_equal(b, a) for b, a in zip(before, got[1:]))

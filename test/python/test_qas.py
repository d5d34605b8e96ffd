"""int8 training: the quantized ops' gradient rules, train.qsgd and quantization-aware
scaling (QAS), against a PyTorch simulation of the Tiny Training Engine's int8 training.

The simulation (``sim_*``) computes every quantized op's result exactly as tcc's
float_scale semantics define it (integer accumulators and float64 requantization in
torch, independent of runtime/quantized_ops.py) and gives autograd the real values
with a straight-through estimator: a custom function returns the exact dequantized
result and passes dy back to the float expression of the op (conv2d / linear / add /
average on the real values) masked by [qmin < y < qmax]. Its integer-domain update
reimplements runtime/quantized_training.py's arithmetic in torch (float64).

- test_training_matches_simulation: 50 SGD steps with QAS of a small int8 CNN (3
  qconv2d incl. depthwise, qavg_pool2d, qadd, qglobal_avg_pool, quantized reshape,
  qlinear classifier) give bit-identical int8 weights and int32 biases in the
  interpreter (train_step from --train-autodiff, TrainAutodiff(qas=True)) and in the
  simulation, step by step; without QAS likewise (and the weights do not move).
- test_qas_off_ratio: with QAS off the integer gradient-to-weight norm ratio is s_W²
  times the QAS one (and QAS restores the float ratio), measured on the updates the
  interpreter applies.
- test_qsgd_* / test_dead_channel_rule: train.qsgd's arithmetic on hand-computed cases.
- test_dead_channels_mcunet: the dead-channel rule on layers of MCUNet-5FPS (skipped
  without ../shared/models).
- test_<op>_rule: each rule's gradients equal autograd of the simulation (float32,
  rtol 1e-5), over the ops' attribute variants.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tcc
from tcc._mlir import ir
from tcc._mlir.dialects import func
from tcc.compiler.source import find_function, new_context, parse_module
from tcc.dialects import train
from tcc.passes.gradient_rules import GRADIENTS
from tcc.passes.train_autodiff import TrainAutodiff
from tcc.runtime import quantized_ops as qo
from tcc.runtime import quantized_training as qt
from tcc.runtime.interpreter import bind_inputs, result_names, run_function

TTE = Path(tcc.__file__).parent / ".." / "shared" / "models" / "tte"

torch.set_num_threads(1)  # deterministic float32 reductions


# --------------------------------------------------------------------------
# MLIR text helpers
# --------------------------------------------------------------------------

def _f(value: float) -> str:
    return f"{float(value):.17e}"


def qtype(scale: float, zp: int, qmin: int | None = None, qmax: int | None = None) -> str:
    storage = "i8" if qmin is None else f"i8<{qmin}:{qmax}>"
    return f"!quant.uniform<{storage}:f32, {_f(scale)}:{zp}>"


def wtype(scales) -> str:
    return "!quant.uniform<i8:f32:0, {" + ",".join(_f(s) for s in scales) + "}>"


def tensor(shape, element: str) -> str:
    return f"tensor<{'x'.join(str(d) for d in shape)}x{element}>"


def _geometry_text(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1) -> str:
    text = ""
    if tuple(stride) != (1, 1):
        text += f" stride [{stride[0]}, {stride[1]}]"
    if tuple(padding) != (0, 0):
        text += f" padding [{padding[0]}, {padding[1]}]"
    if tuple(dilation) != (1, 1):
        text += f" dilation [{dilation[0]}, {dilation[1]}]"
    if groups != 1:
        text += f" groups {groups}"
    return text


# --------------------------------------------------------------------------
# The PyTorch simulation
# --------------------------------------------------------------------------

class _STE(torch.autograd.Function):
    """Forward: the exact real value of the quantized result. Backward: dy · mask to
    the float pre-activation (straight-through estimator through the rounding; the
    mask is the derivative of the clamp to the storage range)."""

    @staticmethod
    def forward(ctx, pre, exact, mask):
        ctx.save_for_backward(mask)
        return exact.clone()

    @staticmethod
    def backward(ctx, dy):
        (mask,) = ctx.saved_tensors
        return dy * mask, None, None


def _real(q: torch.Tensor, scale, zp) -> torch.Tensor:
    """(q - z) · s in float64, rounded once to float32 (quant.dcast)."""
    return ((q - zp) * scale).to(torch.float32)


@dataclasses.dataclass
class Act:
    """A quantized activation: storage values (float64 holding integers) and the real
    value (float32, carrying the autograd graph)."""

    q: torch.Tensor
    r: torch.Tensor
    scale: float
    zp: int
    qmin: int = -128
    qmax: int = 127


@dataclasses.dataclass
class Param:
    """A quantized parameter: storage values, a float32 leaf of its real value (its
    .grad is dL/d(real value)), and its per-channel scales (float64)."""

    q: torch.Tensor
    r: torch.Tensor
    scales: np.ndarray

    @staticmethod
    def of(stored: np.ndarray, scales) -> "Param":
        scales = np.asarray(scales, dtype=np.float64)
        q = torch.tensor(stored.astype(np.float64))
        view = [-1] + [1] * (stored.ndim - 1)
        r = _real(q, torch.tensor(scales).view(view), 0).requires_grad_()
        return Param(q, r, scales)


def sim_input(stored: np.ndarray, scale: float, zp: int, qmin=-128, qmax=127) -> Act:
    q = torch.tensor(stored.astype(np.float64))
    return Act(q, _real(q, scale, zp).requires_grad_(), scale, zp, qmin, qmax)


def _result(pre: torch.Tensor, q: torch.Tensor, scale, zp, qmin, qmax, mask=True) -> Act:
    keep = ((q > qmin) & (q < qmax)) if mask else torch.ones_like(q, dtype=torch.bool)
    exact = _real(q, scale, zp)
    return Act(q, _STE.apply(pre, exact, keep.to(torch.float32)), scale, zp, qmin, qmax)


def _requant(acc: torch.Tensor, eff: np.ndarray, zp: int, qmin: int, qmax: int, shape):
    eff = torch.tensor(eff).view(shape)
    return torch.clamp(torch.round(acc * eff) + zp, qmin, qmax)


def sim_qconv2d(x: Act, w: Param, b: Param | None, y_scale, y_zp, *, stride=(1, 1),
                padding=(0, 0), dilation=(1, 1), groups=1, qmin=-128, qmax=127,
                rounding="float_scale") -> Act:
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if rounding == "float_scale":
        acc = F.conv2d(x.q - x.zp, w.q, None, **geometry)  # exact integers in float64
        if b is not None:
            acc = acc + b.q.view(1, -1, 1, 1)
        eff = np.float64(x.scale) * w.scales / np.float64(y_scale)
        q = _requant(acc, eff, y_zp, qmin, qmax, (1, -1, 1, 1))
    else:  # the rule does not depend on the rounding: take the forward from tcc's ops
        q = torch.tensor(qo.qconv2d(
            x.q.numpy().astype(np.int64), w.q.numpy().astype(np.int64),
            None if b is None else b.q.numpy().astype(np.int64), x_scale=x.scale,
            x_zp=x.zp, w_scales=w.scales, y_scale=y_scale, y_zp=y_zp, qmin=qmin,
            qmax=qmax, rounding=rounding, **geometry).astype(np.float64))
    pre = F.conv2d(x.r, w.r, None if b is None else b.r, **geometry)
    return _result(pre, q, y_scale, y_zp, qmin, qmax)


def sim_qlinear(x: Act, w: Param, b: Param | None, y_scale, y_zp, qmin=-128,
                qmax=127) -> Act:
    acc = (x.q - x.zp) @ w.q.T
    if b is not None:
        acc = acc + b.q.view(1, -1)
    eff = np.float64(x.scale) * w.scales / np.float64(y_scale)
    q = _requant(acc, eff, y_zp, qmin, qmax, (1, -1))
    pre = F.linear(x.r, w.r, None if b is None else b.r)
    return _result(pre, q, y_scale, y_zp, qmin, qmax)


def sim_qadd(a: Act, b: Act, y_scale, y_zp, qmin=-128, qmax=127) -> Act:
    real = (a.q - a.zp) * a.scale + (b.q - b.zp) * b.scale
    q = torch.clamp(torch.round(real / y_scale) + y_zp, qmin, qmax)
    return _result(a.r + b.r, q, y_scale, y_zp, qmin, qmax)


def sim_qavg_pool2d(x: Act, kernel, stride, padding=(0, 0), count_include_pad=True) -> Act:
    (ph, pw) = padding
    if count_include_pad:  # padded positions hold z (real 0) and count
        padded = F.pad(x.q, (pw, pw, ph, ph), value=float(x.zp))
        count = float(kernel[0] * kernel[1])
    else:  # only in-image elements count, in the sum and in the divisor
        padded = F.pad(x.q, (pw, pw, ph, ph), value=0.0)
        ones = F.pad(torch.ones_like(x.q[:1, :1]), (pw, pw, ph, ph), value=0.0)
        count = F.avg_pool2d(ones, kernel, stride, divisor_override=1)
    total = F.avg_pool2d(padded, kernel, stride, divisor_override=1)
    q = torch.round(total / count)
    pre = F.avg_pool2d(x.r, kernel, stride, padding, count_include_pad=count_include_pad)
    return _result(pre, q, x.scale, x.zp, x.qmin, x.qmax, mask=False)


def sim_qglobal_avg_pool(x: Act) -> Act:
    q = torch.round(x.q.sum((2, 3), keepdim=True) / (x.q.shape[2] * x.q.shape[3]))
    return _result(x.r.mean((2, 3), keepdim=True), q, x.scale, x.zp, x.qmin, x.qmax,
                   mask=False)


def sim_reshape(x: Act, shape) -> Act:
    return Act(x.q.reshape(shape), x.r.reshape(shape), x.scale, x.zp, x.qmin, x.qmax)


def _update(param: Param, grad: torch.Tensor, *, lr: float, qas: bool, weight_decay=0.0,
            qmin: int, qmax: int, dead_ratio=1e-3) -> torch.Tensor:
    """The integer-domain SGD step of the TTE paper, in torch float64:
    W̄' = clamp(rne(W̄ - lr·(G̃ + wd·W̄))), G̃ = G / s with QAS (= s⁻²·G_W̄), s·G without."""
    s = torch.tensor(param.scales, dtype=torch.float64)
    median = float(np.median(param.scales[param.scales > 0]))
    dead = (s <= 0) | (s < dead_ratio * median)
    view = [-1] + [1] * (grad.dim() - 1)
    s = torch.where(dead, torch.ones_like(s), s).view(view)
    g = grad.to(torch.float64)
    step = g / s if qas else g * s
    if weight_decay:
        step = step + weight_decay * param.q
    new = param.q - float(np.float32(lr)) * step
    new = torch.where(dead.view(view), param.q, new)
    return torch.clamp(torch.round(new), qmin, qmax)


# --------------------------------------------------------------------------
# Building and running train_step
# --------------------------------------------------------------------------

def build_train_step(text: str, *, lr: float, qas: bool, weight_decay: float = 0.0):
    """Parses a module with @forward and runs --train-autodiff on it (QAS on or off)."""
    module = parse_module(text, "qas.mlir", new_context())
    with module.context, ir.Location.unknown():
        TrainAutodiff(lr=lr, qas=qas, weight_decay=weight_decay).run(module)
    assert module.operation.verify()
    return module


def run_step(module, state: dict, data: dict) -> tuple[float, dict]:
    """One train_step: (loss, updated parameters by name)."""
    step = find_function(module, "train_step")
    outputs = run_function(module, "train_step", bind_inputs(step, {**state, **data}))
    names = result_names(module, "train_step")
    updated = dict(state)
    for name, value in zip(names[1:], outputs[1:]):
        updated[name] = np.asarray(value)
    return float(outputs[0]), updated


# --------------------------------------------------------------------------
# A small int8 CNN
# --------------------------------------------------------------------------

RELU6 = (6 / 255, -128)       # y_scale, y_zero of a ReLU6 folded into the output range
SUM6 = (12 / 255, -128)       # a sum of two ReLU6 outputs
X_Q = (1 / 127.5, 0)          # the TTE models' input quantization
LOGITS = (0.06, 0)


@dataclasses.dataclass
class SmallNet:
    """x[N,3,8,8] -> qconv2d 3x3 (3->C, ReLU6) -> qavg_pool2d 2x2 -> qconv2d 3x3 (C->C,
    ReLU6) -> qadd(pool, conv2) -> depthwise qconv2d 3x3 (ReLU6) -> qglobal_avg_pool ->
    reshape -> qlinear (C->10) -> dcast. Weights symmetric per output channel, scales
    float32 values (as TTE and TFLite store them), int32 biases of scale s_x·s_w."""

    batch: int = 16
    width: int = 8
    seed: int = 7

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        c = self.width
        self.layers = {  # name: (weight shape, fan_in, input scale)
            "conv1": ((c, 3, 3, 3), 27, X_Q[0]),
            "conv2": ((c, c, 3, 3), 9 * c, RELU6[0]),
            "conv3": ((c, 1, 3, 3), 9, SUM6[0]),
            "fc": ((10, c), c, RELU6[0]),
        }
        self.state, self.scales = {}, {}
        for name, (shape, fan_in, x_scale) in self.layers.items():
            wf = rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
            s = (np.abs(wf).reshape(shape[0], -1).max(axis=1) / 127).astype(np.float32)
            s = s.astype(np.float64)
            w = np.clip(np.rint(wf / s.reshape([-1] + [1] * (len(shape) - 1))), -127, 127)
            bias_scale = np.float64(x_scale) * s
            b = np.rint(rng.normal(0.1, 0.2, shape[0]) / bias_scale)
            self.state[f"{name}.weight"] = w.astype(np.int8)
            self.state[f"{name}.bias"] = b.astype(np.int32)
            self.scales[f"{name}.weight"] = s
            self.scales[f"{name}.bias"] = bias_scale
        # A learnable task: each class has a prototype image, inputs are noisy copies.
        self.labels = (np.arange(self.batch) % 10).astype(np.int32)
        prototypes = rng.integers(-128, 128, size=(10, 3, 8, 8))
        noise = rng.integers(-40, 41, size=(self.batch, 3, 8, 8))
        self.x = np.clip(prototypes[self.labels] + noise, -128, 127).astype(np.int8)

    def text(self, trainable=None) -> str:
        n, c = self.batch, self.width
        a0, a1, a3 = qtype(*X_Q), qtype(*RELU6), qtype(*SUM6)
        lg = qtype(*LOGITS)
        params, args = [], []
        for name in self.state:
            layer = name.split(".")[0]
            shape = self.layers[layer][0]
            if name.endswith("weight"):
                t = tensor(shape, wtype(self.scales[name]))
            else:
                t = tensor([shape[0]], "i32")
            role = "trainable" if trainable is None or name in trainable else "frozen"
            params.append((name, t))
            args.append(f'%{name.replace(".", "_")}: {t} '
                        f'{{train.role = #train.role<{role}>, train.name = "{name}"}}')
        types = dict(params)
        x = tensor([n, 3, 8, 8], a0)
        c1, p1 = tensor([n, c, 8, 8], a1), tensor([n, c, 4, 4], a1)
        s1, g1 = tensor([n, c, 4, 4], a3), tensor([n, c, 1, 1], a1)
        f1, out = tensor([n, c], a1), tensor([n, 10], lg)
        return f"""
func.func @forward(%x: {x}, {", ".join(args)}) -> tensor<{n}x10xf32> {{
  %c1 = train.qconv2d %x, %conv1_weight, %conv1_bias padding [1, 1] rounding float_scale
      : ({x}, {types["conv1.weight"]}, {types["conv1.bias"]}) -> {c1}
  %p1 = train.qavg_pool2d %c1 kernel [2, 2] stride [2, 2] count_include_pad rounding float_scale
      : ({c1}) -> {p1}
  %c2 = train.qconv2d %p1, %conv2_weight, %conv2_bias padding [1, 1] rounding float_scale
      : ({p1}, {types["conv2.weight"]}, {types["conv2.bias"]}) -> {p1}
  %s1 = train.qadd %p1, %c2 rounding float_scale : ({p1}, {p1}) -> {s1}
  %c3 = train.qconv2d %s1, %conv3_weight, %conv3_bias padding [1, 1] groups {c} rounding float_scale
      : ({s1}, {types["conv3.weight"]}, {types["conv3.bias"]}) -> {p1}
  %g1 = train.qglobal_avg_pool %c3 rounding float_scale : {p1} -> {g1}
  %f1 = train.reshape %g1 : {g1} -> {f1}
  %l1 = train.qlinear %f1, %fc_weight, %fc_bias rounding float_scale
      : ({f1}, {types["fc.weight"]}, {types["fc.bias"]}) -> {out}
  %logits = quant.dcast %l1 : {out} to tensor<{n}x10xf32>
  return %logits : tensor<{n}x10xf32>
}}
"""

    def simulate(self, state: dict) -> tuple[torch.Tensor, dict]:
        """Forward of the simulation: (f32 logits with autograd, Param per name)."""
        p = {name: Param.of(state[name], self.scales[name]) for name in state}
        x = sim_input(self.x, *X_Q)
        c1 = sim_qconv2d(x, p["conv1.weight"], p["conv1.bias"], *RELU6, padding=(1, 1))
        p1 = sim_qavg_pool2d(c1, (2, 2), (2, 2))
        c2 = sim_qconv2d(p1, p["conv2.weight"], p["conv2.bias"], *RELU6, padding=(1, 1))
        s1 = sim_qadd(p1, c2, *SUM6)
        c3 = sim_qconv2d(s1, p["conv3.weight"], p["conv3.bias"], *RELU6, padding=(1, 1),
                         groups=self.width)
        g1 = sim_qglobal_avg_pool(c3)
        f1 = sim_reshape(g1, (self.batch, self.width))
        logits = sim_qlinear(f1, p["fc.weight"], p["fc.bias"], *LOGITS)
        return logits.r, p

    def sim_step(self, state: dict, *, lr: float, qas: bool, trainable=None):
        """(loss, updated state, real-value gradients) of one simulated SGD step."""
        logits, params = self.simulate(state)
        loss = F.cross_entropy(logits, torch.tensor(self.labels.astype(np.int64)))
        loss.backward()
        updated, grads = dict(state), {}
        for name, param in params.items():
            grads[name] = param.r.grad.numpy().copy()
            if trainable is not None and name not in trainable:
                continue
            lo, hi = (-128, 127) if name.endswith("weight") else (qt.INT32_MIN, qt.INT32_MAX)
            new = _update(param, param.r.grad, lr=lr, qas=qas, qmin=lo, qmax=hi)
            updated[name] = new.numpy().astype(state[name].dtype)
        return loss.item(), updated, grads


LR = 0.3
STEPS = 50


def test_forward_matches_simulation():
    net = SmallNet()
    module = parse_module(net.text(), "qas.mlir", new_context())
    forward = find_function(module, "forward")
    (logits,) = run_function(module, "forward", bind_inputs(forward, {**net.state, "arg0": net.x}))
    sim_logits, _ = net.simulate(net.state)
    np.testing.assert_array_equal(logits, sim_logits.detach().numpy())


def test_training_matches_simulation():
    """50 steps with QAS: the interpreter's int8 weights / int32 biases equal the
    simulation's after every step, and training makes progress."""
    net = SmallNet()
    module = build_train_step(net.text(), lr=LR, qas=True)
    updates = [op for op in find_function(module, "train_step").entry_block.operations
               if op.name == "train.qsgd"]
    assert len(updates) == len(net.state)
    assert all("qas" in op.attributes for op in updates)
    tcc_state, sim_state = dict(net.state), dict(net.state)
    data = {"arg0": net.x, "labels": net.labels}
    losses = []
    for step in range(STEPS):
        tcc_loss, tcc_state = run_step(module, tcc_state, data)
        sim_loss, sim_state, _ = net.sim_step(sim_state, lr=LR, qas=True)
        for name in net.state:
            assert tcc_state[name].dtype == net.state[name].dtype
            np.testing.assert_array_equal(tcc_state[name], sim_state[name],
                                          err_msg=f"{name} after step {step + 1}")
        assert tcc_loss == pytest.approx(sim_loss, rel=1e-5)
        losses.append(tcc_loss)
    assert losses[-1] < 0.85 * losses[0]
    for name in net.state:
        changed = np.count_nonzero(tcc_state[name] != net.state[name])
        assert changed > 0.2 * tcc_state[name].size, name


def test_training_without_qas_matches_simulation():
    """Without QAS the same lr hardly moves the int8 weights (G_W̄ = s·G is ~1e-4 of
    the QAS step): the paper's "int8 SGD without QAS" baseline, again bit-identical."""
    net = SmallNet()
    module = build_train_step(net.text(), lr=LR, qas=False)
    tcc_state, sim_state = dict(net.state), dict(net.state)
    data = {"arg0": net.x, "labels": net.labels}
    for step in range(10):
        _, tcc_state = run_step(module, tcc_state, data)
        _, sim_state, _ = net.sim_step(sim_state, lr=LR, qas=False)
        for name in net.state:
            np.testing.assert_array_equal(tcc_state[name], sim_state[name],
                                          err_msg=f"{name} after step {step + 1}")
    for name in net.state:
        if name.endswith("weight"):
            np.testing.assert_array_equal(tcc_state[name], net.state[name])


# --------------------------------------------------------------------------
# (b) QAS off: the gradient-to-weight ratio shrinks by s_W²
# --------------------------------------------------------------------------

@pytest.mark.parametrize("layer", ["conv1", "conv2", "conv3", "fc"])
def test_qas_off_ratio(layer):
    """Only `layer`'s weight trains, one step. Per output channel c, the integer gradient
    the interpreter applies, ΔW̄_c / lr, has the gradient-to-weight ratio
    ‖ΔW̄_c‖ / (lr·‖W̄_c‖) = ‖G_c‖ / ‖W_c‖ (the float ratio) with QAS and s_c² times it
    without (G_W̄ = s·G). Large learning rates (lr_off = lr_on / median(s)²) make the
    rounding error (at most 0.5·√n per channel) small against the updates."""
    net = SmallNet()
    name = f"{layer}.weight"
    # Small weights: the updates below stay clear of saturation.
    net.state[name] = (net.state[name] // 8).astype(np.int8)
    _, _, grads = net.sim_step(net.state, lr=LR, qas=True, trainable={name})
    count = len(net.scales[name])
    g = grads[name].astype(np.float64).reshape(count, -1)
    s = net.scales[name]
    w = net.state[name].astype(np.float64).reshape(count, -1)
    lr_on = float(np.float32(50.0 / np.abs(g / s[:, None]).max()))  # largest step: 50 codes
    lr_off = float(np.float32(lr_on / np.median(s) ** 2))
    data = {"arg0": net.x, "labels": net.labels}
    ratio, bound = {}, 0.5 * np.sqrt(w.shape[1])
    for qas, lr, g_int in ((True, lr_on, g / s[:, None]), (False, lr_off, g * s[:, None])):
        module = build_train_step(net.text(trainable={name}), lr=lr, qas=qas)
        _, new = run_step(module, net.state, data)
        assert np.abs(new[name]).max() < 127, "saturated: the ratio would be wrong"
        delta = w - new[name].astype(np.float64).reshape(count, -1)
        step = np.linalg.norm(delta, axis=1)
        predicted = lr * np.linalg.norm(g_int, axis=1)
        assert (np.abs(step - predicted) <= bound * 1.001 + 1e-3 * predicted).all()
        ratio[qas] = step / (lr * np.linalg.norm(w, axis=1))
    float_ratio = np.linalg.norm(g, axis=1) / np.linalg.norm(w * s[:, None], axis=1)
    # Channels whose QAS step is large against the rounding bound (the rest still
    # obeyed the bound above): the ratios are as predicted within 10 %.
    measured = lr_on * np.linalg.norm(g / s[:, None], axis=1) > 10 * bound
    assert measured.sum() >= 2
    np.testing.assert_allclose(ratio[True][measured], float_ratio[measured], rtol=0.1)
    np.testing.assert_allclose(ratio[False][measured] / ratio[True][measured],
                               s[measured] ** 2, rtol=0.2)
    # Without QAS, the paper's lr gives an update s² (~1e-5) times too small: nothing moves.
    module = build_train_step(net.text(trainable={name}), lr=LR, qas=False)
    _, new = run_step(module, net.state, data)
    np.testing.assert_array_equal(new[name], net.state[name])


# --------------------------------------------------------------------------
# train.qsgd semantics
# --------------------------------------------------------------------------

def _qsgd_module(param_type: str, attrs: str) -> ir.Module:
    shape = param_type[len("tensor<"):].split("x")[:-1]
    g = tensor([int(d) for d in shape], "f32")
    text = f"""
func.func @step(%p: {param_type}, %g: {g}) -> {param_type} {{
  %p2 = train.qsgd %p, %g {attrs} : ({param_type}, {g}) -> {param_type}
  return %p2 : {param_type}
}}"""
    return parse_module(text, "qsgd.mlir", new_context())


def test_qsgd_weight_rounds_half_to_even_and_saturates():
    scales = [0.5, 0.25]
    module = _qsgd_module(tensor([2, 3], wtype(scales)), "lr 1.000000e+00 qas")
    w = np.array([[0, 0, 120], [0, 1, -120]], dtype=np.int8)
    # QAS: W̄ - lr·G/s.  Row 0: 0 - 0.25/0.5 = -0.5 -> -0 (even); 0 - 0.75/0.5 = -1.5 -> -2;
    # 120 - (-10/0.5) = 140 -> 127. Row 1: 0 - 0.125/0.25 = -0.5 -> 0; 1 - (-0.125/0.25)
    # = 1.5 -> 2; -120 - 10/0.25 -> -128.
    g = np.array([[0.25, 0.75, -10.0], [0.125, -0.125, 10.0]], dtype=np.float32)
    (out,) = run_function(module, "step", [w, g])
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, [[0, -2, 127], [0, 2, -128]])
    # Without QAS the gradient of the integers is s·G.
    module = _qsgd_module(tensor([2, 3], wtype(scales)), "lr 4.000000e+00")
    (out,) = run_function(module, "step", [w, g])
    np.testing.assert_array_equal(out, [[0, -2, 127], [0, 1, -128]])  # 1 + 0.125 -> 1


def test_qsgd_weight_decay_and_narrow_range():
    module = _qsgd_module(tensor([1, 2], wtype([0.1]).replace("i8:", "i8<-127:127>:")),
                          "lr 5.000000e-01 weight_decay 1.000000e-01 qas")
    w = np.array([[100, -100]], dtype=np.int8)
    g = np.array([[0.0, 20.0]], dtype=np.float32)
    # 100 - 0.5·(0 + 0.1·100) = 95;  -100 - 0.5·(200 + 0.1·(-100)) = -195 -> -127.
    (out,) = run_function(module, "step", [w, g])
    np.testing.assert_array_equal(out, [[95, -127]])


def test_qsgd_bias_uses_its_scales_and_saturates_int32():
    module = _qsgd_module("tensor<3xi32>", "lr 1.000000e+00 scales [1.000000e-04, "
                          "2.000000e-04, 1.000000e-04] qas")
    b = np.array([1000, qt.INT32_MAX - 3, 5], dtype=np.int32)
    g = np.array([0.01, -1.0, 2.5e-5], dtype=np.float32)
    (out,) = run_function(module, "step", [b, g])
    assert out.dtype == np.int32
    # 1000 - 0.01/1e-4 = 900; saturates at INT32_MAX; 5 - f32(2.5e-5)/1e-4 = 4.75 -> 5.
    np.testing.assert_array_equal(out, [900, qt.INT32_MAX, 5])


def test_qsgd_int32_without_scales_is_an_error():
    from tcc.compiler.errors import IRError
    with pytest.raises(IRError, match="scales"):
        _qsgd_module("tensor<2xi32>", "lr 1.000000e+00")


def test_dead_channel_rule():
    assert qt.DEAD_CHANNEL_RATIO == 1e-3
    s = np.array([0.01, 0.02, 3.9e-9, 0.015, 0.012, 1.0e-5, 1.4e-5, 0.0, 0.011])
    # median of the positive scales (0.01 + 0.011) / 2 -> threshold 1.05e-5.
    np.testing.assert_array_equal(qt.dead_channels(s),
                                  [False, False, True, False, False, True, False, True, False])
    np.testing.assert_array_equal(qt.dead_channels(np.full(4, 1e-12)), [False] * 4)
    w = np.full((3, 2), 10, dtype=np.int8)
    g = np.full((3, 2), 1e-3, dtype=np.float32)
    new = qt.qsgd(w, g, lr=1.0, scales=[0.01, 3.9e-9, 0.01], qas=True, qmin=-128, qmax=127)
    np.testing.assert_array_equal(new, [[10, 10], [10, 10], [10, 10]])  # 0.1 rounds away
    new = qt.qsgd(w, g * 100, lr=1.0, scales=[0.01, 3.9e-9, 0.01], qas=True, qmin=-128,
                  qmax=127)
    np.testing.assert_array_equal(new, [[0, 0], [10, 10], [0, 0]])
    new = qt.qsgd(w, g * 100, lr=1.0, scales=[0.01, 3.9e-9, 0.01], qas=True, qmin=-128,
                  qmax=127, dead_ratio=0.0)
    np.testing.assert_array_equal(new[1], [-128, -128])  # what QAS does without the rule


def test_qsgd_nan_gradient_keeps_the_value():
    w = np.array([[3, 4]], dtype=np.int8)
    g = np.array([[np.nan, np.inf]], dtype=np.float32)
    np.testing.assert_array_equal(
        qt.qsgd(w, g, lr=1.0, scales=[0.1], qas=True, qmin=-128, qmax=127), [[3, -128]])


# --------------------------------------------------------------------------
# (c) Dead channels of MCUNet-5FPS
# --------------------------------------------------------------------------

needs_tte = pytest.mark.skipif(not (TTE / "mcunet-5fps.json").is_file(),
                               reason=f"the TTE models are not available ({TTE} is absent)")


def _mcunet_layer(path: str):
    tree = json.loads((TTE / "mcunet-5fps.json").read_text())
    arrays = np.load(TTE / "mcunet-5fps.npz")
    node = tree
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    params = node["params"]

    def array(key):
        return arrays[params[key]["array"]]
    return node, params, array("weight"), array("bias"), array("w_scales").astype(np.float64)


def _dead_layer_module(path: str, size: int, batch: int):
    """x -> the MCUNet layer (trainable) -> qglobal_avg_pool -> reshape -> a fresh
    qlinear head to 10 classes (frozen) -> dcast."""
    node, params, w, b, s = _mcunet_layer(path)
    o, cg, kh, kw = w.shape
    c = node["in_channel"]
    stride, groups = node["stride"], node["groups"]
    x_t = qtype(params["x_scale"], params["x_zero"])
    y_t = qtype(params["y_scale"], params["y_zero"])
    out_size = (size + 2 * ((kh - 1) // 2) - kh) // stride + 1
    x, y = tensor([batch, c, size, size], x_t), tensor([batch, o, out_size, out_size], y_t)
    g, f = tensor([batch, o, 1, 1], y_t), tensor([batch, o], y_t)
    rng = np.random.default_rng(3)
    head_s = np.full(10, 0.004)
    head_w = rng.integers(-127, 128, size=(10, o)).astype(np.int8)
    lg = qtype(0.1, 0)
    wt, ht = tensor(w.shape, wtype(s)), tensor([10, o], wtype(head_s))
    pad = (kh - 1) // 2
    geometry = _geometry_text((stride, stride), (pad, pad), groups=groups)
    text = f"""
func.func @forward(%x: {x}, %w: {wt} {{train.role = #train.role<trainable>, train.name = "w"}},
    %b: tensor<{o}xi32> {{train.role = #train.role<trainable>, train.name = "b"}},
    %hw: {ht} {{train.role = #train.role<frozen>, train.name = "hw"}}) -> tensor<{batch}x10xf32> {{
  %y = train.qconv2d %x, %w, %b{geometry} rounding float_scale
      : ({x}, {wt}, tensor<{o}xi32>) -> {y}
  %g = train.qglobal_avg_pool %y rounding float_scale : {y} -> {g}
  %f = train.reshape %g : {g} -> {f}
  %l = train.qlinear %f, %hw rounding float_scale : ({f}, {ht}) -> {tensor([batch, 10], lg)}
  %logits = quant.dcast %l : {tensor([batch, 10], lg)} to tensor<{batch}x10xf32>
  return %logits : tensor<{batch}x10xf32>
}}"""
    x_data = rng.integers(-128, 128, size=(batch, c, size, size), dtype=np.int8)
    labels = rng.integers(0, 10, size=batch).astype(np.int32)
    return text, {"w": w, "b": b, "hw": head_w}, {"arg0": x_data, "labels": labels}, s


@needs_tte
@pytest.mark.parametrize("path, size", [("first_conv", 16), ("blocks.11.depthwise", 8),
                                        ("blocks.9.pointwise1", 4)])
def test_dead_channels_mcunet(path, size, monkeypatch):
    """One QAS step on an MCUNet-5FPS layer: the channels with collapsed scales keep
    their weights and (saturated) biases, the live ones train, nothing else saturates;
    without the rule, the dead channels are slammed to the storage limits."""
    text, state, data, s = _dead_layer_module(path, size, batch=4)
    dead = qt.dead_channels(s)
    assert dead.any() and dead[s < 1e-7].all()  # every collapsed channel is dead
    lr = 1e-3
    module = build_train_step(text, lr=lr, qas=True)
    _, new = run_step(module, state, data)
    w, b = state["w"], state["b"]
    np.testing.assert_array_equal(new["w"][dead], w[dead])
    np.testing.assert_array_equal(new["b"][dead], b[dead])
    changed = (new["w"] != w).reshape(len(s), -1).any(axis=1) | (new["b"] != b)
    assert changed[~dead].mean() > 0.25
    moved = np.abs(new["w"].astype(np.int64) - w).reshape(len(s), -1).max(axis=1)
    assert moved[~dead].max() < 64, "a live channel jumped across half the int8 range"

    # Without the rule: the live channels are unchanged, and the dead channels that get
    # a gradient at all (most are saturated at the output, where the mask stops it)
    # jump by hundreds of codes in the weights or ~1e5 and more in the bias.
    monkeypatch.setattr(qt, "DEAD_CHANNEL_RATIO", 0.0)
    _, slammed = run_step(module, state, data)
    for key in ("w", "b"):
        np.testing.assert_array_equal(slammed[key][~dead], new[key][~dead])
    bias_jump = np.abs(slammed["b"].astype(np.int64) - b)[dead]
    weight_jump = np.abs(slammed["w"].astype(np.int64) - w).reshape(len(s), -1).max(axis=1)[dead]
    hit = (bias_jump > 0) | (weight_jump > 0)
    assert hit.any()
    assert ((bias_jump[hit] > 10_000) | (weight_jump[hit] > 100)).all()


# --------------------------------------------------------------------------
# (d) Each rule against autograd of the simulation
# --------------------------------------------------------------------------

def _gradient_module(text: str):
    """Parses @forward(args) -> y (one op) and adds @grads(args..., dy) -> gradients of
    every operand, built by the op's rule."""
    module = parse_module(text, "rule.mlir", new_context())
    forward = find_function(module, "forward")
    ops = list(forward.entry_block.operations)
    op = ops[-2]
    with module.context, ir.Location.unknown():
        arg_types = [a.type for a in forward.entry_block.arguments]
        y = op.results[0]
        dy_type = ir.RankedTensorType.get(train.shape_of(y), ir.F32Type.get())
        grad_types = [ir.RankedTensorType.get(train.shape_of(v), ir.F32Type.get())
                      for v in op.operands]
        with ir.InsertionPoint(module.body):
            grads = func.FuncOp("grads", (arg_types + [dy_type], grad_types))
            block = grads.add_entry_block()
            with ir.InsertionPoint(block):
                values = dict(zip(forward.entry_block.arguments, block.arguments))
                clone = ir.Operation.create(
                    op.name, results=[r.type for r in op.results],
                    operands=[values[v] for v in op.operands],
                    attributes=dict(op.attributes.items()))
                rule = GRADIENTS[op.name]
                outs = rule(clone.opview, block.arguments[-1], [True] * len(op.operands))
                func.ReturnOp(outs)
    assert module.operation.verify(), str(module)
    return module


def _check(module, inputs: list, dy: np.ndarray, expected: list):
    outs = run_function(module, "grads", inputs + [dy])
    assert len(outs) == len(expected)
    for out, want in zip(outs, expected):
        want = want.detach().numpy()
        assert out.dtype == np.float32 and out.shape == want.shape
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


def _rand_q(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi + 1, size=shape).astype(np.int8)


def _weight(rng, shape, scale=0.02):
    scales = np.float32(scale) * (0.5 + rng.random(shape[0])).astype(np.float32)
    return _rand_q(rng, shape, -127, 127), scales.astype(np.float64)


def _dy(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


CONV_CASES = {
    "plain": dict(w=(6, 4, 3, 3), x=(2, 4, 7, 7), geometry={}, bias=True),
    "stride-pad": dict(w=(6, 4, 3, 3), x=(2, 4, 8, 8),
                       geometry=dict(stride=(2, 2), padding=(1, 1)), bias=True),
    "no-bias-dilation": dict(w=(4, 4, 3, 3), x=(1, 4, 9, 9),
                             geometry=dict(dilation=(2, 2), padding=(2, 2)), bias=False),
    "groups": dict(w=(6, 2, 3, 1), x=(2, 4, 6, 6),
                   geometry=dict(groups=2, padding=(1, 0)), bias=True, y_scale=0.1),
    "depthwise": dict(w=(8, 1, 3, 3), x=(2, 8, 6, 6),
                      geometry=dict(groups=8, padding=(1, 1), stride=(2, 2)), bias=True,
                      y_scale=0.1),
    "multiplier-shift": dict(w=(6, 4, 1, 1), x=(2, 4, 5, 5), geometry={}, bias=True,
                             rounding="multiplier_shift", y_scale=0.1),
}


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_qconv2d_rule(case):
    spec = CONV_CASES[case]
    rng = np.random.default_rng(sum(case.encode()))
    geometry = {**dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1),
                **spec["geometry"]}
    rounding = spec.get("rounding", "float_scale")
    x_scale, x_zp, y_scale, y_zp = 0.05, -3, spec.get("y_scale", 0.4), 5  # y saturates
    w, s = _weight(rng, spec["w"])
    x = _rand_q(rng, spec["x"])
    o = spec["w"][0]
    b = rng.integers(-3000, 3000, size=o).astype(np.int32) if spec["bias"] else None
    n, _, h, wd = spec["x"]
    g = train.ConvGeometry(**geometry)
    oh, ow = g.output_size(h, spec["w"][2], 0), g.output_size(wd, spec["w"][3], 1)
    xt, wt, yt = (tensor(spec["x"], qtype(x_scale, x_zp)), tensor(spec["w"], wtype(s)),
                  tensor([n, o, oh, ow], qtype(y_scale, y_zp)))
    operands = "%x, %w" + (", %b" if spec["bias"] else "")
    types = f"{xt}, {wt}" + (f", tensor<{o}xi32>" if spec["bias"] else "")
    bias_arg = f", %b: tensor<{o}xi32>" if spec["bias"] else ""
    text = f"""
func.func @forward(%x: {xt}, %w: {wt}{bias_arg}) -> {yt} {{
  %y = train.qconv2d {operands}{_geometry_text(**geometry)} rounding {rounding}
      : ({types}) -> {yt}
  return %y : {yt}
}}"""
    module = _gradient_module(text)
    ax = sim_input(x, x_scale, x_zp)
    pw = Param.of(w, s)
    pb = Param.of(b, np.float64(x_scale) * s) if b is not None else None
    y = sim_qconv2d(ax, pw, pb, y_scale, y_zp, rounding=rounding, **geometry)
    saturated = ((y.q == -128) | (y.q == 127)).float().mean()
    assert 0.02 < saturated < 0.9  # the mask is exercised
    dy = _dy(rng, y.q.shape)
    y.r.backward(torch.tensor(dy))
    inputs = [x, w] + ([b] if b is not None else [])
    _check(module, inputs, dy, [ax.r.grad, pw.r.grad] + ([pb.r.grad] if pb else []))


@pytest.mark.parametrize("bias", [True, False])
def test_qlinear_rule(bias):
    rng = np.random.default_rng(11 + bias)
    x = _rand_q(rng, (5, 12))
    w, s = _weight(rng, (7, 12))
    b = rng.integers(-2000, 2000, size=7).astype(np.int32)
    xt, wt, yt = (tensor([5, 12], qtype(0.03, 10)), tensor([7, 12], wtype(s)),
                  tensor([5, 7], qtype(0.15, -20)))
    bias_arg, operands = (f", %b: tensor<7xi32>", "%x, %w, %b") if bias else ("", "%x, %w")
    types = f"{xt}, {wt}" + (", tensor<7xi32>" if bias else "")
    text = f"""
func.func @forward(%x: {xt}, %w: {wt}{bias_arg}) -> {yt} {{
  %y = train.qlinear {operands} rounding float_scale : ({types}) -> {yt}
  return %y : {yt}
}}"""
    module = _gradient_module(text)
    ax, pw = sim_input(x, 0.03, 10), Param.of(w, s)
    pb = Param.of(b, np.float64(0.03) * s) if bias else None
    y = sim_qlinear(ax, pw, pb, 0.15, -20)
    assert 0 < ((y.q == -128) | (y.q == 127)).sum() < y.q.numel()
    dy = _dy(rng, y.q.shape)
    y.r.backward(torch.tensor(dy))
    _check(module, [x, w] + ([b] if bias else []), dy,
           [ax.r.grad, pw.r.grad] + ([pb.r.grad] if bias else []))


def test_qadd_rule():
    rng = np.random.default_rng(5)
    a, b = _rand_q(rng, (2, 3, 4, 4)), _rand_q(rng, (2, 3, 4, 4))
    at, bt, yt = (tensor([2, 3, 4, 4], qtype(0.02, -128)), tensor([2, 3, 4, 4], qtype(0.05, 7)),
                  tensor([2, 3, 4, 4], qtype(0.04, -30)))
    text = f"""
func.func @forward(%a: {at}, %b: {bt}) -> {yt} {{
  %y = train.qadd %a, %b rounding float_scale : ({at}, {bt}) -> {yt}
  return %y : {yt}
}}"""
    module = _gradient_module(text)
    xa, xb = sim_input(a, 0.02, -128), sim_input(b, 0.05, 7)
    y = sim_qadd(xa, xb, 0.04, -30)
    assert 0 < ((y.q == -128) | (y.q == 127)).sum() < y.q.numel()
    dy = _dy(rng, y.q.shape)
    y.r.backward(torch.tensor(dy))
    _check(module, [a, b], dy, [xa.r.grad, xb.r.grad])


@pytest.mark.parametrize("kernel, stride, padding, cip", [
    ((2, 2), (2, 2), (0, 0), True), ((3, 3), (2, 2), (1, 1), True),
    ((3, 3), (2, 2), (1, 1), False), ((3, 2), (1, 1), (1, 0), False)])
def test_qavg_pool2d_rule(kernel, stride, padding, cip):
    rng = np.random.default_rng(sum(kernel) + sum(padding) + cip)
    x = _rand_q(rng, (2, 3, 7, 6))
    qt_ = qtype(0.1, 3)
    out = [2, 3] + [(d + 2 * p - k) // st + 1
                    for d, k, st, p in zip((7, 6), kernel, stride, padding)]
    xt, yt = tensor([2, 3, 7, 6], qt_), tensor(out, qt_)
    geometry = (f"kernel [{kernel[0]}, {kernel[1]}] stride [{stride[0]}, {stride[1]}] "
                f"padding [{padding[0]}, {padding[1]}]" + (" count_include_pad" if cip else ""))
    text = f"""
func.func @forward(%x: {xt}) -> {yt} {{
  %y = train.qavg_pool2d %x {geometry} rounding float_scale : ({xt}) -> {yt}
  return %y : {yt}
}}"""
    module = _gradient_module(text)
    ax = sim_input(x, 0.1, 3)
    y = sim_qavg_pool2d(ax, kernel, stride, padding, cip)
    forward = run_function(module, "forward", [x])[0]
    np.testing.assert_array_equal(forward, y.q.numpy())  # the simulation's forward
    dy = _dy(rng, y.q.shape)
    y.r.backward(torch.tensor(dy))
    _check(module, [x], dy, [ax.r.grad])


def test_qglobal_avg_pool_rule():
    rng = np.random.default_rng(9)
    x = _rand_q(rng, (2, 5, 3, 4))
    t = qtype(0.2, -128)
    xt, yt = tensor([2, 5, 3, 4], t), tensor([2, 5, 1, 1], t)
    text = f"""
func.func @forward(%x: {xt}) -> {yt} {{
  %y = train.qglobal_avg_pool %x rounding float_scale : {xt} -> {yt}
  return %y : {yt}
}}"""
    module = _gradient_module(text)
    ax = sim_input(x, 0.2, -128)
    y = sim_qglobal_avg_pool(ax)
    dy = _dy(rng, y.q.shape)
    y.r.backward(torch.tensor(dy))
    _check(module, [x], dy, [ax.r.grad])


@pytest.mark.parametrize("per_axis", [False, True])
def test_dcast_rule(per_axis):
    rng = np.random.default_rng(2)
    if per_axis:
        x, s = _weight(rng, (4, 3))
        element, scale = wtype(s), torch.tensor(s).view(-1, 1)
    else:
        x, element, scale = _rand_q(rng, (4, 3)), qtype(0.1, -5), 0.1
    xt = tensor([4, 3], element)
    text = f"""
func.func @forward(%x: {xt}) -> tensor<4x3xf32> {{
  %y = quant.dcast %x : {xt} to tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}}"""
    module = _gradient_module(text)
    q = torch.tensor(x.astype(np.float64))
    r = _real(q, scale, 0 if per_axis else -5).requires_grad_()
    dy = _dy(rng, (4, 3))
    r.backward(torch.tensor(dy))
    _check(module, [x], dy, [r.grad])


@pytest.mark.parametrize("per_axis", [False, True])
def test_qcast_rule(per_axis):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((4, 6)) * 3).astype(np.float32)
    x[0, :3] = [0.5 * 0.05 * 2 * 127, -200.0, 6.35]  # on and beyond the bounds
    if per_axis:
        s = np.array([0.05, 0.01, 0.03, 0.02])
        element, scale, zp = wtype(s), torch.tensor(s).view(-1, 1), 0
    else:
        element, scale, zp = qtype(0.05, 0), 0.05, 0
    yt = tensor([4, 6], element)
    text = f"""
func.func @forward(%x: tensor<4x6xf32>) -> {yt} {{
  %y = quant.qcast %x : tensor<4x6xf32> to {yt}
  return %y : {yt}
}}"""
    module = _gradient_module(text)
    xr = torch.tensor(x).requires_grad_()
    q = torch.clamp(torch.round(xr.detach().to(torch.float64) / scale) + zp, -128, 127)
    y = _result(xr, q, scale, zp, -128, 127)
    assert 0 < ((q == -128) | (q == 127)).sum() < q.numel()
    dy = _dy(rng, (4, 6))
    y.r.backward(torch.tensor(dy))
    _check(module, [x], dy, [xr.grad])


@pytest.mark.parametrize("lo, hi", [(0.0, 6.0), (-1.0, 2.05), (-100.0, 100.0),
                                    (-math.inf, 1.0)])
def test_quantized_clamp_rule(lo, hi):
    rng = np.random.default_rng(6)
    s, z = 0.05, -10
    x = _rand_q(rng, (3, 40))
    t = tensor([3, 40], qtype(s, z))
    text = f"""
func.func @forward(%x: {t}) -> {t} {{
  %y = train.clamp %x min {_f(lo) if math.isfinite(lo) else "0xFF800000"} max {_f(hi)} : {t}
  return %y : {t}
}}"""
    module = _gradient_module(text)
    # The forward on storage values; the real bounds it applies, beyond-range bounds
    # (which clip nothing) as infinities: a float hardtanh on the real values.
    lo_q, hi_q = (np.clip(np.rint(v / s) + z, -128, 127) if math.isfinite(v) else v
                  for v in (lo, hi))
    lo_r = -math.inf if not math.isfinite(lo) or np.rint(lo / s) + z < -128 else s * (lo_q - z)
    hi_r = math.inf if not math.isfinite(hi) or np.rint(hi / s) + z > 127 else s * (hi_q - z)
    ax = sim_input(x, s, z)
    pre = F.hardtanh(ax.r, float(np.float32(lo_r)), float(np.float32(hi_r)))
    dy = _dy(rng, (3, 40))
    pre.backward(torch.tensor(dy))
    forward = run_function(module, "forward", [x])[0]
    np.testing.assert_array_equal(forward, np.clip(x, lo_q, hi_q))
    _check(module, [x], dy, [ax.r.grad])


def test_quantized_max_pool2d_rule():
    rng = np.random.default_rng(8)
    x = _rand_q(rng, (2, 3, 6, 6), -128, -120)  # many ties and storage-minimum values
    t = qtype(0.1, -128)
    xt, yt = tensor([2, 3, 6, 6], t), tensor([2, 3, 3, 3], t)
    text = f"""
func.func @forward(%x: {xt}) -> {yt} {{
  %y = train.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] : ({xt}) -> {yt}
  return %y : {yt}
}}"""
    module = _gradient_module(text)
    ax = sim_input(x, 0.1, -128)
    pre = F.max_pool2d(ax.r, 3, 2, 1)
    dy = _dy(rng, pre.shape)
    pre.backward(torch.tensor(dy))
    _check(module, [x], dy, [ax.r.grad])


def test_quantized_layout_rules_pass_real_gradients():
    """reshape / transpose on int8 tensors use the float rules on the f32 gradient."""
    rng = np.random.default_rng(10)
    t = qtype(0.1, 0)
    xt, yt = tensor([2, 3, 4], t), tensor([4, 2, 3], t)
    text = f"""
func.func @forward(%x: {xt}) -> {yt} {{
  %y = train.transpose %x permutation [2, 0, 1] : {xt} -> {yt}
  return %y : {yt}
}}"""
    module = _gradient_module(text)
    dy = _dy(rng, (4, 2, 3))
    _check(module, [_rand_q(rng, (2, 3, 4))], dy, [torch.tensor(dy).permute(1, 2, 0)])

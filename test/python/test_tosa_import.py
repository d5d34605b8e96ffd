"""TOSA import (compiler/frontends/tosa.py and --tosa-to-train): TOSA 1.0 text written
here is imported, run in the reference interpreter and compared with numpy
implementations of TOSA's semantics (NHWC, OHWI / [KH, KW, C, M] weights, TOSA's
[top, bottom, left, right] padding, apply_scale_32 with double rounding).

- a float CNN (conv → clamp → mul → depthwise with asymmetric padding → avg_pool
  without padding counts → residual add → max_pool → reshape → matmul + bias) matches
  numpy, has one transpose (at its NHWC input) and trainable conv/fc parameters;
- plain-i8 TOSA (no quant types: scale 1, zero points from the zp operands) of
  conv + rescale + clamp, depthwise + rescale and matmul + rescale, TFLite's int8
  ADD pattern, and a conv on `!quant.uniform` tensors with float32 scales, compute
  exactly the integers numpy computes;
- unsupported ops, dynamic shapes and unsupported rounding are located errors.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tcc.compiler.errors import UnsupportedError
from tcc.compiler.frontends.tosa import import_tosa
from tcc.compiler.source import find_function, new_context, parse_module
from tcc.dialects import train
from tcc.runtime.interpreter import bind_inputs, run_function

_NUMPY_OF = {"f32": "<f4", "i8": "i1", "i32": "<i4"}


def dense(array: np.ndarray, element: str) -> str:
    """A dense attribute with the exact bits of `array` (hex form)."""
    data = np.ascontiguousarray(array, dtype=_NUMPY_OF[element]).tobytes().hex().upper()
    shape = "x".join(str(d) for d in array.shape)
    return f'dense<"0x{data}"> : tensor<{shape}x{element}>'


def write(tmp_path: Path, text: str, name: str = "model.mlir") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run(model, data: dict) -> np.ndarray:
    forward = find_function(model.module, "forward")
    return run_function(model.module, "forward", bind_inputs(forward, {**data,
                                                                       **model.weights}))[0]


def forward_ops(model) -> list[str]:
    forward = find_function(model.module, "forward")
    return [op.operation.name for op in forward.body.blocks[0].operations]


def parameter_names(model) -> list[str]:
    forward = find_function(model.module, "forward")
    count = len(forward.body.blocks[0].arguments)
    return [train.arg_name(forward, i) for i in range(count)
            if train.arg_role(forward, i) == "trainable"]


# ------------------------------------------------------------------------------------
# numpy implementations of TOSA (NHWC)


def windows(x: np.ndarray, kernel, stride, dilation=(1, 1)):
    """(i, j, slice of x [N, OH, OW, C]) for each kernel tap."""
    n, h, w, c = x.shape
    oh = (h - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (w - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            top, left = i * dilation[0], j * dilation[1]
            yield i, j, x[:, top:top + stride[0] * (oh - 1) + 1:stride[0],
                          left:left + stride[1] * (ow - 1) + 1:stride[1], :]


def pad_nhwc(x, pad, value=0):
    return np.pad(x, ((0, 0), (pad[0], pad[1]), (pad[2], pad[3]), (0, 0)),
                  constant_values=value)


def conv2d(x, w_ohwi, bias, pad, stride, dtype=np.float64):
    x = pad_nhwc(x.astype(dtype), pad)
    out = 0
    for i, j, patch in windows(x, w_ohwi.shape[1:3], stride):
        out = out + np.einsum("nhwc,oc->nhwo", patch, w_ohwi[:, i, j, :].astype(dtype))
    return out + bias


def depthwise_conv2d(x, w_hwcm, bias, pad, stride, dtype=np.float64):
    x = pad_nhwc(x.astype(dtype), pad)
    out = 0
    for i, j, patch in windows(x, w_hwcm.shape[0:2], stride):
        out = out + np.einsum("nhwc,cm->nhwcm", patch, w_hwcm[i, j].astype(dtype))
    n, oh, ow, c, m = out.shape
    return out.reshape(n, oh, ow, c * m) + bias


def avg_pool2d(x, kernel, stride, pad):
    """TOSA: padding is not counted."""
    sums = sum(p for _, _, p in windows(pad_nhwc(x.astype(np.float64), pad), kernel, stride))
    ones = pad_nhwc(np.ones((1,) + x.shape[1:3] + (1,)), pad)
    counts = sum(p for _, _, p in windows(ones, kernel, stride))
    return sums / counts


def max_pool2d(x, kernel, stride, pad):
    padded = pad_nhwc(x, pad, -np.inf)
    return np.max(np.stack([p for _, _, p in windows(padded, kernel, stride)]), axis=0)


def apply_scale_32(value, multiplier, shift):
    """TOSA's apply_scale_32 with double_round = true (per-channel on the last axis)."""
    value = np.asarray(value, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    round_ = np.left_shift(np.int64(1), shift - 1)
    double = shift > 31
    round_ = np.where(double & (value >= 0), round_ + (1 << 30), round_)
    round_ = np.where(double & (value < 0), round_ - (1 << 30), round_)
    return (value * multiplier + round_) >> shift


def multiplier_and_shift(real: float) -> tuple[int, int]:
    """TOSA's (multiplier, shift) with real == multiplier · 2^-shift, 2^30 <= m < 2^31."""
    mantissa, exponent = math.frexp(real)
    multiplier = round(mantissa * (1 << 31))
    if multiplier == 1 << 31:
        multiplier //= 2
        exponent += 1
    return multiplier, 31 - exponent


def rescale_i8(acc, multipliers, shifts, output_zp, lo=-128, hi=127):
    y = apply_scale_32(acc, multipliers, shifts) + output_zp
    return np.clip(np.clip(y, -128, 127), lo, hi)


# ------------------------------------------------------------------------------------
# float


FLOAT_CNN = """\
func.func @main(%x: tensor<1x8x8x3xf32>) -> tensor<1x10xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %w0 = "tosa.const"() <{values = W0}> : () -> tensor<4x3x3x3xf32>
  %b0 = "tosa.const"() <{values = B0}> : () -> tensor<4xf32>
  %c0 = tosa.conv2d %x, %w0, %b0, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x8x4xf32>
  %r0 = tosa.clamp %c0 {min_val = 0.0 : f32, max_val = 6.0 : f32} : (tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32>
  %g = "tosa.const"() <{values = G}> : () -> tensor<1x1x1x4xf32>
  %m0 = tosa.mul %r0, %g, %shift : (tensor<1x8x8x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi8>) -> tensor<1x8x8x4xf32>
  %w1 = "tosa.const"() <{values = W1}> : () -> tensor<3x3x4x2xf32>
  %b1 = "tosa.const"() <{values = B1}> : () -> tensor<8xf32>
  %c1 = tosa.depthwise_conv2d %m0, %w1, %b1, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 1, 0, 1>, stride = array<i64: 2, 2>} : (tensor<1x8x8x4xf32>, tensor<3x3x4x2xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  %p0 = tosa.avg_pool2d %c1, %zp, %zp {acc_type = f32, kernel = array<i64: 3, 3>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  %a0 = tosa.add %p0, %c1 : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %p1 = tosa.max_pool2d %a0 {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
  %s0 = tosa.const_shape {values = dense<[1, 1, 32]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %f = tosa.reshape %p1, %s0 : (tensor<1x2x2x8xf32>, !tosa.shape<3>) -> tensor<1x1x32xf32>
  %w2 = "tosa.const"() <{values = W2}> : () -> tensor<1x32x10xf32>
  %mm = tosa.matmul %f, %w2, %zp, %zp : (tensor<1x1x32xf32>, tensor<1x32x10xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x10xf32>
  %s1 = tosa.const_shape {values = dense<[1, 10]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %o = tosa.reshape %mm, %s1 : (tensor<1x1x10xf32>, !tosa.shape<2>) -> tensor<1x10xf32>
  %b2 = "tosa.const"() <{values = B2}> : () -> tensor<1x10xf32>
  %y = tosa.add %o, %b2 : (tensor<1x10xf32>, tensor<1x10xf32>) -> tensor<1x10xf32>
  return %y : tensor<1x10xf32>
}
"""


def float_cnn_params(rng) -> dict[str, np.ndarray]:
    def f32(*shape, scale=0.5):
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    return {"W0": f32(4, 3, 3, 3), "B0": f32(4), "G": f32(1, 1, 1, 4, scale=1.0),
            "W1": f32(3, 3, 4, 2), "B1": f32(8), "W2": f32(1, 32, 10), "B2": f32(1, 10)}


def float_cnn_numpy(x, p) -> np.ndarray:
    c0 = conv2d(x, p["W0"], p["B0"], (1, 1, 1, 1), (1, 1))
    m0 = np.clip(c0, 0.0, 6.0) * p["G"]
    c1 = depthwise_conv2d(m0, p["W1"], p["B1"], (0, 1, 0, 1), (2, 2))
    a0 = avg_pool2d(c1, (3, 3), (1, 1), (1, 1, 1, 1)) + c1
    p1 = max_pool2d(a0, (2, 2), (2, 2), (0, 0, 0, 0))
    return p1.reshape(1, 1, 32) @ p["W2"][0] + p["B2"]


def fill(template: str, arrays: dict[str, np.ndarray], element: str = "f32") -> str:
    for key in sorted(arrays, key=len, reverse=True):
        template = template.replace(f"{key}}}", f"{dense(arrays[key], element)}}}")
    return template


def test_float_cnn_matches_numpy(tmp_path):
    rng = np.random.default_rng(0)
    params = float_cnn_params(rng)
    model = import_tosa(write(tmp_path, fill(FLOAT_CNN, params)))
    x = rng.standard_normal((1, 8, 8, 3)).astype(np.float32)
    got = run(model, {"arg0": x})
    want = float_cnn_numpy(x, params)
    assert got.shape == (1, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, want.reshape(1, 10), rtol=1e-5, atol=1e-5)


def test_float_cnn_layout_and_parameters(tmp_path):
    params = float_cnn_params(np.random.default_rng(1))
    model = import_tosa(write(tmp_path, fill(FLOAT_CNN, params)))
    ops = forward_ops(model)
    # One transpose (NHWC input -> NCHW); the flatten's NHWC order is folded into the
    # fully connected weight, the bias add into train.linear.
    assert ops.count("train.transpose") == 1
    assert not any(op.startswith("tosa.") for op in ops)
    assert "train.add" in ops and ops.count("train.linear") == 1
    assert parameter_names(model) == ["conv0.weight", "conv0.bias", "conv1.weight",
                                      "conv1.bias", "fc0.weight", "fc0.bias"]
    assert model.weights["conv0.weight"].shape == (4, 3, 3, 3)
    np.testing.assert_array_equal(model.weights["conv0.weight"],
                                  params["W0"].transpose(0, 3, 1, 2))
    assert model.weights["conv1.weight"].shape == (8, 1, 3, 3)
    assert model.weights["fc0.weight"].shape == (10, 32)
    np.testing.assert_array_equal(model.weights["fc0.bias"], params["B2"][0])
    assert all(a.dtype == np.float32 for a in model.weights.values())
    forward = find_function(model.module, "forward")
    assert list(forward.body.blocks[0].arguments[0].type.shape) == [1, 8, 8, 3]


def test_import_of_a_module_and_model_file(tmp_path):
    params = float_cnn_params(np.random.default_rng(2))
    module = parse_module(fill(FLOAT_CNN, params), "cnn.mlir", new_context())
    model = import_tosa(module)
    mlir, npz = model.write(tmp_path / "cnn.mlir")
    assert 'train.weights = "cnn.npz"' in mlir.read_text()
    with np.load(npz) as stored:
        assert sorted(stored.files) == sorted(model.weights)


FULLY_CONNECTED = """\
func.func @fc(%x: tensor<2x16xf32>, %a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>) -> (tensor<2x8xf32>, tensor<2x3x5xf32>) {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %s0 = tosa.const_shape {values = dense<[2, 1, 1, 16]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %x4 = tosa.reshape %x, %s0 : (tensor<2x16xf32>, !tosa.shape<4>) -> tensor<2x1x1x16xf32>
  %w = "tosa.const"() <{values = W}> : () -> tensor<8x1x1x16xf32>
  %bias = "tosa.const"() <{values = B}> : () -> tensor<8xf32>
  %y4 = tosa.conv2d %x4, %w, %bias, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<2x1x1x16xf32>, tensor<8x1x1x16xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x1x1x8xf32>
  %s1 = tosa.const_shape {values = dense<[2, 8]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %y = tosa.reshape %y4, %s1 : (tensor<2x1x1x8xf32>, !tosa.shape<2>) -> tensor<2x8xf32>
  %mm = tosa.matmul %a, %b, %zp, %zp : (tensor<2x3x4xf32>, tensor<2x4x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x3x5xf32>
  return %y, %mm : tensor<2x8xf32>, tensor<2x3x5xf32>
}
"""


def test_fully_connected_and_batched_matmul(tmp_path):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((8, 1, 1, 16)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    model = import_tosa(write(tmp_path, fill(FULLY_CONNECTED, {"W": w, "B": b})))
    assert forward_ops(model).count("train.linear") == 1
    assert "train.matmul" in forward_ops(model)
    assert parameter_names(model) == ["fc0.weight", "fc0.bias"]
    x = rng.standard_normal((2, 16)).astype(np.float32)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    bb = rng.standard_normal((2, 4, 5)).astype(np.float32)
    forward = find_function(model.module, "forward")
    y, mm = run_function(model.module, "forward", bind_inputs(
        forward, {"arg0": x, "arg1": a, "arg2": bb, **model.weights}))
    np.testing.assert_allclose(y, x @ w.reshape(8, 16).T + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mm, a @ bb, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------
# int8


INT8_NET = """\
func.func @main(%x: tensor<1x6x6x3xi8>) -> tensor<1x10xi8> {
  %izp = "tosa.const"() <{values = dense<-3> : tensor<1xi8>}> : () -> tensor<1xi8>
  %wzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %rzp = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %w0 = "tosa.const"() <{values = W0}> : () -> tensor<4x3x3x3xi8>
  %b0 = "tosa.const"() <{values = B0}> : () -> tensor<4xi32>
  %acc0 = tosa.conv2d %x, %w0, %b0, %izp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x6x6x3xi8>, tensor<4x3x3x3xi8>, tensor<4xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x6x6x4xi32>
  %m0 = "tosa.const"() <{values = M0}> : () -> tensor<4xi32>
  %s0 = "tosa.const"() <{values = S0}> : () -> tensor<4xi8>
  %z0 = "tosa.const"() <{values = dense<-20> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y0 = tosa.rescale %acc0, %m0, %s0, %rzp, %z0 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = true, input_unsigned = false, output_unsigned = false} : (tensor<1x6x6x4xi32>, tensor<4xi32>, tensor<4xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x6x6x4xi8>
  %r0 = tosa.clamp %y0 {min_val = -20 : i8, max_val = 127 : i8} : (tensor<1x6x6x4xi8>) -> tensor<1x6x6x4xi8>
  %w1 = "tosa.const"() <{values = W1}> : () -> tensor<3x3x4x1xi8>
  %b1 = "tosa.const"() <{values = B1}> : () -> tensor<4xi32>
  %acc1 = tosa.depthwise_conv2d %r0, %w1, %b1, %z0, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 1, 0, 1>, stride = array<i64: 2, 2>} : (tensor<1x6x6x4xi8>, tensor<3x3x4x1xi8>, tensor<4xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x3x3x4xi32>
  %m1 = "tosa.const"() <{values = M1}> : () -> tensor<4xi32>
  %s1 = "tosa.const"() <{values = S1}> : () -> tensor<4xi8>
  %z1 = "tosa.const"() <{values = dense<7> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y1 = tosa.rescale %acc1, %m1, %s1, %rzp, %z1 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = true, input_unsigned = false, output_unsigned = false} : (tensor<1x3x3x4xi32>, tensor<4xi32>, tensor<4xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x3x3x4xi8>
  %p1 = tosa.max_pool2d %y1 {kernel = array<i64: 2, 2>, pad = array<i64: 0, 1, 0, 1>, stride = array<i64: 1, 1>} : (tensor<1x3x3x4xi8>) -> tensor<1x3x3x4xi8>
  %shape = tosa.const_shape {values = dense<[1, 1, 36]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %f = tosa.reshape %p1, %shape : (tensor<1x3x3x4xi8>, !tosa.shape<3>) -> tensor<1x1x36xi8>
  %w2 = "tosa.const"() <{values = W2}> : () -> tensor<1x36x10xi8>
  %acc2 = tosa.matmul %f, %w2, %z1, %wzp : (tensor<1x1x36xi8>, tensor<1x36x10xi8>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x1x10xi32>
  %m2 = "tosa.const"() <{values = M2}> : () -> tensor<1xi32>
  %s2 = "tosa.const"() <{values = S2}> : () -> tensor<1xi8>
  %z2 = "tosa.const"() <{values = dense<-1> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y2 = tosa.rescale %acc2, %m2, %s2, %rzp, %z2 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x1x10xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x1x10xi8>
  %oshape = tosa.const_shape {values = dense<[1, 10]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %o = tosa.reshape %y2, %oshape : (tensor<1x1x10xi8>, !tosa.shape<2>) -> tensor<1x10xi8>
  return %o : tensor<1x10xi8>
}
"""


def int8_params(rng) -> dict[str, np.ndarray]:
    def scales(reals):
        pairs = [multiplier_and_shift(r) for r in reals]
        return (np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs],
                                                                      np.int8))
    p = {"W0": rng.integers(-127, 128, (4, 3, 3, 3)), "B0": rng.integers(-5000, 5000, 4),
         "W1": rng.integers(-127, 128, (3, 3, 4, 1)), "B1": rng.integers(-500, 500, 4),
         "W2": rng.integers(-127, 128, (1, 36, 10))}
    p["M0"], p["S0"] = scales(rng.uniform(0.5, 2.0, 4) / 500)
    p["M1"], p["S1"] = scales(rng.uniform(0.5, 2.0, 4) / 300)
    p["M2"], p["S2"] = scales(rng.uniform(0.5, 2.0, 1) / 400)
    return p


def int8_numpy(x, p) -> np.ndarray:
    acc0 = conv2d(x.astype(np.int64) + 3, p["W0"], p["B0"], (1, 1, 1, 1), (1, 1),
                  dtype=np.int64)
    y0 = rescale_i8(acc0, p["M0"], p["S0"], -20, lo=-20)
    acc1 = depthwise_conv2d(y0 + 20, p["W1"], p["B1"], (0, 1, 0, 1), (2, 2), dtype=np.int64)
    y1 = rescale_i8(acc1, p["M1"], p["S1"], 7)
    p1 = max_pool2d(y1.astype(np.float64), (2, 2), (1, 1), (0, 1, 0, 1)).astype(np.int64)
    acc2 = (p1.reshape(1, 36) - 7) @ p["W2"][0]
    return rescale_i8(acc2, p["M2"], p["S2"], -1)


def fill_int8(template: str, p: dict) -> str:
    elements = {"W": "i8", "B": "i32", "M": "i32", "S": "i8"}
    for key in sorted(p, key=len, reverse=True):
        template = template.replace(f"{key}}}", f"{dense(p[key], elements[key[0]])}}}")
    return template


def test_int8_conv_rescale_matches_numpy_integers(tmp_path):
    rng = np.random.default_rng(4)
    params = int8_params(rng)
    model = import_tosa(write(tmp_path, fill_int8(INT8_NET, params)))
    ops = forward_ops(model)
    assert ops.count("train.qconv2d") == 2 and ops.count("train.qlinear") == 1
    assert "train.clamp" not in ops  # fused into the first qconv2d's result type
    assert parameter_names(model) == ["conv0.weight", "conv0.bias", "conv1.weight",
                                      "conv1.bias", "fc0.weight"]
    assert model.weights["conv0.weight"].dtype == np.int8
    assert model.weights["conv0.bias"].dtype == np.int32
    # Weight scales are the rescale's multiplier · 2^-shift (activation scales are 1).
    forward = find_function(model.module, "forward")
    weight_type = forward.body.blocks[0].arguments[1].type.element_type
    want = params["M0"].astype(np.float64) * np.ldexp(1.0, -params["S0"].astype(np.int64))
    np.testing.assert_array_equal(np.array(weight_type.scales), want)
    for seed in range(3):
        x = np.random.default_rng(seed).integers(-128, 128, (1, 6, 6, 3)).astype(np.int8)
        got = run(model, {"arg0": x})
        want = int8_numpy(x, params)
        assert got.dtype == np.int8
        assert np.ptp(want) > 20  # a meaningful range of outputs
        np.testing.assert_array_equal(got, want)


TYPED_CONV = """\
func.func @main(%x: tensor<1x5x5x4x!quant.uniform<i8:f32, SX:-7>>) -> tensor<1x5x5x3x!quant.uniform<i8:f32, SY:12>> {
  %w = "tosa.const"() <{values = W}> : () -> tensor<3x3x3x4xi8>
  %b = "tosa.const"() <{values = B}> : () -> tensor<3xi32>
  %izp = "tosa.const"() <{values = dense<-7> : tensor<1xi8>}> : () -> tensor<1xi8>
  %wzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc = tosa.conv2d %x, %w, %b, %izp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x5x5x4x!quant.uniform<i8:f32, SX:-7>>, tensor<3x3x3x4xi8>, tensor<3xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x5x5x3xi32>
  %m = "tosa.const"() <{values = M}> : () -> tensor<3xi32>
  %s = "tosa.const"() <{values = S}> : () -> tensor<3xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %ozp = "tosa.const"() <{values = dense<12> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y = tosa.rescale %acc, %m, %s, %z32, %ozp {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = true, input_unsigned = false, output_unsigned = false} : (tensor<1x5x5x3xi32>, tensor<3xi32>, tensor<3xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x5x5x3x!quant.uniform<i8:f32, SY:12>>
  return %y : tensor<1x5x5x3x!quant.uniform<i8:f32, SY:12>>
}
"""


def test_int8_conv_with_quantized_types_matches_numpy_integers(tmp_path):
    # TFLite-style float32 scales: the activation scales come from the types, the
    # weight scales are derived so that train's QuantizeMultiplier gives the rescale's.
    rng = np.random.default_rng(7)
    s_x, s_y = float(np.float32(0.0235)), float(np.float32(0.0731))
    s_w = rng.uniform(0.002, 0.01, 3).astype(np.float32).astype(np.float64)
    pairs = [multiplier_and_shift(s_x * s / s_y) for s in s_w]
    arrays = {"W": rng.integers(-127, 128, (3, 3, 3, 4)), "B": rng.integers(-2000, 2000, 3),
              "M": np.array([m for m, _ in pairs]), "S": np.array([s for _, s in pairs])}
    text = fill_int8(TYPED_CONV, arrays).replace("SX", repr(s_x)).replace("SY", repr(s_y))
    model = import_tosa(write(tmp_path, text))
    assert forward_ops(model).count("train.qconv2d") == 1
    x = rng.integers(-128, 128, (1, 5, 5, 4)).astype(np.int8)
    got = run(model, {"arg0": x})
    acc = conv2d(x.astype(np.int64) + 7, arrays["W"], arrays["B"], (1, 1, 1, 1), (1, 1),
                 dtype=np.int64)
    want = rescale_i8(acc, arrays["M"], arrays["S"], 12)
    assert np.ptp(want) > 20
    np.testing.assert_array_equal(got, want)


INT8_ADD = """\
func.func @main(%a: tensor<1x4x4x3xi8>, %b: tensor<1x4x4x3xi8>) -> tensor<1x4x4x3xi8> {
  %za = "tosa.const"() <{values = dense<-5> : tensor<1xi8>}> : () -> tensor<1xi8>
  %zb = "tosa.const"() <{values = dense<9> : tensor<1xi8>}> : () -> tensor<1xi8>
  %zy = "tosa.const"() <{values = dense<-2> : tensor<1xi8>}> : () -> tensor<1xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %m19 = "tosa.const"() <{values = dense<1073741824> : tensor<1xi32>}> : () -> tensor<1xi32>
  %s19 = "tosa.const"() <{values = dense<11> : tensor<1xi8>}> : () -> tensor<1xi8>
  %s20 = "tosa.const"() <{values = dense<10> : tensor<1xi8>}> : () -> tensor<1xi8>
  %mb = "tosa.const"() <{values = MB}> : () -> tensor<1xi32>
  %sb = "tosa.const"() <{values = SB}> : () -> tensor<1xi8>
  %my = "tosa.const"() <{values = MY}> : () -> tensor<1xi32>
  %sy = "tosa.const"() <{values = SY}> : () -> tensor<1xi8>
  %a32 = tosa.rescale %a, %m19, %s19, %za, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x4x4x3xi8>, tensor<1xi32>, tensor<1xi8>, tensor<1xi8>, tensor<1xi32>) -> tensor<1x4x4x3xi32>
  %b20 = tosa.rescale %b, %m19, %s20, %zb, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x4x4x3xi8>, tensor<1xi32>, tensor<1xi8>, tensor<1xi8>, tensor<1xi32>) -> tensor<1x4x4x3xi32>
  %b32 = tosa.rescale %b20, %mb, %sb, %z32, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x4x4x3xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi32>) -> tensor<1x4x4x3xi32>
  %sum = tosa.add %a32, %b32 : (tensor<1x4x4x3xi32>, tensor<1x4x4x3xi32>) -> tensor<1x4x4x3xi32>
  %y = tosa.rescale %sum, %my, %sy, %z32, %zy {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x4x4x3xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x4x4x3xi8>
  return %y : tensor<1x4x4x3xi8>
}
"""


def test_int8_add_pattern_matches_numpy_integers(tmp_path):
    # TFLite's ADD with s_a = 1, s_b = 0.6, s_y = 1.3: the lhs is rescaled by
    # 2^20 · s_a / (2 · max) = 2^19, the rhs by 2^20 then 0.3, the sum by
    # 2 · max / (2^20 · s_y).
    mb, sb = multiplier_and_shift(0.6 / 2.0)
    my, sy = multiplier_and_shift(2.0 / ((1 << 20) * 1.3))
    arrays = {"MB": np.array([mb], np.int32), "SB": np.array([sb], np.int8),
              "MY": np.array([my], np.int32), "SY": np.array([sy], np.int8)}
    text = INT8_ADD
    for key, value in arrays.items():
        text = text.replace(f"{key}}}", f"{dense(value, 'i32' if key[0] == 'M' else 'i8')}}}")
    model = import_tosa(write(tmp_path, text))
    assert forward_ops(model).count("train.qadd") == 1
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (1, 4, 4, 3)).astype(np.int8)
    b = rng.integers(-128, 128, (1, 4, 4, 3)).astype(np.int8)
    got = run(model, {"arg0": a, "arg1": b})
    a32 = apply_scale_32(a.astype(np.int64) + 5, 1 << 30, 11)
    b32 = apply_scale_32(apply_scale_32(b.astype(np.int64) - 9, 1 << 30, 10), mb, sb)
    want = rescale_i8(a32 + b32, my, sy, -2)
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------------------------
# errors


UNSUPPORTED = """\
func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %y = tosa.tanh %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
"""

DYNAMIC = """\
func.func @main(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %y = tosa.clamp %x {min_val = 0.0 : f32, max_val = 6.0 : f32} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
"""

SINGLE_ROUND = INT8_NET.replace("DOUBLE_ROUND, scale32 = true, per_channel = false",
                                "SINGLE_ROUND, scale32 = true, per_channel = false")


def test_unsupported_op_is_located(tmp_path):
    path = write(tmp_path, UNSUPPORTED)
    with pytest.raises(UnsupportedError) as error:
        import_tosa(path)
    assert error.value.message == "unsupported TOSA op 'tosa.tanh'"
    assert error.value.location == f"{path}:2:8"


def test_dynamic_shape_is_located(tmp_path):
    path = write(tmp_path, DYNAMIC)
    with pytest.raises(UnsupportedError) as error:
        import_tosa(path)
    assert "dynamic shape" in error.value.message
    assert error.value.location == f"{path}:1:1"


def test_unsupported_rounding_is_located(tmp_path):
    text = fill_int8(SINGLE_ROUND, int8_params(np.random.default_rng(6)))
    path = write(tmp_path, text)
    with pytest.raises(UnsupportedError) as error:
        import_tosa(path)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "SINGLE_ROUND" in l)
    assert "SINGLE_ROUND" in error.value.message
    assert error.value.location == f"{path}:{line}:9"


def test_several_public_functions_are_rejected(tmp_path):
    text = DYNAMIC.replace("?", "2").replace("@main", "@a")
    text += text.replace("@a", "@b")
    with pytest.raises(Exception) as error:
        import_tosa(write(tmp_path, text))
    assert "expected one public function" in str(error.value)

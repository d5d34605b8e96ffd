"""tcc_bottleneck_grad_f32 (train.bottleneck_grad: an inverted bottleneck's backward
a group of expanded channels at a time; 7 channels: a group of 4, then 3) against the C kernels it fuses, run in sequence on
whole tensors: tcc_conv2d_grad_input_w_f32 (project, depthwise, expand),
tcc_mask_grad_f32, tcc_bias_grad_f32 and tcc_conv2d_grad_weight_qsgd_s8x. The same
bits for every result: depthwise kernels 3/5/7 (the stride-1 padded-copy path, the
gathering path) and a 3x3 of dilation 1 at stride 2, batches of 1 and 2, int8 weights
dequantized per channel or per tensor and float weights, an expansion weight split at
its trained input channels, no update, a whole and a partial update with dead
channels.
"""
import ctypes
import shutil

import numpy as np
import pytest

from test_c_fused_update import U8P, QsgdParams, qtrain_library
from test_c_kernels import F32P, I8P, Conv2dParams, make_params

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs host gcc")


class Weight(ctypes.Structure):
    """Mirror of tcc_weight."""

    _fields_ = [("f32", F32P), ("rest_f32", F32P), ("s8", I8P), ("rest_s8", I8P),
                ("scale_hi", F32P), ("scale_lo", F32P)] + \
        [(name, ctypes.c_int32) for name in ("scale_per_channel", "zero_point",
                                             "split_axis", "split")]


class BottleneckGradParams(ctypes.Structure):
    """Mirror of tcc_bottleneck_grad_params."""

    _fields_ = [(name, ctypes.c_int32) for name in ("n", "o", "e", "c", "x_channels")] + \
        [("depthwise", Conv2dParams)]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    weight, conv, qsgd = (ctypes.POINTER(t) for t in (Weight, Conv2dParams, QsgdParams))
    return qtrain_library(tmp_path_factory.mktemp("bottleneck_grad"), {
        "tcc_conv2d_grad_input_w_f32": [F32P, weight, F32P, conv],
        "tcc_mask_grad_f32": [F32P, I8P, F32P, ctypes.c_int32],
        "tcc_bias_grad_f32": [F32P, F32P] + [ctypes.c_int32] * 3,
        "tcc_conv2d_grad_weight_qsgd_s8x": [F32P, I8P, F32P, F32P, I8P, conv, qsgd],
        "tcc_bottleneck_grad_f32": [F32P, weight, weight, I8P, weight, I8P, F32P, F32P, F32P,
                                    I8P, I8P, F32P, qsgd, F32P,
                                    ctypes.POINTER(BottleneckGradParams)]})


def _f(a):
    return None if a is None else a.ctypes.data_as(F32P)


def _b(a):
    return None if a is None else a.ctypes.data_as(I8P)


class _Weights:
    """Random weights of shape [o, i, kh, kw] and their tcc_weight: int8 with scales
    per channel or per tensor, or float; split at input channel `split` (the trained
    first channels apart from the rest) when given."""

    def __init__(self, rng, shape, kind: str, split: int | None = None):
        o, i = shape[:2]
        self.keep = []
        if kind == "f32":
            whole = rng.standard_normal(shape).astype(np.float32)
            parts = [whole[:, :split], whole[:, split:]] if split else [whole, None]
            parts = [None if p is None else np.ascontiguousarray(p) for p in parts]
            self.keep += parts
            self.weight = Weight(_f(parts[0]), _f(parts[1]), None, None, None, None, 0, 0,
                                 1 if split else 0, split or o)
            self.int8 = None
            return
        q = rng.integers(-128, 128, shape).astype(np.int8)
        scales = 10.0 ** rng.uniform(-3, -1, o if kind == "per_channel" else 1)
        hi = scales.astype(np.float32)
        lo = (scales - hi.astype(np.float64)).astype(np.float32)
        parts = [np.ascontiguousarray(q[:, :split]), np.ascontiguousarray(q[:, split:])] \
            if split else [q, None]
        self.keep += [*parts, hi, lo]
        self.int8, self.scales = parts[0], scales
        self.weight = Weight(None, None, _b(parts[0]), _b(parts[1]), _f(hi), _f(lo),
                             int(kind == "per_channel"), 0, 1 if split else 0, split or o)


CASES = {
    "3x3 stride 2": dict(k=3, stride=2, h=8, n=1),
    "3x3 stride 1": dict(k=3, stride=1, h=6, n=2),
    "5x5 stride 1": dict(k=5, stride=1, h=5, n=1),
    "7x7 stride 2": dict(k=7, stride=2, h=9, n=1),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("weights", ["per_channel", "per_tensor", "f32"])
@pytest.mark.parametrize("update", ["none", "whole", "partial"])
def test_fused_backward_equals_the_kernels_in_sequence(lib, case, weights, update):
    shape = CASES[case]
    if update != "none" and weights == "f32":
        pytest.skip("the update is of an int8 weight")
    rng = np.random.default_rng(len(case) * 31 + len(weights) * 7 + len(update))
    n, k, stride, h = shape["n"], shape["k"], shape["stride"], shape["h"]
    c, e, o = 5, 7, 6
    k_trained = {"none": 0, "whole": c, "partial": 3}[update]
    split = k_trained if update == "partial" else None
    project = _Weights(rng, (o, e, 1, 1), weights)
    depthwise = _Weights(rng, (e, 1, k, k), weights)
    expand = _Weights(rng, (e, c, 1, 1), "per_channel" if update != "none" else weights,
                      split)
    dw = make_params(n, e, h, h, e, k, k, stride=(stride, stride), pad=(k // 2, k // 2),
                     groups=e)
    dy = rng.standard_normal((n, o, dw.oh, dw.ow)).astype(np.float32)
    mask_d = rng.integers(-128, 128, (n * e * dw.oh * dw.ow + 7) // 8).astype(np.int8)
    mask_e = rng.integers(-128, 128, (n * e * h * h + 7) // 8).astype(np.int8)
    x8 = rng.integers(-128, 128, (n, k_trained, h, h)).astype(np.int8)
    table = ((np.arange(-128, 128) - 3) * 0.0413).astype(np.float32)
    coef = (10.0 ** rng.uniform(0, 2, e)).astype(np.float32)
    dead = (rng.random(e) < 0.2).astype(np.uint8)
    q = QsgdParams(_f(coef), dead.ctypes.data_as(U8P), 0.0, e, k_trained, 0, -128, 127)

    # the unfused kernels, whole tensors
    g2 = np.empty((n, e, dw.oh, dw.ow), np.float32)
    lib.tcc_conv2d_grad_input_w_f32(_f(dy), ctypes.byref(project.weight), _f(g2),
                                    ctypes.byref(make_params(n, e, dw.oh, dw.ow, o, 1, 1)))
    lib.tcc_mask_grad_f32(_f(g2), _b(mask_d), _f(g2), g2.size)
    want_bd = np.empty(e, np.float32)
    lib.tcc_bias_grad_f32(_f(g2), _f(want_bd), n, e, dw.oh * dw.ow)
    g1 = np.empty((n, e, h, h), np.float32)
    lib.tcc_conv2d_grad_input_w_f32(_f(g2), ctypes.byref(depthwise.weight), _f(g1),
                                    ctypes.byref(dw))
    lib.tcc_mask_grad_f32(_f(g1), _b(mask_e), _f(g1), g1.size)
    want_be = np.empty(e, np.float32)
    lib.tcc_bias_grad_f32(_f(g1), _f(want_be), n, e, h * h)
    want_dx = np.empty((n, c, h, h), np.float32)
    lib.tcc_conv2d_grad_input_w_f32(_f(g1), ctypes.byref(expand.weight), _f(want_dx),
                                    ctypes.byref(make_params(n, c, h, h, e, 1, 1)))
    before = None if expand.int8 is None else expand.int8.copy()
    if update != "none":
        scratch = np.empty(4 * n * h * h, np.float32)
        lib.tcc_conv2d_grad_weight_qsgd_s8x(
            _f(g1), _b(x8), _f(table), _f(scratch), _b(expand.int8),
            ctypes.byref(make_params(n, k_trained, h, h, e, 1, 1)), ctypes.byref(q))
        want_w = expand.int8.copy()
        expand.int8[...] = before                 # the fused kernel starts from it again

    # the fused kernel
    dx = np.full((n, c, h, h), np.nan, np.float32)
    bd, be = np.full(e, np.nan, np.float32), np.full(e, np.nan, np.float32)
    group = min(4, e)                              # TCC_BOTTLENECK_GRAD_CHANNELS
    scratch = np.full(n * group * (dw.oh * dw.ow + h * h) + 4 * n * h * h, np.nan,
                      np.float32)
    params = BottleneckGradParams(n, o, e, c, k_trained, dw)
    updating = update != "none"
    lib.tcc_bottleneck_grad_f32(
        _f(dy), ctypes.byref(project.weight), ctypes.byref(depthwise.weight), _b(mask_d),
        ctypes.byref(expand.weight), _b(mask_e), _f(dx), _f(bd), _f(be),
        _b(expand.int8) if updating else None, _b(x8) if updating else None,
        _f(table) if updating else None, ctypes.byref(q) if updating else None,
        _f(scratch), ctypes.byref(params))
    np.testing.assert_array_equal(dx, want_dx)
    np.testing.assert_array_equal(bd, want_bd)
    np.testing.assert_array_equal(be, want_be)
    assert np.isfinite(dx).all() and np.abs(dx).max() > 0
    if updating:
        np.testing.assert_array_equal(expand.int8, want_w)
        assert (want_w != before).mean() > 0.3     # the update changed most weights

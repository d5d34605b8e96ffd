"""The fused int8 weight update of the C target (tcc_conv2d_grad_weight_qsgd_s8,
train.conv2d_qsgd) against the two kernels it fuses, tcc_conv2d_grad_weight_f32
then tcc_qsgd_s8: the same int8 weights bit for bit, for pointwise convs (4 x 4
tiles and their ragged edges), strided and padded 3x3, depthwise and grouped convs,
per-tensor and per-channel coefficients, dead channels and weight decay; and with an
int8 x read through its dequantization table (tcc_conv2d_grad_weight_qsgd_s8x, a
block of channels in scratch at a time), against the same kernels on x dequantized.
"""
import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from test_c_kernels import F32P, I8P, KERNELS_DIR, Conv2dParams, make_params

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs host gcc")
U8P = ctypes.POINTER(ctypes.c_uint8)


class QsgdParams(ctypes.Structure):
    """Mirror of tcc_qsgd_params."""

    _fields_ = [("coef", F32P), ("dead", U8P), ("decay", ctypes.c_float)] + \
        [(name, ctypes.c_int32) for name in ("channels", "inner", "zp", "qmin", "qmax")]


def qtrain_library(directory, signatures: dict) -> ctypes.CDLL:
    """The C kernels (tcc_kernels.c, tcc_int8.c, tcc_qtrain.c) as a shared library in
    `directory`, with the argument types of each function in `signatures`."""
    so = directory / "libtcc_qtrain.so"
    subprocess.run(
        ["gcc", "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra",
         "-Wdouble-promotion", "-Werror", "-shared", "-fPIC"] +
        [str(KERNELS_DIR / f) for f in ("tcc_kernels.c", "tcc_int8.c", "tcc_qtrain.c")] +
        ["-o", str(so), "-lm"], check=True, capture_output=True, text=True, timeout=120)
    lib = ctypes.CDLL(str(so))
    for name, argtypes in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, None
    return lib


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    params = ctypes.POINTER(Conv2dParams)
    return qtrain_library(tmp_path_factory.mktemp("qtrain"), {
        "tcc_conv2d_grad_weight_f32": [F32P, F32P, F32P, params],
        "tcc_qsgd_s8": [I8P, F32P, ctypes.c_int32, ctypes.POINTER(QsgdParams)],
        "tcc_conv2d_grad_weight_qsgd_s8": [F32P, F32P, I8P, params, ctypes.POINTER(QsgdParams)],
        "tcc_conv2d_grad_weight_qsgd_s8x": [F32P, I8P, F32P, F32P, I8P, params,
                                            ctypes.POINTER(QsgdParams)]})


CASES = {
    "pointwise 4x4 tiles": dict(n=1, c=8, h=4, w=4, o=12, kh=1, kw=1),
    "pointwise ragged": dict(n=2, c=7, h=3, w=5, o=10, kh=1, kw=1),
    "3x3 stride 2 padded": dict(n=1, c=3, h=9, w=8, o=5, kh=3, kw=3, stride=(2, 2),
                                pad=(1, 1)),
    "depthwise 5x5": dict(n=1, c=6, h=7, w=7, o=6, kh=5, kw=5, pad=(2, 2), groups=6),
    "grouped": dict(n=1, c=4, h=5, w=5, o=6, kh=3, kw=3, pad=(1, 1), groups=2),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("decay", [0.0, 0.01])
@pytest.mark.parametrize("int8_x", [False, True])
def test_fused_update_equals_gradient_then_update(lib, case, per_channel, decay, int8_x):
    shape = dict(CASES[case])
    p = make_params(**shape)
    rng = np.random.default_rng(len(case) + 7 * per_channel)
    x = rng.standard_normal((p.n, p.c, p.h, p.w)).astype(np.float32)
    if int8_x:      # x as quant.dcast gives it: (q - z) * s in float64, to float32
        x8 = rng.integers(-128, 128, x.shape).astype(np.int8)
        table = ((np.arange(-128, 128) - 5) * 0.0371).astype(np.float32)
        x = table[x8.astype(np.int32) + 128]
    dy = rng.standard_normal((p.n, p.o, p.oh, p.ow)).astype(np.float32)
    w = rng.integers(-128, 128, (p.o, p.c // p.groups, p.kh, p.kw)).astype(np.int8)
    channels = p.o if per_channel else 1
    # Large coefficients, so that many values saturate and many round.
    coef = (10.0 ** rng.uniform(0, 2, channels)).astype(np.float32)
    dead = (rng.random(channels) < 0.2).astype(np.uint8) if per_channel else None
    q = QsgdParams(coef.ctypes.data_as(F32P),
                   None if dead is None else dead.ctypes.data_as(U8P), decay, channels,
                   w.size // channels, 0, -128, 127)

    grad = np.full(w.shape, np.nan, dtype=np.float32)
    lib.tcc_conv2d_grad_weight_f32(dy.ctypes.data_as(F32P), x.ctypes.data_as(F32P),
                                   grad.ctypes.data_as(F32P), ctypes.byref(p))
    expected = w.copy()
    lib.tcc_qsgd_s8(expected.ctypes.data_as(I8P), grad.ctypes.data_as(F32P), w.size,
                    ctypes.byref(q))
    fused = w.copy()
    if int8_x:
        pointwise = (p.kh, p.kw) == (1, 1) and p.groups == 1 and p.stride_h == 1 and \
            p.pad_h == 0
        scratch = np.full((min(4, p.c) if pointwise else 1) * p.n * p.h * p.w, np.nan,
                          np.float32)
        lib.tcc_conv2d_grad_weight_qsgd_s8x(
            dy.ctypes.data_as(F32P), x8.ctypes.data_as(I8P), table.ctypes.data_as(F32P),
            scratch.ctypes.data_as(F32P), fused.ctypes.data_as(I8P), ctypes.byref(p),
            ctypes.byref(q))
    else:
        lib.tcc_conv2d_grad_weight_qsgd_s8(dy.ctypes.data_as(F32P), x.ctypes.data_as(F32P),
                                           fused.ctypes.data_as(I8P), ctypes.byref(p),
                                           ctypes.byref(q))
    assert (expected != w).mean() > 0.3          # the update did change most weights
    np.testing.assert_array_equal(fused, expected)
    if dead is not None and dead.any():
        np.testing.assert_array_equal(fused[dead.astype(bool)], w[dead.astype(bool)])

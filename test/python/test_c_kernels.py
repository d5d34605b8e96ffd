"""Tests of the fp32 C kernels (kernels/c/tcc_kernels.c) against numpy.

The library is compiled for the host with gcc and loaded with ctypes. Forward
kernels are compared with float64 numpy references; conv gradients with the
transposed dense Jacobians of the float64 reference forward; the documented
summation order is checked bit-exactly against float32 numpy accumulation.
"""
import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tcc.kernels

KERNELS_DIR = Path(tcc.kernels.__file__).parent / "c"
RTOL, ATOL = 1e-5, 1e-6

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs host gcc")

F32P = ctypes.POINTER(ctypes.c_float)
I32P = ctypes.POINTER(ctypes.c_int32)
I8P = ctypes.POINTER(ctypes.c_int8)
I32 = ctypes.c_int32


class Conv2dParams(ctypes.Structure):
    """Mirror of tcc_conv2d_params."""

    _fields_ = [(name, ctypes.c_int32) for name in (
        "n", "c", "h", "w", "o", "kh", "kw", "oh", "ow",
        "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w", "groups")]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    so = tmp_path_factory.mktemp("kernels") / "libtcc_kernels.so"
    subprocess.run(
        ["gcc", "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra",
         "-Wdouble-promotion", "-Werror", "-shared", "-fPIC",
         str(KERNELS_DIR / "tcc_kernels.c"), "-o", str(so), "-lm"],
        check=True, capture_output=True, text=True, timeout=120)
    lib = ctypes.CDLL(str(so))
    sigs = {
        "tcc_linear_f32": [F32P, F32P, F32P, F32P, I32, I32, I32],
        "tcc_linear_grad_input_f32": [F32P, F32P, F32P, I32, I32, I32],
        "tcc_linear_grad_weight_f32": [F32P, F32P, F32P, I32, I32, I32],
        "tcc_bias_grad_f32": [F32P, F32P, I32, I32, I32],
        "tcc_conv2d_f32": [F32P, F32P, F32P, F32P, ctypes.POINTER(Conv2dParams)],
        "tcc_conv2d_grad_input_f32": [F32P, F32P, F32P, ctypes.POINTER(Conv2dParams)],
        "tcc_conv2d_grad_weight_f32": [F32P, F32P, F32P, ctypes.POINTER(Conv2dParams)],
        "tcc_add_f32": [F32P, F32P, F32P, I32],
        "tcc_relu_f32": [F32P, F32P, I32],
        "tcc_relu_grad_f32": [F32P, F32P, F32P, I32],
        "tcc_copy_f32": [F32P, F32P, I32],
        "tcc_cross_entropy_f32": [F32P, I32P, F32P, I32, I32],
        "tcc_cross_entropy_grad_f32": [F32P, I32P, F32P, I32, I32],
        "tcc_sgd_f32": [F32P, F32P, ctypes.c_float, ctypes.c_float, I32],
        "tcc_clamp_mask_f32": [F32P, I8P, ctypes.c_float, ctypes.c_float, I32],
        "tcc_clamp_mask_s8": [I8P, I8P, I32, I32, I32],
        "tcc_mask_grad_f32": [F32P, I8P, F32P, I32],
    }
    for name, argtypes in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, None
    return lib


def fp(a):
    """float* to a float32 C-contiguous array (None -> NULL)."""
    if a is None:
        return None
    assert a.dtype == np.float32 and a.flags.c_contiguous
    return a.ctypes.data_as(F32P)


def ip(a):
    assert a.dtype == np.int32 and a.flags.c_contiguous
    return a.ctypes.data_as(I32P)


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def empty(*shape):
    """Output buffer pre-filled with NaN, so anything not overwritten shows."""
    return np.full(shape, np.nan, dtype=np.float32)


def check(actual, expected):
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- linear ---

@pytest.mark.parametrize("n,k,m", [(1, 1, 1), (3, 7, 5), (4, 16, 10)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear(lib, n, k, m, with_bias):
    rng = np.random.default_rng(n * 100 + k * 10 + m)
    x, w = rand(rng, n, k), rand(rng, m, k)
    b = rand(rng, m) if with_bias else None
    y = empty(n, m)
    lib.tcc_linear_f32(fp(x), fp(w), fp(b), fp(y), n, k, m)
    ref = x.astype(np.float64) @ w.T.astype(np.float64)
    if with_bias:
        ref += b
    check(y, ref)


def test_linear_grads(lib):
    rng = np.random.default_rng(1)
    n, k, m = 5, 9, 4
    x, w, dy = rand(rng, n, k), rand(rng, m, k), rand(rng, n, m)
    dx, dw = empty(n, k), empty(m, k)
    lib.tcc_linear_grad_input_f32(fp(dy), fp(w), fp(dx), n, k, m)
    lib.tcc_linear_grad_weight_f32(fp(dy), fp(x), fp(dw), n, k, m)
    check(dx, dy.astype(np.float64) @ w.astype(np.float64))
    check(dw, dy.T.astype(np.float64) @ x.astype(np.float64))


def test_linear_summation_order_is_exact(lib):
    """y[n,m] accumulates in float32 from 0 over increasing k, then adds b."""
    rng = np.random.default_rng(2)
    n, k, m = 3, 33, 4
    x, w, b = rand(rng, n, k), rand(rng, m, k), rand(rng, m)
    y = empty(n, m)
    lib.tcc_linear_f32(fp(x), fp(w), fp(b), fp(y), n, k, m)
    acc = np.zeros((n, m), np.float32)
    for i in range(k):
        acc = acc + x[:, i, None] * w[None, :, i]
    np.testing.assert_array_equal(y, acc + b)


@pytest.mark.parametrize("n,c,inner", [(2, 3, 1), (3, 4, 10)])
def test_bias_grad(lib, n, c, inner):
    rng = np.random.default_rng(3)
    dy = rand(rng, n, c, inner)
    db = empty(c)
    lib.tcc_bias_grad_f32(fp(dy), fp(db), n, c, inner)
    check(db, dy.astype(np.float64).sum(axis=(0, 2)))


# ------------------------------------------------------------------ conv ---

def out_size(size, k, stride, pad, dil):
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def make_params(n, c, h, w, o, kh, kw, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1):
    return Conv2dParams(
        n, c, h, w, o, kh, kw,
        out_size(h, kh, stride[0], pad[0], dil[0]), out_size(w, kw, stride[1], pad[1], dil[1]),
        stride[0], stride[1], pad[0], pad[1], dil[0], dil[1], groups)


def conv_ref(x, w, b, p):
    """Reference conv2d (NCHW, OIHW, zero padding), float64."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p.pad_h, p.pad_h), (p.pad_w, p.pad_w)))
    w = w.astype(np.float64)
    cg, og = p.c // p.groups, p.o // p.groups
    y = np.zeros((p.n, p.o, p.oh, p.ow))
    for g in range(p.groups):
        for a in range(p.kh):
            for bb in range(p.kw):
                r0, c0 = a * p.dil_h, bb * p.dil_w
                xs = x[:, g * cg:(g + 1) * cg,
                       r0:r0 + p.stride_h * (p.oh - 1) + 1:p.stride_h,
                       c0:c0 + p.stride_w * (p.ow - 1) + 1:p.stride_w]
                y[:, g * og:(g + 1) * og] += np.einsum(
                    "ncij,oc->noij", xs, w[g * og:(g + 1) * og, :, a, bb])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def jacobian(f, shape):
    """Dense Jacobian of the linear map f at float64 arrays of `shape`."""
    size = int(np.prod(shape))
    cols = []
    for i in range(size):
        e = np.zeros(size)
        e[i] = 1.0
        cols.append(f(e.reshape(shape)).ravel())
    return np.stack(cols, axis=1)


CONV_CASES = {
    "basic_pad1": dict(n=2, c=3, h=5, w=6, o=4, kh=3, kw=3, pad=(1, 1)),
    "stride2_nonsquare": dict(n=2, c=2, h=7, w=5, o=3, kh=2, kw=3, stride=(2, 2)),
    "dilation2_pad2": dict(n=1, c=2, h=6, w=7, o=2, kh=3, kw=3, pad=(2, 2), dil=(2, 2)),
    "grouped_mixed": dict(n=2, c=4, h=6, w=5, o=6, kh=3, kw=2, stride=(2, 1),
                          pad=(1, 0), dil=(1, 2), groups=2),
    "depthwise_stride2": dict(n=2, c=3, h=6, w=6, o=3, kh=3, kw=3, stride=(2, 2),
                              pad=(1, 1), groups=3),
    "depthwise_multiplier": dict(n=1, c=2, h=5, w=4, o=4, kh=3, kw=3, pad=(1, 1), groups=2),
    "pointwise": dict(n=3, c=4, h=3, w=2, o=5, kh=1, kw=1),
    "stride3_gaps": dict(n=1, c=2, h=8, w=7, o=2, kh=2, kw=2, stride=(3, 3), pad=(1, 0)),
}


@pytest.fixture(params=sorted(CONV_CASES), ids=sorted(CONV_CASES))
def conv_case(request):
    params = make_params(**CONV_CASES[request.param])
    rng = np.random.default_rng(len(request.param))
    x = rand(rng, params.n, params.c, params.h, params.w)
    w = rand(rng, params.o, params.c // params.groups, params.kh, params.kw)
    dy = rand(rng, params.n, params.o, params.oh, params.ow)
    return params, x, w, dy


@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d(lib, conv_case, with_bias):
    p, x, w, _ = conv_case
    b = np.random.default_rng(7).standard_normal(p.o).astype(np.float32) if with_bias else None
    y = empty(p.n, p.o, p.oh, p.ow)
    lib.tcc_conv2d_f32(fp(x), fp(w), fp(b), fp(y), ctypes.byref(p))
    check(y, conv_ref(x, w, b, p))


def test_conv2d_grad_input(lib, conv_case):
    p, x, w, dy = conv_case
    dx = empty(*x.shape)
    lib.tcc_conv2d_grad_input_f32(fp(dy), fp(w), fp(dx), ctypes.byref(p))
    jac = jacobian(lambda xx: conv_ref(xx, w, None, p), x.shape)
    check(dx, (jac.T @ dy.astype(np.float64).ravel()).reshape(x.shape))


def test_conv2d_grad_weight(lib, conv_case):
    p, x, w, dy = conv_case
    dw = empty(*w.shape)
    lib.tcc_conv2d_grad_weight_f32(fp(dy), fp(x), fp(dw), ctypes.byref(p))
    jac = jacobian(lambda ww: conv_ref(x, ww, None, p), w.shape)
    check(dw, (jac.T @ dy.astype(np.float64).ravel()).reshape(w.shape))


def test_conv2d_summation_order_is_exact(lib):
    """Accumulation over (ci, ky, kx) in increasing order, then bias."""
    p = make_params(n=1, c=3, h=5, w=5, o=2, kh=3, kw=3, pad=(1, 1), stride=(2, 2))
    rng = np.random.default_rng(4)
    x, w, b = rand(rng, 1, 3, 5, 5), rand(rng, 2, 3, 3, 3), rand(rng, 2)
    y = empty(1, 2, p.oh, p.ow)
    lib.tcc_conv2d_f32(fp(x), fp(w), fp(b), fp(y), ctypes.byref(p))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    acc = np.zeros((2, p.oh, p.ow), np.float32)
    for ci in range(3):
        for a in range(3):
            for bb in range(3):
                acc = acc + xp[0, ci, a:a + 2 * p.oh - 1:2, bb:bb + 2 * p.ow - 1:2][None] \
                    * w[:, ci, a, bb][:, None, None]
    np.testing.assert_array_equal(y[0], acc + b[:, None, None])


POINTWISE_CASES = [dict(n=2, c=6, h=1, w=7, o=300),    # c, pixels and oc past a tile / chunk
                   dict(n=1, c=8, h=4, w=4, o=5), dict(n=3, c=1, h=2, w=1, o=1)]


@pytest.mark.parametrize("case", POINTWISE_CASES, ids=str)
def test_pointwise_grads_are_exact(lib, case):
    """The tiled 1x1 paths sum in the documented order: dx over increasing oc,
    dw over increasing (n, pixel); bit for bit with float32 numpy accumulation."""
    p = make_params(kh=1, kw=1, **case)
    rng = np.random.default_rng(case["o"])
    x, w, dy = rand(rng, p.n, p.c, p.h, p.w), rand(rng, p.o, p.c, 1, 1), \
        rand(rng, p.n, p.o, p.h, p.w)
    dx, dw = empty(*x.shape), empty(*w.shape)
    lib.tcc_conv2d_grad_input_f32(fp(dy), fp(w), fp(dx), ctypes.byref(p))
    lib.tcc_conv2d_grad_weight_f32(fp(dy), fp(x), fp(dw), ctypes.byref(p))
    want_dx = np.zeros(x.shape, np.float32)
    for oc in range(p.o):
        want_dx = want_dx + dy[:, oc:oc + 1] * w[oc, :, 0, 0][None, :, None, None]
    want_dw = np.zeros((p.o, p.c), np.float32)
    for b in range(p.n):
        for i in range(p.h):
            for j in range(p.w):
                want_dw = want_dw + dy[b, :, i, j][:, None] * x[b, :, i, j][None, :]
    np.testing.assert_array_equal(dx, want_dx)
    np.testing.assert_array_equal(dw[:, :, 0, 0], want_dw)


DEPTHWISE_CASES = {
    "4x4_k3": dict(h=4, w=4, k=3, pad=1), "4x4_k5": dict(h=4, w=4, k=5, pad=2),
    "8x8_k7": dict(h=8, w=8, k=7, pad=3), "5x6_k3_pad0": dict(h=5, w=6, k=3, pad=0),
    "large_k3": dict(h=40, w=40, k=3, pad=1),          # past the padded buffer
    "8x8_k7_s2": dict(h=8, w=8, k=7, pad=3, stride=2), "7x5_k3_s2": dict(h=7, w=5, k=3, pad=1,
                                                                       stride=2),
    "k4": dict(h=6, w=6, k=4, pad=1),
}


@pytest.mark.parametrize("name", sorted(DEPTHWISE_CASES))
def test_depthwise_grad_input_is_exact(lib, name):
    """Every dx element sums its valid terms dy * w in increasing (a, b), bit for bit
    (the padded stride-1 path adds exact zeros for the invalid ones)."""
    case = DEPTHWISE_CASES[name]
    stride, k, c = case.get("stride", 1), case["k"], 3
    p = make_params(n=2, c=c, h=case["h"], w=case["w"], o=c, kh=k, kw=k,
                    stride=(stride, stride), pad=(case["pad"],) * 2, groups=c)
    rng = np.random.default_rng(k * 10 + stride)
    w, dy = rand(rng, c, 1, k, k), rand(rng, 2, c, p.oh, p.ow)
    dy[:, :, 0, :] = 0.0                                   # exact zeros among the terms
    dx = empty(2, c, p.h, p.w)
    lib.tcc_conv2d_grad_input_f32(fp(dy), fp(w), fp(dx), ctypes.byref(p))
    want = np.zeros(dx.shape, np.float32)
    for a in range(k):
        for b in range(k):
            i = np.arange(p.oh)
            j = np.arange(p.ow)
            u, v = i * stride - p.pad_h + a, j * stride - p.pad_w + b
            i, u = i[(u >= 0) & (u < p.h)], u[(u >= 0) & (u < p.h)]
            j, v = j[(v >= 0) & (v < p.w)], v[(v >= 0) & (v < p.w)]
            want[:, :, u[:, None], v[None, :]] = want[:, :, u[:, None], v[None, :]] + \
                dy[:, :, i[:, None], j[None, :]] * w[None, :, 0, a, b, None, None]
    np.testing.assert_array_equal(dx, want)


@pytest.mark.parametrize("name", sorted(DEPTHWISE_CASES))
def test_depthwise_grad_input_in_place_where_marked(lib, name):
    """Where --train-mark-inplace lets dx take over dy's storage, the kernel writes dx
    over dy and gets the same bits; the large and strided cases are not marked."""
    from tcc._mlir import ir
    from tcc.compiler.source import new_context
    from tcc.passes.train_mark_inplace import depthwise_in_place

    case = DEPTHWISE_CASES[name]
    stride, k, c = case.get("stride", 1), case["k"], 3
    p = make_params(n=2, c=c, h=case["h"], w=case["w"], o=c, kh=k, kw=k,
                    stride=(stride, stride), pad=(case["pad"],) * 2, groups=c)
    text = f"""func.func @f(%dy: tensor<2x{c}x{p.oh}x{p.ow}xf32>, %w: tensor<{c}x1x{k}x{k}xf32>)
        -> tensor<2x{c}x{p.h}x{p.w}xf32> {{
      %dx = train.conv2d_grad_input %dy, %w stride [{stride}, {stride}]
          padding [{case["pad"]}, {case["pad"]}] groups {c}
          : (tensor<2x{c}x{p.oh}x{p.ow}xf32>, tensor<{c}x1x{k}x{k}xf32>)
          -> tensor<2x{c}x{p.h}x{p.w}xf32>
      return %dx : tensor<2x{c}x{p.h}x{p.w}xf32>
    }}"""
    with new_context():
        module = ir.Module.parse(text)
        grad = next(op for op in module.body.operations[0].regions[0].blocks[0].operations
                    if op.name == "train.conv2d_grad_input")
        marked = depthwise_in_place(grad)
    assert marked == (name in ("4x4_k3", "4x4_k5", "8x8_k7"))
    if not marked:
        return
    rng = np.random.default_rng(k)
    w, dy = rand(rng, c, 1, k, k), rand(rng, 2, c, p.oh, p.ow)
    want = empty(2, c, p.h, p.w)
    lib.tcc_conv2d_grad_input_f32(fp(dy), fp(w), fp(want), ctypes.byref(p))
    lib.tcc_conv2d_grad_input_f32(fp(dy), fp(w), fp(dy), ctypes.byref(p))
    np.testing.assert_array_equal(dy, want)


# ----------------------------------------------------------- elementwise ---

def test_add_relu_copy(lib):
    rng = np.random.default_rng(5)
    a, b = rand(rng, 37), rand(rng, 37)
    y = empty(37)
    lib.tcc_add_f32(fp(a), fp(b), fp(y), 37)
    check(y, a.astype(np.float64) + b)
    lib.tcc_relu_f32(fp(a), fp(y), 37)
    check(y, np.maximum(a, 0.0))
    lib.tcc_copy_f32(fp(a), fp(y), 37)
    np.testing.assert_array_equal(y, a)


def test_relu_grad(lib):
    rng = np.random.default_rng(6)
    y = np.maximum(rand(rng, 50), 0.0).astype(np.float32)
    y[:5] = 0.0
    dy = rand(rng, 50)
    dx = empty(50)
    lib.tcc_relu_grad_f32(fp(dy), fp(y), fp(dx), 50)
    check(dx, np.where(y > 0, dy, 0.0))


def test_sgd(lib):
    rng = np.random.default_rng(7)
    p, g = rand(rng, 20), rand(rng, 20)
    expected = p.astype(np.float64) - 0.1 * (g + 0.01 * p.astype(np.float64))
    lib.tcc_sgd_f32(fp(p), fp(g), 0.1, 0.01, 20)
    check(p, expected)


# -------------------------------------------------------------- aliasing ---

def test_relu_in_place(lib):
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    expected = np.maximum(x, 0.0)
    lib.tcc_relu_f32(fp(x), fp(x), x.size)
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("into", ["a", "b"])
def test_add_in_place(lib, into):
    rng = np.random.default_rng(8)
    a, b = rand(rng, 16), rand(rng, 16)
    expected = a + b
    out = a if into == "a" else b
    lib.tcc_add_f32(fp(a), fp(b), fp(out), 16)
    np.testing.assert_array_equal(out, expected)


def test_relu_grad_in_place(lib):
    rng = np.random.default_rng(9)
    y = np.maximum(rand(rng, 16), 0.0).astype(np.float32)
    dy = rand(rng, 16)
    expected = np.where(y > 0, dy, 0.0).astype(np.float32)
    lib.tcc_relu_grad_f32(fp(dy), fp(y), fp(dy), 16)
    np.testing.assert_array_equal(dy, expected)


@pytest.mark.parametrize("src,dst", [(0, 3), (3, 0), (2, 2)])
def test_copy_overlapping(lib, src, dst):
    buf = np.arange(12, dtype=np.float32)
    expected = buf.copy()
    expected[dst:dst + 8] = buf[src:src + 8]
    lib.tcc_copy_f32(fp(buf[src:]), fp(buf[dst:]), 8)
    np.testing.assert_array_equal(buf, expected)


# --------------------------------------------------------- cross entropy ---

def ce_ref(x, labels):
    x = x.astype(np.float64)
    mx = x.max(axis=1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(x - mx).sum(axis=1))
    loss = np.mean(lse - x[np.arange(len(labels)), labels])
    softmax = np.exp(x - mx) / np.exp(x - mx).sum(axis=1, keepdims=True)
    onehot = np.eye(x.shape[1])[labels]
    return loss, (softmax - onehot) / len(labels)


@pytest.mark.parametrize("offset", [0.0, 1000.0, -1000.0], ids=["plain", "large", "negative"])
def test_cross_entropy(lib, offset):
    rng = np.random.default_rng(10)
    n, c = 5, 7
    x = (rand(rng, n, c) * 3 + offset).astype(np.float32)
    labels = rng.integers(0, c, n).astype(np.int32)
    loss = np.full(1, np.nan, np.float32)
    dx = empty(n, c)
    lib.tcc_cross_entropy_f32(fp(x), ip(labels), fp(loss), n, c)
    lib.tcc_cross_entropy_grad_f32(fp(x), ip(labels), fp(dx), n, c)
    ref_loss, ref_grad = ce_ref(x, labels)
    check(loss, np.array([ref_loss]))
    check(dx, ref_grad)


# ---------------------------------------------------------------- 1-bit masks ---

@pytest.mark.parametrize("size", [1, 5, 8, 23, 64])
def test_masks_equal_the_reference(lib, size):
    """clamp_mask (float and int8 storage) and mask_grad, against reference_ops, for
    whole and partial bytes, values on the bounds, an empty interval, in place."""
    from tcc.runtime import quantized_ops as qo
    from tcc.runtime import reference_ops as ref
    rng = np.random.default_rng(size)
    x = rng.choice(np.float32([-1, 0, 0.25, 3, 6, 7]), size).astype(np.float32)
    mask = np.full((size + 7) // 8, -1, np.int8)
    lib.tcc_clamp_mask_f32(fp(x), mask.ctypes.data_as(I8P), 0.0, 6.0, size)
    np.testing.assert_array_equal(mask, ref.clamp_mask(x, min=0.0, max=6.0))
    q = rng.integers(-128, 128, size).astype(np.int8)
    q[:2] = (-128, 127)[:size]
    for scale, zp, lo, hi in ((0.05, -128, 0.0, 6.0), (0.1, 3, -2.0, 2.0), (0.1, 0, 1.0, 1.0)):
        qa, qb = qo.mask_interval(scale=scale, zp=zp, qmin=-128, qmax=127, lo=lo, hi=hi)
        lib.tcc_clamp_mask_s8(q.ctypes.data_as(I8P), mask.ctypes.data_as(I8P), qa, qb, size)
        real = qo.dequantize(q, scale=scale, zp=zp)
        np.testing.assert_array_equal(mask, ref.clamp_mask(real, min=lo, max=hi))
    dy = rand(rng, size)
    expected = ref.mask_grad(dy, mask)
    lib.tcc_mask_grad_f32(fp(dy), mask.ctypes.data_as(I8P), fp(dy), size)
    np.testing.assert_array_equal(dy, expected)

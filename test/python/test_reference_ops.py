"""Checks the numpy reference semantics of the train ops against PyTorch (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tcc.runtime import reference_ops as ref

RTOL = 1e-10


def assert_close(actual, expected):
    """Max error relative to the largest reference magnitude is at most RTOL, shapes equal."""
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    scale = max(np.abs(expected).max(initial=0.0), np.finfo(np.float64).tiny)
    assert np.abs(actual - expected).max(initial=0.0) / scale <= RTOL


def randn(rng, *shape):
    return rng.standard_normal(shape)


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


# --------------------------------------------------------------------------
# linear
# --------------------------------------------------------------------------

LINEAR_SHAPES = [(1, 1, 1), (4, 7, 3), (16, 32, 10), (5, 3, 8)]   # (N, K, M)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n,k,m", LINEAR_SHAPES)
def test_linear_and_grads(n, k, m, bias):
    rng = np.random.default_rng(n * 100 + k * 10 + m)
    x, w, b, dy = randn(rng, n, k), randn(rng, m, k), randn(rng, m), randn(rng, n, m)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    ty = F.linear(tx, tw, tb if bias else None)
    assert_close(ref.linear(x, w, b if bias else None), ty)

    grads = torch.autograd.grad(ty, [tx, tw, tb] if bias else [tx, tw], t(dy))
    assert_close(ref.linear_grad_input(dy, w), grads[0])
    assert_close(ref.linear_grad_weight(dy, x), grads[1])
    if bias:
        assert_close(ref.bias_grad(dy), grads[2])


# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------

# (N, C, H, W, O, KH, KW, stride, padding, dilation, groups)
CONV_CASES = [
    (2, 3, 8, 8, 4, 3, 3, (1, 1), (0, 0), (1, 1), 1),
    (2, 3, 9, 7, 5, 3, 2, (2, 2), (1, 1), (1, 1), 1),      # non-square input and kernel, stride 2
    (3, 4, 10, 11, 6, 3, 3, (2, 1), (2, 2), (1, 1), 2),    # groups=2, padding 2
    (2, 4, 9, 9, 4, 3, 3, (1, 1), (1, 1), (2, 2), 4),      # depthwise, dilation 2
    (2, 6, 12, 10, 12, 3, 3, (2, 2), (1, 2), (2, 1), 6),   # depthwise with channel multiplier 2
    (1, 4, 7, 8, 6, 1, 1, (1, 1), (0, 0), (1, 1), 2),      # 1x1 grouped
    (2, 2, 5, 5, 3, 5, 5, (1, 1), (2, 2), (1, 1), 1),      # kernel as large as the input
    (2, 3, 10, 10, 4, 3, 3, (3, 3), (0, 0), (1, 1), 1),    # stride leaves trailing rows unused
    (4, 8, 6, 13, 4, 2, 4, (2, 3), (1, 2), (2, 1), 2),     # mixed everything
    (8, 3, 16, 16, 8, 3, 3, (1, 1), (1, 1), (1, 1), 1),    # small CNN layer
]


def _conv_id(case):
    n, c, h, w, o, kh, kw, s, p, d, g = case
    return f"x{n}x{c}x{h}x{w}-w{o}x{kh}x{kw}-s{s[0]}{s[1]}-p{p[0]}{p[1]}-d{d[0]}{d[1]}-g{g}"


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_conv2d_and_grads(case, bias):
    n, c, h, w_, o, kh, kw, stride, padding, dilation, groups = case
    rng = np.random.default_rng(CONV_CASES.index(case))
    x, w, b = randn(rng, n, c, h, w_), randn(rng, o, c // groups, kh, kw), randn(rng, o)
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    ty = F.conv2d(tx, tw, tb if bias else None, **geometry)
    y = ref.conv2d(x, w, b if bias else None, **geometry)
    assert_close(y, ty)

    dy = randn(rng, *y.shape)
    grads = torch.autograd.grad(ty, [tx, tw, tb] if bias else [tx, tw], t(dy))
    assert_close(ref.conv2d_grad_input(dy, w, input_shape=x.shape, **geometry), grads[0])
    assert_close(ref.conv2d_grad_weight(dy, x, weight_shape=w.shape, **geometry), grads[1])
    if bias:
        assert_close(ref.bias_grad(dy), grads[2])


def test_conv2d_int_attributes():
    rng = np.random.default_rng(1)
    x, w = randn(rng, 1, 2, 7, 7), randn(rng, 3, 2, 3, 3)
    assert_close(ref.conv2d(x, w, stride=2, padding=1, dilation=2),
                 F.conv2d(t(x), t(w), stride=2, padding=1, dilation=2))


# --------------------------------------------------------------------------
# element-wise ops and reshape
# --------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4, 5)])
def test_add_relu_and_grad(shape):
    rng = np.random.default_rng(len(shape))
    a, b, dy = randn(rng, *shape), randn(rng, *shape), randn(rng, *shape)
    a.flat[0] = 0.0                                     # relu'(0) is 0, as in torch
    assert_close(ref.add(a, b), t(a) + t(b))

    ta = t(a, True)
    ty = F.relu(ta)
    y = ref.relu(a)
    assert_close(y, ty)
    (dx,) = torch.autograd.grad(ty, ta, t(dy))
    assert_close(ref.relu_grad(dy, y), dx)


def test_reshape():
    x = np.arange(64.0).reshape(4, 4, 2, 2)
    y = ref.reshape(x, (4, 16))
    assert_close(y, t(x).reshape(4, 16))
    assert_close(ref.reshape(y, [4, 4, 2, 2]), x)


# --------------------------------------------------------------------------
# cross entropy
# --------------------------------------------------------------------------

@pytest.mark.parametrize("n,c,scale", [(1, 1, 1.0), (4, 10, 1.0), (7, 3, 5.0), (16, 5, 1e3)])
def test_cross_entropy_and_grad(n, c, scale):
    rng = np.random.default_rng(n * c)
    logits = scale * randn(rng, n, c)
    labels = rng.integers(0, c, size=n)
    tl = t(logits, True)
    tloss = F.cross_entropy(tl, torch.tensor(labels))
    loss = ref.cross_entropy(logits, labels)
    assert loss.shape == () and np.isfinite(loss)
    assert_close(loss, tloss)
    (dl,) = torch.autograd.grad(tloss, tl)
    assert_close(ref.cross_entropy_grad(logits, labels), dl)


# --------------------------------------------------------------------------
# sgd
# --------------------------------------------------------------------------

@pytest.mark.parametrize("weight_decay", [0.0, 1e-2, 0.5])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 3, 3)])
def test_sgd(shape, weight_decay):
    rng = np.random.default_rng(len(shape))
    p, g, lr = randn(rng, *shape), randn(rng, *shape), 0.05
    tp = torch.nn.Parameter(t(p))
    tp.grad = t(g)
    opt = torch.optim.SGD([tp], lr=lr, weight_decay=weight_decay)
    opt.step()
    assert_close(ref.sgd(p, g, lr=lr, weight_decay=weight_decay), tp)


# --------------------------------------------------------------------------
# dtype preservation
# --------------------------------------------------------------------------

def _f32_calls():
    rng = np.random.default_rng(0)

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    geometry = dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)
    x, w = r(2, 4, 9, 8), r(6, 2, 3, 2)
    dy = r(2, 6, 5, 8)
    labels = np.array([0, 2, 1])
    return {
        "linear": lambda: ref.linear(r(3, 4), r(5, 4), r(5)),
        "conv2d": lambda: ref.conv2d(x, w, r(6), **geometry),
        "add": lambda: ref.add(r(3, 4), r(3, 4)),
        "relu": lambda: ref.relu(r(3, 4)),
        "reshape": lambda: ref.reshape(r(3, 4), (12,)),
        "cross_entropy": lambda: ref.cross_entropy(r(3, 4), labels),
        "linear_grad_input": lambda: ref.linear_grad_input(r(3, 5), r(5, 4)),
        "linear_grad_weight": lambda: ref.linear_grad_weight(r(3, 5), r(3, 4)),
        "bias_grad": lambda: ref.bias_grad(dy),
        "conv2d_grad_input": lambda: ref.conv2d_grad_input(
            dy, w, input_shape=x.shape, **geometry),
        "conv2d_grad_weight": lambda: ref.conv2d_grad_weight(
            dy, x, weight_shape=w.shape, **geometry),
        "relu_grad": lambda: ref.relu_grad(r(3, 4), r(3, 4)),
        "cross_entropy_grad": lambda: ref.cross_entropy_grad(r(3, 4), labels),
        "sgd": lambda: ref.sgd(r(3, 4), r(3, 4), lr=0.1, weight_decay=1e-4),
    }


F32_CALLS = _f32_calls()


def test_ops_table():
    assert set(ref.OPS) == {f"train.{name}" for name in F32_CALLS}
    for key, fn in ref.OPS.items():
        assert key == f"train.{fn.__name__}" and fn is getattr(ref, fn.__name__)


@pytest.mark.parametrize("name", sorted(F32_CALLS))
def test_float32_in_float32_out(name):
    out = F32_CALLS[name]()
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))


def test_conv2d_float32_matches_float64():
    rng = np.random.default_rng(3)
    x, w = randn(rng, 8, 3, 16, 16), randn(rng, 8, 3, 3, 3)
    y64 = ref.conv2d(x, w, padding=1)
    y32 = ref.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1)
    assert np.abs(y32 - y64).max() <= 1e-5 * np.abs(y64).max()


# --------------------------------------------------------------------------
# argument validation
# --------------------------------------------------------------------------

_x = np.zeros((2, 4, 8, 8))
_w = np.zeros((6, 2, 3, 3))
_dy = np.zeros((2, 6, 6, 6))

BAD_CALLS = {
    "linear-features": (lambda: ref.linear(np.zeros((2, 3)), np.zeros((4, 5))), "input features"),
    "linear-rank": (lambda: ref.linear(np.zeros(3), np.zeros((4, 3))), "rank 2"),
    "linear-bias": (lambda: ref.linear(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros(3)),
                    "bias shape"),
    "linear-dtype": (lambda: ref.linear(np.zeros((2, 3), np.float32), np.zeros((4, 3))),
                     "dtype mismatch"),
    "linear-int": (lambda: ref.linear(np.zeros((2, 3), np.int64), np.zeros((4, 3))),
                   "floating-point"),
    "conv-groups-divide": (lambda: ref.conv2d(_x, np.zeros((6, 4, 3, 3)), groups=3),
                           "must divide"),
    "conv-group-channels": (lambda: ref.conv2d(_x, np.zeros((6, 3, 3, 3)), groups=2),
                            "input channels per group"),
    "conv-rank": (lambda: ref.conv2d(_x[0], _w, groups=2), "rank 4"),
    "conv-kernel-too-big": (lambda: ref.conv2d(_x, np.zeros((6, 2, 9, 3)), groups=2),
                            "exceeds the padded input"),
    "conv-stride": (lambda: ref.conv2d(_x, _w, stride=(0, 1), groups=2), "stride"),
    "conv-padding": (lambda: ref.conv2d(_x, _w, padding=(1, 2, 3), groups=2), "padding"),
    "conv-bias": (lambda: ref.conv2d(_x, _w, np.zeros(5), groups=2), "bias shape"),
    "conv-grad-input-dy": (lambda: ref.conv2d_grad_input(
        _dy[:, :, :5], _w, input_shape=_x.shape, groups=2), "grad_output shape"),
    "conv-grad-input-shape": (lambda: ref.conv2d_grad_input(
        _dy, _w, input_shape=(2, 4, 8), groups=2), "input_shape"),
    "conv-grad-weight-dy": (lambda: ref.conv2d_grad_weight(
        _dy, _x, weight_shape=_w.shape, padding=1, groups=2), "grad_output shape"),
    "conv-grad-weight-groups": (lambda: ref.conv2d_grad_weight(
        _dy, _x, weight_shape=(6, 3, 3, 3), groups=1), "input channels per group"),
    "add-shape": (lambda: ref.add(np.zeros(3), np.zeros(4)), "shape mismatch"),
    "reshape-count": (lambda: ref.reshape(np.zeros((2, 3)), (4, 2)), "cannot reshape"),
    "ce-label-shape": (lambda: ref.cross_entropy(np.zeros((3, 4)), np.zeros(2, np.int64)),
                       "batch size"),
    "ce-label-range": (lambda: ref.cross_entropy(np.zeros((3, 4)), np.array([0, 4, 1])),
                       r"\[0, 4\)"),
    "ce-label-dtype": (lambda: ref.cross_entropy_grad(np.zeros((3, 4)), np.zeros(3)),
                       "integer"),
    "lgi-shape": (lambda: ref.linear_grad_input(np.zeros((2, 3)), np.zeros((4, 5))),
                  "output features"),
    "lgw-batch": (lambda: ref.linear_grad_weight(np.zeros((2, 3)), np.zeros((3, 5))),
                  "batch size"),
    "bias-grad-rank": (lambda: ref.bias_grad(np.zeros(3)), "rank >= 2"),
    "relu-grad-shape": (lambda: ref.relu_grad(np.zeros(3), np.zeros(4)), "shape mismatch"),
    "sgd-shape": (lambda: ref.sgd(np.zeros(3), np.zeros(4), lr=0.1), "shape mismatch"),
    "sgd-dtype": (lambda: ref.sgd(np.zeros(3, np.float32), np.zeros(3), lr=0.1),
                  "dtype mismatch"),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_arguments_raise(name):
    call, match = BAD_CALLS[name]
    with pytest.raises(ValueError, match=match):
        call()

"""Checks the numpy reference semantics of the train ops against PyTorch (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

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
# matmul, mul, broadcast, clamp, activations
# --------------------------------------------------------------------------

SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(batch=st.lists(st.integers(1, 3), max_size=2), m=st.integers(1, 6),
       k=st.integers(1, 6), n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_matmul(batch, m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = randn(rng, *batch, m, k), randn(rng, *batch, k, n)
    assert_close(ref.matmul(a, b), torch.matmul(t(a), t(b)))


@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (2, 3, 4, 5)])
def test_mul(shape):
    rng = np.random.default_rng(len(shape))
    a, b = randn(rng, *shape), randn(rng, *shape)
    assert_close(ref.mul(a, b), t(a) * t(b))


BROADCASTS = [((1, 8, 1, 1), (4, 8, 5, 5)), ((5,), (3, 4, 5)), ((), (2, 3)),
              ((3, 1), (2, 3, 4)), ((2, 3), (2, 3)), ((1,), (0,))]


@pytest.mark.parametrize("shape,target", BROADCASTS)
def test_broadcast(shape, target):
    x = randn(np.random.default_rng(0), *shape)
    assert_close(ref.broadcast(x, target), torch.broadcast_to(t(x), target))
    q = np.arange(int(np.prod(shape)), dtype=np.int8).reshape(shape)
    y = ref.broadcast(q, list(target))
    assert y.dtype == np.int8 and y.flags.writeable
    np.testing.assert_array_equal(y, torch.broadcast_to(torch.from_numpy(q), target).numpy())


@pytest.mark.parametrize("lo,hi", [(0.0, 6.0), (-1.0, 1.0), (0.5, 0.5), (-np.inf, 0.0)])
def test_clamp(lo, hi):
    x = 4 * randn(np.random.default_rng(1), 3, 4, 5)
    assert_close(ref.clamp(x, lo, hi), torch.clamp(t(x), lo, hi))
    if (lo, hi) == (0.0, 6.0):
        assert_close(ref.clamp(x, lo, hi), F.relu6(t(x)))


@pytest.mark.parametrize("lo,hi", [(-128, 127), (-20, 37), (0, 0), (-1000, 5), (200, 300)])
def test_clamp_int8(lo, hi):
    q = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    y = ref.clamp(q, lo, hi)
    assert y.dtype == np.int8
    # Bounds outside the storage range saturate to it.
    expected = torch.clamp(torch.from_numpy(q), *np.clip([lo, hi], -128, 127).tolist())
    np.testing.assert_array_equal(y, expected.numpy())


def _activation_input(seed, *shape):
    x = 5 * randn(np.random.default_rng(seed), *shape)
    x.flat[:8] = [-1000.0, -3.0, -1e-3, 0.0, 1e-3, 3.0, 1000.0, -750.0]
    return x


@pytest.mark.filterwarnings("error")     # no overflow in exp
@pytest.mark.parametrize("shape", [(8,), (4, 9), (2, 3, 4, 5)])
def test_activations(shape):
    x = _activation_input(len(shape), *shape)
    assert_close(ref.hardswish(x), F.hardswish(t(x)))
    assert_close(ref.sigmoid(x), torch.sigmoid(t(x)))
    assert_close(ref.gelu(x), F.gelu(t(x)))
    assert_close(ref.gelu(x, tanh=True), F.gelu(t(x), approximate="tanh"))


def test_gelu_float32_is_rounded_float64():
    x = _activation_input(5, 64).astype(np.float32)
    expected = F.gelu(torch.from_numpy(x).double()).numpy()
    assert np.abs(ref.gelu(x) - expected).max() <= 4 * np.finfo(np.float32).eps * \
        np.abs(expected).max()


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------

# (N, C, H, W, kernel, stride, padding)
POOL_CASES = [
    (2, 3, 8, 8, (2, 2), (2, 2), (0, 0)),
    (2, 3, 8, 8, (3, 3), (2, 2), (1, 1)),     # ResNet stem
    (1, 2, 7, 9, (3, 2), (1, 1), (1, 1)),     # stride 1, non-square
    (2, 2, 10, 11, (3, 3), (3, 3), (0, 0)),   # trailing rows and columns unused
    (1, 4, 5, 6, (2, 3), (2, 1), (1, 0)),     # mixed
    (2, 1, 3, 3, (3, 3), (1, 1), (0, 0)),     # kernel as large as the input
    (1, 2, 1, 1, (2, 2), (1, 1), (1, 1)),     # every window mostly padding
    (3, 2, 6, 6, (4, 4), (2, 3), (2, 1)),     # padding = kernel / 2
]


def _pool_id(case):
    n, c, h, w, k, s, p = case
    return f"x{n}x{c}x{h}x{w}-k{k[0]}{k[1]}-s{s[0]}{s[1]}-p{p[0]}{p[1]}"


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pools(case):
    n, c, h, w, kernel, stride, padding = case
    x = randn(np.random.default_rng(POOL_CASES.index(case)), n, c, h, w)
    geometry = dict(kernel=kernel, stride=stride, padding=padding)
    assert_close(ref.max_pool2d(x, **geometry),
                 F.max_pool2d(t(x), kernel, stride, padding))
    for include in (True, False):
        assert_close(ref.avg_pool2d(x, **geometry, count_include_pad=include),
                     F.avg_pool2d(t(x), kernel, stride, padding, count_include_pad=include))


@SETTINGS
@given(kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       data=st.data())
def test_pools_hypothesis(kh, kw, sh, sw, data):
    ph, pw = data.draw(st.integers(0, kh // 2)), data.draw(st.integers(0, kw // 2))
    h = data.draw(st.integers(max(1, kh - 2 * ph), 9))
    w = data.draw(st.integers(max(1, kw - 2 * pw), 9))
    x = randn(np.random.default_rng(data.draw(st.integers(0, 2**16))), 2, 3, h, w)
    geometry = dict(kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw))
    args = ((kh, kw), (sh, sw), (ph, pw))
    assert_close(ref.max_pool2d(x, **geometry), F.max_pool2d(t(x), *args))
    include = data.draw(st.booleans())
    assert_close(ref.avg_pool2d(x, **geometry, count_include_pad=include),
                 F.avg_pool2d(t(x), *args, count_include_pad=include))


def _naive_pool(x, kernel, stride, padding, reduce):
    """Loops over the windows, reducing the input elements each covers."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - ph, j * sw - pw
            window = x[:, :, max(r0, 0):r0 + kh, max(c0, 0):c0 + kw]
            y[:, :, i, j] = reduce(window)
    return y


def test_pools_padding_beyond_half_the_kernel():
    """TOSA allows padding up to kernel - 1, which PyTorch rejects."""
    x = randn(np.random.default_rng(7), 2, 3, 5, 4)
    geometry = dict(kernel=(3, 2), stride=(2, 1), padding=(2, 1))
    args = geometry.values()
    assert_close(ref.max_pool2d(x, **geometry),
                 _naive_pool(x, *args, lambda v: v.max(axis=(2, 3))))
    assert_close(ref.avg_pool2d(x, **geometry, count_include_pad=False),
                 _naive_pool(x, *args, lambda v: v.mean(axis=(2, 3))))
    assert_close(ref.avg_pool2d(x, **geometry),
                 _naive_pool(x, *args, lambda v: v.sum(axis=(2, 3)) / 6))


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_max_pool2d_int8(case):
    n, c, h, w, kernel, stride, padding = case
    rng = np.random.default_rng(POOL_CASES.index(case))
    q = rng.integers(-128, 128, (n, c, h, w)).astype(np.int8)
    q.flat[0] = -128
    y = ref.max_pool2d(q, kernel=kernel, stride=stride, padding=padding)
    assert y.dtype == np.int8
    expected = F.max_pool2d(torch.from_numpy(q).double(), kernel, stride, padding)
    np.testing.assert_array_equal(y, expected.numpy().astype(np.int8))


def test_max_pool2d_int8_all_minimum():
    q = np.full((1, 1, 2, 2), -128, np.int8)
    np.testing.assert_array_equal(
        ref.max_pool2d(q, kernel=(2, 2), padding=(1, 1)), np.full((1, 1, 3, 3), -128))


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 7, 7), (4, 8, 1, 5)])
def test_global_avg_pool(shape):
    x = randn(np.random.default_rng(len(shape)), *shape)
    assert_close(ref.global_avg_pool(x), F.adaptive_avg_pool2d(t(x), 1))


# --------------------------------------------------------------------------
# concat, transpose
# --------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), count=st.integers(1, 4),
       data=st.data())
def test_concat(shape, count, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    sizes = [data.draw(st.integers(0, 3)) for _ in range(count)]
    parts = [randn(rng, *shape[:axis], size, *shape[axis + 1:]) for size in sizes]
    assert_close(ref.concat(*parts, axis=axis), torch.cat([t(p) for p in parts], axis))
    quantized = [rng.integers(-128, 128, p.shape).astype(np.int8) for p in parts]
    y = ref.concat(*quantized, axis=axis)
    assert y.dtype == np.int8
    np.testing.assert_array_equal(
        y, torch.cat([torch.from_numpy(q) for q in quantized], axis).numpy())


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), max_size=5), data=st.data())
def test_transpose(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    x = randn(np.random.default_rng(len(shape)), *shape)
    y = ref.transpose(x, perm)
    assert_close(y, t(x).permute(tuple(perm)))
    assert y.flags.c_contiguous
    q = np.arange(x.size, dtype=np.int64).astype(np.int8).reshape(shape)
    yq = ref.transpose(q, perm)
    assert yq.dtype == np.int8
    np.testing.assert_array_equal(yq, torch.from_numpy(q).permute(tuple(perm)).numpy())


def test_reshape_int8():
    q = np.arange(24, dtype=np.int8).reshape(2, 3, 4)
    y = ref.reshape(q, (6, 4))
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y, q.reshape(6, 4))


# --------------------------------------------------------------------------
# normalization, softmax, mse
# --------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [1e-5, 1e-3, 0.0])
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5), (2, 4, 5, 5), (1, 2, 3, 2, 2)])
def test_batch_norm(shape, eps):
    rng = np.random.default_rng(len(shape))
    c = shape[1]
    x, gamma, beta, mean = randn(rng, *shape), randn(rng, c), randn(rng, c), randn(rng, c)
    var = rng.uniform(0.1, 3.0, c)
    assert_close(ref.batch_norm(x, gamma, beta, mean, var, epsilon=eps),
                 F.batch_norm(t(x), t(mean), t(var), t(gamma), t(beta),
                              training=False, eps=eps))


@pytest.mark.parametrize("scale", [1.0, 100.0])
@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 3, 4, 5)])
def test_softmax(shape, scale):
    x = scale * randn(np.random.default_rng(len(shape)), *shape)
    for axis in range(len(shape)):
        y = ref.softmax(x, axis=axis)
        assert np.all(np.isfinite(y))
        assert_close(y, F.softmax(t(x), dim=axis))


@pytest.mark.parametrize("eps", [1e-5, 1e-12])
@pytest.mark.parametrize("shape,norm", [((4, 8), 1), ((2, 5, 6), 1), ((2, 5, 6), 2),
                                        ((2, 3, 4, 5), 3), ((3, 1), 1)])
def test_layer_norm(shape, norm, eps):
    rng = np.random.default_rng(len(shape) + norm)
    w_shape = shape[len(shape) - norm:]
    x, w, b = randn(rng, *shape), randn(rng, *w_shape), randn(rng, *w_shape)
    assert_close(ref.layer_norm(x, w, b, epsilon=eps),
                 F.layer_norm(t(x), w_shape, t(w), t(b), eps))


@pytest.mark.parametrize("shape", [(1,), (4, 10), (2, 3, 4, 5)])
def test_mse(shape):
    rng = np.random.default_rng(len(shape))
    p, q = randn(rng, *shape), randn(rng, *shape)
    loss = ref.mse(p, q)
    assert loss.shape == ()
    assert_close(loss, F.mse_loss(t(p), t(q)))


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
        "matmul": lambda: ref.matmul(r(2, 3, 4), r(2, 4, 5)),
        "mul": lambda: ref.mul(r(3, 4), r(3, 4)),
        "broadcast": lambda: ref.broadcast(r(1, 4, 1), (2, 4, 3)),
        "clamp": lambda: ref.clamp(r(3, 4), 0.0, 6.0),
        "hardswish": lambda: ref.hardswish(r(3, 4)),
        "sigmoid": lambda: ref.sigmoid(r(3, 4)),
        "gelu": lambda: np.concatenate([ref.gelu(r(3, 4)), ref.gelu(r(3, 4), tanh=True)]),
        "avg_pool2d": lambda: np.concatenate([
            ref.avg_pool2d(x, kernel=(3, 3), stride=(2, 2), padding=(1, 1)),
            ref.avg_pool2d(x, kernel=(3, 3), stride=(2, 2), padding=(1, 1),
                           count_include_pad=False)]),
        "max_pool2d": lambda: ref.max_pool2d(x, kernel=(3, 3), stride=(2, 2), padding=(1, 1)),
        "global_avg_pool": lambda: ref.global_avg_pool(x),
        "concat": lambda: ref.concat(r(2, 3), r(2, 5), axis=1),
        "transpose": lambda: ref.transpose(r(2, 3, 4), (2, 0, 1)),
        "batch_norm": lambda: ref.batch_norm(x, r(4), r(4), r(4), np.abs(r(4)), epsilon=1e-5),
        "softmax": lambda: ref.softmax(r(3, 4), axis=1),
        "layer_norm": lambda: ref.layer_norm(r(2, 3, 4), r(4), r(4), epsilon=1e-5),
        "mse": lambda: ref.mse(r(3, 4), r(3, 4)),
        "sum_to": lambda: ref.sum_to(dy, shape=(6, 1, 1)),
        "slice": lambda: ref.slice(x, offsets=(0, 1, 2, 0), sizes=(2, 2, 5, 8)),
        "pad_to": lambda: ref.pad_to(r(2, 2, 5, 8), offsets=(0, 1, 2, 0), shape=x.shape),
        "avg_pool2d_grad": lambda: np.concatenate([
            ref.avg_pool2d_grad(r(2, 4, 5, 4), input_shape=x.shape, kernel=(3, 3),
                                stride=(2, 2), padding=(1, 1), count_include_pad=flag)
            for flag in (True, False)]),
        "max_pool2d_grad": lambda: ref.max_pool2d_grad(r(2, 4, 5, 4), x, kernel=(3, 3),
                                                       stride=(2, 2), padding=(1, 1)),
        "clamp_grad": lambda: ref.clamp_grad(r(3, 4), r(3, 4), min=-0.5, max=0.5),
        "mask_grad": lambda: ref.mask_grad(r(3, 4), ref.clamp_mask(r(3, 4), min=-0.5, max=0.5)),
        "sigmoid_grad": lambda: ref.sigmoid_grad(r(3, 4), r(3, 4)),
        "hardswish_grad": lambda: ref.hardswish_grad(r(3, 4), 4 * r(3, 4)),
        "gelu_grad": lambda: np.concatenate([ref.gelu_grad(r(3, 4), r(3, 4)),
                                             ref.gelu_grad(r(3, 4), r(3, 4), tanh=True)]),
        "softmax_grad": lambda: ref.softmax_grad(r(3, 4), r(3, 4), axis=0),
        "layer_norm_grad_input": lambda: ref.layer_norm_grad_input(
            r(2, 3, 4), r(2, 3, 4), r(3, 4), epsilon=1e-5),
        "mse_grad": lambda: ref.mse_grad(r(3, 4), r(3, 4)),
        "sgd_momentum": lambda: np.concatenate(ref.sgd_momentum(
            r(3, 4), r(3, 4), r(3, 4), lr=0.1, momentum=0.9, weight_decay=1e-4)),
    }


F32_CALLS = _f32_calls()


NOT_FLOAT = {"clamp_mask"}
"""Reference ops whose result is not a float tensor (a packed 1-bit mask)."""


def test_ops_table():
    assert set(ref.OPS) == {f"train.{name}" for name in {*F32_CALLS, *NOT_FLOAT}}
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
    "matmul-rank": (lambda: ref.matmul(np.zeros((2, 3, 4)), np.zeros((4, 5))), "same rank"),
    "matmul-rank1": (lambda: ref.matmul(np.zeros(3), np.zeros(3)), "rank >= 2"),
    "matmul-batch": (lambda: ref.matmul(np.zeros((2, 3, 4)), np.zeros((3, 4, 5))),
                     "batch dimensions"),
    "matmul-k": (lambda: ref.matmul(np.zeros((3, 4)), np.zeros((5, 6))), "contraction"),
    "matmul-int": (lambda: ref.matmul(np.zeros((3, 4), np.int8), np.zeros((4, 6), np.int8)),
                   "floating-point"),
    "mul-shape": (lambda: ref.mul(np.zeros(3), np.zeros(4)), "shape mismatch"),
    "mul-dtype": (lambda: ref.mul(np.zeros(3), np.zeros(3, np.float32)), "dtype mismatch"),
    "broadcast-dim": (lambda: ref.broadcast(np.zeros((2, 3)), (2, 4)), "cannot broadcast"),
    "broadcast-rank": (lambda: ref.broadcast(np.zeros((2, 3)), (3,)), "cannot broadcast"),
    "clamp-order": (lambda: ref.clamp(np.zeros(3), 1.0, 0.0), "must not exceed"),
    "clamp-nan": (lambda: ref.clamp(np.zeros(3), np.nan, 0.0), "must not exceed"),
    "clamp-int-bounds": (lambda: ref.clamp(np.zeros(3, np.int8), 0.5, 2), "integers"),
    "clamp-bool": (lambda: ref.clamp(np.zeros(3, bool), 0, 1), "floating-point or integer"),
    "hardswish-int": (lambda: ref.hardswish(np.zeros(3, np.int8)), "floating-point"),
    "sigmoid-int": (lambda: ref.sigmoid(np.zeros(3, np.int32)), "floating-point"),
    "gelu-int": (lambda: ref.gelu(np.zeros(3, np.int8), tanh=True), "floating-point"),
    "avg-pool-rank": (lambda: ref.avg_pool2d(np.zeros((4, 8, 8)), kernel=2), "rank 4"),
    "avg-pool-int": (lambda: ref.avg_pool2d(np.zeros((1, 1, 4, 4), np.int8), kernel=2),
                     "floating-point"),
    "avg-pool-padding": (lambda: ref.avg_pool2d(_x, kernel=(2, 2), padding=(2, 0)),
                         "smaller than the kernel"),
    "avg-pool-kernel": (lambda: ref.avg_pool2d(_x, kernel=(9, 1)), "exceeds the padded"),
    "avg-pool-kernel-0": (lambda: ref.avg_pool2d(_x, kernel=(0, 1)), "kernel"),
    "avg-pool-stride": (lambda: ref.avg_pool2d(_x, kernel=2, stride=(1, 0)), "stride"),
    "max-pool-padding": (lambda: ref.max_pool2d(_x, kernel=3, padding=3),
                         "smaller than the kernel"),
    "max-pool-negative-padding": (lambda: ref.max_pool2d(_x, kernel=3, padding=-1), "padding"),
    "max-pool-kernel": (lambda: ref.max_pool2d(_x, kernel=(3, 11), padding=(0, 1)),
                        "exceeds the padded"),
    "max-pool-rank": (lambda: ref.max_pool2d(np.zeros((8, 8), np.int8), kernel=2), "rank 4"),
    "global-avg-pool-rank": (lambda: ref.global_avg_pool(np.zeros((2, 3, 4))), "rank 4"),
    "concat-empty": (lambda: ref.concat(axis=0), "at least one"),
    "concat-axis": (lambda: ref.concat(np.zeros((2, 3)), axis=2), r"in \[0, 2\)"),
    "concat-shape": (lambda: ref.concat(np.zeros((2, 3)), np.zeros((3, 3)), axis=1),
                     "operand #1 shape"),
    "concat-rank": (lambda: ref.concat(np.zeros((2, 3)), np.zeros((2, 3, 1)), axis=0),
                    "operand #1 shape"),
    "concat-dtype": (lambda: ref.concat(np.zeros(2), np.zeros(2, np.int8), axis=0),
                     "dtype mismatch"),
    "transpose-perm": (lambda: ref.transpose(np.zeros((2, 3)), (0, 0)), "not a permutation"),
    "transpose-rank": (lambda: ref.transpose(np.zeros((2, 3)), (0, 1, 2)), "not a permutation"),
    "bn-rank": (lambda: ref.batch_norm(np.zeros(3), *[np.zeros(3)] * 4, epsilon=1e-5),
                "rank >= 2"),
    "bn-param-shape": (lambda: ref.batch_norm(np.zeros((2, 3)), np.zeros(3), np.zeros(3),
                                              np.zeros(2), np.zeros(3), epsilon=1e-5),
                       "mean shape"),
    "bn-param-dtype": (lambda: ref.batch_norm(np.zeros((2, 3)), np.zeros(3, np.float32),
                                              *[np.zeros(3)] * 3, epsilon=1e-5),
                       "dtype mismatch"),
    "bn-epsilon": (lambda: ref.batch_norm(np.zeros((2, 3)), *[np.zeros(3)] * 4, epsilon=-1.0),
                   "epsilon"),
    "softmax-axis": (lambda: ref.softmax(np.zeros((2, 3)), axis=-1), r"in \[0, 2\)"),
    "softmax-axis-float": (lambda: ref.softmax(np.zeros((2, 3)), axis=0.5), "softmax axis"),
    "ln-suffix": (lambda: ref.layer_norm(np.zeros((2, 3)), np.zeros(2), np.zeros(2),
                                         epsilon=1e-5), "not a suffix"),
    "ln-rank": (lambda: ref.layer_norm(np.zeros(3), np.zeros((1, 3)), np.zeros((1, 3)),
                                       epsilon=1e-5), "not a suffix"),
    "ln-scalar": (lambda: ref.layer_norm(np.zeros(3), np.zeros(()), np.zeros(()),
                                         epsilon=1e-5), "not a suffix"),
    "ln-bias": (lambda: ref.layer_norm(np.zeros((2, 3)), np.zeros(3), np.zeros(2),
                                       epsilon=1e-5), "b shape"),
    "mse-shape": (lambda: ref.mse(np.zeros(3), np.zeros(4)), "shape mismatch"),
    "mse-empty": (lambda: ref.mse(np.zeros(0), np.zeros(0)), "non-empty"),
    "mse-dtype": (lambda: ref.mse(np.zeros(3), np.zeros(3, np.float32)), "dtype mismatch"),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_arguments_raise(name):
    call, match = BAD_CALLS[name]
    with pytest.raises(ValueError, match=match):
        call()

"""Reference semantics of the ``train`` dialect's ops, in plain numpy.

This module is the oracle that generated code is checked against. Every op is
one function of numpy arrays and keyword attributes that computes, accumulates
and returns in the floating dtype of its inputs (float32 in, float32 out).
Layouts follow PyTorch: activations NCHW, conv weights OIHW, linear weights
[out, in]. Malformed arguments raise ``ValueError`` naming the problem.
The layout ops (reshape, transpose, concat, broadcast, clamp, max_pool2d, slice)
only move or compare values, so they also take integer (int8 quantized storage)
arrays and return their dtype. An op with several results (sgd_momentum)
returns a tuple of arrays.

``OPS`` maps each op name ("train.linear", ...) to its function.
"""

import builtins
import math
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "linear", "conv2d", "add", "relu", "reshape", "cross_entropy",
    "matmul", "mul", "broadcast", "clamp", "hardswish", "sigmoid", "gelu",
    "avg_pool2d", "max_pool2d", "global_avg_pool", "concat", "transpose",
    "batch_norm", "softmax", "layer_norm", "mse",
    "linear_grad_input", "linear_grad_weight", "bias_grad",
    "conv2d_grad_input", "conv2d_grad_weight", "relu_grad",
    "cross_entropy_grad", "sgd",
    "sum_to", "slice", "pad_to", "avg_pool2d_grad", "max_pool2d_grad", "clamp_grad",
    "clamp_mask", "mask_grad", "sigmoid_grad", "hardswish_grad", "gelu_grad", "softmax_grad",
    "layer_norm_grad_input", "mse_grad", "sgd_momentum", "OPS",
]


# --------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------

def _float_array(name, a, ndim=None):
    """Return ``a`` as an ndarray, checking it is floating point of rank ``ndim``."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{name} must be a floating-point array, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have rank {ndim}, got shape {a.shape}")
    return a


def _layout_array(name, a, ndim=None):
    """Return ``a`` as an ndarray of a floating or integer (quantized storage) dtype."""
    a = np.asarray(a)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name} must be a floating-point or integer array, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have rank {ndim}, got shape {a.shape}")
    return a


def _axis(name, axis, rank):
    """Check ``axis`` is an int in [0, rank)."""
    if int(axis) != axis or not 0 <= axis < rank:
        raise ValueError(f"{name} must be an int in [0, {rank}), got {axis!r}")
    return int(axis)


def _same_dtype(**arrays):
    """Check that all named arrays share one dtype."""
    (first, a), *rest = arrays.items()
    for name, other in rest:
        if other.dtype != a.dtype:
            raise ValueError(f"dtype mismatch: {first} is {a.dtype} but {name} is {other.dtype}")


def _shape4(name, shape):
    """Check ``shape`` is a 4-tuple of positive ints (an NCHW or OIHW shape)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) != 4 or min(shape) <= 0:
        raise ValueError(f"{name} must be 4 positive sizes, got {shape}")
    return shape


def _pair(name, v, minimum):
    """Normalize an int or 2-sequence attribute to a pair of ints >= ``minimum``."""
    pair = (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(e) for e in v)
    if len(pair) != 2 or min(pair) < minimum:
        raise ValueError(f"{name} must be an int or a pair of ints >= {minimum}, got {v!r}")
    return pair


def _conv_geometry(x_shape, w_shape, stride, padding, dilation, groups):
    """Validate a convolution; return (stride, padding, dilation, (OH, OW))."""
    n, c, h, w = x_shape
    o, cg, kh, kw = w_shape
    stride = _pair("stride", stride, 1)
    padding = _pair("padding", padding, 0)
    dilation = _pair("dilation", dilation, 1)
    if int(groups) != groups or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if c % groups or o % groups:
        raise ValueError(f"groups={groups} must divide both the input channels ({c}) "
                         f"and the output channels ({o})")
    if cg != c // groups:
        raise ValueError(f"weight shape {w_shape} has {cg} input channels per group, "
                         f"expected {c} / groups={groups} = {c // groups}")
    out = []
    for size, k, s, p, d in zip((h, w), (kh, kw), stride, padding, dilation):
        span = d * (k - 1) + 1
        if size + 2 * p < span:
            raise ValueError(f"dilated kernel extent {span} exceeds the padded input size "
                             f"{size + 2 * p} (input {x_shape}, weight {w_shape})")
        out.append((size + 2 * p - span) // s + 1)
    return stride, padding, dilation, tuple(out)


def _check_grad_output(dy, n, o, out_hw):
    """Check that dy has the [N, O, OH, OW] shape of the convolution's output."""
    expected = (n, o, *out_hw)
    if dy.shape != expected:
        raise ValueError(f"grad_output shape {dy.shape} does not match the convolution "
                         f"output shape {expected}")


def _check_labels(logits, labels):
    """Validate [N, C] logits against [N] integer labels in [0, C)."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an integer array, got dtype {labels.dtype}")
    n, c = logits.shape
    if labels.shape != (n,):
        raise ValueError(f"labels shape {labels.shape} does not match logits batch size {n}")
    if n == 0:
        raise ValueError("cross entropy needs a non-empty batch")
    if labels.min() < 0 or labels.max() >= c:
        raise ValueError(f"labels must lie in [0, {c}), got range "
                         f"[{labels.min()}, {labels.max()}]")
    return labels


# --------------------------------------------------------------------------
# im2col
# --------------------------------------------------------------------------

def _im2col(x, kernel, stride, padding, dilation):
    """View of the zero-padded x [N,C,H,W] as columns [N, C, OH, OW, KH, KW]."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    return windows[:, :, ::sh, ::sw, ::dh, ::dw]


def _grouped_cols(cols, groups):
    """Columns [N,C,OH,OW,KH,KW] -> matrices [G, N*OH*OW, C/G*KH*KW]."""
    n, c, oh, ow, kh, kw = cols.shape
    cols = cols.reshape(n, groups, c // groups, oh, ow, kh, kw)
    return cols.transpose(1, 0, 3, 4, 2, 5, 6).reshape(groups, n * oh * ow, -1)


def _grouped_dy(dy, groups):
    """Output gradient [N,O,OH,OW] -> matrices [G, N*OH*OW, O/G]."""
    n, o, oh, ow = dy.shape
    return dy.reshape(n, groups, o // groups, oh, ow).transpose(1, 0, 3, 4, 2).reshape(
        groups, n * oh * ow, o // groups)


# --------------------------------------------------------------------------
# Forward ops
# --------------------------------------------------------------------------

def linear(x, w, b=None):
    """Fully connected layer: y[N,M] = x[N,K] @ w[M,K].T + b[M]."""
    x, w = _float_array("x", x, 2), _float_array("w", w, 2)
    _same_dtype(x=x, w=w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"linear: x shape {x.shape} and weight shape {w.shape} disagree "
                         f"on the input features")
    y = x @ w.T
    if b is not None:
        b = _float_array("b", b, 1)
        _same_dtype(x=x, b=b)
        if b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias shape {b.shape} does not match the "
                             f"{w.shape[0]} output features")
        y += b
    return y


def conv2d(x, w, b=None, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """2-D cross-correlation with zero padding and G groups (NCHW x, OIHW w):
    y[n,o,i,j] = b[o] + sum_{c,ki,kj} xpad[n, g*C/G + c, i*s + ki*d, j*s + kj*d] * w[o,c,ki,kj]."""
    x, w = _float_array("x", x, 4), _float_array("w", w, 4)
    _same_dtype(x=x, w=w)
    stride, padding, dilation, (oh, ow) = _conv_geometry(
        x.shape, w.shape, stride, padding, dilation, groups)
    n, o = x.shape[0], w.shape[0]
    cols = _grouped_cols(_im2col(x, w.shape[2:], stride, padding, dilation), groups)
    wmat = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)      # [G, C/G*KH*KW, O/G]
    y = np.matmul(cols, wmat)                                          # [G, N*OH*OW, O/G]
    y = np.ascontiguousarray(
        y.reshape(groups, n, oh, ow, o // groups).transpose(1, 0, 4, 2, 3).reshape(n, o, oh, ow))
    if b is not None:
        b = _float_array("b", b, 1)
        _same_dtype(x=x, b=b)
        if b.shape != (o,):
            raise ValueError(f"conv2d: bias shape {b.shape} does not match the {o} output channels")
        y += b[:, None, None]
    return y


def add(a, b):
    """Element-wise sum a + b of two arrays of identical shape and dtype."""
    a, b = _float_array("a", a), _float_array("b", b)
    _same_dtype(a=a, b=b)
    if a.shape != b.shape:
        raise ValueError(f"add: shape mismatch {a.shape} vs {b.shape}")
    return a + b


def relu(x):
    """Rectified linear unit: y = max(x, 0)."""
    x = _float_array("x", x)
    return np.maximum(x, 0)


def reshape(x, shape):
    """Row-major reinterpretation of x with the static shape ``shape`` (same element count)."""
    x = _layout_array("x", x)
    shape = tuple(int(d) for d in shape)
    if min(shape, default=0) < 0 or int(np.prod(shape)) != x.size:
        raise ValueError(f"reshape: cannot reshape {x.shape} ({x.size} elements) to {shape}")
    return x.reshape(shape)


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy, a 0-d array:
    (1/N) sum_n logsumexp(x[n,:]) - x[n, label[n]], with the row max subtracted for stability."""
    x = _float_array("logits", logits, 2)
    labels = _check_labels(x, labels)
    m = x.max(axis=1)
    lse = m + np.log(np.exp(x - m[:, None]).sum(axis=1))
    losses = lse - x[np.arange(x.shape[0]), labels]
    return np.asarray(losses.sum() / x.shape[0], dtype=x.dtype)


# --------------------------------------------------------------------------
# Tensor algebra, activations, pooling, normalization (float ops)
# --------------------------------------------------------------------------

def matmul(a, b):
    """Batched matrix product y[..., M, N] = a[..., M, K] @ b[..., K, N] (equal batch dims)."""
    a, b = _float_array("a", a), _float_array("b", b)
    _same_dtype(a=a, b=b)
    if a.ndim < 2 or a.ndim != b.ndim:
        raise ValueError(f"matmul: operands must have the same rank >= 2, got shapes "
                         f"{a.shape} and {b.shape}")
    if a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"matmul: batch dimensions differ, {a.shape[:-2]} vs {b.shape[:-2]}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: contraction sizes differ, a shape {a.shape} vs "
                         f"b shape {b.shape}")
    return np.matmul(a, b)


def mul(a, b):
    """Element-wise product a * b of two arrays of identical shape and dtype."""
    a, b = _float_array("a", a), _float_array("b", b)
    _same_dtype(a=a, b=b)
    if a.shape != b.shape:
        raise ValueError(f"mul: shape mismatch {a.shape} vs {b.shape}")
    return a * b


def broadcast(x, shape):
    """numpy broadcasting of x to ``shape`` (dims aligned right, each 1 or equal)."""
    x = _layout_array("x", x)
    shape = tuple(int(d) for d in shape)
    if (min(shape, default=0) < 0 or len(shape) < x.ndim
            or any(d not in (1, s) for d, s in zip(x.shape[::-1], shape[::-1]))):
        raise ValueError(f"broadcast: cannot broadcast {x.shape} to {shape}")
    return np.broadcast_to(x, shape).copy()


def clamp(x, min, max):
    """y = min(max(x, min), max). On integer (storage) arrays the bounds must be integers
    and saturate to the dtype's range."""
    x = _layout_array("x", x)
    if not min <= max:
        raise ValueError(f"clamp: min {min!r} must not exceed max {max!r}")
    if np.issubdtype(x.dtype, np.integer):
        if int(min) != min or int(max) != max:
            raise ValueError(f"clamp: bounds of an integer array must be integers, "
                             f"got {min!r} and {max!r}")
        info = np.iinfo(x.dtype)
        lo, hi = (x.dtype.type(np.clip(int(v), info.min, info.max)) for v in (min, max))
    else:
        lo, hi = x.dtype.type(min), x.dtype.type(max)
    return np.clip(x, lo, hi)


def hardswish(x):
    """y = x * clamp(x + 3, 0, 6) / 6."""
    x = _float_array("x", x)
    return x * np.clip(x + 3, 0, 6) / 6


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), evaluated without overflow."""
    x = _float_array("x", x)
    e = np.exp(-np.abs(x))           # in (0, 1]: exp never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x, *, tanh=False):
    """Exact GELU x/2 * (1 + erf(x/sqrt(2))), or with ``tanh`` the approximation
    x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))."""
    x = _float_array("x", x)
    if tanh:
        inner = x.dtype.type(math.sqrt(2 / math.pi)) * (x + x.dtype.type(0.044715) * x ** 3)
        return x / 2 * (1 + np.tanh(inner))
    # numpy has no erf: math.erf element by element, in float64, then the input dtype.
    erf = _erf(x.astype(np.float64) / math.sqrt(2)).astype(x.dtype)
    return x / 2 * (1 + erf)


def _pool_geometry(x_shape, kernel, stride, padding):
    """Validate a 2-D pooling window; return (kernel, stride, padding, (OH, OW))."""
    kernel = _pair("kernel", kernel, 1)
    stride = _pair("stride", stride, 1)
    padding = _pair("padding", padding, 0)
    out = []
    for size, k, s, p in zip(x_shape[2:], kernel, stride, padding):
        # p < k: every window overlaps the input (none is padding only).
        if p >= k:
            raise ValueError(f"padding {padding} must be smaller than the kernel {kernel}")
        if size + 2 * p < k:
            raise ValueError(f"kernel {kernel} exceeds the padded input size "
                             f"(input {x_shape}, padding {padding})")
        out.append((size + 2 * p - k) // s + 1)
    return kernel, stride, padding, tuple(out)


def _pool_windows(x, kernel, stride, padding, fill):
    """View of x [N,C,H,W] padded with ``fill`` as windows [N, C, OH, OW, KH, KW]."""
    (ph, pw), (sh, sw) = padding, stride
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return sliding_window_view(xp, kernel, axis=(2, 3))[:, :, ::sh, ::sw]


def avg_pool2d(x, *, kernel, stride=(1, 1), padding=(0, 0), count_include_pad=True):
    """Mean over each KHxKW window of the zero-padded x [N,C,H,W]; the divisor is KH*KW
    with ``count_include_pad`` (PyTorch's default), else the window's input elements."""
    x = _float_array("x", x, 4)
    kernel, stride, padding, _ = _pool_geometry(x.shape, kernel, stride, padding)
    sums = _pool_windows(x, kernel, stride, padding, 0).sum(axis=(-2, -1))
    if count_include_pad:
        return sums / x.dtype.type(kernel[0] * kernel[1])
    ones = np.ones((1, 1, *x.shape[2:]), dtype=x.dtype)
    return sums / _pool_windows(ones, kernel, stride, padding, 0).sum(axis=(-2, -1))


def max_pool2d(x, *, kernel, stride=(1, 1), padding=(0, 0)):
    """Max over each KHxKW window of x [N,C,H,W] padded with -inf (with the dtype's
    minimum on integer storage arrays)."""
    x = _layout_array("x", x, 4)
    kernel, stride, padding, _ = _pool_geometry(x.shape, kernel, stride, padding)
    fill = np.iinfo(x.dtype).min if np.issubdtype(x.dtype, np.integer) else -np.inf
    return _pool_windows(x, kernel, stride, padding, fill).max(axis=(-2, -1))


def global_avg_pool(x):
    """Mean over the spatial dims of x [N,C,H,W], kept as [N,C,1,1]."""
    x = _float_array("x", x, 4)
    return x.mean(axis=(2, 3), keepdims=True)


def concat(*values, axis):
    """Concatenation of one or more arrays of one dtype and rank along ``axis``."""
    if not values:
        raise ValueError("concat needs at least one operand")
    arrays = [_layout_array(f"operand #{i}", v) for i, v in enumerate(values)]
    _same_dtype(**{f"operand #{i}": a for i, a in enumerate(arrays)})
    first = arrays[0]
    axis = _axis("concat axis", axis, first.ndim)
    for i, a in enumerate(arrays[1:], 1):
        if a.ndim != first.ndim or any(d != e for k, (d, e) in
                                       enumerate(zip(a.shape, first.shape)) if k != axis):
            raise ValueError(f"concat: operand #{i} shape {a.shape} does not match "
                             f"{first.shape} outside axis {axis}")
    return np.concatenate(arrays, axis=axis)


def transpose(x, permutation):
    """Permutation of x's dims: y.shape[i] = x.shape[permutation[i]]."""
    x = _layout_array("x", x)
    perm = tuple(int(p) for p in permutation)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: {list(permutation)} is not a permutation of the "
                         f"{x.ndim} dims of shape {x.shape}")
    return np.transpose(x, perm).copy()          # C order


def _norm_params(x, epsilon, expected_shape, **params):
    """Check float parameters of ``expected_shape`` in x's dtype and epsilon >= 0."""
    checked = []
    for name, p in params.items():
        p = _float_array(name, p)
        _same_dtype(x=x, **{name: p})
        if p.shape != expected_shape:
            raise ValueError(f"{name} shape {p.shape} does not match {expected_shape}")
        checked.append(p)
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be non-negative, got {epsilon!r}")
    return checked


def batch_norm(x, gamma, beta, mean, var, *, epsilon):
    """Inference batch norm over axis 1 of x [N,C,...]:
    y = (x - mean[c]) / sqrt(var[c] + epsilon) * gamma[c] + beta[c]."""
    x = _float_array("x", x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: x must have rank >= 2, got shape {x.shape}")
    params = _norm_params(x, epsilon, (x.shape[1],), gamma=gamma, beta=beta, mean=mean, var=var)
    g, b, m, v = (p.reshape(x.shape[1], *[1] * (x.ndim - 2)) for p in params)
    return (x - m) / np.sqrt(v + x.dtype.type(epsilon)) * g + b


def softmax(x, *, axis):
    """exp(x) / sum(exp(x)) along ``axis``, with the max subtracted for stability."""
    x = _float_array("x", x)
    axis = _axis("softmax axis", axis, x.ndim)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm(x, w, b, *, epsilon):
    """Normalization over the trailing w.ndim dims of x (biased variance), then * w + b."""
    x, w = _float_array("x", x), _float_array("w", w)
    if not 1 <= w.ndim <= x.ndim or x.shape[x.ndim - w.ndim:] != w.shape:
        raise ValueError(f"layer_norm: weight shape {w.shape} is not a suffix of x shape "
                         f"{x.shape}")
    w, b = _norm_params(x, epsilon, w.shape, w=w, b=b)
    axes = tuple(range(x.ndim - w.ndim, x.ndim))
    centered = x - x.mean(axis=axes, keepdims=True)
    var = (centered * centered).mean(axis=axes, keepdims=True)
    return centered / np.sqrt(var + x.dtype.type(epsilon)) * w + b


def mse(pred, target):
    """Mean squared error, a 0-d array: mean((pred - target)^2)."""
    p, t = _float_array("pred", pred), _float_array("target", target)
    _same_dtype(pred=p, target=t)
    if p.shape != t.shape:
        raise ValueError(f"mse: shape mismatch, pred {p.shape} vs target {t.shape}")
    if p.size == 0:
        raise ValueError("mse needs a non-empty tensor")
    d = p - t
    return np.asarray((d * d).mean(), dtype=p.dtype)


# --------------------------------------------------------------------------
# Gradient ops
# --------------------------------------------------------------------------

def linear_grad_input(dy, w):
    """Input gradient of linear: dx[N,K] = dy[N,M] @ w[M,K]."""
    dy, w = _float_array("dy", dy, 2), _float_array("w", w, 2)
    _same_dtype(dy=dy, w=w)
    if dy.shape[1] != w.shape[0]:
        raise ValueError(f"linear_grad_input: dy shape {dy.shape} does not match the "
                         f"{w.shape[0]} output features of weight shape {w.shape}")
    return dy @ w


def linear_grad_weight(dy, x):
    """Weight gradient of linear: dW[M,K] = dy[N,M].T @ x[N,K]."""
    dy, x = _float_array("dy", dy, 2), _float_array("x", x, 2)
    _same_dtype(dy=dy, x=x)
    if dy.shape[0] != x.shape[0]:
        raise ValueError(f"linear_grad_weight: batch size mismatch, dy shape {dy.shape} "
                         f"vs x shape {x.shape}")
    return dy.T @ x


def bias_grad(dy):
    """Bias gradient: db[C] = sum of dy over every axis except axis 1 (the channel)."""
    dy = _float_array("dy", dy)
    if dy.ndim < 2:
        raise ValueError(f"bias_grad: dy must have rank >= 2, got shape {dy.shape}")
    return dy.sum(axis=(0, *range(2, dy.ndim)))


def conv2d_grad_input(dy, w, *, input_shape, stride=(1, 1), padding=(0, 0),
                      dilation=(1, 1), groups=1):
    """Input gradient of conv2d (adjoint of im2col): dx[n,c,h,w] = sum of dy[n,o,i,j] * w[o,c%C/G,ki,kj]
    over o in c's group and i,j,ki,kj with h = i*s + ki*d - p, w = j*s + kj*d - p."""
    dy, w = _float_array("dy", dy, 4), _float_array("w", w, 4)
    _same_dtype(dy=dy, w=w)
    input_shape = _shape4("input_shape", input_shape)
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _conv_geometry(
        input_shape, w.shape, stride, padding, dilation, groups)
    n, c, h, wd = input_shape
    o, _, kh, kw = w.shape
    _check_grad_output(dy, n, o, (oh, ow))
    wmat = w.reshape(groups, o // groups, -1)                          # [G, O/G, C/G*KH*KW]
    dcols = np.matmul(_grouped_dy(dy, groups), wmat)                   # [G, N*OH*OW, C/G*KH*KW]
    dcols = dcols.reshape(groups, n, oh, ow, c // groups, kh, kw).transpose(
        1, 0, 4, 2, 3, 5, 6).reshape(n, c, oh, ow, kh, kw)
    dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=dy.dtype)
    for ki in range(kh):
        for kj in range(kw):
            dxp[:, :, ki * dh: ki * dh + sh * (oh - 1) + 1: sh,
                      kj * dw: kj * dw + sw * (ow - 1) + 1: sw] += dcols[..., ki, kj]
    return dxp[:, :, ph: ph + h, pw: pw + wd].copy()


def conv2d_grad_weight(dy, x, *, weight_shape, stride=(1, 1), padding=(0, 0),
                       dilation=(1, 1), groups=1):
    """Weight gradient of conv2d, dy contracted with the im2col columns of x:
    dW[o,c,ki,kj] = sum_{n,i,j} dy[n,o,i,j] * xpad[n, g*C/G + c, i*s + ki*d, j*s + kj*d]."""
    dy, x = _float_array("dy", dy, 4), _float_array("x", x, 4)
    _same_dtype(dy=dy, x=x)
    weight_shape = _shape4("weight_shape", weight_shape)
    stride, padding, dilation, out_hw = _conv_geometry(
        x.shape, weight_shape, stride, padding, dilation, groups)
    _check_grad_output(dy, x.shape[0], weight_shape[0], out_hw)
    cols = _grouped_cols(_im2col(x, weight_shape[2:], stride, padding, dilation), groups)
    dw = np.matmul(_grouped_dy(dy, groups).transpose(0, 2, 1), cols)   # [G, O/G, C/G*KH*KW]
    return dw.reshape(weight_shape)


def relu_grad(dy, y):
    """Gradient of relu from its output: dx = dy where y > 0, else 0."""
    dy, y = _float_array("dy", dy), _float_array("y", y)
    _same_dtype(dy=dy, y=y)
    if dy.shape != y.shape:
        raise ValueError(f"relu_grad: shape mismatch, dy {dy.shape} vs y {y.shape}")
    return np.where(y > 0, dy, dy.dtype.type(0))


def cross_entropy_grad(logits, labels):
    """Gradient of mean cross-entropy w.r.t. the logits: (softmax(x) - onehot(labels)) / N."""
    x = _float_array("logits", logits, 2)
    labels = _check_labels(x, labels)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    g = e / e.sum(axis=1, keepdims=True)
    g[np.arange(x.shape[0]), labels] -= 1
    g /= x.shape[0]
    return g


# --------------------------------------------------------------------------
# Gradient ops of the other float ops (adjoints of layout ops, activations,
# pooling, normalization and the mse loss)
# --------------------------------------------------------------------------

def _same_shape(op, **arrays):
    """Check that all named arrays share one shape."""
    (first, a), *rest = arrays.items()
    for name, other in rest:
        if other.shape != a.shape:
            raise ValueError(f"{op}: shape mismatch, {first} {a.shape} vs {name} {other.shape}")


def _grad_pair(op, dy, other, other_name):
    """dy and a second float operand of the same shape and dtype."""
    dy, other = _float_array("dy", dy), _float_array(other_name, other)
    _same_dtype(dy=dy, **{other_name: other})
    _same_shape(op, dy=dy, **{other_name: other})
    return dy, other


def _indices(name, values, rank):
    """Check ``values`` is a list of ``rank`` non-negative ints."""
    values = tuple(int(v) for v in values)
    if len(values) != rank or min(values, default=0) < 0:
        raise ValueError(f"{name} must be {rank} non-negative ints, got {list(values)}")
    return values


def sum_to(x, *, shape):
    """Adjoint of broadcast: x summed to ``shape``, i.e. over x's leading dims beyond
    len(shape) and over each dim where ``shape`` has 1 (``shape`` is aligned right with
    x.shape, rank <= x's, each dim 1 or equal)."""
    x = _float_array("x", x)
    shape = tuple(int(d) for d in shape)
    if (min(shape, default=0) < 0 or len(shape) > x.ndim
            or any(d not in (1, s) for d, s in zip(shape[::-1], x.shape[::-1]))):
        raise ValueError(f"sum_to: cannot sum shape {x.shape} to {shape} (the result must "
                         "broadcast to the input)")
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape)
                                      if d == 1 and x.shape[lead + i] != 1)
    return np.asarray(x.sum(axis=axes), dtype=x.dtype).reshape(shape)


def slice(x, *, offsets, sizes):
    """Static slice with stride 1: y = x[o0:o0+s0, o1:o1+s1, ...] (0 <= o, o + s <= dim).
    Also takes integer (quantized storage) arrays."""
    x = _layout_array("x", x)
    offsets = _indices("slice offsets", offsets, x.ndim)
    sizes = _indices("slice sizes", sizes, x.ndim)
    if any(o + s > d for o, s, d in zip(offsets, sizes, x.shape)):
        raise ValueError(f"slice: offsets {list(offsets)} + sizes {list(sizes)} exceed "
                         f"the input shape {x.shape}")
    return x[tuple(builtins.slice(o, o + s) for o, s in zip(offsets, sizes))].copy()


def pad_to(x, *, offsets, shape):
    """Adjoint of slice: a zero array of ``shape`` with x placed at ``offsets``:
    y[o0 + i0, o1 + i1, ...] = x[i0, i1, ...], every other element 0."""
    x = _float_array("x", x)
    offsets = _indices("pad_to offsets", offsets, x.ndim)
    shape = _indices("pad_to shape", shape, x.ndim)
    if any(o + s > d for o, s, d in zip(offsets, x.shape, shape)):
        raise ValueError(f"pad_to: x shape {x.shape} at offsets {list(offsets)} does not "
                         f"fit in the result shape {shape}")
    y = np.zeros(shape, dtype=x.dtype)
    y[tuple(builtins.slice(o, o + s) for o, s in zip(offsets, x.shape))] = x
    return y


def _pool_grad_geometry(op, dy, input_shape, kernel, stride, padding):
    """Validate a pooling gradient; return (kernel, stride, padding, (OH, OW))."""
    kernel, stride, padding, out_hw = _pool_geometry(input_shape, kernel, stride, padding)
    expected = (*input_shape[:2], *out_hw)
    if dy.shape != expected:
        raise ValueError(f"{op}: dy shape {dy.shape} does not match the pooling output "
                         f"shape {expected}")
    return kernel, stride, padding, out_hw


def _scatter_windows(parts, input_shape, stride, padding, dtype):
    """Adjoint of ``_pool_windows``: sums parts[..., ki, kj] [N,C,OH,OW,KH,KW] into the
    window positions of a zero-padded [N,C,H,W] array and crops the padding."""
    n, c, h, w = input_shape
    (sh, sw), (ph, pw) = stride, padding
    oh, ow, kh, kw = parts.shape[2:]
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dtype)
    for ki in range(kh):
        for kj in range(kw):
            dxp[:, :, ki: ki + sh * (oh - 1) + 1: sh,
                      kj: kj + sw * (ow - 1) + 1: sw] += parts[..., ki, kj]
    return dxp[:, :, ph: ph + h, pw: pw + w].copy()


def avg_pool2d_grad(dy, *, input_shape, kernel, stride=(1, 1), padding=(0, 0),
                    count_include_pad=True):
    """Input gradient of avg_pool2d: each dy[n,c,i,j] divided by its window's divisor
    (KH*KW with ``count_include_pad``, else the window's input elements) is added to
    every input element of the window."""
    dy = _float_array("dy", dy, 4)
    input_shape = _shape4("input_shape", input_shape)
    kernel, stride, padding, _ = _pool_grad_geometry(
        "avg_pool2d_grad", dy, input_shape, kernel, stride, padding)
    if count_include_pad:
        g = dy / dy.dtype.type(kernel[0] * kernel[1])
    else:
        ones = np.ones((1, 1, *input_shape[2:]), dtype=dy.dtype)
        g = dy / _pool_windows(ones, kernel, stride, padding, 0).sum(axis=(-2, -1))
    parts = np.broadcast_to(g[..., None, None], (*g.shape, *kernel))
    return _scatter_windows(parts, input_shape, stride, padding, dy.dtype)


def max_pool2d_grad(dy, x, *, kernel, stride=(1, 1), padding=(0, 0)):
    """Input gradient of max_pool2d: each dy[n,c,i,j] goes to the first maximum (in
    row-major window order, as PyTorch) of its window of x padded with -inf; the
    gradients of overlapping windows add up."""
    dy, x = _float_array("dy", dy, 4), _float_array("x", x, 4)
    _same_dtype(dy=dy, x=x)
    kernel, stride, padding, (oh, ow) = _pool_grad_geometry(
        "max_pool2d_grad", dy, x.shape, kernel, stride, padding)
    windows = _pool_windows(x, kernel, stride, padding, -np.inf)
    first = windows.reshape(*windows.shape[:4], -1).argmax(axis=-1)   # [N, C, OH, OW]
    positions = np.arange(kernel[0] * kernel[1]).reshape(kernel)
    zero = dy.dtype.type(0)
    parts = np.where(first[..., None, None] == positions, dy[..., None, None], zero)
    return _scatter_windows(parts, x.shape, stride, padding, dy.dtype)


def clamp_grad(dy, x, *, min, max):
    """Input gradient of clamp (PyTorch's hardtanh_backward): dx = dy where
    min < x < max (strictly), else 0."""
    dy, x = _grad_pair("clamp_grad", dy, x, "x")
    if not min <= max:
        raise ValueError(f"clamp_grad: min {min!r} must not exceed max {max!r}")
    inside = (x > x.dtype.type(min)) & (x < x.dtype.type(max))
    return np.where(inside, dy, dy.dtype.type(0))


def clamp_mask(x, *, min, max):
    """One bit per element of x, [min < x < max], packed eight a byte (least significant
    bit first, row-major order; the bits past x.size are 0): what clamp_grad compares."""
    x = _float_array("x", x)
    if not min <= max:
        raise ValueError(f"clamp_mask: min {min!r} must not exceed max {max!r}")
    inside = (x > x.dtype.type(min)) & (x < x.dtype.type(max))
    return np.packbits(inside.reshape(-1), bitorder="little").view(np.int8)


def mask_grad(dy, mask):
    """dx = dy where the bit of element i in `mask` (a clamp_mask) is 1, else 0."""
    dy = _float_array("dy", dy)
    mask = np.asarray(mask)
    if mask.ndim != 1 or mask.size != (dy.size + 7) // 8:
        raise ValueError(f"mask_grad: a mask of {(dy.size + 7) // 8} bytes is needed for "
                         f"{dy.size} elements, got shape {list(mask.shape)}")
    bits = np.unpackbits(mask.view(np.uint8), count=dy.size, bitorder="little")
    return np.where(bits.reshape(dy.shape).astype(bool), dy, dy.dtype.type(0))


def sigmoid_grad(dy, y):
    """Input gradient of sigmoid from its output y: dx = dy * (1 - y) * y."""
    dy, y = _grad_pair("sigmoid_grad", dy, y, "y")
    return dy * (1 - y) * y


def hardswish_grad(dy, x):
    """Input gradient of hardswish (PyTorch's hardswish_backward): 0 for x <= -3,
    dy * (x / 3 + 1/2) for -3 < x < 3, dy for x >= 3."""
    dy, x = _grad_pair("hardswish_grad", dy, x, "x")
    half = x.dtype.type(0.5)
    middle = dy * (x / x.dtype.type(3) + half)
    return np.where(x <= -3, dy.dtype.type(0), np.where(x < 3, middle, dy))


def gelu_grad(dy, x, *, tanh=False):
    """Input gradient of gelu. Exact: dx = dy * (Phi(x) + x * phi(x)), Phi/phi the
    standard normal cdf/pdf (Phi through math.erf in float64). tanh approximation,
    with u = sqrt(2/pi) * (x + 0.044715 x^3) and t = tanh(u):
    dx = dy * (1/2 (1 + t) + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2))."""
    dy, x = _grad_pair("gelu_grad", dy, x, "x")
    if tanh:
        beta, kappa = x.dtype.type(math.sqrt(2 / math.pi)), x.dtype.type(0.044715)
        t = np.tanh(beta * (x + kappa * x * x * x))
        half = x.dtype.type(0.5)
        slope = half * (1 + t) + half * x * (1 - t * t) * beta * (1 + 3 * kappa * x * x)
        return dy * slope
    x64 = x.astype(np.float64)
    cdf = 0.5 * (1 + _erf(x64 / math.sqrt(2)).astype(np.float64))
    pdf = np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
    return dy * (cdf + x64 * pdf).astype(x.dtype)


def softmax_grad(dy, y, *, axis):
    """Input gradient of softmax from its output y: dx = y * (dy - sum_axis(dy * y))."""
    dy, y = _grad_pair("softmax_grad", dy, y, "y")
    axis = _axis("softmax_grad axis", axis, y.ndim)
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def layer_norm_grad_input(dy, x, w, *, epsilon):
    """Input gradient of layer_norm over the trailing w.ndim dims (M elements each):
    with r = 1/sqrt(var + epsilon), xhat = (x - mean) * r and g = dy * w,
    dx = r * (g - mean(g) - xhat * mean(g * xhat)), the means over the normalized dims."""
    dy, x = _grad_pair("layer_norm_grad_input", dy, x, "x")
    w = _float_array("w", w)
    if not 1 <= w.ndim <= x.ndim or x.shape[x.ndim - w.ndim:] != w.shape:
        raise ValueError(f"layer_norm_grad_input: weight shape {w.shape} is not a suffix "
                         f"of x shape {x.shape}")
    (w,) = _norm_params(x, epsilon, w.shape, w=w)
    axes = tuple(range(x.ndim - w.ndim, x.ndim))
    centered = x - x.mean(axis=axes, keepdims=True)
    var = (centered * centered).mean(axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(var + x.dtype.type(epsilon))
    xhat = centered * rstd
    g = dy * w
    return rstd * (g - g.mean(axis=axes, keepdims=True)
                   - xhat * (g * xhat).mean(axis=axes, keepdims=True))


def mse_grad(pred, target):
    """Gradient of mse w.r.t. pred: 2 * (pred - target) / numel."""
    p, t = _float_array("pred", pred), _float_array("target", target)
    _same_dtype(pred=p, target=t)
    _same_shape("mse_grad", pred=p, target=t)
    if p.size == 0:
        raise ValueError("mse_grad needs a non-empty tensor")
    return (p - t) * p.dtype.type(2 / p.size)


# --------------------------------------------------------------------------
# Optimizer ops
# --------------------------------------------------------------------------

def sgd(param, grad, *, lr, weight_decay=0.0):
    """One SGD step, p' = p - lr * (g + weight_decay * p), in the param's dtype
    (lr and weight_decay are cast to it; the decay term is skipped when weight_decay is 0)."""
    p, g = _float_array("param", param), _float_array("grad", grad)
    _same_dtype(param=p, grad=g)
    if p.shape != g.shape:
        raise ValueError(f"sgd: shape mismatch, param {p.shape} vs grad {g.shape}")
    if weight_decay:
        g = g + p.dtype.type(weight_decay) * p
    return p - p.dtype.type(lr) * g


def sgd_momentum(param, grad, buffer, *, lr, momentum, weight_decay=0.0):
    """One step of PyTorch's SGD with momentum (dampening 0, no Nesterov), in the
    param's dtype; returns (p', m'):
    m' = momentum * m + (g + weight_decay * p),  p' = p - lr * m'.
    With the buffer m starting at zero this is torch.optim.SGD's first step too."""
    p, g = _float_array("param", param), _float_array("grad", grad)
    m = _float_array("buffer", buffer)
    _same_dtype(param=p, grad=g, buffer=m)
    _same_shape("sgd_momentum", param=p, grad=g, buffer=m)
    if weight_decay:
        g = g + p.dtype.type(weight_decay) * p
    m = p.dtype.type(momentum) * m + g
    return p - p.dtype.type(lr) * m, m


OPS: dict[str, Callable] = {
    f"train.{fn.__name__}": fn
    for fn in (linear, conv2d, add, relu, reshape, cross_entropy,
               matmul, mul, broadcast, clamp, hardswish, sigmoid, gelu,
               avg_pool2d, max_pool2d, global_avg_pool, concat, transpose,
               batch_norm, softmax, layer_norm, mse,
               linear_grad_input, linear_grad_weight, bias_grad,
               conv2d_grad_input, conv2d_grad_weight, relu_grad,
               cross_entropy_grad, sgd,
               sum_to, slice, pad_to, avg_pool2d_grad, max_pool2d_grad, clamp_grad,
               clamp_mask, mask_grad, sigmoid_grad, hardswish_grad, gelu_grad, softmax_grad,
               layer_norm_grad_input, mse_grad, sgd_momentum)
}

"""Element-wise ops and their gradients: add, mul, relu, clamp, hardswish, sigmoid, gelu
(exact and tanh), relu_grad, clamp_grad, sigmoid_grad, hardswish_grad, gelu_grad.

Two kernels, one for one operand and one for two, each selecting its formula with a
`tl.constexpr` op code, so every op compiles to its own specialised kernel. Each
program handles BLOCK consecutive elements; element i of the result depends on
element i of the operands only, so `out` may be an operand (in place).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from . import support

# Op codes (compile-time constants of the kernels).
RELU = tl.constexpr(0)
CLAMP = tl.constexpr(1)
HARDSWISH = tl.constexpr(2)
SIGMOID = tl.constexpr(3)
GELU = tl.constexpr(4)
GELU_TANH = tl.constexpr(5)

ADD = tl.constexpr(10)
MUL = tl.constexpr(11)
RELU_GRAD = tl.constexpr(12)
CLAMP_GRAD = tl.constexpr(13)
SIGMOID_GRAD = tl.constexpr(14)
HARDSWISH_GRAD = tl.constexpr(15)
GELU_GRAD = tl.constexpr(16)
GELU_TANH_GRAD = tl.constexpr(17)

# Math constants, written on the right of tensor expressions (constexpr * tensor stays a
# constexpr in the interpreter).
SQRT_2_OVER_PI = tl.constexpr(math.sqrt(2 / math.pi))
INV_SQRT_2 = tl.constexpr(1 / math.sqrt(2))
INV_SQRT_2PI = tl.constexpr(1 / math.sqrt(2 * math.pi))
KAPPA = tl.constexpr(0.044715)


@triton.jit
def _tanh(u):
    """tanh(u) = 1 - 2 / (exp(2u) + 1): exp overflowing to inf gives 1, underflow -1."""
    return 1.0 - 2.0 / (tl.exp(2.0 * u) + 1.0)


@triton.jit
def unary_kernel(
        # pointers
        x_ptr, y_ptr,
        # sizes and scalar attributes (clamp bounds)
        n, lo, hi,
        # meta-parameters
        OP: tl.constexpr, BLOCK: tl.constexpr):
    """y[i] = f(x[i]) for the activation OP."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    x = tl.load(x_ptr + offsets, mask=mask)
    if OP == RELU:
        y = tl.maximum(x, 0.0)
    elif OP == CLAMP:
        y = tl.minimum(tl.maximum(x, lo), hi)
    elif OP == HARDSWISH:
        # x * clamp(x + 3, 0, 6) / 6
        y = x * tl.minimum(tl.maximum(x + 3.0, 0.0), 6.0) / 6.0
    elif OP == SIGMOID:
        # exp(-|x|) never overflows: 1/(1+e) for x >= 0, e/(1+e) below.
        e = tl.exp(-tl.abs(x))
        y = tl.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    elif OP == GELU:
        y = x / 2.0 * (1.0 + tl.erf(x * INV_SQRT_2))
    else:  # GELU_TANH
        inner = (x + (x * x * x) * KAPPA) * SQRT_2_OVER_PI
        y = x / 2.0 * (1.0 + _tanh(inner))
    tl.store(y_ptr + offsets, y, mask=mask)


@triton.jit
def binary_kernel(
        # pointers: a is the first operand (dy for the gradients), b the second
        a_ptr, b_ptr, y_ptr,
        # sizes and scalar attributes (clamp_grad bounds)
        n, lo, hi,
        # meta-parameters
        OP: tl.constexpr, BLOCK: tl.constexpr):
    """y[i] = f(a[i], b[i]) for the binary op or activation gradient OP."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    a = tl.load(a_ptr + offsets, mask=mask)
    b = tl.load(b_ptr + offsets, mask=mask)
    if OP == ADD:
        y = a + b
    elif OP == MUL:
        y = a * b
    elif OP == RELU_GRAD:          # b = relu's output
        y = tl.where(b > 0, a, 0.0)
    elif OP == CLAMP_GRAD:         # b = clamp's input; strict bounds as hardtanh_backward
        y = tl.where((b > lo) & (b < hi), a, 0.0)
    elif OP == SIGMOID_GRAD:       # b = sigmoid's output: dy * (1 - y) * y
        y = a * (1.0 - b) * b
    elif OP == HARDSWISH_GRAD:     # b = x: 0 below -3, dy * (x/3 + 1/2) inside, dy above 3
        y = tl.where(b <= -3.0, 0.0, tl.where(b < 3.0, a * (b / 3.0 + 0.5), a))
    elif OP == GELU_GRAD:          # b = x: dy * (Phi(x) + x * phi(x))
        cdf = 0.5 * (1.0 + tl.erf(b * INV_SQRT_2))
        pdf = tl.exp(-0.5 * b * b) * INV_SQRT_2PI
        y = a * (cdf + b * pdf)
    else:  # GELU_TANH_GRAD: t = tanh(u), u = sqrt(2/pi) (x + k x^3)
        t = _tanh((b + (b * b * b) * KAPPA) * SQRT_2_OVER_PI)
        slope = 0.5 * (1.0 + t) + 0.5 * b * (1.0 - t * t) * SQRT_2_OVER_PI * (
            1.0 + b * b * (3.0 * KAPPA))
        y = a * slope
    tl.store(y_ptr + offsets, y, mask=mask)


# ---------------------------------------------------------------------------------------
# Wrappers
# ---------------------------------------------------------------------------------------

def _launch_unary(name: str, x, code: int, out, lo=0.0, hi=0.0, dtypes=support.FLOATS):
    x = support.tensor(name, "x", x, dtypes=dtypes)
    y = support.result(name, out, x.shape, x.dtype, x.device)
    n = x.numel()
    if n:
        size = support.elementwise_block(n)
        unary_kernel[(triton.cdiv(n, size),)](x, y, n, lo, hi, OP=code, BLOCK=size)
    return y


def _launch_binary(name: str, a, b, code: int, out, names=("a", "b"), lo=0.0, hi=0.0):
    a = support.tensor(name, names[0], a)
    b = support.tensor(name, names[1], b)
    support.same_shape(name, **{names[0]: a, names[1]: b})
    y = support.result(name, out, a.shape, a.dtype, a.device)
    n = a.numel()
    if n:
        size = support.elementwise_block(n)
        binary_kernel[(triton.cdiv(n, size),)](a, b, y, n, lo, hi, OP=code, BLOCK=size)
    return y


def add(a, b, *, out=None):
    return _launch_binary("train.add", a, b, ADD.value, out)


def mul(a, b, *, out=None):
    return _launch_binary("train.mul", a, b, MUL.value, out)


def relu(x, *, out=None):
    return _launch_unary("train.relu", x, RELU.value, out)


def clamp(x, min, max, *, out=None):  # noqa: A002 - the reference's keyword names
    """On integer (quantized storage) tensors the bounds are integers, saturated to the
    dtype's range as in the reference."""
    if not min <= max:
        raise support.InputError(f"train.clamp: min {min!r} must not exceed max {max!r}")
    if isinstance(x, torch.Tensor) and not x.dtype.is_floating_point:
        if int(min) != min or int(max) != max:
            raise support.InputError(f"train.clamp: bounds of an integer tensor must be "
                                     f"integers, got {min!r} and {max!r}")
        info = torch.iinfo(x.dtype)
        lo, hi = (int(v) for v in torch.tensor([int(min), int(max)]).clamp(info.min, info.max))
        return _launch_unary("train.clamp", x, CLAMP.value, out, lo, hi,
                             dtypes=(torch.int8, torch.int16, torch.int32))
    return _launch_unary("train.clamp", x, CLAMP.value, out, float(min), float(max))


def hardswish(x, *, out=None):
    return _launch_unary("train.hardswish", x, HARDSWISH.value, out)


def sigmoid(x, *, out=None):
    return _launch_unary("train.sigmoid", x, SIGMOID.value, out)


def gelu(x, *, tanh=False, out=None):
    return _launch_unary("train.gelu", x, (GELU_TANH if tanh else GELU).value, out)


def relu_grad(dy, y, *, out=None):
    return _launch_binary("train.relu_grad", dy, y, RELU_GRAD.value, out, ("dy", "y"))


def clamp_grad(dy, x, *, min, max, out=None):  # noqa: A002
    if not min <= max:
        raise support.InputError(f"train.clamp_grad: min {min!r} must not exceed max {max!r}")
    return _launch_binary("train.clamp_grad", dy, x, CLAMP_GRAD.value, out, ("dy", "x"),
                          float(min), float(max))


def sigmoid_grad(dy, y, *, out=None):
    return _launch_binary("train.sigmoid_grad", dy, y, SIGMOID_GRAD.value, out, ("dy", "y"))


def hardswish_grad(dy, x, *, out=None):
    return _launch_binary("train.hardswish_grad", dy, x, HARDSWISH_GRAD.value, out,
                          ("dy", "x"))


def gelu_grad(dy, x, *, tanh=False, out=None):
    return _launch_binary("train.gelu_grad", dy, x,
                          (GELU_TANH_GRAD if tanh else GELU_GRAD).value, out, ("dy", "x"))


OPS = {f"train.{fn.__name__}": fn for fn in (
    add, mul, relu, clamp, hardswish, sigmoid, gelu,
    relu_grad, clamp_grad, sigmoid_grad, hardswish_grad, gelu_grad)}

FUSED: dict = {}

_UNARY = {"x_ptr": "*fp32", "y_ptr": "*fp32", "n": "i32", "lo": "fp32", "hi": "fp32",
          "OP": "constexpr", "BLOCK": "constexpr"}
_BINARY = {"a_ptr": "*fp32", "b_ptr": "*fp32", "y_ptr": "*fp32", "n": "i32", "lo": "fp32",
           "hi": "fp32", "OP": "constexpr", "BLOCK": "constexpr"}
AOT_CASES = (
    [(unary_kernel, _UNARY, {"OP": c.value, "BLOCK": 1024})
     for c in (RELU, CLAMP, HARDSWISH, SIGMOID, GELU, GELU_TANH)]
    + [(unary_kernel, {**_UNARY, "x_ptr": "*i8", "y_ptr": "*i8", "lo": "i32", "hi": "i32"},
        {"OP": CLAMP.value, "BLOCK": 1024})]
    + [(binary_kernel, _BINARY, {"OP": c.value, "BLOCK": 1024})
       for c in (ADD, MUL, RELU_GRAD, CLAMP_GRAD, SIGMOID_GRAD, HARDSWISH_GRAD, GELU_GRAD,
                 GELU_TANH_GRAD)])

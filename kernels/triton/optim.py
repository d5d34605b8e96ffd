"""Optimizer updates: sgd and sgd_momentum (PyTorch's SGD, dampening 0, no Nesterov).

Element-wise kernels: `out` may be the parameter (and the momentum buffer) itself,
the in-place update the memory plan arranges. lr, momentum and weight_decay are
float32 scalars, as the reference casts them to the parameter's dtype.
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import support


@triton.jit
def sgd_kernel(
        # pointers
        p_ptr, g_ptr, y_ptr,
        # sizes and hyper-parameters
        n, lr, weight_decay,
        # meta-parameters
        DECAY: tl.constexpr, BLOCK: tl.constexpr):
    """y = p - lr * (g + weight_decay * p); the decay term only with DECAY."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    p = tl.load(p_ptr + offsets, mask=mask)
    g = tl.load(g_ptr + offsets, mask=mask)
    if DECAY:
        g = g + weight_decay * p
    tl.store(y_ptr + offsets, p - lr * g, mask=mask)


@triton.jit
def sgd_momentum_kernel(
        # pointers: parameter, gradient, momentum buffer; the updated parameter and buffer
        p_ptr, g_ptr, m_ptr, y_ptr, b_ptr,
        # sizes and hyper-parameters
        n, lr, momentum, weight_decay,
        # meta-parameters
        DECAY: tl.constexpr, BLOCK: tl.constexpr):
    """m' = momentum * m + (g + weight_decay * p); p' = p - lr * m'."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    p = tl.load(p_ptr + offsets, mask=mask)
    g = tl.load(g_ptr + offsets, mask=mask)
    m = tl.load(m_ptr + offsets, mask=mask)
    if DECAY:
        g = g + weight_decay * p
    m = momentum * m + g
    tl.store(b_ptr + offsets, m, mask=mask)
    tl.store(y_ptr + offsets, p - lr * m, mask=mask)


def sgd(param, grad, *, lr, weight_decay=0.0, out=None):
    op = "train.sgd"
    p = support.tensor(op, "param", param)
    g = support.tensor(op, "grad", grad)
    support.same_shape(op, param=p, grad=g)
    y = support.result(op, out, p.shape, p.dtype, p.device)
    n = p.numel()
    if n:
        size = support.elementwise_block(n)
        sgd_kernel[(triton.cdiv(n, size),)](p, g, y, n, float(lr), float(weight_decay),
                                            DECAY=bool(weight_decay), BLOCK=size)
    return y


def sgd_momentum(param, grad, buffer, *, lr, momentum, weight_decay=0.0, out=None):
    op = "train.sgd_momentum"
    p = support.tensor(op, "param", param)
    g = support.tensor(op, "grad", grad)
    m = support.tensor(op, "buffer", buffer)
    support.same_shape(op, param=p, grad=g, buffer=m)
    y, b = support.results(op, out, [(p.shape, p.dtype, p.device)] * 2)
    n = p.numel()
    if n:
        size = support.elementwise_block(n)
        sgd_momentum_kernel[(triton.cdiv(n, size),)](
            p, g, m, y, b, n, float(lr), float(momentum), float(weight_decay),
            DECAY=bool(weight_decay), BLOCK=size)
    return y, b


OPS = {"train.sgd": sgd, "train.sgd_momentum": sgd_momentum}

FUSED: dict = {}

AOT_CASES = [
    (sgd_kernel, {"p_ptr": "*fp32", "g_ptr": "*fp32", "y_ptr": "*fp32", "n": "i32",
                  "lr": "fp32", "weight_decay": "fp32", "DECAY": "constexpr",
                  "BLOCK": "constexpr"}, {"DECAY": decay, "BLOCK": 1024})
    for decay in (False, True)
] + [
    (sgd_momentum_kernel, {"p_ptr": "*fp32", "g_ptr": "*fp32", "m_ptr": "*fp32",
                           "y_ptr": "*fp32", "b_ptr": "*fp32", "n": "i32", "lr": "fp32",
                           "momentum": "fp32", "weight_decay": "fp32",
                           "DECAY": "constexpr", "BLOCK": "constexpr"},
     {"DECAY": True, "BLOCK": 1024}),
]

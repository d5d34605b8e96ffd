"""Normalizations: softmax (+ softmax_grad) along any axis, layer_norm
(+ layer_norm_grad_input) over the trailing dims, batch_norm (inference form).

softmax views x as [P, A, Q] (A the axis): each of the P*Q lines has A elements Q
apart, and each program takes BLOCK_L lines, walking them BLOCK_A elements at a time
(an online max and sum of exp first, then the writes). layer_norm's lines are the
contiguous groups of M = prod(w.shape) elements: mean, then the centred variance
(biased, as the reference's two passes), then the result.
"""

from __future__ import annotations

import math

import triton
import triton.language as tl

from . import support
from .support import InputError

FORWARD = tl.constexpr(0)
BACKWARD = tl.constexpr(1)


@triton.jit
def softmax_kernel(
        # pointers: x (softmax's output y for the gradient), dy, the result
        x_ptr, dy_ptr, y_ptr,
        # sizes: L = P*Q lines of A elements Q apart
        L, A, Q,
        # meta-parameters
        MODE: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_A: tl.constexpr):
    """MODE FORWARD: y = exp(x - max) / sum(exp(x - max)) along each line.
    MODE BACKWARD (x holds softmax's output y): dx = y * (dy - sum(dy * y))."""
    lines = tl.program_id(0) * BLOCK_L + tl.arange(0, BLOCK_L)
    line_mask = lines < L
    base = (lines // Q) * A * Q + lines % Q
    if MODE == FORWARD:
        m = tl.full([BLOCK_L], float("-inf"), tl.float32)
        s = tl.zeros([BLOCK_L], dtype=tl.float32)
        for start in range(0, A, BLOCK_A):
            a = start + tl.arange(0, BLOCK_A)
            mask = line_mask[:, None] & (a < A)[None, :]
            x = tl.load(x_ptr + base[:, None] + a[None, :] * Q, mask=mask,
                        other=float("-inf"))
            m_new = tl.maximum(m, tl.max(x, axis=1))
            safe = tl.where(m_new == float("-inf"), 0.0, m_new)
            s = s * tl.exp(m - safe) + tl.sum(tl.exp(x - safe[:, None]), axis=1)
            m = m_new
        m = tl.where(line_mask, m, 0.0)
        s = tl.where(line_mask, s, 1.0)
        for start in range(0, A, BLOCK_A):
            a = start + tl.arange(0, BLOCK_A)
            mask = line_mask[:, None] & (a < A)[None, :]
            offsets = base[:, None] + a[None, :] * Q
            x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
            tl.store(y_ptr + offsets, tl.exp(x - m[:, None]) / s[:, None], mask=mask)
    else:
        dot = tl.zeros([BLOCK_L], dtype=tl.float32)
        for start in range(0, A, BLOCK_A):
            a = start + tl.arange(0, BLOCK_A)
            mask = line_mask[:, None] & (a < A)[None, :]
            offsets = base[:, None] + a[None, :] * Q
            y = tl.load(x_ptr + offsets, mask=mask, other=0.0)
            dy = tl.load(dy_ptr + offsets, mask=mask, other=0.0)
            dot += tl.sum(dy * y, axis=1)
        for start in range(0, A, BLOCK_A):
            a = start + tl.arange(0, BLOCK_A)
            mask = line_mask[:, None] & (a < A)[None, :]
            offsets = base[:, None] + a[None, :] * Q
            y = tl.load(x_ptr + offsets, mask=mask, other=0.0)
            dy = tl.load(dy_ptr + offsets, mask=mask, other=0.0)
            tl.store(y_ptr + offsets, y * (dy - dot[:, None]), mask=mask)


@triton.jit
def _moments(x_ptr, rows, row_mask, M, BLOCK_L: tl.constexpr, BLOCK_M: tl.constexpr):
    """Mean and biased variance (of the centred values) of BLOCK_L rows of M elements."""
    total = tl.zeros([BLOCK_L], dtype=tl.float32)
    for start in range(0, M, BLOCK_M):
        cols = start + tl.arange(0, BLOCK_M)
        mask = row_mask[:, None] & (cols < M)[None, :]
        total += tl.sum(tl.load(x_ptr + rows[:, None] * M + cols[None, :], mask=mask,
                                other=0.0), axis=1)
    mean = total / M
    squares = tl.zeros([BLOCK_L], dtype=tl.float32)
    for start in range(0, M, BLOCK_M):
        cols = start + tl.arange(0, BLOCK_M)
        mask = row_mask[:, None] & (cols < M)[None, :]
        x = tl.load(x_ptr + rows[:, None] * M + cols[None, :], mask=mask, other=0.0)
        d = tl.where(mask, x - mean[:, None], 0.0)
        squares += tl.sum(d * d, axis=1)
    return mean, squares / M


@triton.jit
def layer_norm_kernel(
        # pointers: x, w, b (unused by the gradient), dy (unused by the forward), result
        x_ptr, w_ptr, b_ptr, dy_ptr, y_ptr,
        # sizes: L rows of M elements; epsilon
        L, M, epsilon,
        # meta-parameters
        MODE: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_M: tl.constexpr):
    """FORWARD: y = (x - mean) / sqrt(var + eps) * w + b. BACKWARD, with r = 1/sqrt(var
    + eps), xhat = (x - mean) r, g = dy w: dx = r (g - mean(g) - xhat mean(g xhat))."""
    rows = tl.program_id(0) * BLOCK_L + tl.arange(0, BLOCK_L)
    row_mask = rows < L
    mean, var = _moments(x_ptr, rows, row_mask, M, BLOCK_L, BLOCK_M)
    std = tl.sqrt_rn(var + epsilon)
    if MODE == FORWARD:
        for start in range(0, M, BLOCK_M):
            cols = start + tl.arange(0, BLOCK_M)
            col_mask = cols < M
            mask = row_mask[:, None] & col_mask[None, :]
            offsets = rows[:, None] * M + cols[None, :]
            x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
            w = tl.load(w_ptr + cols, mask=col_mask, other=0.0)
            b = tl.load(b_ptr + cols, mask=col_mask, other=0.0)
            y = (x - mean[:, None]) / std[:, None] * w[None, :] + b[None, :]
            tl.store(y_ptr + offsets, y, mask=mask)
    else:
        rstd = 1.0 / std
        sum_g = tl.zeros([BLOCK_L], dtype=tl.float32)
        sum_gx = tl.zeros([BLOCK_L], dtype=tl.float32)
        for start in range(0, M, BLOCK_M):
            cols = start + tl.arange(0, BLOCK_M)
            col_mask = cols < M
            mask = row_mask[:, None] & col_mask[None, :]
            offsets = rows[:, None] * M + cols[None, :]
            x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
            dy = tl.load(dy_ptr + offsets, mask=mask, other=0.0)
            w = tl.load(w_ptr + cols, mask=col_mask, other=0.0)
            g = dy * w[None, :]
            xhat = (x - mean[:, None]) * rstd[:, None]
            sum_g += tl.sum(g, axis=1)
            sum_gx += tl.sum(tl.where(mask, g * xhat, 0.0), axis=1)
        mean_g = sum_g / M
        mean_gx = sum_gx / M
        for start in range(0, M, BLOCK_M):
            cols = start + tl.arange(0, BLOCK_M)
            col_mask = cols < M
            mask = row_mask[:, None] & col_mask[None, :]
            offsets = rows[:, None] * M + cols[None, :]
            x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
            dy = tl.load(dy_ptr + offsets, mask=mask, other=0.0)
            w = tl.load(w_ptr + cols, mask=col_mask, other=0.0)
            g = dy * w[None, :]
            xhat = (x - mean[:, None]) * rstd[:, None]
            dx = rstd[:, None] * (g - mean_g[:, None] - xhat * mean_gx[:, None])
            tl.store(y_ptr + offsets, dx, mask=mask)


@triton.jit
def batch_norm_kernel(
        # pointers: x [N, C, inner...], the per-channel gamma, beta, mean, var; result
        x_ptr, g_ptr, b_ptr, m_ptr, v_ptr, y_ptr,
        # sizes: n elements, C channels, `inner` elements per channel and sample; epsilon
        n, C, inner, epsilon,
        # meta-parameters
        BLOCK: tl.constexpr):
    """y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    c = (offsets // inner) % C
    x = tl.load(x_ptr + offsets, mask=mask)
    mean = tl.load(m_ptr + c, mask=mask)
    var = tl.load(v_ptr + c, mask=mask)
    gamma = tl.load(g_ptr + c, mask=mask)
    beta = tl.load(b_ptr + c, mask=mask)
    y = (x - mean) / tl.sqrt_rn(var + epsilon) * gamma + beta
    tl.store(y_ptr + offsets, y, mask=mask)


# ---------------------------------------------------------------------------------------
# Wrappers
# ---------------------------------------------------------------------------------------

def _lines_blocks(lines: int, length: int) -> tuple[int, int]:
    block_a = support.block(length, 1024 if support.INTERPRET else 256)
    block_l = support.block(lines, max(1, (8192 if support.INTERPRET else 2048) // block_a), 1)
    return block_l, block_a


def _softmax(op, x, dy, axis, out, mode):
    if int(axis) != axis or not 0 <= axis < x.dim():
        raise InputError(f"{op}: axis must be an int in [0, {x.dim()}), got {axis!r}")
    y = support.result(op, out, x.shape, x.dtype, x.device)
    if x.numel() == 0:
        return y
    a = x.shape[axis]
    q = math.prod(x.shape[axis + 1:])
    lines = x.numel() // a
    block_l, block_a = _lines_blocks(lines, a)
    softmax_kernel[(triton.cdiv(lines, block_l),)](x, dy, y, lines, a, q, MODE=mode,
                                                   BLOCK_L=block_l, BLOCK_A=block_a)
    return y


def softmax(x, *, axis, out=None):
    x = support.tensor("train.softmax", "x", x)
    return _softmax("train.softmax", x, x, axis, out, FORWARD.value)


def softmax_grad(dy, y, *, axis, out=None):
    op = "train.softmax_grad"
    dy = support.tensor(op, "dy", dy)
    y = support.tensor(op, "y", y)
    support.same_shape(op, dy=dy, y=y)
    return _softmax(op, y, dy, axis, out, BACKWARD.value)


def _layer_norm(op, x, w, b, dy, epsilon, out, mode):
    if not 1 <= w.dim() <= x.dim() or tuple(x.shape[x.dim() - w.dim():]) != tuple(w.shape):
        raise InputError(f"{op}: weight shape {tuple(w.shape)} is not a suffix of x shape "
                         f"{tuple(x.shape)}")
    if not epsilon >= 0:
        raise InputError(f"{op}: epsilon must be non-negative, got {epsilon!r}")
    y = support.result(op, out, x.shape, x.dtype, x.device)
    m = w.numel()
    if x.numel() == 0 or m == 0:
        return y
    lines = x.numel() // m
    block_l, block_m = _lines_blocks(lines, m)
    layer_norm_kernel[(triton.cdiv(lines, block_l),)](
        x, w, b, dy, y, lines, m, float(epsilon), MODE=mode, BLOCK_L=block_l,
        BLOCK_M=block_m)
    return y


def layer_norm(x, w, b, *, epsilon, out=None):
    op = "train.layer_norm"
    x = support.tensor(op, "x", x)
    w = support.tensor(op, "w", w)
    b = support.tensor(op, "b", b)
    support.same_shape(op, w=w, b=b)
    return _layer_norm(op, x, w, b, x, epsilon, out, FORWARD.value)


def layer_norm_grad_input(dy, x, w, *, epsilon, out=None):
    op = "train.layer_norm_grad_input"
    dy = support.tensor(op, "dy", dy)
    x = support.tensor(op, "x", x)
    w = support.tensor(op, "w", w)
    support.same_shape(op, dy=dy, x=x)
    return _layer_norm(op, x, w, w, dy, epsilon, out, BACKWARD.value)


def batch_norm(x, gamma, beta, mean, var, *, epsilon, out=None):
    op = "train.batch_norm"
    x = support.tensor(op, "x", x)
    if x.dim() < 2:
        raise InputError(f"{op}: x must have rank >= 2, got shape {tuple(x.shape)}")
    params = [support.tensor(op, name, p, ndim=1) for name, p in
              (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]
    for name, p in zip(("gamma", "beta", "mean", "var"), params):
        if p.shape[0] != x.shape[1]:
            raise InputError(f"{op}: {name} shape {tuple(p.shape)} does not match the "
                             f"{x.shape[1]} channels of x")
    if not epsilon >= 0:
        raise InputError(f"{op}: epsilon must be non-negative, got {epsilon!r}")
    y = support.result(op, out, x.shape, x.dtype, x.device)
    n = x.numel()
    if n:
        size = support.elementwise_block(n)
        inner = math.prod(x.shape[2:])
        batch_norm_kernel[(triton.cdiv(n, size),)](x, *params, y, n, x.shape[1], inner,
                                                   float(epsilon), BLOCK=size)
    return y


OPS = {f"train.{fn.__name__}": fn for fn in (
    softmax, softmax_grad, layer_norm, layer_norm_grad_input, batch_norm)}

FUSED: dict = {}

_F32 = "*fp32"
AOT_CASES = [
    (softmax_kernel, {"x_ptr": _F32, "dy_ptr": _F32, "y_ptr": _F32, "L": "i32", "A": "i32",
                      "Q": "i32", "MODE": "constexpr", "BLOCK_L": "constexpr",
                      "BLOCK_A": "constexpr"},
     {"MODE": mode.value, "BLOCK_L": 8, "BLOCK_A": 256}) for mode in (FORWARD, BACKWARD)
] + [
    (layer_norm_kernel, {"x_ptr": _F32, "w_ptr": _F32, "b_ptr": _F32, "dy_ptr": _F32,
                         "y_ptr": _F32, "L": "i32", "M": "i32", "epsilon": "fp32",
                         "MODE": "constexpr", "BLOCK_L": "constexpr", "BLOCK_M": "constexpr"},
     {"MODE": mode.value, "BLOCK_L": 8, "BLOCK_M": 256}) for mode in (FORWARD, BACKWARD)
] + [
    (batch_norm_kernel, {"x_ptr": _F32, "g_ptr": _F32, "b_ptr": _F32, "m_ptr": _F32,
                         "v_ptr": _F32, "y_ptr": _F32, "n": "i32", "C": "i32",
                         "inner": "i32", "epsilon": "fp32", "BLOCK": "constexpr"},
     {"BLOCK": 1024}),
]

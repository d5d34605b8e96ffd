"""Losses and their gradients: cross_entropy (mean softmax cross-entropy over integer
labels), cross_entropy_grad, mse, mse_grad.

The scalar losses run in one program (a deterministic sum, no atomics): it walks the
rows BLOCK_N at a time and each row's classes BLOCK_C at a time with an online
log-sum-exp (running max m and sum s: on a new max m', s <- s * exp(m - m')).
cross_entropy_grad gives each program BLOCK_N rows: the same online pass, then
(softmax - onehot) / N written out.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from . import support
from .support import InputError

LABEL_DTYPES = (torch.int32, torch.int64)


@triton.jit
def _row_stats(x_ptr, rows, row_mask, C, BLOCK_N: tl.constexpr, BLOCK_C: tl.constexpr):
    """Running max and sum of exp(x - max) of BLOCK_N rows of x [N, C]."""
    m = tl.full([BLOCK_N], float("-inf"), tl.float32)
    s = tl.zeros([BLOCK_N], dtype=tl.float32)
    for start in range(0, C, BLOCK_C):
        cols = start + tl.arange(0, BLOCK_C)
        mask = row_mask[:, None] & (cols < C)[None, :]
        x = tl.load(x_ptr + rows[:, None] * C + cols[None, :], mask=mask,
                    other=float("-inf"))
        m_new = tl.maximum(m, tl.max(x, axis=1))
        # Rows past the end keep m = -inf: guard exp(-inf - -inf).
        safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        s = s * tl.exp(m - safe) + tl.sum(tl.exp(x - safe[:, None]), axis=1)
        m = m_new
    return m, s


@triton.jit
def cross_entropy_kernel(
        # pointers: logits [N, C], labels [N], the loss (one element)
        x_ptr, labels_ptr, loss_ptr,
        # sizes
        N, C,
        # meta-parameters
        BLOCK_N: tl.constexpr, BLOCK_C: tl.constexpr):
    """loss = (1/N) sum_n logsumexp(x[n, :]) - x[n, label[n]]; one program."""
    total = tl.zeros([BLOCK_N], dtype=tl.float32)
    for first in range(0, N, BLOCK_N):
        rows = first + tl.arange(0, BLOCK_N)
        row_mask = rows < N
        m, s = _row_stats(x_ptr, rows, row_mask, C, BLOCK_N, BLOCK_C)
        label = tl.load(labels_ptr + rows, mask=row_mask, other=0)
        picked = tl.load(x_ptr + rows * C + label, mask=row_mask, other=0.0)
        lse = m + tl.log(s)
        total += tl.where(row_mask, lse - picked, 0.0)
    tl.store(loss_ptr, tl.sum(total, axis=0) / N)


@triton.jit
def cross_entropy_grad_kernel(
        # pointers: logits [N, C], labels [N], the gradient [N, C]
        x_ptr, labels_ptr, dx_ptr,
        # sizes
        N, C,
        # meta-parameters
        BLOCK_N: tl.constexpr, BLOCK_C: tl.constexpr):
    """dx[n, c] = (softmax(x[n])[c] - (c == label[n])) / N for BLOCK_N rows."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < N
    m, s = _row_stats(x_ptr, rows, row_mask, C, BLOCK_N, BLOCK_C)
    m = tl.where(row_mask, m, 0.0)
    s = tl.where(row_mask, s, 1.0)
    label = tl.load(labels_ptr + rows, mask=row_mask, other=0)
    for start in range(0, C, BLOCK_C):
        cols = start + tl.arange(0, BLOCK_C)
        mask = row_mask[:, None] & (cols < C)[None, :]
        offsets = rows[:, None] * C + cols[None, :]
        x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
        g = tl.exp(x - m[:, None]) / s[:, None]
        g = tl.where(cols[None, :] == label[:, None], g - 1.0, g)
        tl.store(dx_ptr + offsets, g / N, mask=mask)


@triton.jit
def mse_kernel(p_ptr, t_ptr, loss_ptr, n, BLOCK: tl.constexpr):
    """loss = mean((p - t)^2); one program."""
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n, BLOCK):
        offsets = start + tl.arange(0, BLOCK)
        mask = offsets < n
        d = tl.load(p_ptr + offsets, mask=mask, other=0.0) - \
            tl.load(t_ptr + offsets, mask=mask, other=0.0)
        acc += d * d
    tl.store(loss_ptr, tl.sum(acc, axis=0) / n)


@triton.jit
def mse_grad_kernel(p_ptr, t_ptr, dx_ptr, n, scale, BLOCK: tl.constexpr):
    """dx = (p - t) * scale, scale = 2 / n."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    d = tl.load(p_ptr + offsets, mask=mask) - tl.load(t_ptr + offsets, mask=mask)
    tl.store(dx_ptr + offsets, d * scale, mask=mask)


# ---------------------------------------------------------------------------------------
# Wrappers
# ---------------------------------------------------------------------------------------

def _logits_labels(op: str, logits, labels):
    x = support.tensor(op, "logits", logits, ndim=2)
    labels = support.tensor(op, "labels", labels, ndim=1, dtypes=LABEL_DTYPES)
    n, c = x.shape
    if labels.shape[0] != n:
        raise InputError(f"{op}: labels shape {tuple(labels.shape)} does not match the "
                         f"logits batch size {n}")
    if n == 0:
        raise InputError(f"{op} needs a non-empty batch")
    # The range check reads the labels: only where that costs no device round trip.
    if labels.device.type == "cpu" and (int(labels.min()) < 0 or int(labels.max()) >= c):
        raise InputError(f"{op}: labels must lie in [0, {c}), got range "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return x, labels


def _blocks(n: int, c: int) -> tuple[int, int]:
    block_c = support.block(c, 1024 if support.INTERPRET else 256)
    block_n = support.block(n, max(1, (8192 if support.INTERPRET else 2048) // block_c), 1)
    return block_n, block_c


def cross_entropy(logits, labels, *, out=None):
    op = "train.cross_entropy"
    x, labels = _logits_labels(op, logits, labels)
    y = support.result(op, out, (), x.dtype, x.device)
    block_n, block_c = _blocks(*x.shape)
    cross_entropy_kernel[(1,)](x, labels, y, x.shape[0], x.shape[1],
                               BLOCK_N=block_n, BLOCK_C=block_c)
    return y


def cross_entropy_grad(logits, labels, *, out=None):
    op = "train.cross_entropy_grad"
    x, labels = _logits_labels(op, logits, labels)
    y = support.result(op, out, x.shape, x.dtype, x.device)
    block_n, block_c = _blocks(*x.shape)
    cross_entropy_grad_kernel[(triton.cdiv(x.shape[0], block_n),)](
        x, labels, y, x.shape[0], x.shape[1], BLOCK_N=block_n, BLOCK_C=block_c)
    return y


def _pred_target(op: str, pred, target):
    p = support.tensor(op, "pred", pred)
    t = support.tensor(op, "target", target)
    support.same_shape(op, pred=p, target=t)
    if p.numel() == 0:
        raise InputError(f"{op} needs a non-empty tensor")
    return p, t


def mse(pred, target, *, out=None):
    op = "train.mse"
    p, t = _pred_target(op, pred, target)
    y = support.result(op, out, (), p.dtype, p.device)
    mse_kernel[(1,)](p, t, y, p.numel(), BLOCK=support.block(p.numel(), 4096))
    return y


def mse_grad(pred, target, *, out=None):
    op = "train.mse_grad"
    p, t = _pred_target(op, pred, target)
    y = support.result(op, out, p.shape, p.dtype, p.device)
    n = p.numel()
    size = support.elementwise_block(n)
    # 2 / n rounded once to float32, as the reference's p.dtype.type(2 / p.size).
    mse_grad_kernel[(triton.cdiv(n, size),)](p, t, y, n, 2.0 / n, BLOCK=size)
    return y


OPS = {f"train.{fn.__name__}": fn for fn in (cross_entropy, cross_entropy_grad, mse,
                                             mse_grad)}

FUSED: dict = {}

_CE = {"x_ptr": "*fp32", "labels_ptr": "*i32", "N": "i32", "C": "i32",
       "BLOCK_N": "constexpr", "BLOCK_C": "constexpr"}
AOT_CASES = [
    (cross_entropy_kernel, {**_CE, "loss_ptr": "*fp32"}, {"BLOCK_N": 8, "BLOCK_C": 256}),
    (cross_entropy_grad_kernel, {**_CE, "dx_ptr": "*fp32"}, {"BLOCK_N": 8, "BLOCK_C": 256}),
    (mse_kernel, {"p_ptr": "*fp32", "t_ptr": "*fp32", "loss_ptr": "*fp32", "n": "i32",
                  "BLOCK": "constexpr"}, {"BLOCK": 1024}),
    (mse_grad_kernel, {"p_ptr": "*fp32", "t_ptr": "*fp32", "dx_ptr": "*fp32", "n": "i32",
                       "scale": "fp32", "BLOCK": "constexpr"}, {"BLOCK": 1024}),
]

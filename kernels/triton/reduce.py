"""Sums over axes: sum_to (the adjoint of broadcast), bias_grad, and the fused
bias gradient + SGD update.

One kernel sums a tensor over a set of axes. The wrapper merges adjacent axes that are
both kept or both summed, so any pattern of a rank <= 6 tensor becomes at most three
kept groups and three summed groups, each a (size, stride) pair: program p computes
outputs [p*BLOCK_M, (p+1)*BLOCK_M) in row-major order of the kept axes, accumulating
[BLOCK_M, BLOCK_R] tiles over the summed elements in float32. The epilogue either
stores sum / divisor (divisor 1, or the window size for a mean), or — the fused
("train.bias_grad", "train.sgd") — the SGD update of the parameter with that sum as
its gradient, so the gradient never reaches memory.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from . import support
from .support import InputError

STORE = tl.constexpr(0)
SGD = tl.constexpr(1)


@triton.jit
def sum_kernel(
        # pointers: the input, the output, the parameter (read by the SGD epilogue)
        x_ptr, y_ptr, p_ptr,
        # sizes: M outputs, R summed elements per output
        M, R,
        # kept groups: sizes of groups 1 and 2 (group 0 implied), strides of the three
        K1, K2, KS0, KS1, KS2,
        # summed groups: likewise
        R1, R2, RS0, RS1, RS2,
        # epilogue scalars
        divisor, lr, weight_decay,
        # meta-parameters
        EPILOGUE: tl.constexpr, DECAY: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr):
    """y[m] = sum_r x[m, r] / divisor, or p[m] - lr * (sum_r x[m, r] + wd * p[m])."""
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    m_mask = m < M
    # Offset of each output's first element: its coordinates in the kept groups.
    k2 = m % K2
    k1 = (m // K2) % K1
    k0 = m // (K2 * K1)
    base = k0 * KS0 + k1 * KS1 + k2 * KS2
    acc = tl.zeros([BLOCK_M, BLOCK_R], dtype=tl.float32)
    for start in range(0, R, BLOCK_R):
        r = start + tl.arange(0, BLOCK_R)
        r2 = r % R2
        r1 = (r // R2) % R1
        r0 = r // (R2 * R1)
        offset = r0 * RS0 + r1 * RS1 + r2 * RS2
        mask = m_mask[:, None] & (r < R)[None, :]
        acc += tl.load(x_ptr + base[:, None] + offset[None, :], mask=mask, other=0.0)
    total = tl.sum(acc, axis=1)
    if EPILOGUE == STORE:
        tl.store(y_ptr + m, total / divisor, mask=m_mask)
    else:
        # SGD with the sum as gradient: p' = p - lr * (g + weight_decay * p).
        p = tl.load(p_ptr + m, mask=m_mask)
        if DECAY:
            total = total + weight_decay * p
        tl.store(y_ptr + m, p - lr * total, mask=m_mask)


def _groups(shape, keep) -> tuple[list, list]:
    """Kept and summed (size, stride) groups of a contiguous tensor of `shape`: size-1
    axes dropped, adjacent axes of one kind merged."""
    strides, stride = [], 1
    for d in reversed(shape):
        strides.append(stride)
        stride *= d
    strides.reverse()
    groups: list[list] = []          # [kind, size, stride]
    for d, s, k in zip(shape, strides, keep):
        if d == 1:
            continue
        if groups and groups[-1][0] == k:
            groups[-1][1] *= d          # contiguous: the merged stride is the inner one
            groups[-1][2] = s
        else:
            groups.append([k, d, s])
    kept = [(g[1], g[2]) for g in groups if g[0]]
    summed = [(g[1], g[2]) for g in groups if not g[0]]
    return kept, summed


def sum_axes(op: str, x: torch.Tensor, keep, y: torch.Tensor, *, divisor: float = 1.0,
             param: torch.Tensor | None = None, lr: float = 0.0,
             weight_decay: float = 0.0) -> torch.Tensor:
    """Sums contiguous `x` over the axes where `keep` is false into contiguous `y` (the
    kept axes in order); with `param`, writes param - lr * (sum + wd * param) instead."""
    kept, summed = _groups(tuple(x.shape), keep)
    if len(kept) > 3 or len(summed) > 3:
        raise support.UnsupportedError(f"{op}: too many alternating axes in shape "
                                       f"{tuple(x.shape)}")
    kept = [(1, 0)] * (3 - len(kept)) + kept
    summed = [(1, 0)] * (3 - len(summed)) + summed
    M = kept[0][0] * kept[1][0] * kept[2][0]
    R = summed[0][0] * summed[1][0] * summed[2][0]
    if M == 0:
        return y
    largest = 16384 if support.INTERPRET else 4096
    block_r = support.block(R, 256 if support.INTERPRET else 128)
    block_m = support.block(M, max(16, largest // block_r))
    sum_kernel[(triton.cdiv(M, block_m),)](
        x, y, param if param is not None else x, M, R,
        kept[1][0], kept[2][0], kept[0][1], kept[1][1], kept[2][1],
        summed[1][0], summed[2][0], summed[0][1], summed[1][1], summed[2][1],
        float(divisor), float(lr), float(weight_decay),
        EPILOGUE=(STORE if param is None else SGD).value, DECAY=bool(weight_decay),
        BLOCK_M=block_m, BLOCK_R=block_r)
    return y


# ---------------------------------------------------------------------------------------
# Wrappers
# ---------------------------------------------------------------------------------------

def sum_to(x, *, shape, out=None):
    op = "train.sum_to"
    x = support.tensor(op, "x", x)
    shape = tuple(int(d) for d in shape)
    if (min(shape, default=0) < 0 or len(shape) > x.dim()
            or any(d not in (1, s) for d, s in zip(reversed(shape), reversed(x.shape)))):
        raise InputError(f"{op}: cannot sum shape {tuple(x.shape)} to {shape} (the result "
                         "must broadcast to the input)")
    lead = x.dim() - len(shape)
    keep = [False] * lead + [d != 1 for d in shape]
    y = support.result(op, out, shape, x.dtype, x.device)
    if x.numel() == 0:
        return y.zero_() if y.numel() else y
    return sum_axes(op, x, keep, y)


def _bias_dy(op: str, dy) -> torch.Tensor:
    dy = support.tensor(op, "dy", dy)
    if dy.dim() < 2:
        raise InputError(f"{op}: dy must have rank >= 2, got shape {tuple(dy.shape)}")
    return dy


def bias_grad(dy, *, out=None):
    op = "train.bias_grad"
    dy = _bias_dy(op, dy)
    y = support.result(op, out, (dy.shape[1],), dy.dtype, dy.device)
    keep = [axis == 1 for axis in range(dy.dim())]
    return sum_axes(op, dy, keep, y)


def bias_grad_sgd(dy, param, *, lr, weight_decay=0.0, out=None):
    """Fused bias_grad + sgd: param - lr * (sum of dy over all axes but 1 + wd * param);
    `out` may be `param` (in place)."""
    op = "train.bias_grad+train.sgd"
    dy = _bias_dy(op, dy)
    param = support.tensor(op, "param", param)
    if tuple(param.shape) != (dy.shape[1],) or param.dtype != dy.dtype:
        raise InputError(f"{op}: param {tuple(param.shape)} ({param.dtype}) does not match "
                         f"the {dy.shape[1]} channels of dy ({dy.dtype})")
    y = support.result(op, out, param.shape, param.dtype, param.device)
    keep = [axis == 1 for axis in range(dy.dim())]
    return sum_axes(op, dy, keep, y, param=param, lr=lr, weight_decay=weight_decay)


OPS = {"train.sum_to": sum_to, "train.bias_grad": bias_grad}

FUSED = {("train.bias_grad", "train.sgd"): bias_grad_sgd}

_SIGNATURE = {"x_ptr": "*fp32", "y_ptr": "*fp32", "p_ptr": "*fp32",
              **{name: "i32" for name in ("M", "R", "K1", "K2", "KS0", "KS1", "KS2",
                                          "R1", "R2", "RS0", "RS1", "RS2")},
              "divisor": "fp32", "lr": "fp32", "weight_decay": "fp32",
              "EPILOGUE": "constexpr", "DECAY": "constexpr",
              "BLOCK_M": "constexpr", "BLOCK_R": "constexpr"}
AOT_CASES = [
    (sum_kernel, _SIGNATURE, {"EPILOGUE": STORE.value, "DECAY": False,
                              "BLOCK_M": 32, "BLOCK_R": 128}),
    (sum_kernel, _SIGNATURE, {"EPILOGUE": SGD.value, "DECAY": True,
                              "BLOCK_M": 32, "BLOCK_R": 128}),
]

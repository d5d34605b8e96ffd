"""Pooling: avg_pool2d, max_pool2d, global_avg_pool and the gradients
avg_pool2d_grad, max_pool2d_grad (NCHW).

The forward kernel gives each program BLOCK outputs and visits their KHxKW windows
(unrolled: the window is a compile-time constant). The gradients gather instead of
scatter, so they need no atomics and are deterministic: input element (h, w) visits
each window (i, j) that contains it (i*SH - PH + ki = h for some ki) and adds
dy[i, j] / divisor (average), or dy[i, j] where (ki, kj) is the window's first maximum
in row-major order, recomputed from x (max, as PyTorch). global_avg_pool is the sum
kernel of reduce.py with the divisor H*W.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from . import reduce, support
from .support import InputError

AVG = tl.constexpr(0)
MAX = tl.constexpr(1)

MAX_DTYPES = (torch.float32, torch.int8, torch.int16)


@triton.jit
def pool_kernel(
        # pointers
        x_ptr, y_ptr,
        # sizes: n outputs, input H x W, output OH x OW; stride and padding
        n, H, W, OH, OW, SH, SW, PH, PW,
        # meta-parameters: the window, AVG or MAX, the average's divisor rule
        KH: tl.constexpr, KW: tl.constexpr, MODE: tl.constexpr, COUNT_PAD: tl.constexpr,
        BLOCK: tl.constexpr):
    """y[nc, i, j] = mean or max of x[nc, i*SH - PH + ki, j*SW - PW + kj] over the window,
    padding reading 0 (average) or -inf (max)."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    j = index % OW
    i = (index // OW) % OH
    base = (index // (OW * OH)) * H * W
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    best = tl.full([BLOCK], float("-inf"), tl.float32)
    count = tl.zeros([BLOCK], dtype=tl.float32)
    for ki in tl.static_range(KH):
        for kj in tl.static_range(KW):
            h = i * SH - PH + ki
            w = j * SW - PW + kj
            valid = mask & (h >= 0) & (h < H) & (w >= 0) & (w < W)
            v = tl.load(x_ptr + base + h * W + w, mask=valid, other=0).to(tl.float32)
            if MODE == MAX:
                best = tl.where(valid & (v > best), v, best)
            else:
                acc += v
                count += valid.to(tl.float32)
    if MODE == MAX:
        tl.store(y_ptr + index, best.to(y_ptr.dtype.element_ty), mask=mask)
    else:
        if COUNT_PAD:
            tl.store(y_ptr + index, acc / (KH * KW), mask=mask)
        else:
            tl.store(y_ptr + index, acc / count, mask=mask)


@triton.jit
def pool_grad_kernel(
        # pointers: dy [N, C, OH, OW], x (max only), dx [N, C, H, W]
        dy_ptr, x_ptr, dx_ptr,
        # sizes: n inputs, input H x W, output OH x OW; stride and padding
        n, H, W, OH, OW, SH, SW, PH, PW,
        # meta-parameters
        KH: tl.constexpr, KW: tl.constexpr, MODE: tl.constexpr, COUNT_PAD: tl.constexpr,
        BLOCK: tl.constexpr):
    """dx[nc, h, w] = sum over the windows (i, j) holding (h, w) at window position
    (ki, kj) of dy[nc, i, j] / divisor (AVG) or of dy[nc, i, j] if (ki, kj) is the
    window's first maximum (MAX)."""
    index = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = index < n
    w = index % W
    h = (index // W) % H
    nc = index // (W * H)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for ki in tl.static_range(KH):
        for kj in tl.static_range(KW):
            # The window (i, j) whose position (ki, kj) is (h, w), if it exists.
            hp = h + PH - ki
            wp = w + PW - kj
            i = hp // SH
            j = wp // SW
            valid = mask & (hp >= 0) & (wp >= 0) & (hp % SH == 0) & (wp % SW == 0) & \
                (i < OH) & (j < OW)
            g = tl.load(dy_ptr + nc * OH * OW + i * OW + j, mask=valid, other=0.0)
            if MODE == AVG:
                if COUNT_PAD:
                    acc += g / (KH * KW)
                else:
                    top = i * SH - PH
                    left = j * SW - PW
                    rows = tl.minimum(top + KH, H) - tl.maximum(top, 0)
                    cols = tl.minimum(left + KW, W) - tl.maximum(left, 0)
                    divisor = tl.where(valid, rows * cols, 1).to(tl.float32)
                    acc += g / divisor
            else:
                best = tl.full([BLOCK], float("-inf"), tl.float32)
                first = tl.full([BLOCK], -1, tl.int32)
                for a in tl.static_range(KH):
                    for b in tl.static_range(KW):
                        hh = i * SH - PH + a
                        ww = j * SW - PW + b
                        ok = valid & (hh >= 0) & (hh < H) & (ww >= 0) & (ww < W)
                        v = tl.load(x_ptr + nc * H * W + hh * W + ww, mask=ok, other=0.0)
                        better = ok & (v > best)
                        best = tl.where(better, v, best)
                        first = tl.where(better, a * KW + b, first)
                acc += tl.where(valid & (first == ki * KW + kj), g, 0.0)
    tl.store(dx_ptr + index, acc, mask=mask)


# ---------------------------------------------------------------------------------------
# Wrappers
# ---------------------------------------------------------------------------------------

def _geometry(op: str, input_shape, kernel, stride, padding):
    kernel = support.pair(op, "kernel", kernel, 1)
    stride = support.pair(op, "stride", stride, 1)
    padding = support.pair(op, "padding", padding, 0)
    out = []
    for size, k, s, p in zip(input_shape[2:], kernel, stride, padding):
        if p >= k:
            raise InputError(f"{op}: padding {padding} must be smaller than the kernel "
                             f"{kernel}")
        if size + 2 * p < k:
            raise InputError(f"{op}: kernel {kernel} exceeds the padded input size (input "
                             f"{tuple(input_shape)}, padding {padding})")
        out.append((size + 2 * p - k) // s + 1)
    return kernel, stride, padding, tuple(out)


def _launch(kernel_fn, args, n, geometry, input_hw, out_hw, mode, count_pad):
    (kh, kw), (sh, sw), (ph, pw) = geometry
    if n == 0:
        return
    size = support.elementwise_block(n) if support.INTERPRET else 256
    kernel_fn[(triton.cdiv(n, size),)](*args, n, *input_hw, *out_hw, sh, sw, ph, pw,
                                       KH=kh, KW=kw, MODE=mode, COUNT_PAD=count_pad,
                                       BLOCK=size)


def avg_pool2d(x, *, kernel, stride=(1, 1), padding=(0, 0), count_include_pad=True,
               out=None):
    op = "train.avg_pool2d"
    x = support.tensor(op, "x", x, ndim=4)
    kernel, stride, padding, out_hw = _geometry(op, x.shape, kernel, stride, padding)
    y = support.result(op, out, (*x.shape[:2], *out_hw), x.dtype, x.device)
    _launch(pool_kernel, (x, y), y.numel(), (kernel, stride, padding), x.shape[2:], out_hw,
            AVG.value, bool(count_include_pad))
    return y


def max_pool2d(x, *, kernel, stride=(1, 1), padding=(0, 0), out=None):
    op = "train.max_pool2d"
    x = support.tensor(op, "x", x, ndim=4, dtypes=MAX_DTYPES)
    kernel, stride, padding, out_hw = _geometry(op, x.shape, kernel, stride, padding)
    y = support.result(op, out, (*x.shape[:2], *out_hw), x.dtype, x.device)
    _launch(pool_kernel, (x, y), y.numel(), (kernel, stride, padding), x.shape[2:], out_hw,
            MAX.value, False)
    return y


def _dy(op: str, dy, input_shape, kernel, stride, padding):
    geometry = _geometry(op, input_shape, kernel, stride, padding)
    expected = (*input_shape[:2], *geometry[3])
    if tuple(dy.shape) != expected:
        raise InputError(f"{op}: dy shape {tuple(dy.shape)} does not match the pooling "
                         f"output shape {expected}")
    return geometry


def avg_pool2d_grad(dy, *, input_shape, kernel, stride=(1, 1), padding=(0, 0),
                    count_include_pad=True, out=None):
    op = "train.avg_pool2d_grad"
    dy = support.tensor(op, "dy", dy, ndim=4)
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 4 or min(input_shape) <= 0:
        raise InputError(f"{op}: input_shape must be 4 positive sizes, got {input_shape}")
    kernel, stride, padding, out_hw = _dy(op, dy, input_shape, kernel, stride, padding)
    y = support.result(op, out, input_shape, dy.dtype, dy.device)
    _launch(pool_grad_kernel, (dy, dy, y), y.numel(), (kernel, stride, padding),
            input_shape[2:], out_hw, AVG.value, bool(count_include_pad))
    return y


def max_pool2d_grad(dy, x, *, kernel, stride=(1, 1), padding=(0, 0), out=None):
    op = "train.max_pool2d_grad"
    dy = support.tensor(op, "dy", dy, ndim=4)
    x = support.tensor(op, "x", x, ndim=4)
    kernel, stride, padding, out_hw = _dy(op, dy, tuple(x.shape), kernel, stride, padding)
    y = support.result(op, out, x.shape, x.dtype, x.device)
    _launch(pool_grad_kernel, (dy, x, y), y.numel(), (kernel, stride, padding),
            x.shape[2:], out_hw, MAX.value, False)
    return y


def global_avg_pool(x, *, out=None):
    op = "train.global_avg_pool"
    x = support.tensor(op, "x", x, ndim=4)
    y = support.result(op, out, (*x.shape[:2], 1, 1), x.dtype, x.device)
    if x.numel() == 0:
        return y
    return reduce.sum_axes(op, x, [True, True, False, False], y,
                           divisor=x.shape[2] * x.shape[3])


OPS = {f"train.{fn.__name__}": fn for fn in (
    avg_pool2d, max_pool2d, global_avg_pool, avg_pool2d_grad, max_pool2d_grad)}

FUSED: dict = {}

_SIZES = {name: "i32" for name in ("n", "H", "W", "OH", "OW", "SH", "SW", "PH", "PW")}
_META = {name: "constexpr" for name in ("KH", "KW", "MODE", "COUNT_PAD", "BLOCK")}
AOT_CASES = [
    (pool_kernel, {"x_ptr": "*fp32", "y_ptr": "*fp32", **_SIZES, **_META},
     {"KH": 3, "KW": 3, "MODE": AVG.value, "COUNT_PAD": False, "BLOCK": 256}),
    (pool_kernel, {"x_ptr": "*fp32", "y_ptr": "*fp32", **_SIZES, **_META},
     {"KH": 2, "KW": 2, "MODE": MAX.value, "COUNT_PAD": False, "BLOCK": 256}),
    (pool_kernel, {"x_ptr": "*i8", "y_ptr": "*i8", **_SIZES, **_META},
     {"KH": 2, "KW": 2, "MODE": MAX.value, "COUNT_PAD": False, "BLOCK": 256}),
    (pool_grad_kernel, {"dy_ptr": "*fp32", "x_ptr": "*fp32", "dx_ptr": "*fp32", **_SIZES,
                        **_META},
     {"KH": 3, "KW": 3, "MODE": AVG.value, "COUNT_PAD": False, "BLOCK": 256}),
    (pool_grad_kernel, {"dy_ptr": "*fp32", "x_ptr": "*fp32", "dx_ptr": "*fp32", **_SIZES,
                        **_META},
     {"KH": 3, "KW": 3, "MODE": MAX.value, "COUNT_PAD": False, "BLOCK": 256}),
]

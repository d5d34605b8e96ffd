"""Triton GEMM kernels: train.linear, train.matmul, the linear gradients, and the
fused linear + relu forward and linear weight gradient + SGD update.

One kernel, `gemm_kernel`, computes C[z] = A[z] @ B[z] for strided operands, so the
wrappers express every transpose as a torch view (linear: B = w.T; weight gradient:
A = dy.T) and the kernel reads through the strides without copying. Its epilogue
optionally adds a bias, applies relu, or replaces the store of C by an SGD step on a
parameter: p' = p - lr * (C + weight_decay * p), so a weight gradient never reaches
memory. Products are accumulated in float32 with IEEE (not TF32) tensor-core inputs.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...compiler.errors import InputError
from .support import INTERPRET, result, tensor

__all__ = ["gemm_kernel", "gemm", "linear", "matmul", "linear_grad_input",
           "linear_grad_weight", "linear_relu", "linear_grad_weight_sgd", "tuned", "aot_case",
           "OPS", "FUSED", "AOT_CASES"]


def tuned(configs: list[triton.Config], key: list[str], **kwargs):
    """`triton.autotune` keyed on the problem sizes; interpreted, only the first config
    runs (the interpreter would execute every config while tuning)."""
    return triton.autotune(configs=configs[:1] if INTERPRET else configs, key=key, **kwargs)


def gemm_configs() -> list[triton.Config]:
    """Tile shapes for the float GEMMs (the first, small one is the interpreter's)."""
    shapes = [(32, 32, 32, 4, 2), (64, 64, 32, 4, 3), (128, 64, 32, 4, 3),
              (64, 128, 32, 4, 3), (128, 128, 32, 8, 3)]
    return [triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k, "GROUP_M": 8},
                          num_warps=w, num_stages=s) for m, n, k, w, s in shapes]


@triton.jit
def tile_ids(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
             GROUP_M: tl.constexpr):
    """Row and column tile of program `pid`, in groups of GROUP_M row tiles so that
    consecutive programs share operand tiles in L2 (Triton's matmul tutorial)."""
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    per_group = GROUP_M * num_n
    first_m = (pid // per_group) * GROUP_M
    size_m = min(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % per_group) % size_m
    pid_n = (pid % per_group) // size_m
    return pid_m, pid_n


@triton.jit
def gemm_kernel(
        # Pointers: A [Z, M, K], B [Z, K, N], C [Z, M, N]; bias [N]; param [M, N] (Z = 1).
        a_ptr, b_ptr, c_ptr, bias_ptr, param_ptr,
        # Sizes.
        M, N, K,
        # Strides, in elements.
        stride_az, stride_am, stride_ak,
        stride_bz, stride_bk, stride_bn,
        stride_cz, stride_cm, stride_cn,
        # SGD hyper-parameters (read only with SGD).
        lr, weight_decay,
        # Epilogue switches and tile shape.
        HAS_BIAS: tl.constexpr, RELU: tl.constexpr, SGD: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
        GROUP_M: tl.constexpr):
    """C[z] = A[z] @ B[z] (+ bias, relu), or with SGD: C = param - lr * (A@B + wd * param)."""
    # 1. This program's output tile; axis 1 is the batch.
    pid_m, pid_n = tile_ids(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    z = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + z * stride_az + rm[:, None] * stride_am + rk[None, :] * stride_ak
    b_ptrs = b_ptr + z * stride_bz + rk[:, None] * stride_bk + rn[None, :] * stride_bn

    # 2. Accumulate over K in float32; rows, columns and K beyond the sizes load zeros.
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        a = tl.load(a_ptrs, mask=(rm[:, None] < M) & (rk[None, :] + k0 < K), other=0.0)
        b = tl.load(b_ptrs, mask=(rk[:, None] + k0 < K) & (rn[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc, input_precision="ieee")
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk

    # 3. Epilogue.
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + rn, mask=rn < N, other=0.0)[None, :]
    if RELU:
        acc = tl.maximum(acc, 0.0)
    if SGD:
        # The parameter has C's layout; the gradient tile stays in registers.
        p = tl.load(param_ptr + rm[:, None] * stride_cm + rn[None, :] * stride_cn,
                    mask=mask, other=0.0)
        acc = p - lr * (acc + weight_decay * p)
    c_ptrs = c_ptr + z * stride_cz + rm[:, None] * stride_cm + rn[None, :] * stride_cn
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=mask)


# The SGD epilogue may write over its own parameter (out is param): tuning runs
# restore C so that trying several configs applies the update once.
_gemm = tuned(gemm_configs(), key=["M", "N", "K"], restore_value=["c_ptr"])(gemm_kernel)


def gemm(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, *, bias=None, relu=False,
         param=None, lr=0.0, weight_decay=0.0) -> torch.Tensor:
    """Launches C = A @ B on 3-D strided views A [Z,M,K], B [Z,K,N], C [Z,M,N]."""
    z, m, k = a.shape
    n = b.shape[2]
    if c.numel() == 0:
        return c
    grid = lambda meta: (triton.cdiv(m, meta["BLOCK_M"]) * triton.cdiv(n, meta["BLOCK_N"]), z)
    _gemm[grid](
        a, b, c, c if bias is None else bias, c if param is None else param,
        m, n, k, *a.stride(), *b.stride(), *c.stride(), float(lr), float(weight_decay),
        HAS_BIAS=bias is not None, RELU=bool(relu), SGD=param is not None)
    return c


# --------------------------------------------------------------------------
# Op wrappers (arguments as runtime/reference_ops.py, plus out=)
# --------------------------------------------------------------------------

def _linear_operands(op: str, x, w, b):
    x, w = tensor(op, "x", x, ndim=2), tensor(op, "w", w, ndim=2)
    if x.shape[1] != w.shape[1]:
        raise InputError(f"{op}: x shape {tuple(x.shape)} and weight shape "
                         f"{tuple(w.shape)} disagree on the input features")
    if b is not None:
        b = tensor(op, "b", b, ndim=1)
        if b.shape[0] != w.shape[0]:
            raise InputError(f"{op}: bias shape {tuple(b.shape)} does not match the "
                             f"{w.shape[0]} output features")
    return x, w, b


def _forward_linear(op, x, w, b, relu, out):
    x, w, b = _linear_operands(op, x, w, b)
    y = result(op, out, (x.shape[0], w.shape[0]), x.dtype, x.device)
    gemm(x[None], w.t()[None], y[None], bias=b, relu=relu)
    return y


def linear(x, w, b=None, *, out=None):
    """y[N,M] = x[N,K] @ w[M,K].T + b[M]."""
    return _forward_linear("train.linear", x, w, b, False, out)


def linear_relu(x, w, b=None, *, out=None):
    """relu(linear(x, w, b)) with the relu in the GEMM epilogue."""
    return _forward_linear("train.linear+relu", x, w, b, True, out)


def matmul(a, b, *, out=None):
    """y[..., M, N] = a[..., M, K] @ b[..., K, N] with equal batch dimensions."""
    op = "train.matmul"
    a, b = tensor(op, "a", a), tensor(op, "b", b)
    if a.dim() < 2 or a.dim() != b.dim():
        raise InputError(f"{op}: operands must have the same rank >= 2, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[:-2] != b.shape[:-2]:
        raise InputError(f"{op}: batch dimensions differ, {tuple(a.shape[:-2])} vs "
                         f"{tuple(b.shape[:-2])}")
    if a.shape[-1] != b.shape[-2]:
        raise InputError(f"{op}: contraction sizes differ, a shape {tuple(a.shape)} vs "
                         f"b shape {tuple(b.shape)}")
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    y = result(op, out, (*a.shape[:-1], n), a.dtype, a.device)
    gemm(a.reshape(-1, m, k), b.reshape(-1, k, n), y.view(-1, m, n))
    return y


def linear_grad_input(dy, w, *, out=None):
    """dx[N,K] = dy[N,M] @ w[M,K]."""
    op = "train.linear_grad_input"
    dy, w = tensor(op, "dy", dy, ndim=2), tensor(op, "w", w, ndim=2)
    if dy.shape[1] != w.shape[0]:
        raise InputError(f"{op}: dy shape {tuple(dy.shape)} does not match the "
                         f"{w.shape[0]} output features of weight shape {tuple(w.shape)}")
    dx = result(op, out, (dy.shape[0], w.shape[1]), dy.dtype, dy.device)
    gemm(dy[None], w[None], dx[None])
    return dx


def _grad_weight_operands(op, dy, x):
    dy, x = tensor(op, "dy", dy, ndim=2), tensor(op, "x", x, ndim=2)
    if dy.shape[0] != x.shape[0]:
        raise InputError(f"{op}: batch size mismatch, dy shape {tuple(dy.shape)} vs "
                         f"x shape {tuple(x.shape)}")
    return dy, x


def linear_grad_weight(dy, x, *, out=None):
    """dW[M,K] = dy[N,M].T @ x[N,K] (the contraction runs over the batch)."""
    op = "train.linear_grad_weight"
    dy, x = _grad_weight_operands(op, dy, x)
    dw = result(op, out, (dy.shape[1], x.shape[1]), dy.dtype, dy.device)
    gemm(dy.t()[None], x[None], dw[None])
    return dw


def linear_grad_weight_sgd(dy, x, param, *, lr, weight_decay=0.0, out=None):
    """param - lr * (dy.T @ x + weight_decay * param); the gradient is never stored.
    `out` may be `param` itself (an in-place update)."""
    op = "train.linear_grad_weight+sgd"
    dy, x = _grad_weight_operands(op, dy, x)
    shape = (dy.shape[1], x.shape[1])
    param = tensor(op, "param", param, ndim=2)
    if tuple(param.shape) != shape:
        raise InputError(f"{op}: param shape {tuple(param.shape)} does not match the "
                         f"weight gradient shape {shape}")
    p = result(op, out, shape, param.dtype, param.device)
    gemm(dy.t()[None], x[None], p[None], param=param, lr=lr, weight_decay=weight_decay)
    return p


OPS = {
    "train.linear": linear,
    "train.matmul": matmul,
    "train.linear_grad_input": linear_grad_input,
    "train.linear_grad_weight": linear_grad_weight,
}

FUSED = {
    ("train.linear", "train.relu"): linear_relu,
    ("train.linear_grad_weight", "train.sgd"): linear_grad_weight_sgd,
}


def aot_case(fn, types: dict, constexprs: dict) -> tuple:
    """(fn, signature, constexprs) for triton.compile: the signature lists every argument
    of `fn` in order, with its type from `types` or "constexpr"."""
    missing = [a for a in fn.arg_names if a not in types and a not in constexprs]
    if missing:
        raise ValueError(f"no AOT type for {fn.__name__}'s arguments {missing}")
    return fn, {a: types.get(a, "constexpr") for a in fn.arg_names}, dict(constexprs)


def _gemm_signature(dtype: str = "fp32") -> dict:
    sig = {name: f"*{dtype}" for name in ("a_ptr", "b_ptr", "c_ptr", "bias_ptr", "param_ptr")}
    sig.update({name: "i32" for name in (
        "M", "N", "K", "stride_az", "stride_am", "stride_ak", "stride_bz", "stride_bk",
        "stride_bn", "stride_cz", "stride_cm", "stride_cn")})
    sig.update(lr="fp32", weight_decay="fp32")
    return sig


def _gemm_constexprs(has_bias: bool, relu: bool, sgd: bool) -> dict:
    return dict(HAS_BIAS=has_bias, RELU=relu, SGD=sgd, BLOCK_M=64, BLOCK_N=64,
                BLOCK_K=32, GROUP_M=8)


AOT_CASES = [
    aot_case(gemm_kernel, _gemm_signature(), _gemm_constexprs(False, False, False)),
    aot_case(gemm_kernel, _gemm_signature(), _gemm_constexprs(True, True, False)),
    aot_case(gemm_kernel, _gemm_signature(), _gemm_constexprs(False, False, True)),
]

"""Every float op's gradient rule (passes/gradient_rules.py) against torch.autograd.

For each op and attribute variant a tiny @forward applies the op to inputs that are
trainable parameters, flattens the result and maps it to two logits with a frozen
random weight, logits = reshape(y, [1, numel]) · Wᵀ (so the loss, cross-entropy
against label 0, weighs every output element differently; W ~ N(0, 1/(4·numel·rms(y)²)) keeps
the logits of order 1/2). --train-autodiff derives
@train_step; the reference interpreter runs it once with a learning rate of 2¹⁶ (exact
in float32) and the gradient is read back from the SGD update, g = (p - p') / lr in
float64: the large step keeps the float32 rounding of p' from hiding the gradient's
low digits. PyTorch computes the same loss in float64 from the same input values and
autograd gives the reference gradients. Max relative error max|a - b| / max|b| per
input: <= 1e-6 in float64, <= 1e-4 in float32.

Also: the numpy semantics of the gradient ops themselves (ties in max pooling, clamp
at its bounds, argument errors, float32 in float32 out), sgd_momentum against
torch.optim.SGD, the interpreter running an op with two results, the mse loss of
LOSSES, and that no gradient op is built for an operand that is not trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tcc._mlir import ir
from tcc._mlir.dialects import func
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function, new_context
from tcc.dialects import train
from tcc.passes.gradient_rules import FLOAT_GRADIENTS, GRADIENTS, LOSSES
from tcc.runtime import reference_ops as ref
from tcc.runtime.interpreter import run_function
from numerics import rel_error

LR = 2.0 ** 16
TOLERANCE = {"f64": 1e-6, "f32": 1e-4}
DTYPES = {"f32": np.float32, "f64": np.float64}
ELEMENT = {"f32": ir.F32Type.get, "f64": ir.F64Type.get}
LOGITS = 2

# Per-op maximum relative error seen (printed at the end of a `-s` run).
MAX_ERRORS: dict[str, float] = {}



# --------------------------------------------------------------------------
# Cases: an op (its builder call and its torch equivalent) and its inputs
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Input:
    shape: tuple
    role: str = "trainable"       # "trainable", "frozen" or "labels" (int32 data, no role)
    scale: float = 1.0            # standard normal values times scale ...
    offset: float = 0.0           # ... plus offset
    positive: bool = False        # |value| + offset (variances)
    classes: int = 0              # labels: values in [0, classes)


@dataclass(frozen=True)
class Case:
    op: str                       # the forward op whose rule is tested
    name: str
    inputs: tuple
    build: Callable               # (*ir.Values) -> ir.Value
    torch: Callable               # (*torch.Tensors) -> torch.Tensor
    seed: int = field(default=0)


def T(*shape, **kwargs) -> Input:
    return Input(tuple(shape), **kwargs)


def _conv(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    geometry = train.ConvGeometry(stride=tuple(stride), padding=tuple(padding),
                                  dilation=tuple(dilation), groups=groups)
    return (lambda x, w, b=None: train.conv2d(x, w, b, geometry=geometry),
            lambda x, w, b=None: F.conv2d(x, w, b, stride=stride, padding=padding,
                                          dilation=dilation, groups=groups))


def _slices(offsets, sizes):
    return tuple(slice(o, o + s) for o, s in zip(offsets, sizes))


def _torch_pad_to(x, offsets, shape):
    y = x.new_zeros(shape)
    y[_slices(offsets, x.shape)] = x
    return y


def _torch_sum_to(x, shape):
    lead = x.dim() - len(shape)
    x = x.sum(dim=tuple(range(lead))) if lead else x
    dims = tuple(i for i, d in enumerate(shape) if d == 1 and x.shape[i] != 1)
    return x.sum(dim=dims, keepdim=True) if dims else x


# The ops' epsilon is an f32 attribute: torch gets the same float32-rounded values.
EPS = float(np.float32(1e-5))
EPS_LARGE = float(np.float32(0.1))


def _torch_batch_norm(x, g, b, m, v, eps=EPS):
    view = (1, -1) + (1,) * (x.dim() - 2)
    return (x - m.view(view)) / torch.sqrt(v.view(view) + eps) * g.view(view) + b.view(view)


def _cases() -> list[Case]:
    cases = []

    def add(op, name, inputs, build, torch_fn):
        cases.append(Case(op, name, tuple(inputs), build, torch_fn, seed=len(cases)))

    # linear
    add("linear", "bias", [T(3, 5), T(4, 5), T(4)], train.linear, F.linear)
    add("linear", "nobias", [T(3, 5), T(4, 5)], train.linear, F.linear)
    add("linear", "frozen-input", [T(3, 5, role="frozen"), T(4, 5), T(4)],
        train.linear, F.linear)
    add("linear", "frozen-weight", [T(3, 5), T(4, 5, role="frozen"), T(4)],
        train.linear, F.linear)

    # conv2d: geometry variants
    for name, x, w, geometry, bias in [
        ("3x3", (2, 3, 6, 6), (4, 3, 3, 3), {}, True),
        ("pad1", (2, 3, 6, 6), (4, 3, 3, 3), dict(padding=(1, 1)), True),
        ("stride2-pad1", (2, 3, 7, 7), (4, 3, 3, 3), dict(stride=(2, 2), padding=(1, 1)), True),
        ("stride-2x1-pad-1x0", (1, 2, 7, 6), (3, 2, 3, 2),
         dict(stride=(2, 1), padding=(1, 0)), True),
        ("dilation2", (2, 2, 8, 8), (3, 2, 3, 3), dict(dilation=(2, 2), padding=(2, 2)), True),
        ("dilation-1x2-stride2", (1, 2, 9, 9), (3, 2, 3, 3),
         dict(dilation=(1, 2), stride=(2, 2), padding=(1, 1)), True),
        ("groups2", (2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=(1, 1)), True),
        ("depthwise", (2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=(1, 1)), True),
        ("depthwise-mult2-stride2", (1, 3, 7, 7), (6, 1, 3, 3),
         dict(groups=3, stride=(2, 2), padding=(1, 1)), False),
        ("pointwise-nobias", (2, 5, 4, 4), (3, 5, 1, 1), {}, False),
        ("kernel-5x1", (1, 2, 7, 5), (2, 2, 5, 1), dict(padding=(2, 0)), True),
    ]:
        build, torch_fn = _conv(**geometry)
        inputs = [T(*x), T(*w)] + ([T(w[0])] if bias else [])
        add("conv2d", name, inputs, build, torch_fn)
    build, torch_fn = _conv(stride=(2, 2), padding=(1, 1), groups=2)
    add("conv2d", "groups2-frozen-weight", [T(1, 4, 6, 6), T(4, 2, 3, 3, role="frozen"), T(4)],
        build, torch_fn)
    add("conv2d", "groups2-frozen-input", [T(1, 4, 6, 6, role="frozen"), T(4, 2, 3, 3), T(4)],
        build, torch_fn)

    # element-wise algebra; the same value used twice accumulates two gradients
    add("add", "two", [T(3, 4), T(3, 4)], train.add, torch.add)
    add("add", "same-operand", [T(3, 4)], lambda x: train.add(x, x), lambda x: x + x)
    add("mul", "two", [T(2, 3, 4), T(2, 3, 4)], train.mul, torch.mul)
    add("mul", "square", [T(3, 4)], lambda x: train.mul(x, x), lambda x: x * x)
    add("mul", "chain", [T(3, 4), T(3, 4)],
        lambda a, b: train.mul(train.add(a, b), a), lambda a, b: (a + b) * a)

    # matmul (batched)
    add("matmul", "2d", [T(3, 4), T(4, 5)], train.matmul, torch.matmul)
    add("matmul", "3d", [T(2, 3, 4), T(2, 4, 5)], train.matmul, torch.matmul)
    add("matmul", "4d", [T(2, 2, 3, 4), T(2, 2, 4, 2)], train.matmul, torch.matmul)
    add("matmul", "self", [T(3, 3)], lambda a: train.matmul(a, a), lambda a: a @ a)

    # broadcast and its adjoint sum_to
    for name, src, dst in [("channel", (1, 3, 1, 1), (2, 3, 4, 4)),
                           ("trailing", (4,), (2, 3, 4)),
                           ("middle", (3, 1), (2, 3, 5)),
                           ("scalar", (), (2, 3)),
                           ("same", (2, 3), (2, 3))]:
        add("broadcast", name, [T(*src)], lambda x, dst=dst: train.broadcast(x, dst),
            lambda x, dst=dst: x.broadcast_to(dst))
        add("sum_to", name, [T(*dst)], lambda x, src=src: train.sum_to(x, src),
            lambda x, src=src: _torch_sum_to(x, src))

    # activations (inputs scaled to cover every piece of the piecewise ones)
    add("relu", "", [T(3, 8)], train.relu, torch.relu)
    add("clamp", "relu6", [T(4, 8, scale=4, offset=2)],
        lambda x: train.clamp(x, 0.0, 6.0), lambda x: F.hardtanh(x, 0.0, 6.0))
    add("clamp", "narrow", [T(4, 8)], lambda x: train.clamp(x, -0.5, 0.25),
        lambda x: F.hardtanh(x, -0.5, 0.25))
    add("hardswish", "", [T(4, 8, scale=3)], train.hardswish, F.hardswish)
    add("sigmoid", "", [T(4, 8, scale=3)], train.sigmoid, torch.sigmoid)
    add("gelu", "exact", [T(4, 8, scale=2)], train.gelu, F.gelu)
    add("gelu", "tanh", [T(4, 8, scale=2)], lambda x: train.gelu(x, tanh=True),
        lambda x: F.gelu(x, approximate="tanh"))
    add("softmax", "2d-axis0", [T(3, 5)], lambda x: train.softmax(x, 0),
        lambda x: torch.softmax(x, 0))
    add("softmax", "2d-axis1", [T(3, 5, scale=2)], lambda x: train.softmax(x, 1),
        lambda x: torch.softmax(x, 1))
    add("softmax", "3d-axis1", [T(2, 3, 4)], lambda x: train.softmax(x, 1),
        lambda x: torch.softmax(x, 1))
    add("softmax", "4d-axis3", [T(2, 2, 3, 4)], lambda x: train.softmax(x, 3),
        lambda x: torch.softmax(x, 3))

    # pooling
    for name, kernel, stride, padding, include in [
        ("k2", (2, 2), (2, 2), (0, 0), True),
        ("k3-s2-p1", (3, 3), (2, 2), (1, 1), True),
        ("k3-s2-p1-exclude-pad", (3, 3), (2, 2), (1, 1), False),
        ("k3-s1-p1-exclude-pad", (3, 3), (1, 1), (1, 1), False),
        ("k2x3-s1x2-p1x0", (2, 3), (1, 2), (1, 0), True),
    ]:
        add("avg_pool2d", name, [T(2, 3, 7, 7)],
            lambda x, k=kernel, s=stride, p=padding, c=include:
                train.avg_pool2d(x, k, s, p, count_include_pad=c),
            lambda x, k=kernel, s=stride, p=padding, c=include:
                F.avg_pool2d(x, k, s, p, count_include_pad=c))
    for name, kernel, stride, padding in [
        ("k2", (2, 2), (2, 2), (0, 0)),
        ("k3-s2-p1", (3, 3), (2, 2), (1, 1)),
        ("k3-s1-p1-overlapping", (3, 3), (1, 1), (1, 1)),
        ("k2x3-s2x1-p1x1", (2, 3), (2, 1), (1, 1)),
    ]:
        add("max_pool2d", name, [T(2, 3, 7, 7)],
            lambda x, k=kernel, s=stride, p=padding: train.max_pool2d(x, k, s, p),
            lambda x, k=kernel, s=stride, p=padding: F.max_pool2d(x, k, s, p))
    add("global_avg_pool", "", [T(2, 3, 4, 5)], train.global_avg_pool,
        lambda x: x.mean(dim=(2, 3), keepdim=True))

    # layout
    add("reshape", "", [T(2, 3, 4)], lambda x: train.reshape(x, [6, 4]),
        lambda x: x.reshape(6, 4))
    add("transpose", "2d", [T(3, 4)], lambda x: train.transpose(x, [1, 0]),
        lambda x: x.permute(1, 0))
    add("transpose", "3d", [T(2, 3, 4)], lambda x: train.transpose(x, [2, 0, 1]),
        lambda x: x.permute(2, 0, 1))
    add("transpose", "4d", [T(2, 3, 4, 5)], lambda x: train.transpose(x, [0, 2, 3, 1]),
        lambda x: x.permute(0, 2, 3, 1))
    add("concat", "axis0", [T(2, 3), T(1, 3)], lambda a, b: train.concat([a, b], 0),
        lambda a, b: torch.cat([a, b], 0))
    add("concat", "axis1-three", [T(2, 3, 2), T(2, 1, 2), T(2, 4, 2)],
        lambda *v: train.concat(list(v), 1), lambda *v: torch.cat(v, 1))
    add("concat", "axis3", [T(1, 2, 3, 2), T(1, 2, 3, 3)], lambda a, b: train.concat([a, b], 3),
        lambda a, b: torch.cat([a, b], 3))
    add("concat", "one", [T(2, 3)], lambda a: train.concat([a], 1), lambda a: torch.cat([a], 1))
    add("concat", "same-operand", [T(2, 3)], lambda a: train.concat([a, a], 0),
        lambda a: torch.cat([a, a], 0))
    for name, shape, offsets, sizes in [("4d", (2, 6, 5, 5), (0, 2, 1, 0), (2, 3, 4, 5)),
                                        ("2d-end", (4, 6), (1, 3), (3, 3))]:
        add("slice", name, [T(*shape)],
            lambda x, o=offsets, s=sizes: train.slice(x, o, s),
            lambda x, o=offsets, s=sizes: x[_slices(o, s)])
        add("pad_to", name, [T(*sizes)],
            lambda x, o=offsets, s=shape: train.pad_to(x, o, s),
            lambda x, o=offsets, s=shape: _torch_pad_to(x, o, s))

    # normalization
    stats = [T(3, scale=0.5), T(3, positive=True, offset=0.5)]
    add("batch_norm", "4d", [T(2, 3, 4, 4), T(3, offset=1), T(3)]
        + [Input(i.shape, "frozen", i.scale, i.offset, i.positive) for i in stats],
        lambda x, g, b, m, v: train.batch_norm(x, g, b, m, v, 1e-5), _torch_batch_norm)
    add("batch_norm", "4d-trainable-statistics", [T(2, 3, 4, 4), T(3, offset=1), T(3)] + stats,
        lambda x, g, b, m, v: train.batch_norm(x, g, b, m, v, 1e-5), _torch_batch_norm)
    add("batch_norm", "2d", [T(5, 3), T(3, offset=1), T(3)]
        + [Input(i.shape, "frozen", i.scale, i.offset, i.positive) for i in stats],
        lambda x, g, b, m, v: train.batch_norm(x, g, b, m, v, 1e-5), _torch_batch_norm)
    add("batch_norm", "frozen-affine", [T(2, 3, 3, 3), T(3, offset=1, role="frozen"),
                                        T(3, role="frozen")]
        + [Input(i.shape, "frozen", i.scale, i.offset, i.positive) for i in stats],
        lambda x, g, b, m, v: train.batch_norm(x, g, b, m, v, 1e-5), _torch_batch_norm)
    add("layer_norm", "last-dim", [T(2, 3, 8, scale=2, offset=1), T(8, offset=1), T(8)],
        lambda x, w, b: train.layer_norm(x, w, b, 1e-5),
        lambda x, w, b: F.layer_norm(x, w.shape, w, b, EPS))
    add("layer_norm", "two-dims", [T(2, 3, 4), T(3, 4, offset=1), T(3, 4)],
        lambda x, w, b: train.layer_norm(x, w, b, 1e-5),
        lambda x, w, b: F.layer_norm(x, w.shape, w, b, EPS))
    add("layer_norm", "2d-eps", [T(4, 6), T(6, offset=1), T(6)],
        lambda x, w, b: train.layer_norm(x, w, b, 0.1),
        lambda x, w, b: F.layer_norm(x, w.shape, w, b, EPS_LARGE))

    # losses used as ops (0-d results)
    add("mse", "", [T(3, 4), T(3, 4)], train.mse, F.mse_loss)
    add("cross_entropy", "", [T(3, 5, scale=2), T(3, role="labels", classes=5)],
        train.cross_entropy, lambda x, y: F.cross_entropy(x, y.long()))
    return cases


CASES = _cases()


def _case_id(case: Case) -> str:
    return f"{case.op}-{case.name}" if case.name else case.op


def _arrays(case: Case, dtype) -> list[np.ndarray]:
    rng = np.random.default_rng(1000 + case.seed)
    arrays = []
    for spec in case.inputs:
        if spec.role == "labels":
            arrays.append(rng.integers(0, spec.classes, spec.shape).astype(np.int32))
            continue
        values = rng.standard_normal(spec.shape) * spec.scale
        values = np.abs(values) + spec.offset if spec.positive else values + spec.offset
        arrays.append(np.asarray(values, dtype=dtype))
    return arrays


def _arg_attrs(roles_names) -> ir.ArrayAttr:
    attrs = []
    for role, name in roles_names:
        entries = {train.NAME: ir.StringAttr.get(name)}
        if role is not None:
            entries[train.ROLE] = train.role_attr(role)
        attrs.append(ir.DictAttr.get(entries))
    return ir.ArrayAttr.get(attrs)


def output_numel(case: Case) -> int:
    """Element count of the op's result (from its torch equivalent on zeros)."""
    zeros = [torch.zeros(spec.shape, dtype=torch.int64 if spec.role == "labels"
                         else torch.float64) for spec in case.inputs]
    return case.torch(*zeros).numel()


def build_step(case: Case, dtype: str, lr: float = LR) -> ir.Module:
    """@forward(inputs..., W) = reshape(op(inputs), [1, n]) · Wᵀ, then train-autodiff."""
    numel = output_numel(case)
    context = new_context()
    with context, ir.Location.unknown():
        element = ELEMENT[dtype]()
        types = [ir.RankedTensorType.get(list(spec.shape),
                                         ir.IntegerType.get_signless(32)
                                         if spec.role == "labels" else element)
                 for spec in case.inputs]
        types.append(ir.RankedTensorType.get([LOGITS, numel], element))
        logits_type = ir.RankedTensorType.get([1, LOGITS], element)
        module = ir.Module.create()
        with ir.InsertionPoint(module.body):
            forward = func.FuncOp("forward", (types, [logits_type]))
            block = forward.add_entry_block()
            with ir.InsertionPoint(block):
                *inputs, w = block.arguments
                y = case.build(*inputs)
                assert math.prod(train.shape_of(y)) == numel
                func.ReturnOp([train.linear(train.reshape(y, [1, numel]), w)])
            roles = [(None if spec.role == "labels" else spec.role, f"in{i}")
                     for i, spec in enumerate(case.inputs)]
            forward.attributes["arg_attrs"] = _arg_attrs(roles + [("frozen", "W")])
        assert module.operation.verify()
        run_pipeline(module, [f"train-autodiff{{lr={lr}}}"])
    return module


def run_step(module: ir.Module, arrays: list, w: np.ndarray, lr: float = LR) -> dict:
    """Runs train_step once; returns {input index: gradient read from the update}."""
    step = find_function(module, "train_step")
    label = np.zeros([1], np.int32)
    loss, *updates = run_function(module, "train_step", [*arrays, w, label])
    assert np.isfinite(loss)
    grads = {}
    for position, update in enumerate(updates, 1):
        index = train.updated_arg(step, position)
        before = arrays[index]
        assert update.shape == before.shape and update.dtype == before.dtype
        grads[index] = (before.astype(np.float64) - update.astype(np.float64)) / lr
    return grads


def torch_grads(case: Case, arrays: list, w: np.ndarray) -> dict:
    """float64 autograd of the same loss w.r.t. the trainable inputs."""
    tensors = [torch.tensor(a, dtype=torch.int64 if spec.role == "labels" else torch.float64,
                            requires_grad=spec.role == "trainable")
               for a, spec in zip(arrays, case.inputs)]
    y = case.torch(*tensors)
    logits = y.reshape(1, -1) @ torch.tensor(w, dtype=torch.float64).T
    loss = F.cross_entropy(logits, torch.zeros(1, dtype=torch.int64))
    wanted = [i for i, spec in enumerate(case.inputs) if spec.role == "trainable"]
    grads = torch.autograd.grad(loss, [tensors[i] for i in wanted])
    return {i: g.numpy() for i, g in zip(wanted, grads)}


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gradient_matches_torch(case, dtype):
    module = build_step(case, dtype)
    arrays = _arrays(case, DTYPES[dtype])
    rng = np.random.default_rng(case.seed)
    # Logits of order 1/2: the softmax is far from saturated, so dL/dlogits = p - onehot
    # keeps its float32 digits.
    y = case.torch(*[torch.tensor(a, dtype=torch.int64 if spec.role == "labels"
                                  else torch.float64) for a, spec in zip(arrays, case.inputs)])
    rms = max(float(y.square().mean().sqrt()), 1e-3)
    w = rng.standard_normal((LOGITS, y.numel())) / (2 * rms * np.sqrt(y.numel()))
    w = w.astype(DTYPES[dtype])

    grads = run_step(module, arrays, w)
    expected = torch_grads(case, arrays, w)
    assert sorted(grads) == sorted(expected)
    errors = {i: rel_error(grads[i], expected[i]) for i in expected}
    key = f"{case.op} ({dtype})"
    MAX_ERRORS[key] = max([MAX_ERRORS.get(key, 0.0), *errors.values()])
    print(f"{_case_id(case)} {dtype}: " + ", ".join(f"in{i} {e:.1e}" for i, e in errors.items()))
    for i, error in errors.items():
        assert np.abs(expected[i]).max() > 0, f"input #{i} has a zero gradient"
        assert error <= TOLERANCE[dtype], (i, error)


def test_every_float_forward_op_is_covered():
    """Each float forward op of the dialect has a rule and a case here."""
    forward_ops = {"linear", "conv2d", "add", "mul", "matmul", "broadcast", "sum_to",
                   "relu", "clamp", "hardswish", "sigmoid", "gelu", "softmax", "avg_pool2d",
                   "max_pool2d", "global_avg_pool", "reshape", "transpose", "concat",
                   "slice", "pad_to", "batch_norm", "layer_norm", "mse", "cross_entropy"}
    assert {f"train.{op}" for op in forward_ops} == set(FLOAT_GRADIENTS)
    assert {case.op for case in CASES} == forward_ops
    assert set(FLOAT_GRADIENTS) <= set(GRADIENTS)


@pytest.fixture(scope="module", autouse=True)
def _print_max_errors():
    yield
    if MAX_ERRORS:
        print("\nmax relative gradient error per op:")
        for key in sorted(MAX_ERRORS):
            print(f"  {key:28s} {MAX_ERRORS[key]:.2e}")


# --------------------------------------------------------------------------
# Pruning: nothing is built for an operand whose gradient is not wanted
# --------------------------------------------------------------------------

def _step_ops(module) -> list[str]:
    return [op.operation.name for op in find_function(module, "train_step").entry_block.operations]


@pytest.mark.parametrize("case_id, absent", [
    ("linear-frozen-input", "train.linear_grad_input"),     # the head's dx only
    ("linear-frozen-weight", "train.linear_grad_weight"),
    ("conv2d-groups2-frozen-weight", "train.conv2d_grad_weight"),
    ("conv2d-groups2-frozen-input", "train.conv2d_grad_input"),
    ("batch_norm-frozen-affine", "train.bias_grad"),
    ("layer_norm-2d-eps", "train.layer_norm_grad_input"),
])
def test_no_gradient_for_unwanted_operands(case_id, absent):
    case = next(c for c in CASES if _case_id(c) == case_id)
    if case_id == "layer_norm-2d-eps":      # x frozen: only dw and db
        case = Case(case.op, case.name, (T(4, 6, role="frozen"),) + case.inputs[1:],
                    case.build, case.torch)
    ops = _step_ops(build_step(case, "f32"))
    if case_id == "linear-frozen-input":
        assert ops.count(absent) == 1
    else:
        assert absent not in ops
    if case_id == "batch_norm-frozen-affine":
        # Only dx = batch_norm(dy, γ, 0, 0, v): one more batch_norm, one zero constant.
        assert ops.count("train.batch_norm") == 2 and ops.count("arith.constant") == 1


# --------------------------------------------------------------------------
# The gradient ops' numpy semantics
# --------------------------------------------------------------------------

def test_max_pool2d_grad_first_maximum_on_ties():
    """With ties the first maximum of each window (row-major) gets dy, as PyTorch."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 3, 7, 7)).astype(np.float64)     # many ties
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)),
                                    ((3, 2), (2, 1), (1, 0))]:
        tx = torch.tensor(x, requires_grad=True)
        ty = F.max_pool2d(tx, kernel, stride, padding)
        dy = rng.standard_normal(ty.shape)
        ty.backward(torch.tensor(dy))
        dx = ref.max_pool2d_grad(dy, x, kernel=kernel, stride=stride, padding=padding)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_clamp_grad_is_zero_at_the_bounds():
    x = np.array([-1.0, 0.0, 0.5, 6.0, 7.0])
    dy = np.ones_like(x)
    tx = torch.tensor(x, requires_grad=True)
    F.hardtanh(tx, 0.0, 6.0).backward(torch.tensor(dy))
    np.testing.assert_array_equal(ref.clamp_grad(dy, x, min=0.0, max=6.0), tx.grad.numpy())
    np.testing.assert_array_equal(ref.clamp_grad(dy, x, min=0.0, max=6.0), [0, 0, 1, 0, 0])


def test_hardswish_grad_at_the_breakpoints():
    x = np.array([-4.0, -3.0, -1.5, 0.0, 3.0, 4.0])
    tx = torch.tensor(x, requires_grad=True)
    F.hardswish(tx).backward(torch.ones(6, dtype=torch.float64))
    np.testing.assert_allclose(ref.hardswish_grad(np.ones(6), x), tx.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_sgd_momentum_matches_torch(weight_decay):
    rng = np.random.default_rng(5)
    p = rng.standard_normal((4, 3))
    tp = torch.tensor(p, requires_grad=True)
    optimizer = torch.optim.SGD([tp], lr=0.1, momentum=0.9, weight_decay=weight_decay)
    m = np.zeros_like(p)
    for _ in range(5):
        g = rng.standard_normal(p.shape)
        tp.grad = torch.tensor(g)
        optimizer.step()
        p, m = ref.sgd_momentum(p, g, m, lr=0.1, momentum=0.9, weight_decay=weight_decay)
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-13)
        np.testing.assert_allclose(m, optimizer.state[tp]["momentum_buffer"].numpy(), rtol=1e-13)


# float32 in -> float32 out and the OPS table are checked for every op, the gradient
# ops included, in test_reference_ops.py.


_dy = np.zeros((1, 2, 3, 3))
BAD_CALLS = {
    "sum_to-not-broadcastable": (lambda: ref.sum_to(np.zeros((2, 3)), shape=(2,)),
                                 "cannot sum"),
    "sum_to-rank": (lambda: ref.sum_to(np.zeros(3), shape=(1, 3)), "cannot sum"),
    "sum_to-int": (lambda: ref.sum_to(np.zeros(3, np.int8), shape=(1,)), "floating-point"),
    "slice-out-of-range": (lambda: ref.slice(np.zeros((4, 4)), offsets=(2, 0), sizes=(3, 4)),
                           "exceed"),
    "slice-rank": (lambda: ref.slice(np.zeros((4, 4)), offsets=(0,), sizes=(1, 1)),
                   "offsets must be 2"),
    "slice-negative": (lambda: ref.slice(np.zeros((4, 4)), offsets=(-1, 0), sizes=(1, 1)),
                       "non-negative"),
    "pad_to-does-not-fit": (lambda: ref.pad_to(np.zeros((2, 2)), offsets=(1, 0), shape=(2, 2)),
                            "does not fit"),
    "avg_pool2d_grad-dy": (lambda: ref.avg_pool2d_grad(_dy, input_shape=(1, 2, 9, 9),
                                                       kernel=(2, 2), stride=(2, 2)),
                           "does not match the pooling output"),
    "avg_pool2d_grad-padding": (lambda: ref.avg_pool2d_grad(
        _dy, input_shape=(1, 2, 6, 6), kernel=(2, 2), stride=(2, 2), padding=(2, 2)),
        "smaller than the kernel"),
    "max_pool2d_grad-dtype": (lambda: ref.max_pool2d_grad(
        _dy.astype(np.float32), np.zeros((1, 2, 6, 6)), kernel=(2, 2), stride=(2, 2)),
        "dtype mismatch"),
    "max_pool2d_grad-rank": (lambda: ref.max_pool2d_grad(_dy[0], np.zeros((2, 6, 6)),
                                                         kernel=(2, 2)), "rank 4"),
    "clamp_grad-bounds": (lambda: ref.clamp_grad(np.zeros(3), np.zeros(3), min=1.0, max=0.0),
                          "must not exceed"),
    "clamp_grad-shape": (lambda: ref.clamp_grad(np.zeros(3), np.zeros(4), min=0.0, max=1.0),
                         "shape mismatch"),
    "sigmoid_grad-shape": (lambda: ref.sigmoid_grad(np.zeros(3), np.zeros(4)), "shape mismatch"),
    "hardswish_grad-int": (lambda: ref.hardswish_grad(np.zeros(3), np.zeros(3, np.int8)),
                           "floating-point"),
    "gelu_grad-dtype": (lambda: ref.gelu_grad(np.zeros(3), np.zeros(3, np.float32)),
                        "dtype mismatch"),
    "softmax_grad-axis": (lambda: ref.softmax_grad(np.zeros((2, 3)), np.zeros((2, 3)), axis=2),
                          "axis"),
    "layer_norm_grad_input-weight": (lambda: ref.layer_norm_grad_input(
        np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(2), epsilon=1e-5), "not a suffix"),
    "layer_norm_grad_input-epsilon": (lambda: ref.layer_norm_grad_input(
        np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(3), epsilon=-1.0), "epsilon"),
    "mse_grad-shape": (lambda: ref.mse_grad(np.zeros(3), np.zeros(4)), "shape mismatch"),
    "mse_grad-empty": (lambda: ref.mse_grad(np.zeros(0), np.zeros(0)), "non-empty"),
    "sgd_momentum-shape": (lambda: ref.sgd_momentum(np.zeros(3), np.zeros(3), np.zeros(4),
                                                    lr=0.1, momentum=0.9), "shape mismatch"),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_gradient_op_argument_errors(name):
    call, message = BAD_CALLS[name]
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------
# The interpreter: sgd_momentum's two results; gradient ops parsed from text
# --------------------------------------------------------------------------

def _parse(text: str) -> ir.Module:
    return ir.Module.parse(text, context=new_context())


def test_interpreter_runs_sgd_momentum():
    module = _parse("""
      func.func @step(%p: tensor<4x3xf32>, %g: tensor<4x3xf32>, %m: tensor<4x3xf32>)
          -> (tensor<4x3xf32>, tensor<4x3xf32>) {
        %p2, %m2 = train.sgd_momentum %p, %g, %m lr 0.5 momentum 0.75 weight_decay 0.25
            : tensor<4x3xf32>
        return %p2, %m2 : tensor<4x3xf32>, tensor<4x3xf32>
      }""")
    rng = np.random.default_rng(1)
    p, g, m = (rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3))
    p2, m2 = run_function(module, "step", [p, g, m])
    expected_m = np.float32(0.75) * m + (g + np.float32(0.25) * p)
    np.testing.assert_array_equal(m2, expected_m)
    np.testing.assert_array_equal(p2, p - np.float32(0.5) * expected_m)


def test_interpreter_reads_gradient_op_attributes():
    """Each gradient op's attributes reach its reference function (printed syntax)."""
    module = _parse("""
      func.func @f(%x: tensor<1x2x6x6xf32>, %dy: tensor<1x2x3x3xf32>, %v: tensor<2x3xf32>)
          -> (tensor<1x2x6x6xf32>, tensor<1x2x6x6xf32>, tensor<2x1x1xf32>,
              tensor<1x2x2x3xf32>, tensor<1x2x6x6xf32>, tensor<2x3xf32>, tensor<2x3xf32>,
              tensor<2x3xf32>, tensor<2x3xf32>) {
        %a = train.avg_pool2d_grad %dy kernel [3, 3] stride [2, 2] padding [1, 1]
            : (tensor<1x2x3x3xf32>) -> tensor<1x2x6x6xf32>
        %b = train.max_pool2d_grad %dy, %x kernel [2, 2] stride [2, 2]
            : (tensor<1x2x3x3xf32>, tensor<1x2x6x6xf32>) -> tensor<1x2x6x6xf32>
        %c = train.sum_to %dy : tensor<1x2x3x3xf32> -> tensor<2x1x1xf32>
        %d = train.slice %dy offsets [0, 0, 1, 0] sizes [1, 2, 2, 3]
            : tensor<1x2x3x3xf32> -> tensor<1x2x2x3xf32>
        %e = train.pad_to %dy offsets [0, 0, 2, 1] : tensor<1x2x3x3xf32> -> tensor<1x2x6x6xf32>
        %f = train.clamp_grad %v, %v min -5.000000e-01 max 5.000000e-01 : tensor<2x3xf32>
        %g = train.gelu_grad %v, %v tanh : tensor<2x3xf32>
        %h = train.softmax_grad %v, %v axis 0 : tensor<2x3xf32>
        %i = train.layer_norm_grad_input %v, %v, %v epsilon 1.000000e-01
            : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
        return %a, %b, %c, %d, %e, %f, %g, %h, %i : tensor<1x2x6x6xf32>, tensor<1x2x6x6xf32>,
            tensor<2x1x1xf32>, tensor<1x2x2x3xf32>, tensor<1x2x6x6xf32>, tensor<2x3xf32>,
            tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
      }""")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    dy = rng.standard_normal((1, 2, 3, 3)).astype(np.float32)
    v = rng.standard_normal((2, 3)).astype(np.float32)
    results = run_function(module, "f", [x, dy, v])
    expected = [
        ref.avg_pool2d_grad(dy, input_shape=x.shape, kernel=(3, 3), stride=(2, 2),
                            padding=(1, 1), count_include_pad=False),
        ref.max_pool2d_grad(dy, x, kernel=(2, 2), stride=(2, 2)),
        ref.sum_to(dy, shape=(2, 1, 1)),
        ref.slice(dy, offsets=(0, 0, 1, 0), sizes=(1, 2, 2, 3)),
        ref.pad_to(dy, offsets=(0, 0, 2, 1), shape=x.shape),
        ref.clamp_grad(v, v, min=-0.5, max=0.5),
        ref.gelu_grad(v, v, tanh=True),
        ref.softmax_grad(v, v, axis=0),
        ref.layer_norm_grad_input(v, v, v, epsilon=0.1),
    ]
    for result, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(result, want)
    # count_include_pad off: the border windows divide by fewer elements.
    assert not np.allclose(results[0], ref.avg_pool2d_grad(
        dy, input_shape=x.shape, kernel=(3, 3), stride=(2, 2), padding=(1, 1)))


# --------------------------------------------------------------------------
# The mse loss of LOSSES
# --------------------------------------------------------------------------

def test_mse_loss_and_seed_match_torch():
    context = new_context()
    with context, ir.Location.unknown():
        module = ir.Module.create()
        t = ir.RankedTensorType.get([3, 4], ir.F64Type.get())
        with ir.InsertionPoint(module.body):
            function = func.FuncOp("f", ([t, t], []))
            block = function.add_entry_block()
            with ir.InsertionPoint(block):
                loss, seed = LOSSES["mse"](*block.arguments)
                func.ReturnOp([loss, seed])
            function.attributes["function_type"] = ir.TypeAttr.get(
                ir.FunctionType.get([t, t], [loss.type, seed.type]))
        assert module.operation.verify()
    rng = np.random.default_rng(3)
    pred, target = rng.standard_normal((2, 3, 4))
    loss, seed = run_function(module, "f", [pred, target])
    tp = torch.tensor(pred, requires_grad=True)
    tl = F.mse_loss(tp, torch.tensor(target))
    tl.backward()
    assert rel_error(loss, tl.item()) <= 1e-12
    assert rel_error(seed, tp.grad.numpy()) <= 1e-12

"""The CPU target (compiler/targets/cpu.py, with --convert-train-to-linalg) against the
reference interpreter.

Per op: every float train op, on random shapes and geometries (strided, padded,
dilated, grouped and depthwise convolutions and their gradients, pools with and
without count_include_pad, ties in max pooling), is one function of a single module
that is JIT-compiled once; each function's results equal the interpreter's within a
max relative error max|a - b| / max|b| of 1e-5.

Whole models: every zoo model (examples/zoo) is imported with the PyTorch importer;
@forward and @train_step (derived with compiler/analysis.derive_step: the full update
with SGD, and a sparse scheme — biases, the classifier and part of the channels of
two convs — with momentum, pruned) run through the JIT and equal the interpreter
within 1e-5 relative, for the logits, the loss and every updated parameter.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tcc._mlir import ir
from tcc._mlir.dialects import func
from tcc.compiler.errors import UnsupportedError
from tcc.compiler.source import new_context
from tcc.compiler.targets import cpu
from tcc.dialects import train
from tcc.runtime.interpreter import run_function

TOLERANCE = 1e-5
ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"


def rel_error(actual, expected) -> float:
    """max|a - b| / max|b|."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    scale = max(np.abs(expected).max(initial=0.0), np.finfo(np.float64).tiny)
    return float(np.abs(actual - expected).max(initial=0.0) / scale)


# --------------------------------------------------------------------------
# Per-op cases
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class In:
    shape: tuple
    positive: bool = False        # |N(0, 1)| + 0.5 (variances)
    classes: int = 0              # int32 labels in [0, classes)
    integers: int = 0             # small integers in [-k, k] (ties in max pooling)


@dataclass(frozen=True)
class Case:
    name: str
    inputs: tuple
    build: Callable               # (*ir.Values) -> ir.Value or tuple of them
    seed: int = field(default=0)


def T(*shape, **kwargs) -> In:
    return In(tuple(shape), **kwargs)


def _geometry(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    return train.ConvGeometry(stride=tuple(stride), padding=tuple(padding),
                              dilation=tuple(dilation), groups=groups)


def _tensor_type(shape, like) -> ir.Type:
    return ir.RankedTensorType.get(list(shape), ir.RankedTensorType(like.type).element_type)


# (name, x shape, w shape, geometry)
CONVS = [
    ("basic", (2, 3, 9, 9), (4, 3, 3, 3), _geometry()),
    ("strided_padded", (1, 4, 10, 11), (6, 4, 3, 3), _geometry((2, 2), (1, 1))),
    ("dilated", (2, 2, 12, 12), (3, 2, 3, 3), _geometry(padding=(2, 1), dilation=(2, 2))),
    ("grouped", (1, 6, 8, 8), (9, 2, 3, 3), _geometry((2, 1), (1, 0), groups=3)),
    ("depthwise", (2, 8, 9, 9), (8, 1, 3, 3), _geometry((2, 2), (1, 1), groups=8)),
    ("depthwise_multiplier", (1, 4, 7, 7), (8, 1, 5, 5), _geometry(padding=(2, 2), groups=4)),
    ("pointwise_stride2", (2, 8, 7, 7), (16, 8, 1, 1), _geometry((2, 2))),
    ("nonsquare", (1, 3, 7, 10), (2, 3, 2, 4), _geometry((2, 3), (0, 1), (1, 2))),
    ("padding_beyond_kernel", (1, 2, 5, 5), (3, 2, 1, 1), _geometry(padding=(1, 1))),
    ("grouped_dilated_strided", (2, 4, 11, 9), (6, 2, 3, 2), _geometry((3, 2), (2, 1), (2, 3), 2)),
]


def _conv_cases():
    cases = []
    for name, xs, ws, g in CONVS:
        n = xs[0]
        oh = g.output_size(xs[2], ws[2], 0)
        ow = g.output_size(xs[3], ws[3], 1)
        dys = (n, ws[0], oh, ow)
        cases += [
            Case(f"conv2d_{name}", (T(*xs), T(*ws), T(ws[0])),
                 lambda x, w, b, g=g: train.conv2d(x, w, b, geometry=g)),
            Case(f"conv2d_grad_input_{name}", (T(*dys), T(*ws)),
                 lambda dy, w, g=g, xs=xs: train.conv2d_grad_input(
                     dy, w, _tensor_type(xs, dy), geometry=g)),
            Case(f"conv2d_grad_weight_{name}", (T(*dys), T(*xs)),
                 lambda dy, x, g=g, ws=ws: train.conv2d_grad_weight(
                     dy, x, _tensor_type(ws, dy), geometry=g)),
        ]
    cases.append(Case("conv2d_no_bias", (T(1, 2, 6, 6), T(3, 2, 3, 3)),
                      lambda x, w: train.conv2d(x, w, geometry=_geometry(padding=(1, 1)))))
    return cases


# (name, x shape, kernel, stride, padding)
POOLS = [
    ("k2s2", (2, 3, 8, 8), (2, 2), (2, 2), (0, 0)),
    ("k3s2p1", (1, 4, 9, 9), (3, 3), (2, 2), (1, 1)),
    ("k3s1p1", (1, 2, 6, 7), (3, 3), (1, 1), (1, 1)),
    ("nonsquare", (2, 2, 7, 10), (2, 3), (1, 2), (1, 1)),
    ("k3s3_uncovered", (1, 2, 8, 8), (3, 3), (3, 3), (0, 0)),
]


def _pool_cases():
    cases = []
    for name, xs, k, s, p in POOLS:
        geometry = train.PoolGeometry.make(k, s, p)
        ys = tuple(geometry.output_shape(xs))
        for include in (True, False):
            suffix = "" if include else "_exclude_pad"
            cases += [
                Case(f"avg_pool2d_{name}{suffix}", (T(*xs),),
                     lambda x, k=k, s=s, p=p, i=include: train.avg_pool2d(x, k, s, p, i)),
                Case(f"avg_pool2d_grad_{name}{suffix}", (T(*ys),),
                     lambda dy, k=k, s=s, p=p, i=include, xs=xs: train.avg_pool2d_grad(
                         dy, _tensor_type(xs, dy), k, s, p, i)),
            ]
        cases += [
            Case(f"max_pool2d_{name}", (T(*xs),),
                 lambda x, k=k, s=s, p=p: train.max_pool2d(x, k, s, p)),
            Case(f"max_pool2d_grad_{name}", (T(*ys), T(*xs)),
                 lambda dy, x, k=k, s=s, p=p: train.max_pool2d_grad(dy, x, k, s, p)),
            Case(f"max_pool2d_grad_ties_{name}", (T(*ys), T(*xs, integers=1)),
                 lambda dy, x, k=k, s=s, p=p: train.max_pool2d_grad(dy, x, k, s, p)),
        ]
    return cases


def _unary(name, build, *shapes):
    return [Case(f"{name}_{i}", (T(*s),), build) for i, s in enumerate(shapes)]


def _binary(name, build, *shapes):
    return [Case(f"{name}_{i}", (T(*s), T(*s)), build) for i, s in enumerate(shapes)]


CASES: list[Case] = [
    Case("linear", (T(4, 16), T(8, 16), T(8)), lambda x, w, b: train.linear(x, w, b)),
    Case("linear_no_bias", (T(3, 5), T(7, 5)), lambda x, w: train.linear(x, w)),
    Case("linear_grad_input", (T(4, 8), T(8, 16)), train.linear_grad_input),
    Case("linear_grad_weight", (T(4, 8), T(4, 16)), train.linear_grad_weight),
    Case("matmul_2d", (T(5, 7), T(7, 3)), train.matmul),
    Case("matmul_3d", (T(2, 4, 8), T(2, 8, 5)), train.matmul),
    Case("matmul_4d", (T(2, 3, 4, 6), T(2, 3, 6, 5)), train.matmul),
    *_conv_cases(),
    *_pool_cases(),
    *_binary("add", train.add, (4, 8), (2, 3, 5, 5)),
    *_binary("mul", train.mul, (4, 8), (7,)),
    *_unary("relu", train.relu, (4, 8), (2, 3, 4, 5)),
    *_unary("clamp", lambda x: train.clamp(x, -0.5, 0.75), (3, 9)),
    *_unary("relu6", lambda x: train.clamp(x, 0.0, 6.0), (2, 4, 3, 3)),
    *_unary("hardswish", lambda x: train.hardswish(x), (64,)),
    *_unary("sigmoid", lambda x: train.sigmoid(x), (8, 9)),
    *_unary("gelu", lambda x: train.gelu(x), (8, 9)),
    *_unary("gelu_tanh", lambda x: train.gelu(x, tanh=True), (8, 9)),
    *_binary("relu_grad", train.relu_grad, (4, 8)),
    *_binary("clamp_grad", lambda dy, x: train.clamp_grad(dy, x, -0.5, 0.75), (3, 9)),
    *_binary("sigmoid_grad", train.sigmoid_grad, (8, 9)),
    *_binary("hardswish_grad", train.hardswish_grad, (64,)),
    *_binary("gelu_grad", lambda dy, x: train.gelu_grad(dy, x), (8, 9)),
    *_binary("gelu_grad_tanh", lambda dy, x: train.gelu_grad(dy, x, tanh=True), (8, 9)),
    Case("hardswish_range", (T(4, 16),), lambda x: train.hardswish(train.add(x, x))),
    Case("reshape_flatten", (T(4, 8, 2, 2),), lambda x: train.reshape(x, [4, 32])),
    Case("reshape_regroup", (T(6, 4),), lambda x: train.reshape(x, [4, 6])),
    Case("reshape_unflatten", (T(2, 12),), lambda x: train.reshape(x, [2, 3, 1, 4])),
    Case("transpose_3d", (T(2, 3, 4),), lambda x: train.transpose(x, [0, 2, 1])),
    Case("transpose_4d", (T(2, 3, 4, 5),), lambda x: train.transpose(x, [0, 2, 3, 1])),
    Case("broadcast_channel", (T(1, 8, 1, 1),), lambda x: train.broadcast(x, [4, 8, 5, 5])),
    Case("broadcast_rank", (T(8,),), lambda x: train.broadcast(x, [3, 8])),
    Case("sum_to_channel", (T(4, 8, 5, 5),), lambda x: train.sum_to(x, [1, 8, 1, 1])),
    Case("sum_to_rank", (T(3, 8),), lambda x: train.sum_to(x, [8])),
    Case("sum_to_all", (T(3, 4),), lambda x: train.sum_to(x, [1, 1])),
    Case("concat_axis1", (T(2, 3, 4), T(2, 5, 4), T(2, 1, 4)),
         lambda a, b, c: train.concat([a, b, c], 1)),
    Case("concat_axis0", (T(2, 3), T(4, 3)), lambda a, b: train.concat([a, b], 0)),
    Case("slice", (T(2, 8, 5, 5),), lambda x: train.slice(x, [0, 2, 1, 0], [2, 4, 3, 5])),
    Case("pad_to", (T(2, 4, 3, 5),), lambda x: train.pad_to(x, [0, 2, 1, 0], [2, 8, 5, 5])),
    Case("global_avg_pool", (T(2, 6, 5, 7),), train.global_avg_pool),
    Case("batch_norm", (T(2, 4, 3, 3), T(4), T(4), T(4), T(4, positive=True)),
         lambda x, g, b, m, v: train.batch_norm(x, g, b, m, v, 1e-5)),
    Case("batch_norm_2d", (T(5, 4), T(4), T(4), T(4), T(4, positive=True)),
         lambda x, g, b, m, v: train.batch_norm(x, g, b, m, v, 0.1)),
    Case("softmax_rows", (T(4, 10),), lambda x: train.softmax(x, 1)),
    Case("softmax_middle", (T(2, 5, 3),), lambda x: train.softmax(x, 1)),
    Case("softmax_grad", (T(2, 5, 3), T(2, 5, 3)), lambda dy, y: train.softmax_grad(
        dy, train.softmax(y, 2), 2)),
    Case("layer_norm", (T(2, 4, 8), T(8), T(8)),
         lambda x, w, b: train.layer_norm(x, w, b, 1e-5)),
    Case("layer_norm_2d", (T(3, 4, 5), T(4, 5), T(4, 5)),
         lambda x, w, b: train.layer_norm(x, w, b, 1e-5)),
    Case("layer_norm_grad_input", (T(2, 4, 8), T(2, 4, 8), T(8)),
         lambda dy, x, w: train.layer_norm_grad_input(dy, x, w, 1e-5)),
    Case("layer_norm_grad_input_2d", (T(3, 4, 5), T(3, 4, 5), T(4, 5)),
         lambda dy, x, w: train.layer_norm_grad_input(dy, x, w, 1e-3)),
    Case("mse", (T(4, 3), T(4, 3)), train.mse),
    Case("mse_grad", (T(2, 3, 4), T(2, 3, 4)), train.mse_grad),
    Case("cross_entropy", (T(5, 10), T(5, classes=10)), train.cross_entropy),
    Case("cross_entropy_grad", (T(5, 10), T(5, classes=10)), train.cross_entropy_grad),
    Case("bias_grad_2d", (T(4, 8),), train.bias_grad),
    Case("bias_grad_4d", (T(2, 8, 3, 3),), train.bias_grad),
    Case("sgd", (T(4, 8), T(4, 8)), lambda p, g: train.sgd(p, g, lr=0.1)),
    Case("sgd_weight_decay", (T(8,), T(8,)),
         lambda p, g: train.sgd(p, g, lr=0.05, weight_decay=0.01)),
    Case("sgd_momentum", (T(4, 8), T(4, 8), T(4, 8)),
         lambda p, g, m: train.sgd_momentum(p, g, m, lr=0.1, momentum=0.9)),
    Case("sgd_momentum_weight_decay", (T(3, 3, 2, 2), T(3, 3, 2, 2), T(3, 3, 2, 2)),
         lambda p, g, m: train.sgd_momentum(p, g, m, lr=0.1, momentum=0.9,
                                            weight_decay=1e-3)),
]


def _input_type(spec: In) -> ir.Type:
    if spec.classes:
        return ir.RankedTensorType.get(list(spec.shape), ir.IntegerType.get_signless(32))
    return ir.RankedTensorType.get(list(spec.shape), ir.F32Type.get())


def build_module(cases) -> ir.Module:
    """One function per case: @<name>(inputs) -> op results."""
    context = new_context()
    with context, ir.Location.unknown():
        module = ir.Module.create()
        with ir.InsertionPoint(module.body):
            for case in cases:
                types = [_input_type(spec) for spec in case.inputs]

                def body(*args, case=case):
                    results = case.build(*args)
                    return tuple(results) if isinstance(results, tuple) else results
                func.FuncOp.from_py_func(*types, name=case.name)(body)
    module.operation.verify()
    return module


def make_inputs(case: Case) -> list[np.ndarray]:
    rng = np.random.default_rng(hash(case.name) % 2**32)
    arrays = []
    for spec in case.inputs:
        if spec.classes:
            arrays.append(rng.integers(0, spec.classes, spec.shape).astype(np.int32))
        elif spec.integers:
            arrays.append(rng.integers(-spec.integers, spec.integers + 1, spec.shape)
                          .astype(np.float32))
        elif spec.positive:
            arrays.append((np.abs(rng.standard_normal(spec.shape)) + 0.5).astype(np.float32))
        else:
            arrays.append(rng.standard_normal(spec.shape).astype(np.float32))
    return arrays


@pytest.fixture(scope="module")
def compiled_ops():
    module = build_module(CASES)
    return module, cpu.jit(module)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op(case, compiled_ops):
    module, compiled = compiled_ops
    inputs = make_inputs(case)
    expected = run_function(module, case.name, inputs)
    actual = compiled.call(case.name, inputs)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype and a.shape == e.shape
        assert rel_error(a, e) <= TOLERANCE, (case.name, rel_error(a, e))


# --------------------------------------------------------------------------
# Zoo models
# --------------------------------------------------------------------------

def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODELS: dict[str, str] = _load(ZOO / "__init__.py", "zoo_index").MODELS    # file -> class
_IMPORTED: dict = {}
SCHEMES = {
    "full": {"default": "full", "optimizer": {"name": "sgd", "lr": 0.05}},
    "sparse": {"default": "bias",
               "layers": {"conv:-1": "full", "conv:-2": {"channels": 0.5},
                          "conv:-3": {"channels": 2}},
               "optimizer": {"name": "momentum", "lr": 0.05, "momentum": 0.9}},
}


def zoo_model(file: str):
    """(imported module text, weights, input shape) of a zoo model, imported once."""
    if file not in _IMPORTED:
        import torch
        from tcc.compiler.frontends.pytorch import import_module
        module = _load(ZOO / file, f"zoo_cpu_{Path(file).stem}")
        torch.manual_seed(0)
        net = getattr(module, MODELS[file])().eval()
        imported = import_module(net, (torch.randn(module.INPUT_SHAPE),))
        _IMPORTED[file] = (str(imported.module), imported.weights, tuple(module.INPUT_SHAPE))
    return _IMPORTED[file]


def step_module(file: str, scheme: str) -> ir.Module:
    from tcc.compiler.analysis import StepOptions, derive_step
    text, _, _ = zoo_model(file)
    module = ir.Module.parse(text, context=new_context())
    derive_step(module, StepOptions(scheme=SCHEMES[scheme]))
    return module


def step_inputs(module: ir.Module, weights: dict, input_shape, seed: int = 0) -> list:
    """Arguments of @train_step: parameters from the weights, random momentum buffers,
    a random batch and labels."""
    from tcc.compiler.source import find_function
    step = find_function(module, "train_step")
    rng = np.random.default_rng(seed)
    arrays = []
    types = ir.FunctionType(step.function_type.value).inputs
    for index, type_ in enumerate(types):
        name = train.arg_name(step, index)
        shape = tuple(ir.RankedTensorType(type_).shape)
        element = str(ir.RankedTensorType(type_).element_type)
        if name in weights:
            arrays.append(weights[name])
        elif element.startswith("i"):
            logits = ir.RankedTensorType(
                ir.FunctionType(find_function(module, "forward").function_type.value)
                .results[0]).shape[-1]
            arrays.append(rng.integers(0, logits, shape).astype(np.int32))
        else:
            scale = 0.01 if train.momentum_of(step, index) is not None else 1.0
            arrays.append((scale * rng.standard_normal(shape)).astype(np.float32))
    return arrays


@pytest.mark.parametrize("scheme", list(SCHEMES))
@pytest.mark.parametrize("file", list(MODELS))
def test_zoo_model(file, scheme):
    _, weights, input_shape = zoo_model(file)
    module = step_module(file, scheme)
    compiled = cpu.jit(module)
    inputs = step_inputs(module, weights, input_shape)
    (data,) = [a for a in inputs if a.shape == input_shape]
    for name, args in (("train_step", inputs), ("forward", None)):
        if args is None:
            from tcc.compiler.source import find_function
            forward = find_function(module, "forward")
            args = [weights.get(train.arg_name(forward, i), data)
                    for i in range(len(forward.entry_block.arguments))]
        expected = run_function(module, name, args)
        actual = compiled.call(name, args)
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert rel_error(a, e) <= TOLERANCE, (name, index, rel_error(a, e))

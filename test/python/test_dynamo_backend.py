"""The torch.compile backend (compiler/frontends/dynamo.py).

Every float zoo model, compiled with `torch.compile(model, backend=tcc_backend)` and run
on CPU, gives eager PyTorch's outputs and the gradients `backward()` leaves in `.grad`
(input and parameters, max relative error 1e-4), with every graph compiled by tcc (no
eager fallback). With half the parameters frozen the compiled backward has no gradient
op for them; an unsupported op runs eagerly with one warning naming it and its line.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from tcc.compiler.frontends.dynamo import CompiledGraph, TccFallbackWarning, tcc_backend
from tcc.compiler.source import find_function
from tcc.dialects import train
from test_vjp import grad_errors, zoo_model

MODELS = ("mlp.py", "lenet.py", "mobilenetv2.py", "dscnn.py", "resnet8.py", "transformer.py")
TOL = 1e-4


@pytest.fixture(autouse=True)
def _fresh_dynamo(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TCC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "tcc-cache"))
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def recording_backend(graphs: list):
    """tcc_backend, remembering what it returned for each graph."""
    def backend(gm, example_inputs):
        compiled = tcc_backend(gm, example_inputs)
        graphs.append(compiled)
        return compiled
    return backend


def run_both(net: nn.Module, x: torch.Tensor, backend):
    """(compiled model, eager copy, compiled output, eager output) after backward() of
    sum(y · w) for the same random w, the input requiring a gradient in both."""
    eager = copy.deepcopy(net)
    compiled = torch.compile(net, backend=backend)
    xc, xe = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    yc = compiled(xc)
    ye = eager(xe)
    w = torch.randn(ye.shape, generator=torch.Generator().manual_seed(1))
    (yc * w).sum().backward()
    (ye * w).sum().backward()
    return net, eager, (yc, xc), (ye, xe)


@pytest.mark.parametrize("file", MODELS)
def test_outputs_and_gradients_match_eager(file):
    net, x = zoo_model(file)
    graphs: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", TccFallbackWarning)
        net, eager, (yc, xc), (ye, xe) = run_both(net, x, recording_backend(graphs))
    assert graphs and all(isinstance(g, CompiledGraph) and g.vjp is not None for g in graphs)
    assert yc.requires_grad
    assert np.abs(yc.detach().numpy() - ye.detach().numpy()).max() \
        <= TOL * np.abs(ye.detach().numpy()).max()
    actual = {"x": xc.grad.numpy()}
    expected = {"x": xe.grad.numpy()}
    for (name, p), q in zip(net.named_parameters(), eager.parameters()):
        actual[name], expected[name] = p.grad.numpy(), q.grad.numpy()
    errors = grad_errors(actual, expected)
    assert max(errors.values()) <= TOL, errors


def test_frozen_parameters_get_no_gradient_work():
    """The first half of ResNet-8's parameters frozen: no .grad for them, eager's
    gradients for the rest, and in the compiled backward one *_grad_weight op per
    trainable conv/linear weight and no result for a frozen parameter."""
    net, x = zoo_model("resnet8.py")
    params = list(net.parameters())
    frozen = len(params) // 2
    for p in params[:frozen]:
        p.requires_grad_(False)
    graphs: list = []
    net, eager, (yc, _), (ye, _) = run_both(net, x, recording_backend(graphs))
    for (name, p), q in zip(net.named_parameters(), eager.parameters()):
        if not q.requires_grad:
            assert p.grad is None, name
        else:
            assert grad_errors({name: p.grad.numpy()}, {name: q.grad.numpy()})[name] <= TOL

    (graph,) = graphs
    module, vjp = graph.module, graph.vjp
    forward = find_function(module, "forward")
    names = [train.arg_name(forward, i) for i in range(len(forward.entry_block.arguments))]
    differentiated = {names[i] for i in vjp.grads}
    assert differentiated == {"x"} | {n for n, p in net.named_parameters() if p.requires_grad}
    ops = [op.name for op in find_function(module, vjp.vjp).entry_block.operations]
    trainable_weights = [p for p in params[frozen:] if p.dim() > 1]
    assert ops.count("train.conv2d_grad_weight") + ops.count("train.linear_grad_weight") \
        == len(trainable_weights)


def test_inference_compiles_forward_only():
    net, x = zoo_model("lenet.py")
    graphs: list = []
    compiled = torch.compile(net, backend=recording_backend(graphs))
    with torch.no_grad():
        y = compiled(x)
    assert graphs[0].vjp is None and not y.requires_grad
    np.testing.assert_allclose(y.numpy(), net(x).detach().numpy(), rtol=0, atol=1e-5)


class _Cumulative(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return torch.cumsum(self.fc(x), dim=1)


def test_unsupported_op_falls_back_with_one_warning():
    net = _Cumulative()
    x = torch.randn(3, 6)
    graphs: list = []
    compiled = torch.compile(net, backend=recording_backend(graphs))
    with pytest.warns(TccFallbackWarning) as record:
        y = compiled(x)
        compiled(x)
    messages = [str(w.message) for w in record if w.category is TccFallbackWarning]
    assert len(messages) == 1, messages
    assert "unsupported op aten.cumsum" in messages[0]
    line = _Cumulative.forward.__code__.co_firstlineno + 1
    assert f"test_dynamo_backend.py:{line}" in messages[0]
    assert not isinstance(graphs[0], CompiledGraph)           # gm.forward: eager
    y.sum().backward()
    assert net.fc.weight.grad is not None
    torch.testing.assert_close(y, torch.cumsum(net.fc(x), dim=1))


def test_registered_backend_name():
    """`torch.compile(model, backend="tcc")` through the torch_dynamo_backends entry
    point (pyproject.toml)."""
    if "tcc" not in torch._dynamo.list_backends():
        pytest.skip("the torch_dynamo_backends entry point 'tcc' is not installed yet "
                    "(pyproject.toml; reinstall the package)")
    net, x = zoo_model("mlp.py")
    y = torch.compile(net, backend="tcc")(x)
    torch.testing.assert_close(y, net(x), rtol=1e-4, atol=1e-5)


def test_training_loop_matches_eager():
    """Three SGD steps through the compiled module equal eager's."""
    net, x = zoo_model("mlp.py")
    eager = copy.deepcopy(net)
    compiled = torch.compile(net, backend=tcc_backend)
    labels = torch.tensor([1, 3, 5, 7][:x.shape[0]])
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (net, eager)]
    for _ in range(3):
        for model, optimizer in zip((compiled, eager), optimizers):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), labels).backward()
            optimizer.step()
    for p, q in zip(net.parameters(), eager.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_tensors_use_the_gpu_target():
    pytest.importorskip("tcc.compiler.targets.gpu")
    net, x = zoo_model("mlp.py")
    net, eager, (yc, xc), (ye, xe) = run_both(net.cuda(), x.cuda(), tcc_backend)
    torch.testing.assert_close(yc, ye, rtol=1e-4, atol=1e-5)
    for p, q in zip(net.parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5)

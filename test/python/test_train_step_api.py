"""`tcc.compile_train_step` (compiler/train_step.py): one compiled program for forward,
loss, backward and the SGD update, training the torch module's own parameters.

After STEPS steps the module (whose parameters share memory with the compiled arrays)
must equal a torch.optim.SGD run of the same model on the same batches: its output
within 1e-4 (relative to its largest value), every parameter within 1e-4, and each
step's loss; frozen parameters (requires_grad=False) keep their values exactly.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tcc.compiler.errors import InputError, UnsupportedError
from tcc.compiler.train_step import compile_train_step
from test_vjp import zoo_model

STEPS = 4
TOL = 1e-4


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TCC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "tcc-cache"))


def _batches(shape, targets):
    """STEPS (input, target) pairs: class labels (targets=None) or float targets."""
    generator = torch.Generator().manual_seed(2)
    batches = []
    for _ in range(STEPS):
        x = torch.randn(shape, generator=generator)
        y = (torch.randint(0, 10, (shape[0],), generator=generator) if targets is None
             else torch.randn(targets, generator=generator))
        batches.append((x, y))
    return batches


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def _check_against_sgd(net, shape, loss_fn, config, targets=None):
    """Trains `net` with compile_train_step and a copy with torch.optim.SGD on inputs
    of `shape`."""
    x0 = torch.randn(shape, generator=torch.Generator().manual_seed(5))
    reference = copy.deepcopy(net)
    initial = {n: p.detach().clone() for n, p in net.named_parameters()}
    step = compile_train_step(net, loss_fn, config, example_inputs=(x0,))
    options = {k: v for k, v in config.items() if k != "type"}
    optimizer = torch.optim.SGD([p for p in reference.parameters() if p.requires_grad],
                                **options)
    for x, y in _batches(tuple(x0.shape), targets):
        loss = step(x, y)
        optimizer.zero_grad()
        expected = loss_fn(reference(x), y)
        expected.backward()
        optimizer.step()
        assert abs(loss.item() - expected.item()) <= 1e-5 * abs(expected.item())
    with torch.no_grad():
        assert _rel(net(x0), reference(x0)) <= TOL
    for (name, p), q in zip(net.named_parameters(), reference.parameters()):
        if p.requires_grad:
            assert not torch.equal(p, initial[name]), name
            assert _rel(p, q) <= TOL, name
        else:
            assert torch.equal(p, initial[name]), name
    return step


def _zoo(file):
    """(model, input shape) of examples/zoo/<file>."""
    net, x = zoo_model(file)
    return net, tuple(x.shape)


def test_mlp_cross_entropy_momentum():
    _check_against_sgd(*_zoo("mlp.py"), nn.CrossEntropyLoss(),
                       {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0})


def test_batch_norm_model_mse_frozen_half_weight_decay():
    """DS-CNN (batch norms stay ops: their weights and biases train as the module's
    own), half its parameters frozen, MSE loss on float targets, weight decay."""
    net, shape = _zoo("dscnn.py")
    params = list(net.parameters())
    for p in params[:len(params) // 2]:
        p.requires_grad_(False)
    step = _check_against_sgd(net, shape, nn.MSELoss(), {"type": "sgd", "lr": 0.05,
                                                  "weight_decay": 1e-3}, targets=(2, 12))
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    roles = step.compiled.signature.step.args
    assert {a.name for a in roles if a.role == "frozen"} >= set(frozen)


def test_functional_loss_and_relinking():
    """F.cross_entropy as the loss; a parameter rebound with `p.data = ...` between
    steps is copied into the program, so module and program never diverge."""
    net, shape = _zoo("mlp.py")
    x, y = _batches(shape, None)[0]
    step = compile_train_step(net, F.cross_entropy, {"type": "sgd", "lr": 0.1},
                              example_inputs=x)
    step(x, y)
    net.fc3.bias.data = torch.zeros(10)
    reference = copy.deepcopy(net)
    step(x, y)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    F.cross_entropy(reference(x), y).backward()
    optimizer.step()
    for p, q in zip(net.parameters(), reference.parameters()):
        assert _rel(p, q) <= TOL
    np.testing.assert_array_equal(step.compiled.parameters["fc3.bias"],
                                  net.fc3.bias.detach().numpy())


@pytest.mark.parametrize("loss_fn, config, error, message", [
    (nn.L1Loss(), {"type": "sgd", "lr": 0.1}, UnsupportedError, "loss L1Loss"),
    (nn.CrossEntropyLoss(label_smoothing=0.1), {"type": "sgd", "lr": 0.1},
     UnsupportedError, "label smoothing"),
    (nn.CrossEntropyLoss(), {"type": "adam", "lr": 0.1}, UnsupportedError, "optimizer 'adam'"),
    (nn.CrossEntropyLoss(), {"type": "sgd"}, InputError, "learning rate 'lr'"),
    (nn.CrossEntropyLoss(), {"type": "sgd", "lr": 0.1, "betas": 1}, InputError,
     "unknown optimizer_config key"),
    (nn.CrossEntropyLoss(), {"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
     UnsupportedError, "Nesterov"),
])
def test_bad_arguments_are_errors(loss_fn, config, error, message):
    net = nn.Linear(4, 3)
    with pytest.raises(error, match=message):
        compile_train_step(net, loss_fn, config, example_inputs=torch.randn(2, 4))

"""The reference interpreter running --train-autodiff's train_step, checked against
PyTorch autograd + torch.optim.SGD from the same initial weights.

For the MLP (examples/mlp.mlir) and the small conv net (examples/cnn.mlir), 20
SGD steps on fixed-seed random batches: per step the loss, the updated
parameters and (without weight decay) the gradients recovered from the update,
(param_before - param_after) / lr, agree with PyTorch to a max relative error
max|a - b| / max|b| of at most 1e-5. In float32 a gradient recovered from two
float32 parameters is only good to about ulp(param) / (lr · |grad|), so there it
is held to 1e-4; the float64 variant of each model (f32 -> f64 in the text,
torch in .double()) is held to 1e-5 throughout.

Also: frozen parameters, and the interpreter's input errors and argument binding.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tcc.compiler.errors import InputError
from tcc.dialects import train
from tcc.compiler.source import find_function
from tcc.runtime.interpreter import bind_inputs, result_names, run_function

STEPS = 20
LR = 0.05
WEIGHT_DECAY = 1e-3
CLASSES = 10
TOL = 1e-5              # the requirement: max relative error over all steps
TOL_F32_GRAD = 1e-4     # gradients recovered from float32 parameter differences

DTYPES = {"f32": np.float32, "f64": np.float64}


@dataclass(frozen=True)
class Model:
    file: str
    input_shape: tuple
    params: tuple               # train.name of each parameter, in argument order
    make: Callable[[], nn.Module]  # the same layers in torch, parameters in that order


MODELS = {
    "mlp": Model("mlp.mlir", (8, 64),
                 ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"),
                 lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))),
    "cnn": Model("cnn.mlir", (4, 1, 8, 8),
                 ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                  "fc.weight", "fc.bias"),
                 lambda: nn.Sequential(
                     nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                     nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(),
                     nn.Flatten(), nn.Linear(128, 10))),
}

def compile_step(load_example, name, options="", edit=None):
    """examples/<name> (edited) with its train_step derived by train-autodiff{options}."""
    return load_example(name, [f"train-autodiff{{lr={LR} {options}}}"], edit)


def to_f64(text: str) -> str:
    return text.replace("f32", "f64")


def rel_error(actual, expected) -> float:
    """max|a - b| / max|b|."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    scale = max(np.abs(expected).max(), np.finfo(np.float64).tiny)
    return float(np.abs(actual - expected).max() / scale)


def torch_net(model: Model, dtype: str, frozen=()) -> nn.Module:
    torch.manual_seed(0)
    net = model.make()
    if dtype == "f64":
        net = net.double()
    for name, param in zip(model.params, net.parameters()):
        param.requires_grad_(name not in frozen)
    return net


def train_both(module, net, model: Model, dtype: str, weight_decay: float) -> dict:
    """STEPS steps of the interpreter's train_step (fed its own updates) and of torch.

    Checks the shapes, dtypes and which parameters change; returns the max relative
    error over all steps and parameters of the loss, the updated params and the grads.
    """
    np_dtype = DTYPES[dtype]
    params = [p.detach().numpy().copy() for p in net.parameters()]
    trainable = [i for i, p in enumerate(net.parameters()) if p.requires_grad]
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, weight_decay=weight_decay)
    rng = np.random.default_rng(1234)
    errors = {"loss": 0.0, "params": 0.0, "grads": 0.0}
    for _ in range(STEPS):
        x = rng.standard_normal(model.input_shape).astype(np_dtype)
        labels = rng.integers(0, CLASSES, model.input_shape[0]).astype(np.int32)
        inputs = [x, *params, labels]
        copies = [a.copy() for a in inputs]

        loss, *updates = run_function(module, "train_step", inputs)

        optimizer.zero_grad()
        torch_loss = F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(labels).long())
        torch_loss.backward()
        torch_grads = [None if p.grad is None else p.grad.numpy().copy()
                       for p in net.parameters()]
        optimizer.step()
        torch_params = [p.detach().numpy() for p in net.parameters()]

        for array, copy in zip(inputs, copies):     # the inputs are not written to
            np.testing.assert_array_equal(array, copy)
        assert loss.shape == () and loss.dtype == np_dtype
        errors["loss"] = max(errors["loss"], rel_error(loss, torch_loss.item()))
        assert len(updates) == len(trainable)
        for index, update in zip(trainable, updates):
            assert update.shape == params[index].shape and update.dtype == np_dtype
            errors["params"] = max(errors["params"], rel_error(update, torch_params[index]))
            if weight_decay == 0:
                grad = (params[index].astype(np.float64) - update.astype(np.float64)) / LR
                errors["grads"] = max(errors["grads"], rel_error(grad, torch_grads[index]))
            params[index] = update
        for index in set(range(len(params))) - set(trainable):
            assert torch_grads[index] is None
            np.testing.assert_array_equal(params[index], torch_params[index])
    return errors


def check_errors(errors: dict, dtype: str) -> None:
    grad_tol = TOL_F32_GRAD if dtype == "f32" else TOL
    print(f"max relative errors ({dtype}): "
          + ", ".join(f"{key} {value:.2e}" for key, value in errors.items()))
    assert errors["loss"] <= TOL, errors
    assert errors["params"] <= TOL, errors
    assert errors["grads"] <= grad_tol, errors


# --------------------------------------------------------------------------
# train_step vs. PyTorch
# --------------------------------------------------------------------------

@pytest.mark.parametrize("weight_decay", [0.0, WEIGHT_DECAY], ids=["sgd", "weight_decay"])
@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_train_step_matches_torch(load_example, model_name, dtype, weight_decay):
    model = MODELS[model_name]
    module = compile_step(load_example, model.file, f"weight_decay={weight_decay}",
                          to_f64 if dtype == "f64" else None)

    # train_step(x, params..., labels) -> (loss, every param updated, in argument order)
    step = find_function(module, "train_step")
    assert result_names(module, "train_step") == ["loss", *model.params]
    assert [train.updated_arg(step, i) for i in range(1, len(model.params) + 1)] == \
        list(range(1, len(model.params) + 1))
    assert train.arg_name(step, len(model.params) + 1) == "labels"

    errors = train_both(module, torch_net(model, dtype), model, dtype, weight_decay)
    check_errors(errors, dtype)


def _freeze_fc1(text: str) -> str:
    for name in ("fc1.weight", "fc1.bias"):
        trainable = f'train.name = "{name}", train.role = #train.role<trainable>'
        assert text.count(trainable) == 1
        text = text.replace(trainable, trainable.replace("trainable", "frozen"))
    return text


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_frozen_parameters(load_example, dtype):
    model = MODELS["mlp"]
    edit = (lambda text: to_f64(_freeze_fc1(text))) if dtype == "f64" else _freeze_fc1
    module = compile_step(load_example, model.file, edit=edit)

    step = find_function(module, "train_step")
    assert result_names(module, "train_step") == ["loss", "fc2.weight", "fc2.bias"]
    assert [train.updated_arg(step, i) for i in (1, 2)] == [3, 4]
    # Nothing is differentiated below fc2: no input gradient of fc2, no relu gradient.
    ops = [op.operation.name for op in step.entry_block.operations]
    assert ops.count("train.sgd") == 2
    assert "train.linear_grad_input" not in ops and "train.relu_grad" not in ops

    net = torch_net(model, dtype, frozen=("fc1.weight", "fc1.bias"))
    initial_fc1 = [p.detach().numpy().copy() for p in list(net.parameters())[:2]]
    errors = train_both(module, net, model, dtype, 0.0)
    check_errors(errors, dtype)
    for before, after in zip(initial_fc1, list(net.parameters())[:2]):
        np.testing.assert_array_equal(before, after.detach().numpy())


# --------------------------------------------------------------------------
# Interpreter errors and argument binding
# --------------------------------------------------------------------------

@pytest.fixture
def mlp_step(load_example):
    return compile_step(load_example, "mlp.mlir")


def mlp_inputs(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(8, 64), (32, 64), (32,), (10, 32), (10,)]
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    return arrays + [rng.integers(0, CLASSES, 8).astype(np.int32)]


def test_wrong_input_shape_names_the_argument(mlp_step):
    inputs = mlp_inputs()
    inputs[1] = inputs[1][:, :63]
    with pytest.raises(InputError, match=r"argument #1 \(fc1\.weight\) expects shape "
                                         r"\[32, 64\], got \[32, 63\]"):
        run_function(mlp_step, "train_step", inputs)
    inputs = mlp_inputs()
    inputs[0] = inputs[0].reshape(4, 128)
    with pytest.raises(InputError, match=r"argument #0 \(arg0\) expects shape \[8, 64\]"):
        run_function(mlp_step, "train_step", inputs)
    with pytest.raises(InputError, match=r"@train_step takes 6 arguments, got 5"):
        run_function(mlp_step, "train_step", mlp_inputs()[:5])


def test_bad_labels_name_the_op(mlp_step):
    inputs = mlp_inputs()
    inputs[5][3] = CLASSES
    with pytest.raises(InputError, match=r"'train\.cross_entropy': labels must lie in \[0, 10\)"):
        run_function(mlp_step, "train_step", inputs)


def test_missing_function_lists_the_functions(mlp_step):
    with pytest.raises(InputError, match=r"no function @train in the module "
                                         r"\(functions: @forward, @train_step\)"):
        run_function(mlp_step, "train", mlp_inputs())
    with pytest.raises(InputError, match=r"functions: @forward, @train_step"):
        find_function(mlp_step, "backward")


def test_bind_inputs(mlp_step):
    step = find_function(mlp_step, "train_step")
    inputs = mlp_inputs()
    names = ["arg0", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "labels"]

    def same(bound):
        return len(bound) == len(inputs) and all(a is b for a, b in zip(bound, inputs))

    assert same(bind_inputs(step, dict(zip(names, inputs))))                          # train.name
    assert same(bind_inputs(step, {f"arg{i}": a for i, a in enumerate(inputs)}))      # argN
    assert same(bind_inputs(step, {str(i): a for i, a in enumerate(inputs)}))         # position
    mixed = {"0": inputs[0], "fc1.weight": inputs[1], "arg2": inputs[2], "3": inputs[3],
             "fc2.bias": inputs[4], "arg5": inputs[5]}
    assert same(bind_inputs(step, mixed))
    # The train.name is preferred to argN, which is preferred to the position.
    decoy = np.zeros_like(inputs[1])
    assert same(bind_inputs(step, {**dict(zip(names, inputs)), "arg1": decoy, "1": decoy}))
    assert bind_inputs(step, {**{str(i): a for i, a in enumerate(inputs)},
                              "arg1": decoy})[1] is decoy

    by_name = run_function(mlp_step, "train_step", bind_inputs(step, dict(zip(names, inputs))))
    for a, b in zip(by_name, run_function(mlp_step, "train_step", inputs)):
        np.testing.assert_array_equal(a, b)

    with pytest.raises(InputError, match=r"no input for argument #5 \(labels\); inputs given: "
                                         r"arg0, fc1\.bias, fc1\.weight, fc2\.bias, fc2\.weight"):
        bind_inputs(step, dict(zip(names[:5], inputs[:5])))
    with pytest.raises(InputError, match=r"no input for argument #0 \(arg0\); inputs given: none"):
        bind_inputs(step, {})

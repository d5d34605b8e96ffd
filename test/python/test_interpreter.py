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

Also: frozen parameters, and the interpreter's input errors and argument binding;
the inference ops (alone and chained) against PyTorch; quantized tensors (int8
storage, layout ops, clamp's storage bounds, dispatch to the quantized executors);
and --train-fold-batch-norm computing what the unfolded function computes.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tcc.compiler.errors import InputError, UnsupportedError
from tcc.dialects import train
from tcc.compiler.source import find_function
from tcc.runtime.interpreter import bind_inputs, result_names, run_function

from conftest import compile_text
from numerics import rel_error

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


# --------------------------------------------------------------------------
# Inference ops (float) vs. PyTorch
# --------------------------------------------------------------------------

def _function(args: str, body: str, result: str) -> str:
    return f"func.func @f({args}) -> {result} {{\n{body}\n  return %y : {result}\n}}\n"


def _positive(a):
    return np.abs(a) + 0.5


# name -> (MLIR function @f in f64, torch of the inputs, input transforms by index)
OP_CASES = {
    "matmul": (_function(
        "%a: tensor<2x4x8xf64>, %b: tensor<2x8x5xf64>",
        "  %y = train.matmul %a, %b : (tensor<2x4x8xf64>, tensor<2x8x5xf64>) -> tensor<2x4x5xf64>",
        "tensor<2x4x5xf64>"), torch.matmul, {}),
    "mul": (_function(
        "%a: tensor<3x4xf64>, %b: tensor<3x4xf64>",
        "  %y = train.mul %a, %b : tensor<3x4xf64>", "tensor<3x4xf64>"), torch.mul, {}),
    "broadcast": (_function(
        "%x: tensor<8x1x1xf64>",
        "  %y = train.broadcast %x : tensor<8x1x1xf64> -> tensor<4x8x5x5xf64>",
        "tensor<4x8x5x5xf64>"), lambda x: x.broadcast_to(4, 8, 5, 5), {}),
    "clamp": (_function(
        "%x: tensor<4x8xf64>",
        "  %y = train.clamp %x min -2.500000e-01 max 6.000000e+00 : tensor<4x8xf64>",
        "tensor<4x8xf64>"), lambda x: x.clamp(-0.25, 6.0), {0: lambda a: 4 * a}),
    "hardswish": (_function(
        "%x: tensor<4x8xf64>", "  %y = train.hardswish %x : tensor<4x8xf64>",
        "tensor<4x8xf64>"), F.hardswish, {0: lambda a: 4 * a}),
    "sigmoid": (_function(
        "%x: tensor<4x8xf64>", "  %y = train.sigmoid %x : tensor<4x8xf64>",
        "tensor<4x8xf64>"), torch.sigmoid, {}),
    "gelu": (_function(
        "%x: tensor<4x8xf64>", "  %y = train.gelu %x : tensor<4x8xf64>",
        "tensor<4x8xf64>"), F.gelu, {}),
    "gelu_tanh": (_function(
        "%x: tensor<4x8xf64>", "  %y = train.gelu %x tanh : tensor<4x8xf64>",
        "tensor<4x8xf64>"), lambda x: F.gelu(x, approximate="tanh"), {}),
    "avg_pool2d": (_function(
        "%x: tensor<2x3x7x8xf64>",
        "  %y = train.avg_pool2d %x kernel [3, 2] stride [2, 2] padding [1, 1] count_include_pad"
        " : (tensor<2x3x7x8xf64>) -> tensor<2x3x4x5xf64>", "tensor<2x3x4x5xf64>"),
        lambda x: F.avg_pool2d(x, (3, 2), (2, 2), (1, 1), count_include_pad=True), {}),
    "avg_pool2d_exclude_pad": (_function(
        "%x: tensor<2x3x7x8xf64>",
        "  %y = train.avg_pool2d %x kernel [3, 2] stride [2, 2] padding [1, 1]"
        " : (tensor<2x3x7x8xf64>) -> tensor<2x3x4x5xf64>", "tensor<2x3x4x5xf64>"),
        lambda x: F.avg_pool2d(x, (3, 2), (2, 2), (1, 1), count_include_pad=False), {}),
    "avg_pool2d_default_stride": (_function(
        "%x: tensor<1x2x4x4xf64>",
        "  %y = train.avg_pool2d %x kernel [2, 2] : (tensor<1x2x4x4xf64>) -> tensor<1x2x3x3xf64>",
        "tensor<1x2x3x3xf64>"), lambda x: F.avg_pool2d(x, 2, 1), {}),
    "max_pool2d": (_function(
        "%x: tensor<2x3x8x8xf64>",
        "  %y = train.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1]"
        " : (tensor<2x3x8x8xf64>) -> tensor<2x3x4x4xf64>", "tensor<2x3x4x4xf64>"),
        lambda x: F.max_pool2d(x, 3, 2, 1), {0: lambda a: a - 10}),   # all negative
    "global_avg_pool": (_function(
        "%x: tensor<2x3x5x4xf64>",
        "  %y = train.global_avg_pool %x : tensor<2x3x5x4xf64> -> tensor<2x3x1x1xf64>",
        "tensor<2x3x1x1xf64>"), lambda x: F.adaptive_avg_pool2d(x, 1), {}),
    "concat": (_function(
        "%a: tensor<2x3x4xf64>, %b: tensor<2x1x4xf64>, %c: tensor<2x2x4xf64>",
        "  %y = train.concat %a, %b, %c axis 1 : (tensor<2x3x4xf64>, tensor<2x1x4xf64>,"
        " tensor<2x2x4xf64>) -> tensor<2x6x4xf64>", "tensor<2x6x4xf64>"),
        lambda *xs: torch.cat(xs, 1), {}),
    "transpose": (_function(
        "%x: tensor<2x3x4xf64>",
        "  %y = train.transpose %x permutation [2, 0, 1] : tensor<2x3x4xf64> -> tensor<4x2x3xf64>",
        "tensor<4x2x3xf64>"), lambda x: x.permute(2, 0, 1), {}),
    "batch_norm": (_function(
        "%x: tensor<2x3x4x4xf64>, %g: tensor<3xf64>, %b: tensor<3xf64>, %m: tensor<3xf64>,"
        " %v: tensor<3xf64>",
        "  %y = train.batch_norm %x, %g, %b, %m, %v epsilon 1.000000e-03 : (tensor<2x3x4x4xf64>,"
        " tensor<3xf64>, tensor<3xf64>, tensor<3xf64>, tensor<3xf64>) -> tensor<2x3x4x4xf64>",
        "tensor<2x3x4x4xf64>"),
        lambda x, g, b, m, v: F.batch_norm(x, m, v, g, b, training=False,
                                           eps=np.float32(1e-3).item()),
        {4: _positive}),
    "softmax": (_function(
        "%x: tensor<2x5x3xf64>", "  %y = train.softmax %x axis 1 : tensor<2x5x3xf64>",
        "tensor<2x5x3xf64>"), lambda x: F.softmax(x, 1), {0: lambda a: 30 * a}),
    "layer_norm": (_function(
        "%x: tensor<2x5x3x4xf64>, %w: tensor<3x4xf64>, %b: tensor<3x4xf64>",
        "  %y = train.layer_norm %x, %w, %b epsilon 9.99999974E-6 : (tensor<2x5x3x4xf64>,"
        " tensor<3x4xf64>, tensor<3x4xf64>) -> tensor<2x5x3x4xf64>", "tensor<2x5x3x4xf64>"),
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b, np.float32(1e-5).item()), {}),
    "mse": (_function(
        "%p: tensor<4x10xf64>, %t: tensor<4x10xf64>",
        "  %y = train.mse %p, %t : (tensor<4x10xf64>, tensor<4x10xf64>) -> tensor<f64>",
        "tensor<f64>"), F.mse_loss, {}),
}


def _random_inputs(function, transforms, seed=0):
    rng = np.random.default_rng(seed)
    inputs = []
    for index, arg in enumerate(function.entry_block.arguments):
        array = rng.standard_normal(train.shape_of(arg))
        inputs.append(transforms.get(index, lambda a: a)(array))
    return inputs


@pytest.mark.parametrize("name", sorted(OP_CASES))
def test_inference_op_matches_torch(name):
    text, torch_fn, transforms = OP_CASES[name]
    module = compile_text(text, f"{name}.mlir")
    inputs = _random_inputs(find_function(module, "f"), transforms)
    (y,) = run_function(module, "f", inputs)
    expected = torch_fn(*[torch.from_numpy(a) for a in inputs]).numpy()
    assert y.dtype == np.float64 and y.shape == expected.shape
    assert rel_error(y, expected) <= 1e-12


CNN_BLOCK = """
func.func @forward(%x: tensor<2x3x8x8xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xf32>,
                   %g: tensor<8xf32>, %be: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>,
                   %fc: tensor<10x16xf32>) -> tensor<2x10xf32> {
  %c = train.conv2d %x, %w, %b stride [2, 2] padding [1, 1]
      : (tensor<2x3x8x8xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<2x8x4x4xf32>
  %n = train.batch_norm %c, %g, %be, %m, %v epsilon 1.000000e-05
      : (tensor<2x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
      -> tensor<2x8x4x4xf32>
  %r6 = train.clamp %n min 0.000000e+00 max 6.000000e+00 : tensor<2x8x4x4xf32>
  %h = train.hardswish %r6 : tensor<2x8x4x4xf32>
  %p = train.max_pool2d %h kernel [3, 3] stride [2, 2] padding [1, 1]
      : (tensor<2x8x4x4xf32>) -> tensor<2x8x2x2xf32>
  %a = train.avg_pool2d %n kernel [3, 3] stride [2, 2] padding [1, 1]
      : (tensor<2x8x4x4xf32>) -> tensor<2x8x2x2xf32>
  %s = train.sigmoid %a : tensor<2x8x2x2xf32>
  %cat = train.concat %p, %s axis 1
      : (tensor<2x8x2x2xf32>, tensor<2x8x2x2xf32>) -> tensor<2x16x2x2xf32>
  %gap = train.global_avg_pool %cat : tensor<2x16x2x2xf32> -> tensor<2x16x1x1xf32>
  %f = train.reshape %gap : tensor<2x16x1x1xf32> -> tensor<2x16xf32>
  %y = train.linear %f, %fc : (tensor<2x16xf32>, tensor<10x16xf32>) -> tensor<2x10xf32>
  return %y : tensor<2x10xf32>
}
"""


def _cnn_block_torch(x, w, b, g, be, m, v, fc):
    n = F.batch_norm(F.conv2d(x, w, b, stride=2, padding=1), m, v, g, be, training=False,
                     eps=np.float32(1e-5).item())
    h = F.hardswish(F.relu6(n))
    p = F.max_pool2d(h, 3, 2, 1)
    s = torch.sigmoid(F.avg_pool2d(n, 3, 2, 1, count_include_pad=False))
    return F.linear(torch.cat([p, s], 1).mean((2, 3)), fc)


ATTENTION_BLOCK = """
func.func @forward(%x: tensor<2x5x8xf32>, %lw: tensor<8xf32>, %lb: tensor<8xf32>,
                   %wq: tensor<8x8xf32>, %t: tensor<2x5x5xf32>)
    -> (tensor<2x5x5xf32>, tensor<f32>) {
  %n = train.layer_norm %x, %lw, %lb epsilon 1.000000e-05
      : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  %wb = train.broadcast %wq : tensor<8x8xf32> -> tensor<2x8x8xf32>
  %q = train.matmul %n, %wb : (tensor<2x5x8xf32>, tensor<2x8x8xf32>) -> tensor<2x5x8xf32>
  %g = train.gelu %q tanh : tensor<2x5x8xf32>
  %k = train.transpose %g permutation [0, 2, 1] : tensor<2x5x8xf32> -> tensor<2x8x5xf32>
  %s = train.matmul %g, %k : (tensor<2x5x8xf32>, tensor<2x8x5xf32>) -> tensor<2x5x5xf32>
  %p = train.softmax %s axis 2 : tensor<2x5x5xf32>
  %e = train.gelu %p : tensor<2x5x5xf32>
  %y = train.mul %e, %p : tensor<2x5x5xf32>
  %l = train.mse %y, %t : (tensor<2x5x5xf32>, tensor<2x5x5xf32>) -> tensor<f32>
  return %y, %l : tensor<2x5x5xf32>, tensor<f32>
}
"""


def _attention_block_torch(x, lw, lb, wq, t):
    g = F.gelu(F.layer_norm(x, (8,), lw, lb, np.float32(1e-5).item()) @ wq, approximate="tanh")
    p = F.softmax(g @ g.transpose(1, 2), 2)
    y = F.gelu(p) * p
    return y, F.mse_loss(y, t)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("block", ["cnn", "attention"])
def test_inference_blocks_match_torch(block, dtype):
    """Chains of the new ops; float32 against torch in float32, float64 in float64."""
    text, torch_fn = {"cnn": (CNN_BLOCK, _cnn_block_torch),
                      "attention": (ATTENTION_BLOCK, _attention_block_torch)}[block]
    module = compile_text(to_f64(text) if dtype == "f64" else text, f"{block}.mlir")
    transforms = {6: _positive} if block == "cnn" else {}
    inputs = [a.astype(DTYPES[dtype])
              for a in _random_inputs(find_function(module, "forward"), transforms, seed=3)]
    results = run_function(module, "forward", inputs)
    expected = torch_fn(*[torch.from_numpy(a) for a in inputs])
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(results) == len(expected)
    for y, e in zip(results, expected):
        assert y.dtype == DTYPES[dtype]
        assert rel_error(y, e.numpy()) <= (1e-5 if dtype == "f32" else 1e-12)


# --------------------------------------------------------------------------
# Quantized tensors: storage dtype, layout ops, clamp, executors
# --------------------------------------------------------------------------

Q = "!quant.uniform<i8:f32, 5.000000e-01:-3>"

QUANTIZED_LAYOUT = f"""
func.func @f(%x: tensor<1x2x4x4x{Q}>, %z: tensor<1x1x4x4x{Q}>, %c: tensor<2x1x1x{Q}>)
    -> (tensor<1x3x4x4x{Q}>, tensor<1x3x2x2x{Q}>, tensor<3x4x1x4x{Q}>, tensor<48x{Q}>,
        tensor<1x2x4x4x{Q}>, tensor<1x2x4x4x{Q}>) {{
  %cat = train.concat %x, %z axis 1
      : (tensor<1x2x4x4x{Q}>, tensor<1x1x4x4x{Q}>) -> tensor<1x3x4x4x{Q}>
  %p = train.max_pool2d %cat kernel [3, 3] stride [2, 2] padding [1, 1]
      : (tensor<1x3x4x4x{Q}>) -> tensor<1x3x2x2x{Q}>
  %t = train.transpose %cat permutation [1, 2, 0, 3] : tensor<1x3x4x4x{Q}> -> tensor<3x4x1x4x{Q}>
  %r = train.reshape %cat : tensor<1x3x4x4x{Q}> -> tensor<48x{Q}>
  %b = train.broadcast %c : tensor<2x1x1x{Q}> -> tensor<1x2x4x4x{Q}>
  %k = train.clamp %x min 1.250000e+00 max 3.750000e+00 : tensor<1x2x4x4x{Q}>
  return %cat, %p, %t, %r, %b, %k : tensor<1x3x4x4x{Q}>, tensor<1x3x2x2x{Q}>,
      tensor<3x4x1x4x{Q}>, tensor<48x{Q}>, tensor<1x2x4x4x{Q}>, tensor<1x2x4x4x{Q}>
}}
"""


def test_quantized_layout_ops_move_storage_values():
    module = compile_text(QUANTIZED_LAYOUT, "quantized.mlir")
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (1, 2, 4, 4))          # int64 in, int8 inside
    x.flat[:3] = [-128, 127, -1]
    z = np.full((1, 1, 4, 4), -128)                    # max_pool2d pads below every value
    c = np.array([5, -7]).reshape(2, 1, 1)
    cat, pool, tr, flat, bc, clamped = run_function(module, "f", [x, z, c])
    for y in (cat, pool, tr, flat, bc, clamped):
        assert y.dtype == np.int8
    tx, tz = torch.from_numpy(x).double(), torch.from_numpy(z).double()
    expected_cat = torch.cat([tx, tz], 1)
    np.testing.assert_array_equal(cat, expected_cat.numpy())
    np.testing.assert_array_equal(pool, F.max_pool2d(expected_cat, 3, 2, 1).numpy())
    np.testing.assert_array_equal(tr, expected_cat.permute(1, 2, 0, 3).numpy())
    np.testing.assert_array_equal(flat, expected_cat.reshape(48).numpy())
    np.testing.assert_array_equal(bc, np.broadcast_to(c, (1, 2, 4, 4)))
    # s = 0.5, z = -3: 1.25 / 0.5 = 2.5 rounds (half to even) to 2, 3.75 / 0.5 = 7.5 to 8.
    np.testing.assert_array_equal(clamped, np.clip(x, 2 - 3, 8 - 3))


@pytest.mark.parametrize("storage,scale,zp,lo,hi,expected", [
    ("i8", 0.05, -128, 0.0, 6.0, (-128, -8)),              # relu6
    ("i8<-127:127>", 0.05, -128, 0.0, 6.0, (-127, -8)),    # narrow storage range
    ("i8", 0.01, 0, 0.0, 6.0, (0, 127)),                    # 600 saturates
    ("i8", 0.25, 10, -0.625, 0.625, (8, 12)),               # -2.5 -> -2, 2.5 -> 2
    ("i8", 0.5, 10, -1.75, 1.75, (6, 14)),                  # -3.5 -> -4, 3.5 -> 4
    ("i8", 0.1, 10, -0.35, 0.35, (7, 13)),                  # f32(0.35) / 0.1 < 3.5
    ("i8<-100:100>", 0.1, 0, -1.0e9, 1.0e9, (-100, 100)),
])
def test_quantized_clamp_storage_bounds(storage, scale, zp, lo, hi, expected):
    q = f"!quant.uniform<{storage}:f32, {scale!r}:{zp}>"
    text = _function(f"%x: tensor<256x{q}>",
                     f"  %y = train.clamp %x min {lo!r} max {hi!r} : tensor<256x{q}>",
                     f"tensor<256x{q}>")
    module = compile_text(text, "clamp.mlir")
    storage_min = -100 if storage == "i8<-100:100>" else (-127 if "127" in storage else -128)
    storage_max = 100 if storage == "i8<-100:100>" else 127
    x = np.arange(256) - 128
    x = np.clip(x, storage_min, storage_max)
    (y,) = run_function(module, "f", [x])
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y, np.clip(x, *expected))


def test_quantized_argument_storage_values():
    module = compile_text(QUANTIZED_LAYOUT, "quantized.mlir")
    z, c = np.zeros((1, 1, 4, 4), np.int8), np.zeros((2, 1, 1), np.int8)
    with pytest.raises(InputError, match=r"argument #0 \(arg0\) of type .* expects integer "
                                         r"storage values in \[-128, 127\]"):
        run_function(module, "f", [np.zeros((1, 2, 4, 4), np.float32), z, c])
    with pytest.raises(InputError, match=r"storage values in \[-128, 127\]"):
        run_function(module, "f", [np.full((1, 2, 4, 4), 128), z, c])


def test_numpy_dtype_of_quantized_types():
    from tcc._mlir import ir
    from tcc.compiler.source import new_context
    from tcc.runtime.interpreter import numpy_dtype
    with new_context():
        for text, dtype in [("!quant.uniform<i8:f32, 0.1:-128>", np.int8),
                            ("!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2}>", np.int8),
                            ("!quant.uniform<u8:f32, 0.1:128>", np.uint8),
                            ("!quant.uniform<i16:f32, 0.1>", np.int16),
                            ("i32", np.int32), ("f32", np.float32)]:
            assert numpy_dtype(ir.Type.parse(text)) == dtype


DCAST = f"""
func.func @f(%x: tensor<4x{Q}>) -> tensor<4xf32> {{
  %y = quant.dcast %x : tensor<4x{Q}> to tensor<4xf32>
  return %y : tensor<4xf32>
}}
"""


def test_quantized_ops_dispatch_to_executors(monkeypatch):
    from tcc.runtime import interpreter
    seen = []

    def dcast(op, args):
        seen.append((op.operation.name, args[0].dtype))
        return [(args[0].astype(np.float32) + 3) * np.float32(0.5)]

    monkeypatch.setattr(interpreter, "_quantized_executors", lambda: {"quant.dcast": dcast})
    module = compile_text(DCAST, "dcast.mlir")
    (y,) = run_function(module, "f", [np.array([-3, -1, 0, 127])])
    assert seen == [("quant.dcast", np.int8)]
    np.testing.assert_array_equal(y, [0.0, 1.0, 1.5, 65.0])

    monkeypatch.setattr(interpreter, "_quantized_executors", lambda: {})
    with pytest.raises(UnsupportedError, match="the interpreter does not support 'quant.dcast'"):
        run_function(module, "f", [np.zeros(4, np.int8)])


def test_missing_quantized_execution_module(monkeypatch):
    import sys
    from tcc.runtime import interpreter
    monkeypatch.setitem(sys.modules, "tcc.runtime.quantized_execution", None)
    assert interpreter._quantized_executors.__wrapped__() == {}



# --------------------------------------------------------------------------
# --train-fold-batch-norm keeps what the function computes
# --------------------------------------------------------------------------

def _dense(array) -> str:
    return f"dense<{np.asarray(array, np.float64).tolist()}>"


def _bn_fold_text(kind: str, dtype: str, seed: int) -> str:
    """@f(x) = batch_norm(conv or linear of x with constant weights) with random constants."""
    rng = np.random.default_rng(seed)
    t = lambda *shape: "tensor<" + "x".join(map(str, shape)) + f"x{dtype}>"   # noqa: E731
    if kind == "linear":
        x_shape, w_shape, y_shape, geometry = (4, 6), (5, 6), (4, 5), ""
        op = "train.linear"
    else:
        x_shape, w_shape, y_shape, geometry = {
            "conv": ((2, 3, 6, 6), (4, 3, 3, 3), (2, 4, 6, 6), "padding [1, 1]"),
            "conv_no_bias": ((2, 3, 6, 6), (4, 3, 3, 3), (2, 4, 6, 6), "padding [1, 1]"),
            "conv_grouped": ((2, 4, 9, 8), (6, 2, 3, 2), (2, 6, 4, 5),
                             "stride [2, 2] padding [1, 1] dilation [2, 1] groups 2"),
        }[kind]
        op = "train.conv2d"
    c = w_shape[0]
    bias = kind != "conv_no_bias"
    lines = [f"  %w = arith.constant {_dense(rng.standard_normal(w_shape))} : {t(*w_shape)}"]
    if bias:
        lines.append(f"  %b = arith.constant {_dense(rng.standard_normal(c))} : {t(c)}")
    stats = {"g": rng.standard_normal(c), "be": rng.standard_normal(c),
             "m": rng.standard_normal(c), "v": rng.uniform(0.1, 2.0, c)}
    lines += [f"  %{name} = arith.constant {_dense(v)} : {t(c)}" for name, v in stats.items()]
    operands = "%x, %w, %b" if bias else "%x, %w"
    types = f"{t(*x_shape)}, {t(*w_shape)}" + (f", {t(c)}" if bias else "")
    lines.append(f"  %c = {op} {operands} {geometry} : ({types}) -> {t(*y_shape)}")
    lines.append(f"  %y = train.batch_norm %c, %g, %be, %m, %v epsilon 1.000000e-03 : "
                 f"({t(*y_shape)}, {t(c)}, {t(c)}, {t(c)}, {t(c)}) -> {t(*y_shape)}")
    return _function(f"%x: {t(*x_shape)}", "\n".join(lines), t(*y_shape))


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("kind", ["conv", "conv_no_bias", "conv_grouped", "linear"])
def test_fold_batch_norm_preserves_results(kind, dtype):
    text = _bn_fold_text(kind, dtype, seed=len(kind))
    module = compile_text(text, "bn.mlir")
    folded = compile_text(text, "bn.mlir", ["train-fold-batch-norm"])
    ops = [op.operation.name for op in find_function(folded, "f").entry_block.operations]
    assert "train.batch_norm" not in ops
    assert ops.count("arith.constant") == 2                 # the folded weight and bias
    x = np.random.default_rng(7).standard_normal(
        train.shape_of(find_function(module, "f").arguments[0])).astype(DTYPES[dtype])
    (expected,) = run_function(module, "f", [x])
    (y,) = run_function(folded, "f", [x])
    assert y.dtype == expected.dtype == DTYPES[dtype]
    assert rel_error(y, expected) <= (1e-5 if dtype == "f32" else 1e-12)

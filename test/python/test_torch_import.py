"""The PyTorch importer (compiler/frontends/pytorch.py) against PyTorch itself.

Every model of examples/zoo, with seeded random weights and non-trivial batch-norm
statistics, imported and run in the reference interpreter gives PyTorch's eager
outputs to max|y - y_torch| / max|y_torch| <= 1e-5. Also: batch norm folded into the
preceding conv/linear (or kept as train.batch_norm, with frozen running statistics),
the ops each aten op becomes, parameter names and roles, deterministic output, and the
user-facing errors (unsupported op at the user's line, dynamic shapes, a missing class).
"""

import importlib.util
import runpy
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tcc.compiler.errors import InputError, UnsupportedError
from tcc.compiler.frontends.pytorch import import_module, import_torch_file
from tcc.compiler.parameters import read_weights
from tcc.compiler.source import find_function, load_module, new_context
from tcc.dialects import train
from tcc.runtime.interpreter import bind_inputs, run_function

ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"
TOL = 1e-5      # max |y - y_torch| / max |y_torch|

MODELS = list(runpy.run_path(str(ZOO / "__init__.py"))["MODELS"].items())


def load_zoo(file: str):
    """The module object of examples/zoo/<file>."""
    spec = importlib.util.spec_from_file_location(f"zoo_{Path(file).stem}", ZOO / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """`model` in eval mode with seeded random parameters and batch-norm statistics."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(tensor, low, high):
        tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)

    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                uniform(tensor, 0.5, 2.0)
            elif name.endswith("running_mean"):
                uniform(tensor, -0.5, 0.5)
            else:
                bound = 1.0 / np.sqrt(max(tensor[0].numel(), 1)) if tensor.dim() > 1 else 0.5
                uniform(tensor, -bound, bound)
                if name.endswith(".weight") and tensor.dim() == 1:   # BN / LN scale
                    tensor.add_(1.0)
    return model.eval()


def run_imported(imported, *inputs) -> np.ndarray:
    function = find_function(imported.module, "forward")
    arrays = {**imported.weights, **{f"arg{i}": x.numpy() for i, x in enumerate(inputs)}}
    return run_function(imported.module, "forward", bind_inputs(function, arrays))[0]


def relative_error(model: nn.Module, *inputs) -> tuple[float, object]:
    """Imports `model`, runs it in the interpreter and compares it with eager PyTorch."""
    imported = import_module(model, inputs)
    with torch.no_grad():
        expected = model(*inputs).numpy()
    actual = run_imported(imported, *inputs)
    assert actual.shape == expected.shape and actual.dtype == np.float32
    return float(np.abs(actual - expected).max() / np.abs(expected).max()), imported


def op_names(imported) -> list[str]:
    return [op.name for op in find_function(imported.module, "forward").entry_block.operations]


def arguments(imported) -> dict[str, str | None]:
    """train.name -> train.role of @forward's parameters."""
    function = find_function(imported.module, "forward")
    count = len(function.entry_block.arguments)
    return {train.arg_name(function, i): train.arg_role(function, i) for i in range(count)
            if train.arg_role(function, i) is not None}


# --------------------------------------------------------------------------
# The zoo against PyTorch
# --------------------------------------------------------------------------

@pytest.mark.parametrize("file,name", MODELS, ids=[m[1] for m in MODELS])
def test_zoo_model_matches_pytorch(file, name):
    zoo = load_zoo(file)
    model = randomized(getattr(zoo, name)(), seed=1)
    x = torch.randn(zoo.INPUT_SHAPE, generator=torch.Generator().manual_seed(2))
    error, imported = relative_error(model, x)
    assert error <= TOL, f"{name}: max relative error {error:.2e}"
    # Every parameter is named after its module path and kept in float32.
    names = arguments(imported)
    assert sorted(names) == sorted(imported.weights)
    assert all(w.dtype == np.float32 for w in imported.weights.values())
    state = dict(model.named_parameters())
    for key in names:
        assert key in state or key.removesuffix(".bias") + ".weight" in state


def test_zoo_files_document_their_input():
    for file, name in MODELS:
        zoo = load_zoo(file)
        assert zoo.__doc__ and len(zoo.INPUT_SHAPE) >= 2, file
        getattr(zoo, name)()      # constructible without arguments


def test_import_torch_file_keeps_module_paths():
    imported = import_torch_file(f"{ZOO / 'resnet8.py'}:ResNet8", [1, 3, 32, 32])
    names = arguments(imported)
    # Batch norms fold into the convs: only conv and fc parameters, all trainable.
    assert list(names)[:4] == ["conv.weight", "conv.bias", "stack1.conv1.weight",
                               "stack1.conv1.bias"]
    assert "stack2.shortcut.weight" in names and "fc.weight" in names
    assert not any(".bn" in n or n.startswith("bn.") for n in names)
    assert set(names.values()) == {"trainable"}
    assert "train.batch_norm" not in op_names(imported)
    assert imported.weights["fc.weight"].shape == (10, 64)        # linear stays [out, in]


def test_written_model_runs_the_same(tmp_path):
    zoo = load_zoo("dscnn.py")
    model = randomized(zoo.DSCNN(), seed=4)
    x = torch.randn(zoo.INPUT_SHAPE)
    imported = import_module(model, (x,))
    mlir, npz = imported.write(tmp_path / "dscnn.mlir")
    assert npz.name == "dscnn.npz"
    loaded = load_module(mlir, new_context())
    again = type(imported)(loaded, read_weights(npz))
    np.testing.assert_array_equal(run_imported(again, x), run_imported(imported, x))


def test_import_is_deterministic():
    first = import_torch_file(f"{ZOO / 'mobilenetv2.py'}:MobileNetV2", [1, 3, 32, 32])
    second = import_torch_file(f"{ZOO / 'mobilenetv2.py'}:MobileNetV2", [1, 3, 32, 32])
    assert str(first.module) == str(second.module)


def test_locations_point_at_the_model_file():
    imported = import_torch_file(f"{ZOO / 'transformer.py'}:TransformerEncoder", [1, 8, 32])
    softmax = next(op for op in find_function(imported.module, "forward").entry_block.operations
                   if op.name == "train.softmax")
    line = next(i for i, text in enumerate((ZOO / "transformer.py").read_text().splitlines(), 1)
                if ".softmax(dim" in text)
    assert f'transformer.py":{line}:' in str(softmax.location)


# --------------------------------------------------------------------------
# Batch norm: folded, or kept with frozen statistics
# --------------------------------------------------------------------------

class LinearBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 8, bias=False)
        self.bn = nn.BatchNorm1d(8)

    def forward(self, x):
        return F.relu(self.bn(self.fc(x)))


class InputBatchNorm(nn.Module):
    """A batch norm on the input and one after an add: neither can be folded."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(3, affine=False)

    def forward(self, x):
        x = self.bn(x)
        return self.bn2(x + self.conv(x))


def test_batch_norm_folds_into_linear():
    error, imported = relative_error(randomized(LinearBatchNorm()), torch.randn(4, 12))
    assert error <= TOL
    assert "train.batch_norm" not in op_names(imported)
    assert list(arguments(imported)) == ["fc.weight", "fc.bias"]


def test_unfoldable_batch_norm_keeps_frozen_statistics():
    error, imported = relative_error(randomized(InputBatchNorm()), torch.randn(2, 3, 6, 6))
    assert error <= TOL
    assert op_names(imported).count("train.batch_norm") == 2
    roles = arguments(imported)
    assert roles["bn.weight"] == roles["bn.bias"] == "trainable"
    assert roles["bn.running_mean"] == roles["bn.running_var"] == "frozen"
    assert roles["bn2.running_var"] == "frozen" and "bn2.weight" not in roles


# --------------------------------------------------------------------------
# Op coverage beyond the zoo
# --------------------------------------------------------------------------

class ManyOps(nn.Module):
    """hardswish, sigmoid, silu, clamp, gelu (tanh), cat, padded pools, adaptive pool,
    broadcasting mul/add/sub/div, means, matmul with a broadcast operand, expand, frozen
    parameters and buffers."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, stride=2, padding=1, dilation=1)
        self.scale = nn.Parameter(torch.ones(1, 8, 1, 1))
        self.frozen = nn.Parameter(torch.ones(8), requires_grad=False)
        self.register_buffer("shift", torch.zeros(8, 1, 1))
        self.proj = nn.Parameter(torch.ones(16, 6))

    def forward(self, x):
        y = F.hardswish(self.conv(x)) * self.scale + self.shift      # 8x5x5
        y = torch.cat([torch.sigmoid(y), F.silu(y).clamp(-0.1, 0.5)], dim=1)
        y = F.max_pool2d(y, 3, stride=2, padding=1) - 0.25           # 16x3x3
        z = F.avg_pool2d(y, 2, stride=1, padding=1, count_include_pad=False)   # 16x4x4
        z = F.avg_pool2d(z, 3, stride=1, padding=1)                   # counting the padding
        z = F.adaptive_avg_pool2d(F.gelu(z, approximate="tanh"), 2) / 3.0      # 16x2x2
        z = z * z.mean(dim=(1, 3), keepdim=True)                      # x Nx1x2x1
        w = z.flatten(2).transpose(1, 2) @ self.proj                  # Nx4x16 @ 16x6
        c = (self.frozen.mean() * y.mean()).expand(x.shape[0], 1)   # 0-d -> Nx1
        return torch.cat([w.flatten(1), c], dim=1)


def test_many_ops_match_pytorch():
    model = randomized(ManyOps(), seed=3)
    error, imported = relative_error(model, torch.randn(2, 4, 10, 10))
    assert error <= TOL
    ops = set(op_names(imported))
    for op in ("hardswish", "sigmoid", "clamp", "gelu", "concat", "max_pool2d",
               "avg_pool2d", "broadcast", "mul", "matmul", "global_avg_pool", "transpose"):
        assert f"train.{op}" in ops, op
    roles = arguments(imported)
    assert roles["frozen"] == "frozen" and roles["shift"] == "frozen"
    assert roles["scale"] == "trainable"


# --------------------------------------------------------------------------
# Errors a user sees
# --------------------------------------------------------------------------

def write_model(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "model.py"
    path.write_text("import torch\nfrom torch import nn\n\n\n" + textwrap.dedent(body))
    return path


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("call,op", [("torch.cumsum(x, dim=1)", "aten.cumsum"),
                                     ("torch.sort(x, dim=1).values", "aten.sort")])
def test_unsupported_op_points_at_the_users_line(tmp_path, call, op):
    path = write_model(tmp_path, f"""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)

            def forward(self, x):
                x = self.fc(x)
                return {call}
        """)
    with pytest.raises(UnsupportedError) as error:
        import_torch_file(f"{path}:Net", [2, 4])
    line = line_of(path, call)
    assert error.value.location == f"{path}:{line}"
    assert str(error.value) == f"{path}:{line}: error: unsupported op {op}"


def test_dynamic_shapes_are_an_error(tmp_path):
    path = write_model(tmp_path, """
        class Net(nn.Module):
            def forward(self, x):
                return x[x > 0]
        """)
    with pytest.raises(UnsupportedError, match="dynamic shape") as error:
        import_torch_file(f"{path}:Net", [2, 4])
    assert error.value.location == f"{path}:{line_of(path, 'x[x > 0]')}"


def test_data_dependent_control_flow_is_an_error(tmp_path):
    path = write_model(tmp_path, """
        class Net(nn.Module):
            def forward(self, x):
                if x.sum() > 0:
                    return x * 2
                return x
        """)
    with pytest.raises(UnsupportedError, match="depend on tensor values") as error:
        import_torch_file(f"{path}:Net", [2, 4])
    assert error.value.location == f"{path}:{line_of(path, 'if x.sum()')}"


def test_wrong_input_shape_is_an_input_error():
    with pytest.raises(InputError, match="fails on inputs of shape 1x3x28x28") as error:
        import_torch_file(f"{ZOO / 'lenet.py'}:LeNet", [1, 3, 28, 28])
    assert error.value.location.startswith(f"{ZOO / 'lenet.py'}:")


def test_missing_class_lists_the_classes(tmp_path):
    path = write_model(tmp_path, """
        class First(nn.Module):
            def forward(self, x):
                return x

        class Second(First):
            pass
        """)
    with pytest.raises(InputError, match=r"no nn.Module class 'Third'.*First, Second"):
        import_torch_file(f"{path}:Third", [1])


def test_loading_errors_are_input_errors(tmp_path):
    path = write_model(tmp_path, """
        class NeedsArgs(nn.Module):
            def __init__(self, width):
                super().__init__()
        """)
    with pytest.raises(InputError, match=r"cannot construct NeedsArgs\(\)"):
        import_torch_file(f"{path}:NeedsArgs", [1])
    with pytest.raises(InputError, match="no such file"):
        import_torch_file(f"{tmp_path / 'absent.py'}:Net", [1])
    with pytest.raises(InputError, match="MODEL.py:CLASS"):
        import_torch_file(str(path), [1])
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(InputError, match="boom"):
        import_torch_file(f"{broken}:Net", [1])

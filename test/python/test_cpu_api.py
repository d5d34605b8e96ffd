"""`tcc.compile`: the Python API over the reference interpreter and the cpu target.

The reference-target tests check the API itself (inputs, state kept between steps,
parameters, torch tensors, schemes, losses, errors) against the driver's reference run
and PyTorch. The cpu-target tests (skipped while compiler/targets/cpu.py is missing)
check that the compiled library computes what the reference interpreter does, for the
MLP and every zoo model, and that a second compile comes from the cache.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tcc
from tcc.compiler import cache as cache_module
from tcc.compiler.api import CompiledModel, ModelSignature
from tcc.compiler.driver import TrainingOptions, prepare, reference_losses
from tcc.compiler.errors import InputError, TccError, UnsupportedError
from tcc.compiler.source import new_context, parse_module
from numerics import rel_error

REPO = Path(__file__).resolve().parents[2]
MLP = REPO / "examples" / "mlp.mlir"
ZOO = REPO / "examples" / "zoo"

try:
    importlib.import_module("tcc.compiler.targets.cpu")
    HAVE_CPU = True
except ImportError:
    HAVE_CPU = False
needs_cpu = pytest.mark.skipif(not HAVE_CPU, reason="compiler/targets/cpu.py not available")



def digits_batches(steps: int, batch: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((steps, batch, 64)).astype(np.float32)
    ys = rng.integers(0, 10, (steps, batch)).astype(np.int32)
    return xs, ys


def load_zoo(file: str, cls: str):
    spec = importlib.util.spec_from_file_location(f"zoo_api_{Path(file).stem}", ZOO / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    return getattr(module, cls)().eval(), tuple(module.INPUT_SHAPE)


# --------------------------------------------------------------------------
# import tcc stays light
# --------------------------------------------------------------------------

def test_import_tcc_is_lazy():
    code = ("import sys, tcc; heavy = [m for m in ('tcc._mlir', 'numpy', 'torch', "
            "'tcc.compiler') if m in sys.modules]; f = tcc.compile; "
            "print(','.join(heavy), f.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["tcc.compiler.api"], out          # nothing heavy imported before


def test_unknown_attribute_of_tcc():
    with pytest.raises(AttributeError):
        tcc.no_such_thing  # noqa: B018


# --------------------------------------------------------------------------
# Reference target: the API's semantics
# --------------------------------------------------------------------------

def test_mlp_losses_equal_the_driver_reference_run():
    xs, ys = digits_batches(4)
    model = tcc.compile(MLP, target="reference", lr=0.05)
    losses = [model.train_step(x, y) for x, y in zip(xs, ys)]
    expected = reference_losses(prepare(MLP, TrainingOptions(lr=0.05)), xs, ys)
    assert losses == expected
    assert losses[-1] < losses[0] * 1.5 and len(set(losses)) == len(losses)


def test_momentum_losses_equal_the_driver_reference_run():
    xs, ys = digits_batches(4)
    model = tcc.compile(MLP, target="reference", optimizer="momentum", momentum=0.8, lr=0.02)
    losses = [model.train_step(x, y) for x, y in zip(xs, ys)]
    expected = reference_losses(
        prepare(MLP, TrainingOptions(lr=0.02, optimizer="momentum", momentum=0.8)), xs, ys)
    assert losses == expected
    assert set(model.momentum) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert all(np.abs(m).max() > 0 for m in model.momentum.values())
    model.reset_optimizer()
    assert all(np.abs(m).max() == 0 for m in model.momentum.values())


def test_parameters_are_live_and_writable():
    model = tcc.compile(MLP, target="reference")
    assert list(model.parameters) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    weight = model.parameters["fc1.weight"]
    view = torch.from_numpy(weight)               # shares the parameter's memory
    before = weight.copy()
    xs, ys = digits_batches(1)
    model.train_step(xs[0], ys[0])
    assert model.parameters["fc1.weight"] is weight      # updated in place
    assert not np.array_equal(weight, before)
    assert torch.equal(view, torch.from_numpy(weight))
    # Writing: the next forward uses the new values.
    model.parameters["fc2.weight"] = np.zeros((10, 32), np.float32)
    model.parameters["fc2.bias"] = torch.arange(10, dtype=torch.float32)
    logits = model.infer(xs[0])
    np.testing.assert_array_equal(logits, np.tile(np.arange(10, dtype=np.float32), (8, 1)))
    with pytest.raises(InputError, match="expects shape"):
        model.parameters["fc1.bias"] = np.zeros(3, np.float32)
    with pytest.raises(KeyError, match="no parameter"):
        model.parameters["nope"]
    state = model.state_dict()
    state["fc1.bias"][:] = 7
    assert not np.all(model.parameters["fc1.bias"] == 7)     # a copy
    model.load_state_dict(state)
    assert np.all(model.parameters["fc1.bias"] == 7)


def test_initial_parameters_come_from_the_weights_file(tmp_path):
    text = MLP.read_text().replace("func.func", 'module attributes {train.weights = "w.npz"} {\n'
                                   "func.func", 1) + "}\n"
    path = tmp_path / "mlp.mlir"
    path.write_text(text)
    rng = np.random.default_rng(3)
    values = {"fc1.weight": rng.standard_normal((32, 64)), "fc1.bias": np.ones(32),
              "fc2.weight": rng.standard_normal((10, 32)), "fc2.bias": np.zeros(10)}
    np.savez(tmp_path / "w.npz", **{k: v.astype(np.float32) for k, v in values.items()})
    model = tcc.compile(path, target="reference")
    for name, value in values.items():
        np.testing.assert_array_equal(model.parameters[name], value.astype(np.float32))
    # weights= overrides them
    model = tcc.compile(path, target="reference",
                        weights={**values, "fc1.bias": np.full(32, 2.0, np.float32)})
    assert np.all(model.parameters["fc1.bias"] == 2)


def test_ir_module_input_matches_the_file():
    module = parse_module(MLP.read_text(), "mlp.mlir", new_context())
    xs, ys = digits_batches(2)
    a = tcc.compile(module, target="reference")
    b = tcc.compile(MLP, target="reference")
    assert [a.train_step(x, y) for x, y in zip(xs, ys)] == \
        [b.train_step(x, y) for x, y in zip(xs, ys)]
    # The caller's module is not modified (no @train_step added to it).
    assert "train_step" not in str(module)


def test_torch_module_trains_like_pytorch():
    net, shape = load_zoo("mlp.py", "MLP")
    x = torch.randn(shape)
    model = tcc.compile(net, target="reference", example_inputs=(x,), lr=0.1)
    torch.testing.assert_close(model.infer(x), net(x), rtol=1e-5, atol=1e-6)
    assert isinstance(model.infer(x), torch.Tensor)
    assert isinstance(model.infer(x.numpy()), np.ndarray)

    reference = copy.deepcopy(net)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(shape, generator=generator)
        y = torch.randint(0, 10, (shape[0],), generator=generator)
        loss = model.train_step(x, y)                 # int64 labels are converted
        optimizer.zero_grad()
        expected = F.cross_entropy(reference(x), y)
        expected.backward()
        optimizer.step()
        assert abs(loss - expected.item()) <= 1e-5 * abs(expected.item())
    for name, p in reference.named_parameters():
        assert rel_error(model.parameters[name], p.detach().numpy()) <= 1e-5, name


def test_scheme_freezes_what_it_does_not_name():
    scheme = {"default": "frozen", "layers": {"fc2": "full"}}
    model = tcc.compile(MLP, target="reference", scheme=scheme)
    assert model.parameters.trainable() == ["fc2.weight", "fc2.bias"]
    before = model.state_dict()
    xs, ys = digits_batches(2)
    for x, y in zip(xs, ys):
        model.train_step(x, y)
    np.testing.assert_array_equal(model.parameters["fc1.weight"], before["fc1.weight"])
    assert not np.array_equal(model.parameters["fc2.weight"], before["fc2.weight"])


def test_scheme_file(tmp_path):
    path = tmp_path / "scheme.json"
    path.write_text(json.dumps({"default": "bias"}))
    model = tcc.compile(MLP, target="reference", scheme=str(path))
    assert model.parameters.trainable() == ["fc1.bias", "fc2.bias"]


def test_mse_loss_takes_float_targets():
    model = tcc.compile(MLP, target="reference", loss="mse", lr=0.01)
    labels = model.signature.step.args[-1]
    assert labels.kind == "labels" and labels.dtype == "float32" and labels.shape == [8, 10]
    xs, _ = digits_batches(1)
    target = np.zeros((8, 10), np.float32)
    logits = model.infer(xs[0])
    loss = model.train_step(xs[0], target)
    assert abs(loss - float(np.mean(logits.astype(np.float64) ** 2))) <= 1e-5 * loss


def test_torch_inputs_are_not_copied():
    from tcc.compiler.api import _as_array
    model = tcc.compile(MLP, target="reference")
    spec = model.signature.forward.args[0]
    tensor = torch.randn(8, 64)
    assert np.shares_memory(_as_array(tensor, spec, "x"), tensor.numpy())
    array = np.ones((8, 64), np.float32)
    assert _as_array(array, spec, "x") is array


def test_signature_round_trips_through_json():
    model = tcc.compile(MLP, target="reference", optimizer="momentum")
    signature = model.signature
    again = ModelSignature.from_json(json.loads(json.dumps(signature.to_json())))
    assert again == signature
    step = signature.step
    assert [a.kind for a in step.args] == ["data"] + ["parameter"] * 4 + ["momentum"] * 4 + \
        ["labels"]
    assert [r.updates for r in step.results] == [None, 1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("call, message", [
    (lambda: tcc.compile(MLP, target="gpu9"), "unknown target"),
    (lambda: tcc.compile(MLP, target="reference", optimizer="adam"), "unknown optimizer"),
    (lambda: tcc.compile(MLP, target="reference", loss="hinge"), "unknown loss"),
    (lambda: tcc.compile("missing.mlir", target="reference"), "no such file"),
    (lambda: tcc.compile(nn.Linear(2, 2), target="reference"), "example_inputs"),
    (lambda: tcc.compile(42, target="reference"), "cannot compile a int"),
    (lambda: tcc.compile(MLP, target="reference", scheme={"layers": {"fc9": "full"}}), "fc9"),
])
def test_errors_are_tcc_errors(call, message):
    with pytest.raises(TccError, match=message):
        call()


def test_wrong_inputs_are_input_errors():
    model = tcc.compile(MLP, target="reference")
    with pytest.raises(InputError, match="expects shape"):
        model.infer(np.zeros((4, 64), np.float32))
    with pytest.raises(InputError, match="takes 1 input"):
        model.train_step(np.zeros((8, 64), np.float32))
    with pytest.raises(InputError, match="expects int32"):
        model.train_step(np.zeros((8, 64), np.float32), np.zeros(8, np.float32))


# --------------------------------------------------------------------------
# The cache (no compiler needed)
# --------------------------------------------------------------------------

def test_cache_key_depends_on_ir_and_options():
    key = cache_module.cache_key("module {}", {"lr": 0.1})
    assert key == cache_module.cache_key("module {}", {"lr": 0.1})
    assert key != cache_module.cache_key("module {}", {"lr": 0.2})
    assert key != cache_module.cache_key("module { }", {"lr": 0.1})


def test_cache_stores_and_finds_entries(tmp_path):
    store = cache_module.Cache(tmp_path / "c")
    assert store.lookup("k" * 32) is None
    with store.building("k" * 32) as directory:
        (directory / "lib.so").write_bytes(b"x")
        entry = store.commit("k" * 32, directory, directory / "lib.so", {"signature": {}})
    assert entry.library.read_bytes() == b"x"
    found = store.lookup("k" * 32)
    assert found is not None and found.library == entry.library
    assert [e.key for e in store.entries()] == ["k" * 32]
    # A failed build leaves nothing behind.
    with pytest.raises(RuntimeError):
        with store.building("j" * 32) as directory:
            raise RuntimeError
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["k" * 32]
    store.clear()
    assert store.lookup("k" * 32) is None


def test_cache_directory_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(cache_module.CACHE_ENV, str(tmp_path / "here"))
    assert cache_module.Cache().directory == tmp_path / "here"
    monkeypatch.delenv(cache_module.CACHE_ENV)
    assert cache_module.Cache().directory == Path.home() / ".cache" / "tcc"


def test_cpu_target_missing_is_an_unsupported_error(monkeypatch):
    if HAVE_CPU:
        pytest.skip("the cpu target exists")
    with pytest.raises(UnsupportedError, match="cpu target"):
        tcc.compile(MLP, target="cpu", cache=False)


# --------------------------------------------------------------------------
# cpu target
# --------------------------------------------------------------------------

@needs_cpu
def test_cpu_mlp_equals_the_reference(tmp_path):
    xs, ys = digits_batches(5)
    reference = tcc.compile(MLP, target="reference", optimizer="momentum")
    compiled = tcc.compile(MLP, target="cpu", optimizer="momentum", cache_dir=tmp_path)
    assert isinstance(compiled, CompiledModel) and not compiled.cache_hit
    np.testing.assert_allclose(compiled.infer(xs[0]), reference.infer(xs[0]), rtol=1e-5,
                               atol=1e-6)
    ours = [compiled.train_step(x, y) for x, y in zip(xs, ys)]
    theirs = [reference.train_step(x, y) for x, y in zip(xs, ys)]
    assert rel_error(ours, theirs) <= 1e-5, (ours, theirs)
    for name in reference.parameters:
        assert rel_error(compiled.parameters[name], reference.parameters[name]) <= 1e-5, name
        assert rel_error(compiled.momentum[name], reference.momentum[name]) <= 1e-4, name


@needs_cpu
def test_cpu_second_compile_comes_from_the_cache(tmp_path):
    first = tcc.compile(MLP, target="cpu", cache_dir=tmp_path)
    second = tcc.compile(MLP, target="cpu", cache_dir=tmp_path)
    assert second.cache_hit and not first.cache_hit and first.cache_key == second.cache_key
    xs, ys = digits_batches(3)
    assert [first.train_step(x, y) for x, y in zip(xs, ys)] == \
        [second.train_step(x, y) for x, y in zip(xs, ys)]
    # Other options: another entry.
    third = tcc.compile(MLP, target="cpu", cache_dir=tmp_path, lr=0.01)
    assert not third.cache_hit and third.cache_key != first.cache_key
    assert len(cache_module.Cache(tmp_path).entries()) == 2
    # The derived module is still there on a hit.
    assert "train_step" in str(second.module)


@needs_cpu
def test_cache_hit_reads_the_weights_file_the_model_names(tmp_path, monkeypatch):
    """A hit takes the parameters from the model's weights file without parsing the
    model, and reads the file again each time (new weights, same compiled code)."""
    from tcc.compiler import api
    from tcc.compiler.frontends.pytorch import import_module
    net, shape = load_zoo("mlp.py", "MLP")
    mlir, npz = import_module(net, (torch.zeros(shape),)).write(tmp_path / "mlp.mlir")
    first = tcc.compile(mlir, target="cpu", cache_dir=tmp_path / "cache")
    monkeypatch.setattr(api, "_load_forward", lambda source: pytest.fail("parsed on a hit"))
    second = tcc.compile(mlir, target="cpu", cache_dir=tmp_path / "cache")
    assert second.cache_hit
    for name in first.parameters:
        np.testing.assert_array_equal(second.parameters[name], first.parameters[name])
    weights = dict(np.load(npz))
    weights = {k: v + 1 for k, v in weights.items()}
    np.savez(npz, **weights)
    third = tcc.compile(mlir, target="cpu", cache_dir=tmp_path / "cache")
    assert third.cache_hit
    for name, value in weights.items():
        np.testing.assert_array_equal(third.parameters[name], value)


@needs_cpu
def test_cpu_uncached_compile(tmp_path):
    model = tcc.compile(MLP, target="cpu", cache=False)
    xs, ys = digits_batches(1)
    assert np.isfinite(model.train_step(xs[0], ys[0]))


ZOO_MODELS = {"mlp.py": "MLP", "lenet.py": "LeNet", "mobilenetv2.py": "MobileNetV2",
              "dscnn.py": "DSCNN", "resnet8.py": "ResNet8",
              "transformer.py": "TransformerEncoder"}


_ZOO_FILES: dict = {}


@pytest.fixture(scope="module")
def zoo_file(tmp_path_factory):
    """zoo_file(file) -> (torch module, input shape, path of its imported .mlir); each
    model imported once."""
    from tcc.compiler.frontends.pytorch import import_module

    def get(file: str):
        if file not in _ZOO_FILES:
            net, shape = load_zoo(file, ZOO_MODELS[file])
            imported = import_module(net, (torch.zeros(shape),))
            path, _ = imported.write(tmp_path_factory.mktemp("zoo") / f"{Path(file).stem}.mlir")
            _ZOO_FILES[file] = (net, shape, path)
        return _ZOO_FILES[file]
    return get


@needs_cpu
@pytest.mark.parametrize("update", ["full", "sparse"])
@pytest.mark.parametrize("file", sorted(ZOO_MODELS))
def test_cpu_zoo_equals_the_reference(file, update, zoo_file, tmp_path):
    net, shape, path = zoo_file(file)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator)
    classes = net(x).shape[-1]
    scheme = None if update == "full" else {"default": "bias", "layers": {"conv:-1": "full"}}
    options = dict(scheme=scheme, optimizer="momentum", lr=0.02)
    reference = tcc.compile(path, "reference", **options)
    compiled = tcc.compile(path, "cpu", cache_dir=tmp_path, **options)
    assert rel_error(compiled.infer(x), reference.infer(x)) <= 1e-5
    for _ in range(3):
        y = torch.randint(0, classes, (shape[0],), generator=generator)
        ours, theirs = compiled.train_step(x, y), reference.train_step(x, y)
        assert abs(ours - theirs) <= 1e-5 * abs(theirs), (ours, theirs)
    for name in reference.parameters:
        assert rel_error(compiled.parameters[name], reference.parameters[name]) <= 1e-5, name
        if update == "sparse" and name not in reference.parameters.trainable():
            np.testing.assert_array_equal(compiled.parameters[name],
                                          reference.parameters[name])


@needs_cpu
def test_compile_functions_runs_any_function(tmp_path):
    from tcc.compiler.api import compile_functions
    from tcc.runtime.interpreter import run_function
    module = prepare(MLP, TrainingOptions()).module
    executor = compile_functions(module, ["forward"], cache_dir=tmp_path)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s).astype(np.float32)
            for s in ((8, 64), (32, 64), (32,), (10, 32), (10,))]
    (ours,) = executor.call("forward", args)
    (theirs,) = run_function(module, "forward", args)
    assert rel_error(ours, theirs) <= 1e-5
    again = compile_functions(module, ["forward"], cache_dir=tmp_path)
    assert again.library == executor.library          # from the cache

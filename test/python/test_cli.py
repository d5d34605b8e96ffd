"""The `tcc` command line: the Cortex-M7 path end to end, and clear errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tcc.compiler import driver

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MLP = EXAMPLES / "mlp.mlir"
needs_arm = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="needs arm-none-eabi-gcc and qemu-system-arm")


def tcc(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcc.compiler.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL)


def losses_of(stdout: str) -> list[float]:
    return [float(line.split()[-1]) for line in stdout.splitlines() if line.startswith("step")]


@needs_arm
def test_cortex_m7_training_matches_reference_interpreter(tmp_path):
    result = tcc("--target=cortex-m7", MLP, "-o", tmp_path / "out", "--run", "--lr", "0.5")
    assert result.returncode == 0, result.stderr
    losses = losses_of(result.stdout)
    assert len(losses) == 20
    model = driver.prepare(MLP, driver.TrainingOptions(lr=0.5))
    inputs, labels = driver.training_batches(model, 20, None)
    expected = driver.reference_losses(model, inputs, labels)
    # The printed losses are rounded to 6 decimals; the device's own are checked below.
    np.testing.assert_allclose(losses, expected, rtol=1e-4)
    device = driver.train_on_device(tmp_path / "out", "cortex-m7", inputs, labels)
    np.testing.assert_allclose(device, expected, rtol=1e-4)
    host = driver.train_on_device(tmp_path / "out", "cortex-m7", inputs, labels, host=True)
    np.testing.assert_allclose(host, device, rtol=1e-5)
    assert losses[-1] < losses[0]


@needs_arm
def test_cortex_m3_trains_a_float_model_with_soft_float(tmp_path):
    """No FPU: a float model's step runs on the soft-float library, as the interpreter."""
    result = tcc("--target=cortex-m3", MLP, "-o", tmp_path / "m3", "--run", "--steps", "3",
                 "--lr", "0.5")
    assert result.returncode == 0, result.stderr
    model = driver.prepare(MLP, driver.TrainingOptions(lr=0.5))
    inputs, labels = driver.training_batches(model, 3, None)
    np.testing.assert_allclose(losses_of(result.stdout),
                               driver.reference_losses(model, inputs, labels), rtol=1e-4)


@needs_arm
def test_cortex_m4_builds_and_runs(tmp_path):
    result = tcc("--target=cortex-m4", MLP, "-o", tmp_path / "m4", "--run", "--steps", "3")
    assert result.returncode == 0, result.stderr
    assert len(losses_of(result.stdout)) == 3


def test_project_files_and_report(tmp_path):
    result = tcc(MLP, "-o", tmp_path / "p")
    assert result.returncode == 0, result.stderr
    names = {p.name for p in (tmp_path / "p").iterdir()}
    assert {"model.h", "model.c", "Makefile", "stm32f746.ld", "startup.c", "main.c",
            "tcc_kernels.c", "memory_report.txt", "memory_report.json"} <= names
    header = (tmp_path / "p" / "model.h").read_text()
    for api in ("tcc_model_init", "tcc_model_infer", "tcc_model_train_step"):
        assert api in header


def test_output_is_deterministic(tmp_path):
    for name in ("a", "b"):
        assert tcc(MLP, "-o", tmp_path / name).returncode == 0
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_refuses_to_overwrite_foreign_directory(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = tcc(MLP, "-o", tmp_path / "mine")
    assert result.returncode == 1
    assert "not made by tcc" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_run_subcommand_uses_the_interpreter(tmp_path):
    rng = np.random.default_rng(0)
    model = driver.prepare(MLP, driver.TrainingOptions())
    arrays = {"arg0": rng.standard_normal((8, 64)).astype(np.float32),
              "labels": rng.integers(0, 10, 8).astype(np.int32)}
    arrays.update({f"arg{i}": v for i, v in model.parameters.items()})
    np.savez(tmp_path / "in.npz", **arrays)
    result = tcc("run", MLP, "--function", "train_step", "--inputs", tmp_path / "in.npz",
                 "-o", tmp_path / "out.npz")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "out.npz") as out:
        assert set(out) == {"loss", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
        assert out["loss"].shape == ()


def test_cpu_target_writes_a_library_and_trains_like_the_interpreter(tmp_path):
    result = tcc("--target=cpu", MLP, "-o", tmp_path / "cpu", "--run", "--steps", "4",
                 "--lr", "0.5")
    assert result.returncode == 0, result.stderr
    names = {p.name for p in (tmp_path / "cpu").iterdir()}
    assert {"libtcc_model.so", "model.h", "memory_report.txt", "memory_report.json"} <= names
    model = driver.prepare(MLP, driver.TrainingOptions(lr=0.5))
    inputs, labels = driver.training_batches(model, 4, None)
    expected = driver.reference_losses(model, inputs, labels)
    np.testing.assert_allclose(losses_of(result.stdout), expected, rtol=1e-5)
    library = driver.train_on_host_library(tmp_path / "cpu", inputs, labels)
    np.testing.assert_allclose(library, expected, rtol=1e-5)


def run_on_targets(tmp_path, function: str, targets, seed: int) -> dict:
    """`tcc run MLP --function F` on each target with the same seeded inputs and the
    model's parameters: the results by target."""
    rng = np.random.default_rng(seed)
    model = driver.prepare(MLP, driver.TrainingOptions())
    arrays = {"arg0": rng.standard_normal((8, 64)).astype(np.float32),
              "labels": rng.integers(0, 10, 8).astype(np.int32)}
    arrays.update({f"arg{i}": v for i, v in model.parameters.items()})
    np.savez(tmp_path / "in.npz", **arrays)
    outputs = {}
    for target in targets:
        result = tcc("run", MLP, "--function", function, "--inputs", tmp_path / "in.npz",
                     "-o", tmp_path / f"{target}.npz", "--target", target)
        assert result.returncode == 0, result.stderr
        with np.load(tmp_path / f"{target}.npz") as out:
            outputs[target] = dict(out)
    assert all(set(outputs[t]) == set(outputs[targets[0]]) for t in targets)
    return outputs


@pytest.mark.parametrize("function", ["forward", "train_step"])
def test_run_subcommand_on_the_cpu_target_equals_the_interpreter(tmp_path, function):
    outputs = run_on_targets(tmp_path, function, ("reference", "cpu"), seed=1)
    for name, value in outputs["reference"].items():
        np.testing.assert_allclose(outputs["cpu"][name], value, rtol=1e-5, atol=1e-7)


BAD_INPUTS = {
    "malformed": ("func.func @forward(%x: tensor<8x64xf32> {\n}\n", ":2:"),
    "unknown_op": ("func.func @forward(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {\n"
                   "  %y = train.frobnicate %x : tensor<8x64xf32>\n"
                   "  return %y : tensor<8x64xf32>\n}\n", ":2:"),
    "shape_mismatch": ("func.func @forward(%x: tensor<8x64xf32>, %w: tensor<10x32xf32>) "
                       "-> tensor<8x10xf32> {\n"
                       "  %y = train.linear %x, %w : (tensor<8x64xf32>, tensor<10x32xf32>)"
                       " -> tensor<8x10xf32>\n  return %y : tensor<8x10xf32>\n}\n", ":2:"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_models_give_one_line_errors(tmp_path, case):
    text, where = BAD_INPUTS[case]
    model = tmp_path / f"{case}.mlir"
    model.write_text(text)
    result = tcc(model, "-o", tmp_path / "out")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{model}{where}") and "error:" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["missing.mlir", "-o", "out"], "missing.mlir: error: no such file"),
    ([MLP, "-o", "out", "--target=riscv"],
     "unknown target 'riscv' (expected one of: cortex-m3, cortex-m4, cortex-m7, cpu, gpu)"),
    ([MLP, "-o", "out", "--target=cpu", "--host"], "--host applies to Cortex-M targets"),
    (["run", MLP, "--inputs", "in.npz", "-o", "o.npz", "--target=riscv"],
     "unknown target 'riscv' for tcc run (expected one of: reference, cpu, gpu, cortex-m3, "
     "cortex-m4, cortex-m7)"),
    ([MLP, "-o", "out", "--gradients", "int16"],
     "--gradients int16 needs an int8 (quantized) model; @forward has no quantized tensor"),
    ([MLP, "-o", "out", "--target=cpu", "--gradients", "int16"],
     "--gradients int16 is for Cortex-M targets"),
    ([MLP, "-o", "out", "--bogus"], "unrecognized arguments: --bogus"),
    ([MLP], "required: -o/--output"),
    ([MLP, "-o", "out", "--run", "--data", "missing.npz"], "missing.npz: error: no such file"),
])
def test_bad_invocations_give_one_line_errors(tmp_path, args, message):
    result = tcc(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@needs_arm
@pytest.mark.parametrize("function", ["forward", "train_step"])
def test_run_subcommand_on_cortex_m7_equals_the_interpreter(tmp_path, function):
    """`tcc run --target=cortex-m7`: the C project built with arm-none-eabi-gcc and run
    once in qemu gives the interpreter's results (the loss and every updated parameter)."""
    outputs = run_on_targets(tmp_path, function, ("reference", "cortex-m7"), seed=2)
    for name, value in outputs["reference"].items():
        assert outputs["cortex-m7"][name].shape == value.shape
        np.testing.assert_allclose(outputs["cortex-m7"][name], value, rtol=1e-5, atol=1e-6)


def test_int8_training_data_must_hold_storage_values(tmp_path):
    """--data for a model with int8 inputs: integers in [-128, 127] load as int8 (the C
    harness reads bytes); fractions or values out of range are refused by name."""
    from tcc.compiler.errors import InputError
    from tcc.compiler.example_data import load_training_data
    path = tmp_path / "d.npz"
    np.savez(path, inputs=np.array([[[-128.0, 127.0]]]), labels=np.array([[3]]))
    inputs, labels = load_training_data(path, [1, 2], 1, 1, np.int8)
    assert inputs.dtype == np.int8 and inputs.tolist() == [[[-128, 127]]]
    assert labels.dtype == np.int32
    for bad in (0.5, 128.0):
        np.savez(path, inputs=np.array([[[bad, 1.0]]]), labels=np.array([[3]]))
        with pytest.raises(InputError, match="int8 inputs: 'inputs' must hold integers"):
            load_training_data(path, [1, 2], 1, 1, np.int8)


TTE = Path(__file__).resolve().parents[2] / ".." / "shared" / "models" / "tte"


@pytest.mark.skipif(not (TTE / "mcunet-5fps.json").is_file(), reason="needs ../shared TTE models")
@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m3"])
def test_run_with_data_on_an_int8_model_matches_the_interpreter(tmp_path, target):
    """`tcc --run --data` on the int8 MCUNet-5FPS (a paper scheme, the host build): the
    int8 inputs reach the harness as bytes and the losses equal the interpreter's; on
    the FPU-less cortex-m3 the backward pass is int16 fixed point by default."""
    model = tmp_path / "mcunet.mlir"
    imported = tcc("import-tte", TTE / "mcunet-5fps.json", "--num-classes", "10", "-o", model)
    assert imported.returncode == 0, imported.stderr
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", inputs=rng.integers(-128, 128, (2, 1, 3, 128, 128)),
             labels=rng.integers(0, 10, (2, 1)))
    result = tcc(model, "-o", tmp_path / "out", "--scheme", TTE / "schemes.json",
                 "--scheme-key", "mcunet-5fps/49kb", "--host", "--run", "--steps", 2,
                 "--data", tmp_path / "d.npz", "--lr", "0.01", f"--target={target}")
    assert result.returncode == 0, result.stderr
    worst = float(result.stdout.split("reference interpreter:")[-1])
    assert len(losses_of(result.stdout)) == 2 and worst < 1e-5

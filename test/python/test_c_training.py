"""The C target's training steps (compiler/targets/c_renderer.py over kernels/c) against
the reference interpreter.

Every float zoo model (examples/zoo, imported with the PyTorch importer as
test_zoo_training.py does) gets a scheme, --train-autodiff, --train-reorder and
--plan-memory; the rendered project is built once for the host with
-fsanitize=address,undefined and trains STEPS steps with the harness
(runtime/cortex_m/main.c), which writes every trainable parameter after every step.
Each step is checked against the interpreter run from the parameters the C code had
before it (so a difference cannot compound): the loss and every updated parameter within
1e-5 relative. The small models also run in qemu (cortex-m7) and must give the host's
bytes exactly (-ffp-contract=off on both).

The TTE models (../shared/models/tte, skipped when absent), imported with
`--rounding multiplier_shift` and a 10-class head, train with one paper scheme each: the
int8 forward is bit-exact (the loss within 1e-6), and an int8 parameter after an update
equals the interpreter's except for +-1 flips where a float gradient lands on a rounding
boundary; the flips are counted and printed.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tcc
from tcc.compiler.calibration import calibrate_on_random_samples
from tcc.compiler.driver import TrainingOptions, schedule_and_plan
from tcc.compiler.source import find_function
from tcc.compiler.targets import cortex_m
from tcc.dialects import train
from tcc.runtime import cortex_m_runner as runner
from tcc.runtime.interpreter import run_function

from numerics import rel_error

TTE_DIR = Path(tcc.__file__).resolve().parent / ".." / "shared" / "models" / "tte"
HOST_FLAGS = ["-std=c99", "-O1", "-g", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror",
              "-Wdouble-promotion", "-fsanitize=address,undefined",
              "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
FLOAT_TOL = 1e-5
NUMPY = {"f32": np.float32, "i32": np.int32, "i8": np.int8}

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or
                               shutil.which("qemu-system-arm") is None,
                               reason="needs arm-none-eabi-gcc and qemu-system-arm")


# ------------------------------------------------------------------------ the harness

RUNTIME = Path(tcc.__file__).parent / "runtime" / "cortex_m"
KERNELS = Path(tcc.__file__).parent / "kernels" / "c"


def write_files(renderer, directory: Path) -> None:
    """The project's files without the SRAM budget check of cortex_m.write_project: the
    host build of a model too big for the STM32F746 is still a check of the code."""
    directory.mkdir(parents=True)
    files = renderer.render()
    for name in cortex_m.RUNTIME_FILES:
        files[name] = (RUNTIME / name).read_text()
    for name in cortex_m.KERNEL_FILES:
        files.setdefault(name, (KERNELS / name).read_text())
    files["main.c"] = (RUNTIME / "main.c").read_text()
    files["Makefile"] = (RUNTIME / "Makefile.in").read_text()
    for name, text in files.items():
        (directory / name).write_text(text)


class Trainable:
    """A planned module with @train_step, its initial parameters and its project."""

    def __init__(self, module, parameters: dict, directory: Path):
        self.module = module
        self.parameters = parameters
        self.step = find_function(module, "train_step")
        renderer = cortex_m.CortexMRenderer(module, parameters)
        write_files(renderer, directory)
        self.directory = directory
        self.input_index = renderer.input_index
        self.input_value = renderer.input_value
        # The parameters the harness writes, in order: (index, element kind, stored shape).
        self.stored = []
        for index in sorted(parameters):
            if train.arg_role(renderer.forward, index) != "trainable":
                continue
            shape = list(np.shape(parameters[index]))
            split = renderer.param_splits.get(index)
            if split is not None:
                shape[split.axis] = split.k
            self.stored.append((index, renderer.param_kinds[renderer.param_symbol(index)],
                                tuple(shape)))

    def stored_part(self, index: int, array: np.ndarray) -> np.ndarray:
        """What the C code stores of parameter `index` (a partial one: its slice)."""
        shape = next(s for i, _, s in self.stored if i == index)
        return np.asarray(array)[tuple(slice(0, n) for n in shape)]

    def write_data(self, inputs: np.ndarray, labels: np.ndarray) -> None:
        """train_data.bin asking for the parameters after every step (magic TCCP)."""
        kind = NUMPY[_kind(self.input_value)]
        steps, batch = labels.shape
        x = inputs.reshape(steps, -1).astype(kind)
        with open(self.directory / "train_data.bin", "wb") as f:
            f.write(b"TCCP" + struct.pack("<III", steps, x.shape[1], batch))
            for i in range(steps):
                f.write(x[i].tobytes())
                f.write(labels[i].astype("<i4").tobytes())

    def read_params(self, steps: int) -> list[dict]:
        """The parameters after each step, by index."""
        data = (self.directory / "train_params.bin").read_bytes()
        result, position = [], 0
        for _ in range(steps):
            params = {}
            for index, kind, shape in self.stored:
                count = int(np.prod(shape))
                array = np.frombuffer(data, NUMPY[kind], count, position)
                position += array.nbytes
                params[index] = array.reshape(shape)
            result.append(params)
        assert position == len(data), (position, len(data))
        return result

    def build_host(self, kernels: list[Path], flags: list[str]) -> Path:
        """app_host from main.c, model.c and the kernel objects built with `flags`."""
        sources = ["main.c", f"model.c"]
        result = subprocess.run(["gcc", *flags, *sources, *map(str, kernels), "-o",
                                 "app_host", "-lm"], cwd=self.directory, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        return self.directory / "app_host"

    def run(self, program: Path, steps: int, *, qemu: bool = False):
        if qemu:
            result = runner.run_qemu(program, cwd=self.directory, timeout=600)
        else:
            result = runner.run_host(program, cwd=self.directory, timeout=600)
        assert result.exit_code == 0, result.stderr[-3000:]
        losses = runner.parse_losses(result.stdout)
        assert len(losses) == steps, result.stdout[-2000:]
        return losses, self.read_params(steps)

    def reference_step(self, params: dict, x, labels):
        """The interpreter's step from `params` (full parameters by index); returns
        (loss, updated full parameters by index)."""
        args = self.step.entry_block.arguments
        values = []
        for index in range(len(args)):
            if index in params:
                values.append(params[index])
            elif train.momentum_of(self.step, index) is not None:
                values.append(params[("momentum", index)])
            else:
                values.append(None)
        values[self.input_index], values[-1] = x, labels
        loss, *updates = run_function(self.module, "train_step", values)
        new = dict(params)
        for position, update in enumerate(updates, 1):
            target = train.updated_arg(self.step, position)
            key = ("momentum", target) if train.momentum_of(self.step, target) is not None \
                else target
            new[key] = update
        return float(loss), new


def _kind(value) -> str:
    from tcc.compiler.targets.c_expressions import element_kind
    return element_kind(value)


def full_parameters(model: Trainable, stored: dict, previous: dict) -> dict:
    """`previous` with each parameter's stored part replaced by the C code's values."""
    params = dict(previous)
    for index, _, shape in model.stored:
        array = np.array(previous[index])
        array[tuple(slice(0, n) for n in shape)] = stored[index]
        params[index] = array
    return params


def compare_steps(model: Trainable, inputs, labels, losses, dumps, *, integer=False):
    """Checks each step of the C run against the interpreter's step from the C code's
    parameters before it. Returns (worst loss error, worst float parameter error,
    flips per parameter name for integer parameters)."""
    params = dict(model.parameters)
    for index in range(len(model.step.entry_block.arguments)):
        if train.momentum_of(model.step, index) is not None:
            params[("momentum", index)] = np.zeros(
                train.shape_of(model.step.entry_block.arguments[index]), np.float32)
    loss_error, param_error, flips = 0.0, 0.0, {}
    for step, (x, y, loss, dump) in enumerate(zip(inputs, labels, losses, dumps)):
        want_loss, want = model.reference_step(params, x, y)
        loss_error = max(loss_error, abs(loss - want_loss) / max(abs(want_loss), 1e-30))
        for index, kind, _ in model.stored:
            got, expected = dump[index], model.stored_part(index, want[index])
            name = train.arg_name(model.step, index)
            if kind == "f32":
                param_error = max(param_error, rel_error(got, expected))
            else:
                diff = got.astype(np.int64) - expected.astype(np.int64)
                assert np.abs(diff).max(initial=0) <= 1, \
                    f"step {step}: {name} differs by {np.abs(diff).max()}"
                flips[name] = flips.get(name, 0) + int(np.count_nonzero(diff))
        params = full_parameters(model, dump, want)
    return loss_error, param_error, flips


# ----------------------------------------------------------------------------- kernels

PLAIN_FLAGS = [f for f in HOST_FLAGS if "sanitize" not in f and f != "-g"]
KERNEL_SOURCES = ("tcc_kernels.c", "tcc_qtrain.c", "tcc_int8.c", "tcc_fxtrain.c")


@pytest.fixture(scope="module")
def kernel_objects(tmp_path_factory):
    """kernel_objects(flags) -> the kernel library's objects, compiled once per flags."""
    cache = {}

    def objects(flags: list[str]) -> list[Path]:
        key = tuple(flags)
        if key not in cache:
            directory = tmp_path_factory.mktemp("kernels")
            for name in KERNEL_SOURCES:
                shutil.copy(KERNELS / name, directory / name)
            for name in ("tcc_kernels.h", "tcc_qtrain.h", "tcc_int8.h", "tcc_fxtrain.h"):
                shutil.copy(KERNELS / name, directory / name)
            result = subprocess.run(["gcc", *flags, "-c", *KERNEL_SOURCES], cwd=directory,
                                    capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, result.stderr[-3000:]
            cache[key] = [directory / name.replace(".c", ".o") for name in KERNEL_SOURCES]
        return cache[key]
    return objects


def qemu_run(model: Trainable, steps: int):
    """Builds app.elf with the project's Makefile and runs the same data in qemu."""
    elf = runner.build(model.directory, cpu="cortex-m7")
    return model.run(elf, steps, qemu=True)


def assert_same_run(host, target) -> None:
    """The host and qemu runs agree bit for bit (losses and every parameter)."""
    (host_losses, host_params), (qemu_losses, qemu_params) = host, target
    assert np.array_equal(np.float32(host_losses), np.float32(qemu_losses)), \
        (host_losses, qemu_losses)
    for mine, theirs in zip(host_params, qemu_params):
        for index in mine:
            assert np.array_equal(mine[index], theirs[index]), index


# --------------------------------------------------------------------- the zoo models

ZOO_STEPS = 3
ZOO_CONFIGS = [("full", "sgd"), ("paper", "momentum")]
QEMU_ARENA_LIMIT = 240 * 1024
"""Zoo configurations whose arena is at most this also run in qemu (the others do not
fit the STM32F746's 320 KB)."""


@pytest.fixture(scope="module")
def zoo():
    pytest.importorskip("torch")
    import test_zoo_training
    return test_zoo_training


@needs_gcc
@pytest.mark.parametrize("scheme, optimizer", ZOO_CONFIGS, ids=["-".join(c) for c in ZOO_CONFIGS])
@pytest.mark.parametrize("file", ["mlp.py", "lenet.py", "mobilenetv2.py", "dscnn.py",
                                  "resnet8.py", "transformer.py"])
def test_zoo_train_step_equals_interpreter(zoo, kernel_objects, file, scheme, optimizer,
                                           tmp_path):
    import torch
    net, input_shape, text, weights = zoo.zoo_model(file)
    module, _ = zoo.compile_step(text, scheme, optimizer)
    schedule_and_plan(module, TrainingOptions(target="cortex-m7"))
    forward = find_function(module, "forward")
    parameters = {i: weights[train.arg_name(forward, i)]
                  for i in range(len(forward.entry_block.arguments))
                  if train.arg_name(forward, i) in weights}
    model = Trainable(module, parameters, tmp_path / "project")
    classes = int(net(torch.zeros(input_shape)).shape[1])
    rng = np.random.default_rng(7)
    inputs = rng.standard_normal((ZOO_STEPS, *input_shape)).astype(np.float32)
    labels = rng.integers(0, classes, (ZOO_STEPS, input_shape[0])).astype(np.int32)
    model.write_data(inputs, labels)
    host = model.run(model.build_host(kernel_objects(HOST_FLAGS), HOST_FLAGS), ZOO_STEPS)
    loss_error, param_error, _ = compare_steps(model, inputs, labels, *host)
    print(f"{file} {scheme} {optimizer}: loss {loss_error:.1e}, parameters "
          f"{param_error:.1e} (relative)")
    assert loss_error <= FLOAT_TOL and param_error <= FLOAT_TOL
    arena = ir_arena_bytes(module)
    if arena <= QEMU_ARENA_LIMIT and shutil.which("arm-none-eabi-gcc") and \
            shutil.which("qemu-system-arm"):
        assert_same_run(host, qemu_run(model, ZOO_STEPS))


def ir_arena_bytes(module) -> int:
    from tcc._mlir import ir
    return ir.IntegerAttr(module.operation.attributes["train.arena_size"]).value


# --------------------------------------------------------------------- the TTE models

TTE_SCHEMES = {"mcunet-5fps": "49kb", "mbv2-w0.35": "49kb", "proxyless-w0.3": "49kb"}
TTE_STEPS = 3
FLIP_STEPS = 100

requires_tte = pytest.mark.skipif(
    not all((TTE_DIR / f"{m}.json").is_file() for m in TTE_SCHEMES) or
    not (TTE_DIR / "schemes.json").is_file(), reason=f"the TTE models are not in {TTE_DIR}")


def tte_model(name: str, directory: Path, gradients: str = "float",
              target: str = "cortex-m7", scheme: str | None = None,
              weight_decay: float = 0.0, fuse: str = "auto") -> Trainable:
    """The TTE model with a 10-class head, its smallest paper scheme, planned (frozen
    bottlenecks fused per `fuse`); with int16 gradients calibrated on seeded random
    samples."""
    from tcc.compiler.analysis import StepOptions, derive_step
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler.parameters import select_parameters

    path = TTE_DIR / f"{name}.json"
    imported = import_tte(path, num_classes=10, rounding="multiplier_shift")
    scheme = f"{TTE_DIR / 'schemes.json'}#{name}/{scheme or TTE_SCHEMES[name]}"
    derive_step(imported.module, StepOptions(scheme=scheme, weight_decay=weight_decay),
                str(path))
    forward = find_function(imported.module, "forward")
    parameters = select_parameters(forward, imported.weights, str(path))
    schedule_and_plan(imported.module, TrainingOptions(target=target, gradients=gradients,
                                                       fuse_bottlenecks=fuse),
                      calibrate=lambda module: calibrate_on_random_samples(
                          module, parameters, classes=10, seed=5))
    return Trainable(imported.module, parameters, directory)


def tte_data(model: Trainable, steps: int, seed: int):
    rng = np.random.default_rng(seed)
    shape = list(model.input_value.type.shape)
    return (rng.integers(-128, 128, (steps, *shape)).astype(np.int8),
            rng.integers(0, 10, (steps, shape[0])).astype(np.int32))


def check_tte_run(name: str, model: Trainable, inputs, labels, run) -> dict:
    loss_error, param_error, flips = compare_steps(model, inputs, labels, *run)
    total = sum(flips.values())
    print(f"{name} {TTE_SCHEMES[name]}: {len(inputs)} steps, loss {loss_error:.1e}, float "
          f"parameters {param_error:.1e} (relative), {total} +-1 flips of int8/int32 "
          f"parameters" + (f" ({', '.join(f'{k} {v}' for k, v in flips.items() if v)})"
                          if total else ""))
    # The int8 forward is exact: its logits (dequantized) give the loss to float rounding.
    assert loss_error <= 1e-6
    assert param_error <= FLOAT_TOL
    return flips


@needs_gcc
@requires_tte
@pytest.mark.parametrize("name", ["mbv2-w0.35", "proxyless-w0.3"])
def test_tte_train_step_equals_interpreter(kernel_objects, name, tmp_path):
    model = tte_model(name, tmp_path / name)
    inputs, labels = tte_data(model, TTE_STEPS, 11)
    model.write_data(inputs, labels)
    program = model.build_host(kernel_objects(PLAIN_FLAGS), PLAIN_FLAGS)
    check_tte_run(name, model, inputs, labels, model.run(program, TTE_STEPS))


@needs_gcc
@requires_tte
def test_tte_fused_streamed_step_equals_interpreter(kernel_objects, tmp_path):
    """ProxylessNAS with every frozen bottleneck fused and the stem streamed into the
    block after it (the smallest plan): the C step equals the interpreter."""
    name = "proxyless-w0.3"
    model = tte_model(name, tmp_path / name, fuse="always")
    step = find_function(model.module, "train_step")
    assert any(op.name == "train.qbottleneck" and "train.streamed" in op.attributes
               for op in step.entry_block.operations)
    inputs, labels = tte_data(model, 2, 13)
    model.write_data(inputs, labels)
    program = model.build_host(kernel_objects(PLAIN_FLAGS), PLAIN_FLAGS)
    check_tte_run(name, model, inputs, labels, model.run(program, 2))


@pytest.fixture(scope="module")
def mcunet(kernel_objects, tmp_path_factory):
    """MCUNet-5FPS's project and its host program."""
    model = tte_model("mcunet-5fps", tmp_path_factory.mktemp("mcunet") / "project")
    return model, model.build_host(kernel_objects(PLAIN_FLAGS), PLAIN_FLAGS)


@needs_gcc
@needs_arm
@requires_tte
def test_tte_mcunet_in_qemu_equals_host_and_interpreter(mcunet):
    model, program = mcunet
    inputs, labels = tte_data(model, TTE_STEPS, 12)
    model.write_data(inputs, labels)
    host = model.run(program, TTE_STEPS)
    check_tte_run("mcunet-5fps", model, inputs, labels, host)
    assert_same_run(host, qemu_run(model, TTE_STEPS))


@needs_gcc
@requires_tte
def test_tte_mcunet_flips_over_100_steps(mcunet):
    """+-1 flips of int8 parameters over 100 steps, each step from the C code's
    parameters: counted and printed; every other value is equal."""
    model, program = mcunet
    inputs, labels = tte_data(model, FLIP_STEPS, 13)
    model.write_data(inputs, labels)
    flips = check_tte_run("mcunet-5fps", model, inputs, labels,
                          model.run(program, FLIP_STEPS))
    updated = sum(int(np.prod(s)) for _, kind, s in model.stored if kind != "f32")
    # A flip needs a float gradient within float rounding of a rounding boundary.
    assert sum(flips.values()) <= 1e-4 * updated * FLIP_STEPS

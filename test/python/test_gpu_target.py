"""The GPU target (compiler/targets/gpu.py): zoo training steps run as Triton launch
lists over one planned arena equal the reference interpreter.

Kernels run in Triton's interpreter on CPU tensors, switched on before triton is
imported: the parent test re-runs this file in a child pytest with TRITON_INTERPRET=1.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("triton")
import torch  # noqa: E402

from numerics import rel_error  # noqa: E402

CHILD = os.environ.get("TCC_GPU_TARGET_TESTS") == "interpret"
child_only = pytest.mark.skipif(not CHILD, reason="runs in the TRITON_INTERPRET child")
ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"
TOL = 1e-5


@pytest.mark.skipif(CHILD, reason="the parent test")
def test_in_interpreter_child():
    from triton_child import run_child
    run_child(__file__, "TCC_GPU_TARGET_TESTS", "interpret")


@pytest.mark.skipif(CHILD or torch.cuda.is_available(), reason="needs no CUDA device")
def test_without_cuda_or_interpreter_is_a_user_error():
    from tcc.compiler.errors import UnsupportedError
    from tcc.compiler.targets import gpu
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        pytest.skip("the interpreter is on in this process")
    module, _ = _step("mlp.py", "sgd")
    with pytest.raises(UnsupportedError, match="CUDA device, or TRITON_INTERPRET=1"):
        gpu.compile_functions(module, ["train_step"])


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------

_IMPORTED: dict = {}


def _zoo(file: str):
    """(imported module text, weights, input shape) of a zoo model."""
    if file not in _IMPORTED:
        from tcc.compiler.frontends.pytorch import import_module
        spec = importlib.util.spec_from_file_location(f"zoo_{file[:-3]}", ZOO / file)
        source = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(source)
        index = importlib.util.spec_from_file_location("zoo_index", ZOO / "__init__.py")
        zoo = importlib.util.module_from_spec(index)
        index.loader.exec_module(zoo)
        torch.manual_seed(0)
        net = getattr(source, zoo.MODELS[file])().eval()
        imported = import_module(net, (torch.randn(source.INPUT_SHAPE),))
        _IMPORTED[file] = (str(imported.module), imported.weights)
    return _IMPORTED[file]


def _step(file: str, optimizer: str, scheme: dict | None = None):
    """The model with @train_step derived (SGD or momentum, optional scheme)."""
    from tcc._mlir import ir
    from tcc.compiler.pipeline import run_pipeline
    from tcc.compiler.schemes import apply_scheme
    from tcc.compiler.source import find_function, new_context
    text, weights = _zoo(file)
    module = ir.Module.parse(text, context=new_context())
    if scheme is not None:
        with module.context, ir.Location.unknown():
            apply_scheme(find_function(module, "forward"), scheme)
    options = "lr=0.05" + (" optimizer=momentum momentum=0.9" if optimizer == "momentum"
                           else "")
    run_pipeline(module, [f"train-autodiff{{{options}}}"])
    return module, weights


def _arguments(module, weights, seed: int):
    """Arguments of @train_step: the weights, seeded data and labels, zero momentum."""
    from tcc._mlir import ir
    from tcc.compiler.source import find_function
    from tcc.dialects import train
    step = find_function(module, "train_step")
    rng = np.random.default_rng(seed)
    args = []
    for i, arg in enumerate(step.entry_block.arguments):
        shape = list(ir.RankedTensorType(arg.type).shape)
        name = train.arg_name(step, i)
        if train.momentum_of(step, i) is not None:
            args.append(np.zeros(shape, np.float32))
        elif name in weights:
            args.append(weights[name])
        elif i == len(step.entry_block.arguments) - 1:
            args.append(rng.integers(0, 10, shape).astype(np.int32))
        else:
            args.append(rng.standard_normal(shape).astype(np.float32))
    return args


def _train_and_compare(module, weights, steps: int):
    """Runs `steps` steps on the GPU target and in the interpreter, each feeding the
    updated parameters (and buffers) to the next; every result agrees."""
    from tcc.compiler.source import find_function
    from tcc.compiler.targets import gpu
    from tcc.dialects import train
    from tcc.runtime.interpreter import run_function
    step = find_function(module, "train_step")
    executor = gpu.compile_functions(module, ["train_step"])
    gpu_args = _arguments(module, weights, 0)
    ref_args = list(gpu_args)
    for k in range(steps):
        data = _arguments(module, weights, k + 1)
        for i in (len(data) - 1, next(i for i in range(len(data)) if
                                      train.arg_role(step, i) is None and
                                      train.momentum_of(step, i) is None)):
            gpu_args[i] = ref_args[i] = data[i]
        got = executor.call("train_step", [torch.from_numpy(np.asarray(a)) for a in gpu_args])
        expected = run_function(module, "train_step", ref_args)
        assert len(got) == len(expected)
        for position, (g, e) in enumerate(zip(got, expected)):
            assert rel_error(g.numpy(), e) <= TOL, (k, position, rel_error(g.numpy(), e))
            target = train.updated_arg(step, position)
            if target is not None:
                gpu_args[target], ref_args[target] = g.numpy(), e
    return executor


# ---------------------------------------------------------------------------------------
# Tests (in the child)
# ---------------------------------------------------------------------------------------

@child_only
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_mlp_train_steps_equal_the_interpreter(optimizer):
    module, weights = _step("mlp.py", optimizer)
    _train_and_compare(module, weights, steps=2)


@child_only
def test_lenet_train_step_equals_the_interpreter():
    module, weights = _step("lenet.py", "sgd")
    _train_and_compare(module, weights, steps=1)


@child_only
def test_bias_only_scheme_keeps_frozen_weights_outside_the_arena():
    module, weights = _step("mlp.py", "sgd", {"default": "bias"})
    executor = _train_and_compare(module, weights, steps=1)
    assert executor.allocations > 1       # the frozen weights have their own tensors


@child_only
def test_one_arena_and_fused_kernels():
    module, weights = _step("mlp.py", "sgd")
    from tcc.compiler.targets import gpu
    executor = gpu.compile_functions(module, ["train_step"])
    assert executor.allocations == 1
    arena = executor.arena.untyped_storage().data_ptr()
    program = executor.programs["train_step"]
    assert all(v.untyped_storage().data_ptr() == arena for v in program.values)
    chains = {launch.ops for launch in executor.launches("train_step")}
    assert {("train.linear_grad_weight", "train.sgd"), ("train.bias_grad", "train.sgd"),
            ("train.linear", "train.relu")} <= chains
    # No gradient of a fused chain is left as a launch of its own.
    assert ("train.bias_grad",) not in chains and ("train.sgd",) not in chains


@child_only
def test_run_function_on_numpy_arrays():
    from tcc.compiler.targets import gpu
    from tcc.runtime.interpreter import run_function
    module, weights = _step("mlp.py", "sgd")
    args = _arguments(module, weights, 3)
    got = gpu.run_function(module, "train_step", args)
    for g, e in zip(got, run_function(module, "train_step", args)):
        assert isinstance(g, np.ndarray) and rel_error(g, e) <= TOL


@child_only
def test_bad_calls_are_user_errors():
    from tcc.compiler.errors import InputError
    from tcc.compiler.targets import gpu
    module, weights = _step("mlp.py", "sgd")
    executor = gpu.compile_functions(module, ["train_step"])
    args = [torch.from_numpy(np.asarray(a)) for a in _arguments(module, weights, 0)]
    with pytest.raises(InputError, match="takes"):
        executor.call("train_step", args[:-1])
    with pytest.raises(InputError, match="expects shape"):
        executor.call("train_step", args[:-1] + [torch.zeros(3, dtype=torch.int32)])
    with pytest.raises(InputError, match="no compiled function"):
        executor.call("forward", args)


QUANTIZED = """
func.func @f(%x: tensor<2x8x9x9x!quant.uniform<i8:f32, 0.05:-7>>,
             %w: tensor<8x8x3x3x!quant.uniform<i8:f32:0, {0.01,0.02,0.005,0.04,0.01,0.03,0.02,0.01}>>,
             %b: tensor<8xi32>,
             %lw: tensor<5x200x!quant.uniform<i8:f32:0, {0.05,0.002,0.01,0.02,0.03}>>,
             %lb: tensor<5xi32>)
    -> tensor<2x5x!quant.uniform<i8:f32, 0.5:7>> {
  %0 = train.qconv2d %x, %w, %b stride [2, 2] padding [1, 1] rounding ROUNDING
      : (tensor<2x8x9x9x!quant.uniform<i8:f32, 0.05:-7>>,
         tensor<8x8x3x3x!quant.uniform<i8:f32:0, {0.01,0.02,0.005,0.04,0.01,0.03,0.02,0.01}>>,
         tensor<8xi32>) -> tensor<2x8x5x5x!quant.uniform<i8:f32, 0.0625:-3>>
  %1 = train.reshape %0 : tensor<2x8x5x5x!quant.uniform<i8:f32, 0.0625:-3>>
      -> tensor<2x200x!quant.uniform<i8:f32, 0.0625:-3>>
  %2 = train.qlinear %1, %lw, %lb rounding ROUNDING
      : (tensor<2x200x!quant.uniform<i8:f32, 0.0625:-3>>,
         tensor<5x200x!quant.uniform<i8:f32:0, {0.05,0.002,0.01,0.02,0.03}>>, tensor<5xi32>)
      -> tensor<2x5x!quant.uniform<i8:f32, 0.5:7>>
  return %2 : tensor<2x5x!quant.uniform<i8:f32, 0.5:7>>
}
"""


@child_only
@pytest.mark.parametrize("rounding", ["float_scale", "multiplier_shift"])
def test_int8_forward_is_bit_exact_with_the_interpreter(rounding):
    from tcc.compiler.source import new_context, parse_module
    from tcc.compiler.targets import gpu
    from tcc.runtime.interpreter import run_function
    module = parse_module(QUANTIZED.replace("ROUNDING", rounding), "q.mlir", new_context())
    rng = np.random.default_rng(5)
    args = [rng.integers(-128, 128, (2, 8, 9, 9)).astype(np.int8),
            rng.integers(-127, 128, (8, 8, 3, 3)).astype(np.int8),
            rng.integers(-4000, 4000, 8).astype(np.int32),
            rng.integers(-127, 128, (5, 200)).astype(np.int8),
            rng.integers(-300, 300, 5).astype(np.int32)]
    expected = run_function(module, "f", args)
    got = gpu.run_function(module, "f", args)
    assert got[0].dtype == np.int8
    np.testing.assert_array_equal(got[0], expected[0])


@child_only
def test_tcc_run_on_the_gpu_target_equals_the_reference(tmp_path):
    """`tcc run --target=gpu` (the interpreter is on in this child's environment)."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    rng = np.random.default_rng(4)
    from tcc.compiler import driver
    model = driver.prepare(examples / "mlp.mlir", driver.TrainingOptions())
    arrays = {"arg0": rng.standard_normal((8, 64)).astype(np.float32),
              "labels": rng.integers(0, 10, 8).astype(np.int32)}
    arrays.update({f"arg{i}": v for i, v in model.parameters.items()})
    np.savez(tmp_path / "in.npz", **arrays)
    outputs = {}
    for target in ("reference", "gpu"):
        run = subprocess.run([sys.executable, "-m", "tcc.compiler.cli", "run",
                              str(examples / "mlp.mlir"), "--inputs", str(tmp_path / "in.npz"),
                              "-o", str(tmp_path / f"{target}.npz"), "--target", target],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert run.returncode == 0, run.stderr
        with np.load(tmp_path / f"{target}.npz") as out:
            outputs[target] = dict(out)
    for name, value in outputs["reference"].items():
        assert rel_error(outputs["gpu"][name], value) <= TOL, name


@child_only
def test_tcc_target_gpu_trains_like_the_reference(tmp_path):
    """`tcc --target=gpu -o OUT --run`: the planned module, the report, and the losses."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    run = subprocess.run([sys.executable, "-m", "tcc.compiler.cli", "--target=gpu",
                          str(examples / "mlp.mlir"), "-o", str(tmp_path / "gpu"), "--run",
                          "--steps", "3", "--lr", "0.5"],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert {"model.mlir", "memory_report.txt", "parameters.npz"} <= \
        {p.name for p in (tmp_path / "gpu").iterdir()}
    worst = float(run.stdout.strip().splitlines()[-1].split()[-1])
    assert worst <= 1e-5, run.stdout

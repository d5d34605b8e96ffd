"""The cpu target's shared library (compiler/targets/cpu_library.py).

- The glue's two calling conventions (results returned by the callee, or written to
  out-parameters), through ctypes and from C, on a small linalg module lowered by the
  upstream pipeline alone (no train dialect: runs without compiler/targets/cpu.py).
- The MLP (examples/mlp.mlir) as a library + model.h: a C program (the Cortex-M
  target's training harness, runtime/cortex_m/main.c) trains it and prints the losses
  of the Python API's cpu target and of the reference interpreter (1e-5 relative).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tcc
from tcc._mlir import passmanager
from tcc.compiler.api import ModelSignature
from tcc.compiler.driver import TrainingOptions, prepare, reference_losses
from tcc.compiler.source import new_context, parse_module
from tcc.compiler.targets import cpu_library

REPO = Path(__file__).resolve().parents[2]
MLP = REPO / "examples" / "mlp.mlir"

try:
    importlib.import_module("tcc.compiler.targets.cpu")
    HAVE_CPU = True
except ImportError:
    HAVE_CPU = False
needs_cpu = pytest.mark.skipif(not HAVE_CPU, reason="compiler/targets/cpu.py not available")
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")

# A "model" in linalg on tensors: forward = x + w; train_step returns (sum(x + w), x + w)
# with the second result updating w (argument #1).
LINALG = """
func.func @forward(%x: tensor<2x3xf32>,
    %w: tensor<2x3xf32> {train.name = "w", train.role = #train.role<trainable>}) -> tensor<2x3xf32> {
  %e = tensor.empty() : tensor<2x3xf32>
  %r = linalg.add ins(%x, %w : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
func.func @train_step(%x: tensor<2x3xf32>,
    %w: tensor<2x3xf32> {train.name = "w", train.role = #train.role<trainable>},
    %y: tensor<2xi32> {train.name = "labels"})
    -> (tensor<f32>, tensor<2x3xf32> {train.updates = 1 : i64}) {
  %e = tensor.empty() : tensor<2x3xf32>
  %r = linalg.add ins(%x, %w : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %z = arith.constant 0.0 : f32
  %l0 = tensor.empty() : tensor<f32>
  %l1 = linalg.fill ins(%z : f32) outs(%l0 : tensor<f32>) -> tensor<f32>
  %l = linalg.reduce ins(%r : tensor<2x3xf32>) outs(%l1 : tensor<f32>) dimensions = [0, 1]
    (%a: f32, %b: f32) {
      %s = arith.addf %a, %b : f32
      linalg.yield %s : f32
    }
  return %l, %r : tensor<f32>, tensor<2x3xf32>
}
"""

UPSTREAM = ["one-shot-bufferize{bufferize-function-boundaries "
            "function-boundary-type-conversion=identity-layout-map}",
            "convert-linalg-to-loops", "convert-scf-to-cf", "expand-strided-metadata",
            "finalize-memref-to-llvm", "convert-to-llvm", "reconcile-unrealized-casts"]


def upstream_lowering(out_params: bool):
    passes = list(UPSTREAM)
    if out_params:
        passes.insert(1, "buffer-results-to-out-params{hoist-static-allocs "
                         "modify-public-functions}")

    def lower(module):
        for op in module.body.operations:       # the train attributes verify on tensors
            for key in ("arg_attrs", "res_attrs"):
                if key in op.attributes:
                    del op.attributes[key]
        pm = passmanager.PassManager.parse("builtin.module(" + ",".join(passes) + ")",
                                           module.context)
        pm.run(module.operation)
        return module
    return lower


@needs_cc
@pytest.mark.parametrize("out_params", [False, True], ids=["returned", "out-params"])
def test_glue_calls_both_conventions(out_params, tmp_path):
    module = parse_module(LINALG, "linalg.mlir", new_context())
    signature = ModelSignature.of_module(module)
    library = cpu_library.build_library(module, signature, tmp_path,
                                        lower=upstream_lowering(out_params))
    glue = (tmp_path / cpu_library.GLUE).read_text()
    assert ("&o1);" in glue) == out_params
    executor = cpu_library.LibraryExecutor(library, signature)
    x = np.ones((2, 3), np.float32)
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(executor.call("forward", [x, w])[0], x + w)
    loss = np.zeros((), np.float32)
    for step in range(3):
        expected = float((x + w).sum())
        # The update goes to w itself: the argument it was computed from.
        results = executor.call("train_step", [x, w, np.zeros(2, np.int32)], [loss, w])
        assert results[1] is w and float(loss) == expected
        np.testing.assert_array_equal(w, np.arange(6).reshape(2, 3) + step + 1)


@needs_cc
def test_header_api_from_c(tmp_path):
    module = parse_module(LINALG, "linalg.mlir", new_context())
    signature = ModelSignature.of_module(module)
    initial = {1: np.arange(6, dtype=np.float32).reshape(2, 3)}
    files = cpu_library.write_library(module, signature, initial, tmp_path,
                                      lower=upstream_lowering(True))
    header = files["header"].read_text()
    for declaration in ("void tcc_model_init(void);", "#define TCC_BATCH 2",
                        "#define TCC_INPUT_SIZE 6", "#define TCC_NUM_PARAMS 1",
                        "float tcc_model_train_step(const float *input, const int32_t *labels);",
                        "tcc_param tcc_model_param(int32_t index);"):
        assert declaration in header
    (tmp_path / "main.c").write_text("""
#include <stdio.h>
#include "model.h"
int main(void) {
  float x[TCC_INPUT_SIZE] = {1, 1, 1, 1, 1, 1}, logits[TCC_OUTPUT_SIZE];
  int32_t y[TCC_LABELS_SIZE] = {0, 0};
  tcc_model_init();
  for (int i = 0; i < 2; ++i) printf("loss %g\\n", tcc_model_train_step(x, y));
  tcc_model_infer(x, logits);
  tcc_param p = tcc_model_param(0);
  printf("%s %d %d %g %g\\n", p.name, (int)p.size, (int)p.trainable, p.data[0], logits[5]);
  p.data[0] = 100;
  tcc_model_infer(x, logits);
  printf("%g\\n", logits[0]);
  tcc_model_init();
  tcc_model_infer(x, logits);
  printf("%g\\n", logits[0]);
  return 0;
}
""")
    program = cpu_library.build_program(tmp_path, tmp_path / "main.c", "main")
    out = subprocess.run([str(program)], capture_output=True, text=True, check=True).stdout
    assert out.split("\n") == ["loss 21", "loss 27", "w 6 1 2 8", "101", "1", ""]


# --------------------------------------------------------------------------
# The MLP through compiler/targets/cpu.py
# --------------------------------------------------------------------------

def digits(steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((steps, 8, 64)).astype(np.float32),
            rng.integers(0, 10, (steps, 8)).astype(np.int32))


@needs_cpu
@needs_cc
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_c_program_trains_the_mlp_like_python(optimizer, tmp_path):
    xs, ys = digits(6)
    options = TrainingOptions(lr=0.05, optimizer=optimizer)
    model = prepare(MLP, options)
    files = cpu_library.write_trainable(model.module, model.parameters, tmp_path / "out")
    assert files["library"].exists() and files["header"].exists()
    c_losses = cpu_library.run_harness(tmp_path / "out", xs, ys)

    python = tcc.compile(MLP, "cpu", lr=0.05, optimizer=optimizer, cache_dir=tmp_path / "c")
    python_losses = [python.train_step(x, y) for x, y in zip(xs, ys)]
    reference = reference_losses(model, xs, ys)
    assert len(c_losses) == len(xs)
    for c, p, r in zip(c_losses, python_losses, reference):
        assert abs(c - p) <= 1e-5 * abs(p), (c_losses, python_losses)
        assert abs(c - r) <= 1e-5 * abs(r), (c_losses, reference)


@needs_cpu
@needs_cc
def test_save_library_keeps_what_python_learned(tmp_path):
    xs, ys = digits(4)
    model = tcc.compile(MLP, "cpu", cache_dir=tmp_path / "c")
    for x, y in zip(xs[:2], ys[:2]):
        model.train_step(x, y)
    model.save_library(tmp_path / "out")
    c_losses = cpu_library.run_harness(tmp_path / "out", xs[2:], ys[2:])
    python_losses = [model.train_step(x, y) for x, y in zip(xs[2:], ys[2:])]
    np.testing.assert_allclose(c_losses, python_losses, rtol=1e-5)

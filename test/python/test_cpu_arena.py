"""The CPU target on memory-planned modules: every planned value lives in the arena.

A zoo model's step is derived, ordered (--train-reorder) and planned (--plan-memory)
as tcc.compile does it; then
- the bufferized public functions allocate nothing (`memref.alloc`) for planned
  values: their kernel calls write into views of the one arena global at the planned
  offsets, and the LLVM code of @forward / @train_step calls no malloc;
- the compiled functions equal the reference interpreter (1e-5 relative), in-place
  updates and element-wise ops included;
- under a partial-channel scheme, only the values the plan leaves out of the arena
  (a frozen slice, a partial update returned whole) are buffers of their own.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tcc._mlir import ir
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function, new_context
from tcc.compiler.targets import cpu
from tcc.runtime.interpreter import run_function
from numerics import rel_error
from test_cpu_lowering import MODELS, SCHEMES, step_inputs, zoo_model

TOLERANCE = 1e-5
MOMENTUM = {"name": "momentum", "lr": 0.05, "momentum": 0.9}
PARTIAL = {   # two partial-channel layers with SGD; one with momentum
    "sgd": {"default": "bias", "layers": {"conv:-1": "full", "conv:-2": {"channels": 0.5},
                                          "conv:-3": {"channels": 2}},
            "optimizer": {"name": "sgd", "lr": 0.05}},
    "momentum": {"default": "bias", "layers": {"conv:-1": "full",
                                               "conv:-2": {"channels": 0.5}},
                 "optimizer": MOMENTUM},
}


def planned_module(file: str, scheme: dict) -> ir.Module:
    """@forward and @train_step of a zoo model, reordered and planned."""
    from tcc.compiler.analysis import StepOptions, derive_step
    text, _, _ = zoo_model(file)
    module = ir.Module.parse(text, context=new_context())
    derive_step(module, StepOptions(scheme=scheme))
    run_pipeline(module, ["train-reorder{step=train_step}",
                          "plan-memory{function=train_step alignment=64 time-limit=0.2}",
                          "plan-memory{function=forward alignment=64 time-limit=0.2}"])
    return module


def public_allocs(module: ir.Module) -> dict[str, int]:
    """memref.alloc count per public function of the bufferized copy of `module`."""
    copy = ir.Module.parse(str(module.operation), context=module.context)
    cpu.bufferize(copy)
    return {f.sym_name.value: str(f).count("memref.alloc")
            for f in cpu.public_functions(copy)}


def unplaced_results(module: ir.Module, name: str) -> int:
    """Results of @name's kernel ops the plan leaves out of the arena."""
    plan = cpu.arena_plan(module)
    return sum(offset < 0 for places in plan.offsets[name] for offset in places)


def check_numerics(module: ir.Module, compiled, file: str) -> None:
    _, weights, input_shape = zoo_model(file)
    forward = find_function(module, "forward")
    data = np.random.default_rng(1).standard_normal(input_shape).astype(np.float32)
    from tcc.dialects import train
    cases = {"forward": [weights.get(train.arg_name(forward, i), data)
                         for i in range(len(forward.entry_block.arguments))],
             "train_step": step_inputs(module, "train_step", weights)}
    for name, inputs in cases.items():
        expected = run_function(module, name, inputs)
        actual = compiled.call(name, inputs)
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert rel_error(a, e) <= TOLERANCE, (name, index, rel_error(a, e))


def llvm_function(lowered: ir.Module, name: str) -> str:
    text = str(lowered.operation)
    match = re.search(rf"llvm\.func @{name}\(.*?\n  \}}", text, re.S)
    assert match, name
    return match.group(0)


@pytest.mark.parametrize("file", list(MODELS))
def test_full_update_in_the_arena(file):
    module = planned_module(file, SCHEMES["full"])
    assert public_allocs(module) == {"forward": 0, "train_step": 0}
    compiled = cpu.jit(module)
    size = ir.IntegerAttr(module.operation.attributes["train.arena_size"]).value
    assert re.search(rf"llvm\.mlir\.global private @{cpu.ARENA}\(.*alignment = 64 : i64"
                     rf".*!llvm\.array<{size} x i8>", str(compiled.llvm_module.operation))
    for name in ("forward", "train_step"):
        body = llvm_function(compiled.llvm_module, name)
        assert "@malloc" not in body and f"@{cpu.ARENA}" in body
    check_numerics(module, compiled, file)


@pytest.mark.parametrize("optimizer", sorted(PARTIAL))
@pytest.mark.parametrize("file", ["lenet.py", "mobilenetv2.py"])
def test_partial_channel_update(file, optimizer):
    """Biases, a full layer and partial-channel layers: the slices, updates and
    momentum buffers' updates live in the arena; the frozen rest of a partial weight
    and its whole returned update are the only other buffers."""
    module = planned_module(file, PARTIAL[optimizer])
    expected = unplaced_results(module, "train_step")
    assert expected > 0
    assert public_allocs(module) == {"forward": 0, "train_step": expected}
    check_numerics(module, cpu.jit(module), file)


def test_unplanned_module_allocates():
    """Without a plan the lowering is unchanged: buffers of their own, no arena."""
    from tcc.compiler.analysis import StepOptions, derive_step
    text, _, _ = zoo_model("mlp.py")
    module = ir.Module.parse(text, context=new_context())
    derive_step(module, StepOptions(scheme=SCHEMES["full"]))
    assert cpu.arena_plan(module) is None
    allocs = public_allocs(module)
    assert allocs["train_step"] > 0
    assert cpu.ARENA not in str(module.operation)


KERNELS = """
func.func private @scale(%x: memref<4x8xf32>, %y: memref<4x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4x8xf32>) outs(%y : memref<4x8xf32>) {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %a, %a : f32
    linalg.yield %s : f32
  }
  return
}
func.func private @transpose(%x: memref<8x8xf32>, %y: memref<8x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>,
                                   affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<8x8xf32>) outs(%y : memref<8x8xf32>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  }
  return
}
func.func private @twice(%x: memref<4x8xf32>, %y: memref<4x8xf32>) {
  linalg.copy ins(%x : memref<4x8xf32>) outs(%y : memref<4x8xf32>)
  linalg.copy ins(%x : memref<4x8xf32>) outs(%y : memref<4x8xf32>)
  return
}
"""


@pytest.mark.parametrize("kernel, safe", [("scale", True), ("transpose", False),
                                          ("twice", False)])
def test_in_place_only_for_elementwise_kernels(kernel, safe):
    """A result shares its operand's bytes only where the kernel reads each element
    before it overwrites it (one element-wise generic, same indexing)."""
    module = ir.Module.parse(KERNELS, context=new_context())
    callee = next(f for f in cpu._functions(module) if f.sym_name.value == kernel)
    assert cpu._elementwise_in_place(callee, 0, 1) == safe


def test_cortex_m7_code_uses_the_arena():
    """The unvectorized 32-bit form (kernels kept as functions) places the plan too."""
    module = planned_module("lenet.py", SCHEMES["full"])
    text = cpu.emit_llvm_ir(module, cpu.THUMBV7EM)
    size = ir.IntegerAttr(module.operation.attributes["train.arena_size"]).value
    assert re.search(rf"@{cpu.ARENA} = .*\[{size} x i8\]", text)
    for name in ("forward", "train_step"):
        body = re.search(rf"define void @{name}\(.*?\n}}", text, re.S).group(0)
        assert "@malloc" not in body and f"@{cpu.ARENA}" in body

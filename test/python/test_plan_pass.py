"""--plan-memory: the arena plan it writes into the IR, the C backend that uses it and
the memory report (text, JSON, SVG).

The plan is checked from the IR alone, independently of the pass: every value's
lifetime (from its defining op to its last reader; arguments from the start,
returned values to the end; trainable parameters and momentum buffers the whole
function) and its bytes in the arena; two values live at the same time may share
bytes only when they are one storage (a result given its operand's offset), and a
result takes over its operand's storage only when nothing reads that storage later
(a parameter's only by its own update).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tcc._mlir import ir
from tcc.compiler import driver, liveness
from tcc.compiler.errors import PassError, TccError
from tcc.compiler.frontends.pytorch import import_module
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.schemes import apply_scheme
from tcc.compiler.source import find_function, new_context, parse_module
from tcc.compiler.targets.c_renderer import CRenderer
from tcc.dialects import train
from tcc.passes.plan_memory import PlanMemory, is_planned

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "examples" / "zoo"
MLP = ROOT / "examples" / "mlp.mlir"
TTE = ROOT.parent / "shared" / "models" / "tte"
UPDATES = {"train.sgd", "train.qsgd", "train.sgd_momentum"}
VIEWS = {"train.reshape"}


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ZOO_MODELS: dict[str, str] = _load(ZOO / "__init__.py", "zoo_index").MODELS
_TEXTS: dict[str, str] = {}


def zoo_text(file: str) -> str:
    if file not in _TEXTS:
        module = _load(ZOO / file, f"zoo_plan_{Path(file).stem}")
        torch.manual_seed(0)
        net = getattr(module, ZOO_MODELS[file])().eval()
        _TEXTS[file] = str(import_module(net, (torch.randn(module.INPUT_SHAPE),)).module)
    return _TEXTS[file]


SCHEMES = {
    "full": {"default": "full"},
    "sparse": {"default": "bias", "layers": {"conv:-1": "full", "conv:-2": {"channels": 0.5}}},
}


def planned_zoo_module(file: str, scheme: str, optimizer: str) -> ir.Module:
    module = parse_module(zoo_text(file), file, new_context())
    with module.context, ir.Location.unknown():
        apply_scheme(find_function(module, "forward"), SCHEMES[scheme])
    options = "lr=0.01" + (" optimizer=momentum" if optimizer == "momentum" else "")
    run_pipeline(module, [f"train-autodiff{{{options}}}", "train-prune", "train-reorder",
                          "plan-memory", "plan-memory{function=forward}"])
    return module


# ---------------------------------------------------------------------------------------
# The independent check of a plan
# ---------------------------------------------------------------------------------------

def _persistent(function, index: int) -> bool:
    return train.arg_role(function, index) == "trainable" or \
        train.momentum_of(function, index) is not None


def check_plan(module: ir.Module, name: str) -> dict:
    """Asserts the plan of @name is sound; returns {value number: offset}."""
    function = find_function(module, name)
    attributes = module.operation.attributes
    arena = ir.IntegerAttr(attributes["train.arena_size"]).value
    alignment = ir.IntegerAttr(attributes["train.arena_alignment"]).value
    sizes = [l.size for l in liveness.lifetimes(function)]   # bytes (a partial slice)
    block = function.entry_block
    values = list(block.arguments)
    offsets = []
    for i in range(len(values)):
        attr = train.arg_attribute(function, i, "train.offset")
        offsets.append(ir.IntegerAttr(attr).value if attr is not None else -1)
        if train.arg_role(function, i) == "frozen":
            assert attr is None, f"frozen {train.arg_name(function, i)} is in the arena"
    ops = list(block.operations)
    for op in ops:
        if len(op.results):
            values += list(op.results)
            offsets += list(ir.DenseI64ArrayAttr(op.attributes["train.offsets"]))
    number = {v: i for i, v in enumerate(values)}
    end = len(ops)
    lower, reads = [0] * len(values), [0] * len(values)
    for position, op in enumerate(ops):
        for r in op.results:
            lower[number[r]] = reads[number[r]] = position
        for o in op.operands:
            reads[number[o]] = max(reads[number[o]], position)
    upper = [r + 1 for r in reads]
    for v in ops[-1].operands:
        upper[number[v]] = end
    for i in range(len(block.arguments)):
        if _persistent(function, i):
            upper[i] = end

    # Storages: a result at its operand's offset shares its storage.
    parent = list(range(len(values)))

    def root(v):
        while parent[v] != v:
            v = parent[v]
        return v

    for position, op in enumerate(ops):
        for r in op.results:
            v = number[r]
            if offsets[v] < 0:
                continue
            for k, o in enumerate(op.operands):
                u = number[o]
                if offsets[u] != offsets[v]:
                    continue
                if op.name not in VIEWS:
                    # In place: nothing reads the operand's storage after this op.
                    members = [w for w in range(len(values)) if root(w) == root(u)]
                    assert all(reads[w] <= position for w in members), \
                        f"{op.name} at {position} overwrites a value read later"
                    if any(w < len(block.arguments) and _persistent(function, w)
                           for w in members):
                        assert op.name in UPDATES and k in (0, 2), \
                            f"{op.name} at {position} overwrites a parameter"
                parent[v] = root(u)
                break

    live = []
    for v in range(len(values)):
        if offsets[v] < 0:
            continue
        assert offsets[v] % alignment == 0
        assert offsets[v] + sizes[v] <= arena, (v, offsets[v], sizes[v], arena)
        live.append(v)
    # No two values live at the same time overlap in memory, unless they are one storage.
    live.sort(key=lambda v: lower[v])
    active = []
    for v in live:
        active = [a for a in active if upper[a] > lower[v]]
        for a in active:
            if offsets[a] < offsets[v] + sizes[v] and offsets[v] < offsets[a] + sizes[a]:
                assert root(a) == root(v), (
                    f"@{name}: values {a} [{lower[a]}, {upper[a]}) and {v} "
                    f"[{lower[v]}, {upper[v]}) overlap at offsets {offsets[a]}, {offsets[v]}")
        active.append(v)
    return {v: offsets[v] for v in range(len(values))}


def parameter_offsets(module: ir.Module, name: str) -> dict[str, int]:
    function = find_function(module, name)
    out = {}
    for i in range(len(function.entry_block.arguments)):
        attr = train.arg_attribute(function, i, "train.offset")
        if attr is not None and _persistent(function, i):
            out[train.arg_name(function, i)] = ir.IntegerAttr(attr).value
    return out


# ---------------------------------------------------------------------------------------
# Plans of the zoo models
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("file", sorted(ZOO_MODELS))
def test_no_two_live_tensors_overlap_in_zoo_models(file, scheme, optimizer):
    module = planned_zoo_module(file, scheme, optimizer)
    check_plan(module, "train_step")
    check_plan(module, "forward")
    # The parameters sit where both functions expect them.
    step, forward = (parameter_offsets(module, f) for f in ("train_step", "forward"))
    assert forward and all(step[name] == offset for name, offset in forward.items())
    # An update of a whole parameter that nothing reads afterwards is in place.
    function = find_function(module, "train_step")
    ops = list(function.entry_block.operations)
    for position, op in enumerate(ops):
        param = op.operands[0] if op.name in UPDATES else None
        if not isinstance(param, ir.BlockArgument) or any(
                param == operand for later in ops[position + 1:-1] for operand in later.operands):
            continue
        name = train.arg_name(function, param.arg_number)
        assert list(ir.DenseI64ArrayAttr(op.attributes["train.offsets"]))[0] == step[name], \
            f"the update of {name} is not in place"


def test_peak_is_close_to_the_lower_bound():
    from tcc.compiler import memory_report
    module = planned_zoo_module("resnet8.py", "full", "sgd")
    report = memory_report.function_report(module, "train_step")
    assert report.lower_bound_bytes <= report.peak_bytes <= report.lower_bound_bytes * 1.02


MOMENTUM_MODULE = """
func.func @forward(
    %x: tensor<2x8xf32> {train.name = "input"},
    %p: tensor<2x8xf32> {train.name = "pos", train.role = #train.role<trainable>},
    %w: tensor<4x8xf32> {train.name = "w", train.role = #train.role<frozen>})
    -> tensor<2x4xf32> {
  %t = train.transpose %w permutation [1, 0] : tensor<4x8xf32> -> tensor<8x4xf32>
  %h = train.add %x, %p : tensor<2x8xf32>
  %a = train.relu %h : tensor<2x8xf32>
  %y = train.matmul %a, %t : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
func.func @train_step(
    %x: tensor<2x8xf32> {train.name = "input"},
    %p: tensor<2x8xf32> {train.name = "pos", train.role = #train.role<trainable>},
    %w: tensor<4x8xf32> {train.name = "w", train.role = #train.role<frozen>},
    %m: tensor<2x8xf32> {train.name = "pos.momentum", train.momentum_of = 1 : i64},
    %target: tensor<2x4xf32> {train.name = "target"})
    -> (tensor<f32> {train.name = "loss"},
        tensor<2x8xf32> {train.name = "pos", train.updates = 1 : i64},
        tensor<2x8xf32> {train.name = "pos.momentum", train.updates = 3 : i64}) {
  %t = train.transpose %w permutation [1, 0] : tensor<4x8xf32> -> tensor<8x4xf32>
  %h = train.add %x, %p : tensor<2x8xf32>
  %a = train.relu %h : tensor<2x8xf32>
  %y = train.matmul %a, %t : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  %l = train.mse %y, %target : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<f32>
  %dy = train.mse_grad %y, %target : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %da = train.matmul %dy, %w : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32>
  %dh = train.relu_grad %da, %a : tensor<2x8xf32>
  %pn, %mn = train.sgd_momentum %p, %dh, %m lr 0.1 momentum 0.9 : tensor<2x8xf32>
  return %l, %pn, %mn : tensor<f32>, tensor<2x8xf32>, tensor<2x8xf32>
}
"""


def test_argument_bytes_count_the_arena_arguments_and_bound_every_plan():
    """input 64 B, pos 64 B, its momentum 64 B and target 32 B are in the arena at the
    start (w is frozen: flash); no order or plan needs less."""
    module = parse_module(MOMENTUM_MODULE, "both.mlir", new_context())
    step = find_function(module, "train_step")
    assert liveness.argument_bytes(step) == 64 + 64 + 64 + 32
    assert liveness.argument_bytes(step) <= liveness.any_order_bound(step) <= \
        liveness.lower_bound(step)
    run_pipeline(module, ["plan-memory"])
    assert liveness.argument_bytes(step) <= \
        ir.IntegerAttr(module.operation.attributes["train.arena_size"]).value


def test_search_budget_does_not_depend_on_the_analysis_time(monkeypatch):
    """The planner's node budget is the whole time limit's, however long the liveness
    analysis before it took (here: a clock that jumps a second at every reading); only
    the time left caps the search."""
    from tcc.compiler import memory_plan
    from tcc.passes import plan_memory
    calls = []
    original = memory_plan.plan
    monkeypatch.setattr(memory_plan, "plan",
                        lambda buffers, **kw: calls.append(kw) or original(buffers, **kw))
    ticks = iter(range(1000))
    monkeypatch.setattr(plan_memory, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    module = parse_module(MOMENTUM_MODULE, "both.mlir", new_context())
    plan_memory.plan_function(module, find_function(module, "train_step"), time_limit=3)
    assert calls and calls[0]["search_nodes"] == 3 * memory_plan.NODES_PER_SECOND
    assert calls[0]["time_limit"] < 3


@pytest.mark.parametrize("order", [["plan-memory", "plan-memory{function=forward}"],
                                   ["plan-memory{function=forward}", "plan-memory"]])
def test_forward_and_step_share_parameters_in_any_order(order):
    module = parse_module(MOMENTUM_MODULE, "both.mlir", new_context())
    run_pipeline(module, order)
    check_plan(module, "train_step")
    offsets = check_plan(module, "forward")
    assert parameter_offsets(module, "train_step") == {"pos": 0, "pos.momentum": 64}
    assert parameter_offsets(module, "forward") == {"pos": 0}
    # @forward's own tensors stay clear of the momentum buffer (bytes 64..128).
    assert all(o == 0 or o >= 128 for v, o in offsets.items() if o >= 0)


def test_bad_options_and_replanning_with_another_alignment():
    module = parse_module(MLP.read_text(), "mlp.mlir", new_context())
    run_pipeline(module, ["train-autodiff", "plan-memory"])
    with pytest.raises(PassError, match="power of two"):
        run_pipeline(module, ["plan-memory{alignment=12}"])
    with pytest.raises(TccError, match="no function @nope"):
        run_pipeline(module, ["plan-memory{function=nope}"])
    with pytest.raises(PassError, match="alignment 16, not 64"):
        run_pipeline(module, ["plan-memory{function=forward alignment=64}"])
    run_pipeline(module, ["plan-memory{alignment=64}"])     # the only planned function
    assert ir.IntegerAttr(module.operation.attributes["train.arena_alignment"]).value == 64


# ---------------------------------------------------------------------------------------
# MCUNet-5FPS: the training graph of the paper's 49 KB scheme
# ---------------------------------------------------------------------------------------

@pytest.mark.skipif(not (TTE / "mcunet-5fps.json").is_file(),
                    reason="needs ../shared/models/tte (the TTE paper's models)")
def test_planning_mcunet_training_graph_takes_under_2s():
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler import memory_report
    module = import_tte(TTE / "mcunet-5fps.json", num_classes=10).module
    scheme = f"{TTE / 'schemes.json'}#mcunet-5fps/49kb"
    run_pipeline(module, [f'train-autodiff{{scheme="{scheme}"}}', "train-prune",
                          "train-reorder"])
    start = time.perf_counter()
    PlanMemory().run(module)
    seconds = time.perf_counter() - start
    assert seconds < 2.0, f"planning took {seconds:.2f} s"
    check_plan(module, "train_step")
    report = memory_report.function_report(module, "train_step")
    assert report.peak_bytes <= report.lower_bound_bytes * 1.02


# ---------------------------------------------------------------------------------------
# The C backend uses the plan
# ---------------------------------------------------------------------------------------

def test_renderer_plans_a_module_without_plan():
    module = parse_module(MLP.read_text(), "mlp.mlir", new_context())
    run_pipeline(module, ["train-autodiff"])
    step, forward = (find_function(module, f) for f in ("train_step", "forward"))
    assert not is_planned(module, step)
    parameters = {i: np.zeros(train.shape_of(a), np.float32)
                  for i, a in enumerate(forward.entry_block.arguments) if i > 0}
    renderer = CRenderer(module, parameters)
    assert is_planned(module, step) and is_planned(module, forward)
    source = renderer.render()["model.c"]
    arena = ir.IntegerAttr(module.operation.attributes["train.arena_size"]).value
    assert f"#define TCC_ARENA_BYTES {arena}" in renderer.render()["model.h"]
    assert "#define tcc_param_fc1_weight TCC_F32(0)" in source
    assert "tcc_sgd_f32(tcc_param_fc1_weight," in source


needs_host_cc = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                                   reason="needs gcc and make")


@needs_host_cc
def test_update_not_in_place_is_copied_back(tmp_path):
    """Without --train-reorder, an update placed before a read of its parameter cannot
    be in place: the C code updates a copy and writes it back when the step returns;
    the losses still match the reference interpreter."""
    options = driver.TrainingOptions(lr=0.5)
    module = parse_module(MLP.read_text(), str(MLP), new_context())
    run_pipeline(module, ["train-autodiff{lr=0.5}", "train-prune"])
    step = find_function(module, "train_step")
    ops = list(step.entry_block.operations)
    update = next(op for op in ops if op.name == "train.sgd"
                  and train.arg_name(step, op.operands[0].arg_number) == "fc2.weight")
    first_read = next(op for op in ops if op.name == "train.linear_grad_input")
    gradient = update.operands[1].owner
    gradient.move_before(first_read)
    update.move_before(first_read)
    run_pipeline(module, ["plan-memory", "plan-memory{function=forward}"])
    check_plan(module, "train_step")
    offsets = parameter_offsets(module, "train_step")
    assert list(ir.DenseI64ArrayAttr(update.attributes["train.offsets"]))[0] != \
        offsets["fc2.weight"]
    forward = find_function(module, "forward")
    parameters = driver.default_parameters(forward, 0)
    model = driver.TrainableModel(module, parameters, options, module.context)
    driver.compile_cortex_m(model, "cortex-m7", tmp_path / "p")
    source = (tmp_path / "p" / "model.c").read_text()
    assert "tcc_copy_f32(TCC_F32(" in source and ", tcc_param_fc2_weight, 320);" in source
    inputs, labels = driver.training_batches(model, 5, None)
    host = driver.train_on_device(tmp_path / "p", "cortex-m7", inputs, labels, host=True)
    np.testing.assert_allclose(host, driver.reference_losses(model, inputs, labels), rtol=1e-5)


# ---------------------------------------------------------------------------------------
# The memory report
# ---------------------------------------------------------------------------------------

def test_report_files_are_written_and_the_svg_is_well_formed(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tcc.compiler.cli", str(MLP), "-o", str(tmp_path / "p"),
         "--report", str(tmp_path / "report")], capture_output=True, text=True,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    names = {"memory_report.txt", "memory_report.json", "memory_report.svg",
             "memory_report.forward.svg"}
    assert names <= {p.name for p in (tmp_path / "report").iterdir()}
    assert names <= {p.name for p in (tmp_path / "p").iterdir()}
    for name in names:     # the project holds the same report
        assert (tmp_path / "report" / name).read_text() == (tmp_path / "p" / name).read_text()

    data = json.loads((tmp_path / "report" / "memory_report.json").read_text())
    step = data["functions"]["train_step"]
    assert data["arena_bytes"] >= step["peak_bytes"] >= step["lower_bound_bytes"] > 0
    assert step["gap_bytes"] == step["peak_bytes"] - step["lower_bound_bytes"]
    assert max(r["live_bytes"] for r in step["live_bytes"]) == step["lower_bound_bytes"]
    at_peak = step["tensors_at_peak"]
    assert sum(t["size"] for t in at_peak) == step["lower_bound_bytes"]
    assert {"fc1.weight", "fc2.weight"} <= {t["name"] for t in at_peak}
    assert any("mlp.mlir:" in t["location"] for t in at_peak)
    text = (tmp_path / "report" / "memory_report.txt").read_text()
    assert f"{data['arena_bytes']:,} B" in text and "lower bound" in text

    svg = ElementTree.parse(tmp_path / "report" / "memory_report.svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.tag == f"{ns}svg"
    tensors = [g for g in svg.iter(f"{ns}g") if g.find(f"{ns}rect") is not None]
    assert len(tensors) == len(step["tensors"])
    assert all(g.find(f"{ns}title").text for g in tensors)       # tooltips
    labels = " ".join(t.text or "" for t in svg.iter(f"{ns}text"))
    assert f"peak {step['peak_bytes']:,} B" in labels
    assert f"lower bound {step['lower_bound_bytes']:,} B" in labels
    ElementTree.parse(tmp_path / "report" / "memory_report.forward.svg")


def test_report_is_written_even_when_the_target_cannot_compile(tmp_path):
    model = tmp_path / "m.mlir"
    # 100,000 trainable f32 weights: 400 KB, more than the Cortex-M7's SRAM.
    model.write_text(
        "func.func @forward(%x: tensor<2x1000xf32>, %w: tensor<100x1000xf32> "
        "{train.role = #train.role<trainable>}) -> tensor<2x100xf32> {\n"
        "  %y = train.linear %x, %w : (tensor<2x1000xf32>, tensor<100x1000xf32>)"
        " -> tensor<2x100xf32>\n"
        "  return %y : tensor<2x100xf32>\n}\n")
    result = subprocess.run(
        [sys.executable, "-m", "tcc.compiler.cli", str(model), "-o", str(tmp_path / "p"),
         "--report", str(tmp_path / "r")], capture_output=True, text=True,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and "does not fit" in result.stderr, result.stderr
    assert (tmp_path / "r" / "memory_report.svg").is_file()


def test_unnamed_parameters_share_one_place_in_forward_and_step(tmp_path):
    """A parameter without `train.name` is the same argument of @forward and
    @train_step: one offset, not a copy per function."""
    from tcc.compiler import driver
    from tcc.dialects import train
    model = tmp_path / "m.mlir"
    model.write_text(
        "func.func @forward(%x: tensor<2x4xf32>, %w: tensor<3x4xf32> "
        "{train.role = #train.role<trainable>}) -> tensor<2x3xf32> {\n"
        "  %y = train.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>\n"
        "  return %y : tensor<2x3xf32>\n}\n")
    prepared = driver.prepare(model, driver.TrainingOptions())
    offsets = [train.arg_attribute(driver.find_function(prepared.module, name), 1,
                                   "train.offset") for name in ("forward", "train_step")]
    assert offsets[0] is not None and str(offsets[0]) == str(offsets[1])

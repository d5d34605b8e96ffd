"""--train-reorder (passes/train_reorder.py) and the liveness model it scores
schedules with (compiler/liveness.py).

Liveness: intervals in program order (arguments from 0, a value dies after its last
reader, returned values live to the end), sizes from element types, what is in the
arena (frozen parameters and what is computed from them alone are not; a dequantized
parameter and a partial gradient's zero padding are read through), storage shared in
place (element-wise ops, optimizer updates with their two results for momentum) and
by reshapes, persistent parameters, the live bytes per position and the lower bound.

Reordering: the reference interpreter gives bit-identical results before and after
for the float zoo models under several schemes and, when ../shared holds them, for
the Tiny Training Engine's int8 models; the peak live bytes never grow and fall for
the TTE models; the output is deterministic; every update follows its gradient.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tcc
from tcc._mlir import ir
from tcc.compiler import liveness
from tcc.compiler.errors import PassError
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function, new_context, parse_module
from tcc.dialects import train
from tcc.passes import train_reorder
from tcc.runtime.interpreter import numpy_dtype, run_function

SHARED = Path(tcc.__file__).resolve().parent / ".." / "shared"
TTE = SHARED / "models" / "tte"
SCHEMES = TTE / "schemes.json"
needs_tte = pytest.mark.skipif(not SCHEMES.is_file(),
                               reason="needs ../shared/models/tte (the TTE models)")
ZOO = Path(tcc.__file__).resolve().parent / "examples" / "zoo"

_MODULES = []      # keeps the modules of the functions the tests hold alive


def parse(text: str, name: str = "test.mlir") -> ir.Module:
    module = parse_module(text, name, new_context())
    _MODULES.append(module)
    return module


def function(text: str, name: str = "f"):
    return find_function(parse(text), name)


def by_name(lives: list) -> dict:
    """Lifetimes keyed by the SSA name the value prints with."""
    out = {}
    for life in lives:
        out[life.value.get_name()] = life
    return out


# ---------------------------------------------------------------------------------------
# Liveness
# ---------------------------------------------------------------------------------------

CHAIN = """
func.func @f(%x: tensor<4xf32> {train.name = "input"},
             %w: tensor<4xf32> {train.name = "w", train.role = #train.role<frozen>},
             %u: tensor<4xf32> {train.name = "unused"}) -> tensor<4xf32> {
  %a = train.add %x, %w : tensor<4xf32>
  %b = train.relu %a : tensor<4xf32>
  %c = train.mul %b, %x : tensor<4xf32>
  %d = train.relu %c : tensor<4xf32>
  return %c : tensor<4xf32>
}
"""


def test_intervals_in_program_order():
    lives = by_name(liveness.lifetimes(function(CHAIN), inplace=False))
    interval = {name: (l.lower, l.upper) for name, l in lives.items()}
    # arguments from 0 to one past their last reader; an unread one only at 0
    assert interval["%arg0"] == (0, 3) and interval["%arg2"] == (0, 1)
    # results from their op to one past their last reader; returned: to the end
    # (the return is position 4); unread: only during their op
    assert interval["%0"] == (0, 2) and interval["%1"] == (1, 3)
    assert interval["%2"] == (2, 5) and interval["%3"] == (3, 4)
    assert [lives[n].position for n in ("%arg0", "%0", "%3")] == [-1, 0, 3]
    # the frozen parameter is not in the arena
    assert not lives["%arg1"].in_arena and lives["%arg1"].size == 16
    # 16 bytes per value: x, u, a at 0; x, a, b at 1; x, b, c at 2; c, d at 3; c at 4
    live = liveness.live_bytes(function(CHAIN), inplace=False)
    assert live == [48, 48, 48, 32, 16]
    assert liveness.lower_bound(function(CHAIN), inplace=False) == 48


def test_in_place_element_wise_results():
    lives = by_name(liveness.lifetimes(function(CHAIN)))
    # relu(a): a dies there, so b takes a's storage; mul(b, x) takes b's (its first
    # operand that dies there); relu(c) cannot: c is returned.
    assert lives["%1"].buffer is lives["%0"].buffer and lives["%1"].reuses is not None
    assert lives["%1"].reuses.get_name() == "%0"
    assert lives["%2"].buffer is lives["%0"].buffer
    assert lives["%3"].buffer is not lives["%2"].buffer and lives["%3"].reuses is None
    shared = lives["%0"].buffer
    assert (shared.lower, shared.upper, shared.size) == (0, 5, 16)
    assert liveness.live_bytes(function(CHAIN)) == [48, 32, 32, 32, 16]
    buffers = liveness.arena_buffers(function(CHAIN))
    assert sorted(b.size for b in buffers) == [16, 16, 16, 16]     # x, u, a/b/c, d


def test_a_read_after_the_op_forbids_in_place():
    text = """
    func.func @f(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
      %a = train.relu %x : tensor<4xf32>
      %b = train.relu %a : tensor<4xf32>
      %c = train.add %a, %b : tensor<4xf32>
      return %b, %c : tensor<4xf32>, tensor<4xf32>
    }"""
    lives = by_name(liveness.lifetimes(function(text)))
    assert lives["%0"].buffer is lives["%arg0"].buffer      # x dies at the first relu
    assert lives["%1"].buffer is not lives["%0"].buffer     # a is read again by add
    assert lives["%2"].buffer is lives["%0"].buffer         # add: a dies there (b is returned)


@pytest.mark.parametrize("type_text, size", [
    ("tensor<2x3xf32>", 24), ("tensor<2x3xi32>", 24), ("tensor<2x3xi8>", 6),
    ("tensor<2x3x!quant.uniform<i8:f32, 0.5:-3>>", 6),
    ("tensor<2x3x!quant.uniform<i8:f32:0, {0.5, 0.25}>>", 6), ("tensor<f32>", 4),
    ("f32", 4)])
def test_sizes_from_element_types(type_text, size):
    with new_context():
        assert liveness.type_bytes(ir.Type.parse(type_text)) == size


MOMENTUM = """
func.func @f(%p: tensor<8xf32> {train.name = "p", train.role = #train.role<trainable>},
             %m: tensor<8xf32> {train.name = "p.momentum", train.momentum_of = 0 : i64},
             %x: tensor<8xf32> {train.name = "input"})
    -> (tensor<f32>, tensor<8xf32> {train.updates = 0 : i64},
        tensor<8xf32> {train.updates = 1 : i64}) {
  %y = train.mul %x, %p : tensor<8xf32>
  %l = train.mse %y, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<f32>
  %g = train.mse_grad %y, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %dp = train.mul %g, %x : tensor<8xf32>
  %p2, %m2 = train.sgd_momentum %p, %dp, %m lr 0.1 momentum 0.9 : tensor<8xf32>
  return %l, %p2, %m2 : tensor<f32>, tensor<8xf32>, tensor<8xf32>
}
"""


def test_momentum_update_in_place_and_persistent_state():
    step = function(MOMENTUM)
    lives = liveness.lifetimes(step)
    p, m = lives[0], lives[1]
    p2, m2 = [l for l in lives if l.position == 4]
    # both results of the multi-result op: one lifetime each, from the op to the end
    # (the return is position 5)
    assert (p2.lower, p2.upper, m2.lower, m2.upper) == (4, 6, 4, 6)
    assert p2.buffer is p.buffer and p2.reuses == p.value
    assert m2.buffer is m.buffer and m2.reuses == m.value
    # parameters and momentum buffers hold state between calls: live throughout
    assert (p.buffer.lower, p.buffer.upper) == (0, 6)
    assert (m.buffer.lower, m.buffer.upper) == (0, 6)
    # nothing but its update takes a parameter's storage (`mul %x, %p` could, were p
    # not persistent: it is p's last reader before the update)
    assert all(l.buffer is not p.buffer for l in lives if l not in (p, p2))


def test_an_update_before_the_last_read_of_its_parameter_is_not_in_place():
    text = MOMENTUM.replace(
        "return %l, %p2, %m2",
        "%z = train.add %p, %p2 : tensor<8xf32>\n  return %l, %z, %m2")
    lives = liveness.lifetimes(function(text))
    p2 = next(l for l in lives if l.position == 4 and l.value.result_number == 0)
    m2 = next(l for l in lives if l.position == 4 and l.value.result_number == 1)
    assert p2.buffer is not lives[0].buffer and p2.reuses is None
    assert m2.buffer is lives[1].buffer


QUANT = """
func.func @f(%x: tensor<1x16x!quant.uniform<i8:f32, 0.5>> {train.name = "input"},
             %wf: tensor<4x16x!quant.uniform<i8:f32, 0.25>> {train.name = "a.weight",
                  train.role = #train.role<frozen>},
             %wt: tensor<4x16x!quant.uniform<i8:f32, 0.25>> {train.name = "b.weight",
                  train.role = #train.role<trainable>})
    -> (tensor<1x4xf32>, tensor<1x4xf32>) {
  %xf = quant.dcast %x : tensor<1x16x!quant.uniform<i8:f32, 0.5>> to tensor<1x16xf32>
  %f = quant.dcast %wf : tensor<4x16x!quant.uniform<i8:f32, 0.25>> to tensor<4x16xf32>
  %ft = train.transpose %f permutation [1, 0] : tensor<4x16xf32> -> tensor<16x4xf32>
  %t = quant.dcast %wt : tensor<4x16x!quant.uniform<i8:f32, 0.25>> to tensor<4x16xf32>
  %y1 = train.linear %xf, %f : (tensor<1x16xf32>, tensor<4x16xf32>) -> tensor<1x4xf32>
  %y2 = train.linear %xf, %t : (tensor<1x16xf32>, tensor<4x16xf32>) -> tensor<1x4xf32>
  return %y1, %y2 : tensor<1x4xf32>, tensor<1x4xf32>
}
"""


def test_frozen_values_and_dequantized_parameters():
    lives = by_name(liveness.lifetimes(function(QUANT)))
    x, wf, wt = lives["%arg0"], lives["%arg1"], lives["%arg2"]
    assert x.in_arena and x.size == 16 and not wf.in_arena and wt.in_arena
    # a dcast of an activation is an f32 copy in the arena
    assert lives["%0"].in_arena and lives["%0"].size == 64
    # computed from a frozen parameter alone: a constant
    assert not lives["%1"].in_arena and not lives["%2"].in_arena
    # a dequantized trainable parameter is read through: the parameter stays live
    t = lives["%3"]
    assert not t.in_arena and t.through == wt.value
    assert wt.upper == t.upper == 6
    strict = by_name(liveness.lifetimes(function(QUANT), fold_constants=False,
                                        fuse_dequantize="none"))
    assert all(strict[n].in_arena for n in ("%0", "%1", "%2", "%3"))
    everything = by_name(liveness.lifetimes(function(QUANT), fuse_dequantize="all"))
    xf = everything["%0"]
    assert not xf.in_arena and xf.through == everything["%arg0"].value
    assert everything["%arg0"].upper == xf.upper == 6
    with pytest.raises(TypeError):
        liveness.lifetimes(function(QUANT), fuse=True)


def test_reshape_shares_its_operands_storage():
    text = """
    func.func @f(%x: tensor<2x8xf32>) -> (tensor<16xf32>, tensor<2x8xf32>) {
      %r = train.reshape %x : tensor<2x8xf32> -> tensor<16xf32>
      %y = train.relu %x : tensor<2x8xf32>
      return %r, %y : tensor<16xf32>, tensor<2x8xf32>
    }"""
    lives = by_name(liveness.lifetimes(function(text)))
    assert lives["%0"].buffer is lives["%arg0"].buffer
    # x is still read (through r, returned): relu cannot take its storage
    assert lives["%1"].buffer is not lives["%arg0"].buffer
    assert liveness.live_bytes(function(text)) == [64, 128, 128]


def test_partial_channel_parameters_count_their_trained_slice():
    text = """
    func.func @f(%x: tensor<2x16xf32> {train.name = "input"},
                 %w: tensor<8x16xf32> {train.name = "fc.weight", train.channels = 4 : i64,
                     train.role = #train.role<trainable>}) -> tensor<2x8xf32> {
      %y = train.linear %x, %w : (tensor<2x16xf32>, tensor<8x16xf32>) -> tensor<2x8xf32>
      %rest = train.slice %w offsets [0, 4] sizes [8, 12] : tensor<8x16xf32> -> tensor<8x12xf32>
      %k = train.slice %w offsets [0, 0] sizes [8, 4] : tensor<8x16xf32> -> tensor<8x4xf32>
      return %y : tensor<2x8xf32>
    }"""
    lives = by_name(liveness.lifetimes(function(text)))
    assert lives["%arg1"].size == 8 * 4 * 4          # the first 4 input channels
    assert not lives["%1"].in_arena                  # the untrained channels: frozen
    assert lives["%2"].in_arena and lives["%2"].size == 128


def test_live_at_and_lower_bound_agree():
    step = function(MOMENTUM)
    live = liveness.live_bytes(step)
    peak = max(live)
    t = live.index(peak)
    assert sum(l.buffer.size for l in liveness.live_at(step, t)) == peak
    assert liveness.lower_bound(step) == peak


# ---------------------------------------------------------------------------------------
# Reordering small steps
# ---------------------------------------------------------------------------------------

MLP = """
func.func @forward(
    %x: tensor<4x16xf32> {train.name = "input"},
    %w1: tensor<32x16xf32> {train.name = "fc1.weight", train.role = #train.role<trainable>},
    %b1: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
    %w2: tensor<32x32xf32> {train.name = "fc2.weight", train.role = #train.role<trainable>},
    %b2: tensor<32xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>},
    %w3: tensor<10x32xf32> {train.name = "fc3.weight", train.role = #train.role<trainable>},
    %b3: tensor<10xf32> {train.name = "fc3.bias", train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %h1 = train.linear %x, %w1, %b1 : (tensor<4x16xf32>, tensor<32x16xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  %a1 = train.relu %h1 : tensor<4x32xf32>
  %h2 = train.linear %a1, %w2, %b2 : (tensor<4x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  %a2 = train.relu %h2 : tensor<4x32xf32>
  %y = train.linear %a2, %w3, %b3 : (tensor<4x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}
"""


def derived(text: str, *autodiff_options: str) -> ir.Module:
    module = parse(text)
    options = " ".join(autodiff_options)
    run_pipeline(module, [f"train-autodiff{{{options}}}", "train-prune"])
    return module


def random_inputs(step, weights: dict | None = None, seed: int = 0) -> list:
    """One array per argument: `weights` by name, random data otherwise."""
    rng = np.random.default_rng(seed)
    inputs = []
    for index, arg in enumerate(step.entry_block.arguments):
        name = train.arg_name(step, index)
        t = ir.RankedTensorType(arg.type)
        dtype = numpy_dtype(t.element_type)
        if weights is not None and name in weights:
            inputs.append(weights[name])
        elif name == "labels":
            inputs.append(rng.integers(0, 10, t.shape).astype(np.int32))
        elif np.issubdtype(dtype, np.integer):
            inputs.append(rng.integers(-128, 128, t.shape).astype(dtype))
        else:
            inputs.append(rng.standard_normal(t.shape).astype(dtype))
    return inputs


def check_reorder(module: ir.Module, inputs: list) -> tuple[int, int]:
    """Reorders @train_step; asserts bit-identical results and a peak that does not
    grow; returns (peak before, peak after)."""
    step = find_function(module, "train_step")
    peak = liveness.lower_bound(step)
    expected = run_function(module, "train_step", inputs)
    before, after = train_reorder.reorder(step)
    step.operation.verify()
    assert before == peak and after == liveness.lower_bound(step) and after <= before
    actual = run_function(module, "train_step", inputs)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype and np.array_equal(a, e)
    return before, after


def updates_follow_gradients(step) -> list:
    """The updates not right after their gradient's op (only the ops that only the
    update reads, like a zero padding of the gradient or a slice of the parameter,
    may come between), as (update, ops between)."""
    ops = list(step.entry_block.operations)
    position = {op: i for i, op in enumerate(ops)}
    late = []
    for i, op in enumerate(ops):
        if op.name not in train_reorder.UPDATE_OPS:
            continue
        gradient = op.operands[1]
        chain = set()
        while not isinstance(gradient, ir.BlockArgument) and \
                gradient.owner.name == "train.pad_to":
            chain.add(gradient.owner)
            gradient = gradient.owner.operands[0]
        if isinstance(gradient, ir.BlockArgument):
            continue
        between = [o for o in ops[position[gradient.owner] + 1:i] if o not in chain and
                   not (o.name == "train.slice" and o.results[0] in
                        [v for v in op.operands])]
        if between:
            late.append((op, [o.name for o in between]))
    return late


@pytest.mark.parametrize("options", ["", "optimizer=momentum"])
def test_mlp_step_reordered(options):
    module = derived(MLP, options)
    step = find_function(module, "train_step")
    before, after = check_reorder(module, random_inputs(step))
    assert after < before
    assert updates_follow_gradients(step) == []
    # the updates now come right after their gradients, not all at the end
    names = [op.name for op in step.entry_block.operations]
    update = "train.sgd_momentum" if options else "train.sgd"
    assert names.index(update) < names.index("train.linear_grad_input")


def test_reordering_is_deterministic_and_stable():
    texts = []
    for _ in range(2):
        module = derived(MLP, "optimizer=momentum")
        run_pipeline(module, ["train-reorder"])
        texts.append(str(module))
    assert texts[0] == texts[1]
    # reordering again keeps the schedule's peak
    module = parse(texts[0])
    step = find_function(module, "train_step")
    peak = liveness.lower_bound(step)
    before, after = train_reorder.reorder(step)
    assert before == peak and after <= peak


def test_remat_option_and_errors():
    module = derived(MLP)
    with pytest.raises(PassError, match="no function @missing to reorder"):
        run_pipeline(module, ["train-reorder{step=missing}"])
    run_pipeline(module, ["train-reorder{remat=false}"])
    assert "train-reorder" in tcc.passes.pass_names()


# ---------------------------------------------------------------------------------------
# The zoo models and the TTE models
# ---------------------------------------------------------------------------------------

def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"zoo_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ZOO: dict = {}


def zoo(file: str):
    """(imported module text, weights) of a zoo model."""
    torch = pytest.importorskip("torch")
    if file not in _ZOO:
        from tcc.compiler.frontends.pytorch import import_module
        models = _load(ZOO / "__init__.py").MODELS
        source = _load(ZOO / file)
        torch.manual_seed(0)
        net = getattr(source, models[file])().eval()
        imported = import_module(net, (torch.randn(source.INPUT_SHAPE),))
        _ZOO[file] = (str(imported.module), imported.weights)
    return _ZOO[file]


def zoo_scheme(name: str) -> dict:
    return {"full": {"default": "full"},
            "bias": {"default": "bias"},
            "partial": {"default": "bias", "layers": {"conv:-1": "full",
                                                      "conv:-2": {"channels": 0.5}}},
            "paper": {"n_bias_update": 2, "manual_weight_idx": [-1],
                      "weight_update_ratio": [0.5]}}[name]


ZOO_FILES = ["mlp.py", "lenet.py", "mobilenetv2.py", "dscnn.py", "resnet8.py",
             "transformer.py"]


@pytest.mark.parametrize("scheme", ["full", "bias", "partial"])
@pytest.mark.parametrize("file", ZOO_FILES)
def test_zoo_models_compute_the_same_after_reordering(file, scheme):
    from tcc.compiler.schemes import apply_scheme
    text, weights = zoo(file)
    module = parse(text, file)
    forward = find_function(module, "forward")
    with module.context, ir.Location.unknown():
        apply_scheme(forward, zoo_scheme(scheme))
    optimizer = "optimizer=momentum" if scheme == "partial" else ""
    run_pipeline(module, [f"train-autodiff{{{optimizer}}}", "train-prune"])
    step = find_function(module, "train_step")
    momentum = {train.arg_name(step, i): np.full(
        ir.RankedTensorType(arg.type).shape, 0.01, np.float32)
        for i, arg in enumerate(step.entry_block.arguments)
        if train.momentum_of(step, i) is not None}
    check_reorder(module, random_inputs(step, {**weights, **momentum}))


def tte_step(model: str, label: str):
    from tcc.compiler import analysis
    from tcc.compiler.frontends.tte import import_tte
    imported = import_tte(TTE / f"{model}.json", num_classes=10)
    _MODULES.append(imported.module)
    analysis.derive_step(imported.module, analysis.StepOptions(
        scheme=f"{SCHEMES}#{model}/{label}"))
    return imported


@needs_tte
@pytest.mark.parametrize("model, label", [("mcunet-5fps", "49kb"), ("mcunet-5fps", "148kb"),
                                          ("mbv2-w0.35", "99kb"),
                                          ("proxyless-w0.3", "74kb")])
def test_tte_models_compute_the_same_with_a_lower_peak(model, label):
    imported = tte_step(model, label)
    step = find_function(imported.module, "train_step")
    before, after = check_reorder(imported.module, random_inputs(step, imported.weights))
    assert after < before
    assert updates_follow_gradients(step) == []
    # no f32 copy of an int8 activation lives from the forward pass into the backward
    names = [op.name for op in step.entry_block.operations]
    seed = names.index("train.cross_entropy_grad")
    for life in liveness.lifetimes(step):
        if life.in_arena and life.name.startswith("quant.dcast"):
            assert not life.lower < seed < life.upper - 1, life.name


@needs_tte
def test_tte_reordering_is_deterministic():
    texts = []
    for _ in range(2):
        imported = tte_step("proxyless-w0.3", "49kb")
        run_pipeline(imported.module, ["train-reorder"])
        texts.append(find_function(imported.module, "train_step").operation.get_asm(
            large_elements_limit=4))
    assert texts[0] == texts[1]

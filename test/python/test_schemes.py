"""Sparse update schemes (compiler/schemes.py), --train-prune and `tcc analyze`.

Scheme files in both formats and their errors; partial-channel, bias-only and
momentum updates against PyTorch with the same parameters frozen or masked; pruned
steps of float zoo models and, when ../shared holds them, of the Tiny Training
Engine's MCUNet-5FPS with its five schemes: no gradient op for frozen layers and
saved-for-backward bytes that fall as the scheme shrinks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tcc
from tcc.compiler import analysis
from tcc.compiler.errors import InputError, TccError, UnsupportedError
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.schemes import apply_scheme, list_schemes, load_scheme
from tcc.compiler.source import find_function, new_context, parse_module
from tcc.dialects import train
from tcc.runtime import interpreter

SHARED = Path(tcc.__file__).resolve().parent / ".." / "shared"
TTE = SHARED / "models" / "tte"
SCHEMES = TTE / "schemes.json"
needs_tte = pytest.mark.skipif(not SCHEMES.is_file(),
                               reason="needs ../shared/models/tte (the TTE models)")

# A small CNN: conv1 (3 -> 8), depthwise (8), pointwise (8 -> 16), linear head.
CNN = """
func.func @forward(
    %x: tensor<2x3x6x6xf32> {train.name = "input"},
    %w1: tensor<8x3x3x3xf32> {train.name = "conv1.weight", train.role = #train.role<trainable>},
    %b1: tensor<8xf32> {train.name = "conv1.bias", train.role = #train.role<trainable>},
    %w2: tensor<8x1x3x3xf32> {train.name = "dw.weight", train.role = #train.role<trainable>},
    %b2: tensor<8xf32> {train.name = "dw.bias", train.role = #train.role<trainable>},
    %w3: tensor<16x8x1x1xf32> {train.name = "pw.weight", train.role = #train.role<trainable>},
    %b3: tensor<16xf32> {train.name = "pw.bias", train.role = #train.role<trainable>},
    %w: tensor<10x576xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
    %b: tensor<10xf32> {train.name = "fc.bias", train.role = #train.role<trainable>})
    -> tensor<2x10xf32> {
  %c1 = train.conv2d %x, %w1, %b1 padding [1, 1]
      : (tensor<2x3x6x6xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<2x8x6x6xf32>
  %a1 = train.relu %c1 : tensor<2x8x6x6xf32>
  %c2 = train.conv2d %a1, %w2, %b2 padding [1, 1] groups 8
      : (tensor<2x8x6x6xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<2x8x6x6xf32>
  %a2 = train.relu %c2 : tensor<2x8x6x6xf32>
  %c3 = train.conv2d %a2, %w3, %b3
      : (tensor<2x8x6x6xf32>, tensor<16x8x1x1xf32>, tensor<16xf32>) -> tensor<2x16x6x6xf32>
  %f = train.reshape %c3 : tensor<2x16x6x6xf32> -> tensor<2x576xf32>
  %y = train.linear %f, %w, %b
      : (tensor<2x576xf32>, tensor<10x576xf32>, tensor<10xf32>) -> tensor<2x10xf32>
  return %y : tensor<2x10xf32>
}
"""
CNN_SHAPES = {"conv1.weight": (8, 3, 3, 3), "conv1.bias": (8,), "dw.weight": (8, 1, 3, 3),
              "dw.bias": (8,), "pw.weight": (16, 8, 1, 1), "pw.bias": (16,),
              "fc.weight": (10, 576), "fc.bias": (10,)}


_MODULES = []   # keeps the modules of the functions the tests hold alive


def parse(text: str, name: str = "cnn.mlir"):
    module = parse_module(text, name, new_context())
    _MODULES.append(module)
    return module


def cnn():
    return parse(CNN)


def write(tmp_path, content, name="scheme.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=1))
    return path


def roles(function) -> dict[str, tuple]:
    """name -> (role, channels) of every parameter."""
    from tcc.compiler.schemes import arg_channels
    count = len(function.entry_block.arguments)
    return {train.arg_name(function, i): (train.arg_role(function, i),
                                          arg_channels(function, i))
            for i in range(count) if train.arg_role(function, i) is not None}


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------

def test_tcc_format(tmp_path):
    path = write(tmp_path, {"default": "bias", "layers": {
        "conv1": "frozen", "conv:1": {"channels": 0.5}, "pw": {"channels": 3}, "fc": "full"},
        "optimizer": {"name": "momentum", "lr": 0.05, "momentum": 0.8,
                      "weight_decay": 1e-4}, "qas": False})
    scheme = load_scheme(path)
    assert scheme.default == "bias" and scheme.qas is False
    assert scheme.layers["conv1"].kind == "frozen"
    assert scheme.layers["conv:1"].ratio == 0.5
    assert scheme.layers["pw"].count == 3
    assert (scheme.optimizer.name, scheme.optimizer.lr, scheme.optimizer.momentum,
            scheme.optimizer.weight_decay) == ("momentum", 0.05, 0.8, 1e-4)
    assert scheme.location("pw").startswith(f"{path}:")


def test_paper_format_and_selection():
    paper = {"net": {"small": {"n_bias_update": 2, "manual_weight_idx": [1, 2],
                               "weight_update_ratio": [0, 0.25]},
                     "big": {"n_bias_update": "all", "manual_weight_idx": "0-1-2",
                             "weight_update_ratio": "1-1-0.5"}}}
    assert list_schemes(paper) == ["net/small", "net/big"]
    small = load_scheme(paper, key="net/small")
    assert small.paper.n_bias_update == 2 and small.paper.weights == [(1, 0.0), (2, 0.25)]
    big = load_scheme(paper, key="net/big")
    assert big.paper.weights == [(0, 1.0), (1, 1.0), (2, 0.5)]
    with pytest.raises(InputError, match="holds 2 schemes; choose one .*net/small, net/big"):
        load_scheme(paper)
    with pytest.raises(InputError, match="no scheme 'net/huge'"):
        load_scheme(paper, key="net/huge")


@needs_tte
def test_the_papers_schemes_file():
    keys = list_schemes(SCHEMES)
    assert len(keys) == 15 and "mcunet-5fps/49kb" in keys
    scheme = load_scheme(f"{SCHEMES}#mcunet-5fps/49kb")
    assert scheme.name == "mcunet-5fps/49kb"
    assert scheme.paper.n_bias_update == 20
    assert scheme.paper.weights[:2] == [(23, 0.0), (24, 0.25)]
    assert load_scheme(SCHEMES, key="mcunet-5fps/49kb").paper == scheme.paper


@pytest.mark.parametrize("content, message, where", [
    ('{"layers": {"fc": "full",}}', "malformed JSON in scheme file", ":1:"),
    ('{\n  "layers": {\n    "fc": "half"\n  }\n}', "unknown rule 'half'", ":3:5"),
    ('{"layers": {"fc": {"channels": 0}}}', "channel count must be >= 1", ":1:"),
    ('{"layers": {"fc": {"channels": 1.5}}}', r"ratio 1\.5 is outside \(0, 1\]", ":1:"),
    ('{"layers": {"fc": {"channels": -0.25}}}', r"ratio -0\.25 is outside \(0, 1\]", ":1:"),
    ('{"layers": {"fc": {"ratio": 0.5}}}', "a rule is", ":1:"),
    ('{"layer": {}}', "unknown scheme field 'layer'", ":1:2"),
    ('{"default": "some"}', "'default' must be one of", ":1:2"),
    ('{"optimizer": {"name": "adam"}}', "unknown optimizer 'adam'", ":1:"),
    ('{"optimizer": {"lr": 0}}', "'lr' must be a positive finite number", ":1:"),
    ('{"qas": "yes"}', "'qas' must be true or false", ":1:2"),
    ('{"n_bias_update": 2, "manual_weight_idx": [1], "weight_update_ratio": [1.5]}',
     r"weight_update_ratio\[0\] = 1\.5: a ratio must be in \(0, 1\]", ":1:"),
    ('{"n_bias_update": 2, "manual_weight_idx": [1, 2], "weight_update_ratio": [1]}',
     "has 1 entries but 'manual_weight_idx' has 2", ":1:"),
    ('{"n_bias_update": -1}', "non-negative integer", ":1:2"),
    ('{"n_bias_update": 1, "layers": {}}', "cannot be combined with the paper's format", ":1:"),
    ('[1, 2]', "must be a JSON object", ""),
])
def test_scheme_errors_are_located(tmp_path, content, message, where):
    path = write(tmp_path, content)
    with pytest.raises(InputError, match=message) as error:
        load_scheme(path)
    assert error.value.location.startswith(str(path) + where)


def test_missing_scheme_file(tmp_path):
    with pytest.raises(InputError, match="no such scheme file"):
        load_scheme(tmp_path / "none.json")


# ---------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------

def test_apply_scheme_sets_roles_and_channels():
    module = cnn()
    forward = find_function(module, "forward")
    apply_scheme(forward, {"layers": {"conv1": "bias", "conv:1": {"channels": 0.3},
                                      "pw": {"channels": 8}, "conv:-1": "full"}})
    assert roles(forward) == {
        "conv1.weight": ("frozen", None), "conv1.bias": ("trainable", None),
        # depthwise: axis 0 (8 channels), ⌈0.3 · 8⌉ = 3
        "dw.weight": ("trainable", 3), "dw.bias": ("trainable", None),
        # all 8 input channels: a full update, no attribute
        "pw.weight": ("trainable", None), "pw.bias": ("trainable", None),
        "fc.weight": ("trainable", None), "fc.bias": ("trainable", None)}
    module.operation.verify()


def test_apply_scheme_defaults():
    forward = find_function(cnn(), "forward")
    apply_scheme(forward, {"default": "bias", "layers": {"fc": "full"}})
    assert {n for n, (r, _) in roles(forward).items() if r == "trainable"} == {
        "conv1.bias", "dw.bias", "pw.bias", "fc.weight", "fc.bias"}
    apply_scheme(forward, {"default": "keep", "layers": {"fc": "frozen"}})
    assert roles(forward)["conv1.bias"] == ("trainable", None)
    assert roles(forward)["fc.weight"] == ("frozen", None)
    apply_scheme(forward, {"layers": {"pw": "full"}})          # default frozen
    assert {n for n, (r, _) in roles(forward).items() if r == "trainable"} == {
        "pw.weight", "pw.bias"}


def test_apply_paper_scheme():
    # 3 convs besides the classifier (conv:0..2); the classifier is always trained.
    forward = find_function(cnn(), "forward")
    apply_scheme(forward, {"n_bias_update": 2, "manual_weight_idx": [1, 2],
                           "weight_update_ratio": [0.25, 0]})
    assert roles(forward) == {
        "conv1.weight": ("frozen", None), "conv1.bias": ("frozen", None),
        "dw.weight": ("trainable", 2), "dw.bias": ("trainable", None),
        "pw.weight": ("frozen", None), "pw.bias": ("trainable", None),
        "fc.weight": ("trainable", None), "fc.bias": ("trainable", None)}


@pytest.mark.parametrize("scheme, error, message", [
    ({"layers": {"conv2": "full"}}, InputError,
     r"unknown layer 'conv2' \(layers are parameter names .* conv1, dw, fc, pw\)"),
    ({"layers": {"conv:4": "full"}}, InputError,
     r"unknown layer 'conv:4': the model has 4 conv-like layers \(conv:0 to conv:3\)"),
    ({"layers": {"pw": {"channels": 9}}}, InputError,
     "9 channels requested but its weight has 8 along axis 1"),
    ({"layers": {"pw": "bias", "conv:2": "full"}}, InputError,
     "layer 'conv:2' and layer 'pw' both set parameter 'pw.weight'"),
    ({"n_bias_update": 4}, InputError, "n_bias_update = 4 but the model has only 3 conv"),
    ({"n_bias_update": 1, "manual_weight_idx": [3], "weight_update_ratio": [1]},
     InputError, "unknown layer conv:3 in manual_weight_idx"),
])
def test_apply_scheme_errors(scheme, error, message):
    forward = find_function(cnn(), "forward")
    with pytest.raises(error, match=message):
        apply_scheme(forward, scheme)


def test_unknown_layer_error_points_into_the_scheme_file(tmp_path):
    path = write(tmp_path, '{\n  "layers": {\n    "fc": "full",\n    "head": "full"\n  }\n}')
    with pytest.raises(InputError) as error:
        apply_scheme(find_function(cnn(), "forward"), load_scheme(path))
    assert str(error.value) == (f"{path}:4:5: error: unknown layer 'head' (layers are "
                                "parameter names without their last component, or "
                                "conv:<i>; this model has conv1, dw, fc, pw)")


def test_grouped_conv_partial_channels_are_unsupported():
    text = CNN.replace("groups 8", "groups 2").replace("tensor<8x1x3x3xf32>",
                                                       "tensor<8x4x3x3xf32>")
    forward = find_function(parse(text, "g.mlir"), "forward")
    with pytest.raises(UnsupportedError, match="grouped convs .* not supported"):
        apply_scheme(forward, {"layers": {"dw": {"channels": 2}}})


QUANTIZED = """
!x = !quant.uniform<i8:f32, 5.000000e-01:-1>
!w = !quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>
!y = !quant.uniform<i8:f32, 2.500000e-01:-128>
func.func @forward(
    %x: tensor<1x2x4x4x!x> {train.name = "input"},
    %w: tensor<3x2x1x1xi8> {train.name = "conv.weight", train.role = #train.role<frozen>},
    %b: tensor<3xi32> {train.name = "conv.bias", train.role = #train.role<frozen>})
    -> tensor<1x3xf32> {
  %wq = quant.scast %w : tensor<3x2x1x1xi8> to tensor<3x2x1x1x!w>
  %y = train.qconv2d %x, %wq, %b rounding float_scale
      : (tensor<1x2x4x4x!x>, tensor<3x2x1x1x!w>, tensor<3xi32>) -> tensor<1x3x4x4x!y>
  %p = train.qglobal_avg_pool %y rounding float_scale : tensor<1x3x4x4x!y> -> tensor<1x3x1x1x!y>
  %r = train.reshape %p : tensor<1x3x1x1x!y> -> tensor<1x3x!y>
  %l = quant.dcast %r : tensor<1x3x!y> to tensor<1x3xf32>
  return %l : tensor<1x3xf32>
}
"""


def test_int8_layer_without_scales():
    forward = find_function(parse(QUANTIZED, "q.mlir"), "forward")
    # Its int32 bias has scales (s_x · s_w of the qconv2d): bias-only is fine.
    apply_scheme(forward, {"layers": {"conv": "bias"}})
    assert roles(forward)["conv.bias"] == ("trainable", None)
    with pytest.raises(InputError, match="int8 layer 'conv' has no quantization scales: its "
                       "parameter 'conv.weight' is a plain tensor<3x2x1x1xi8>"):
        apply_scheme(forward, {"layers": {"conv": "full"}})


# ---------------------------------------------------------------------------------------
# Training steps against PyTorch
# ---------------------------------------------------------------------------------------

def _torch_cnn(params, x, labels):
    import torch
    import torch.nn.functional as F
    a1 = torch.relu(F.conv2d(x, params["conv1.weight"], params["conv1.bias"], padding=1))
    a2 = torch.relu(F.conv2d(a1, params["dw.weight"], params["dw.bias"], padding=1, groups=8))
    c3 = F.conv2d(a2, params["pw.weight"], params["pw.bias"])
    y = F.linear(c3.reshape(2, -1), params["fc.weight"], params["fc.bias"])
    return F.cross_entropy(y, labels)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_sparse_updates_match_pytorch(tmp_path, optimizer):
    """conv1 bias-only, dw its first 3 channels (axis 0), pw its first 2 input channels
    (axis 1), fc full; 5 steps against PyTorch with masked gradients."""
    torch = pytest.importorskip("torch")
    scheme = write(tmp_path, {"layers": {"conv1": "bias", "dw": {"channels": 3},
                                         "pw": {"channels": 2}, "fc": "full"},
                              "optimizer": {"name": optimizer, "lr": 0.05,
                                            "momentum": 0.9, "weight_decay": 0.01}})
    module = cnn()
    run_pipeline(module, [f'train-autodiff{{scheme="{scheme}"}}', "train-prune"])
    step = find_function(module, "train_step")
    arity = len(step.entry_block.arguments)
    rng = np.random.default_rng(1)
    values = {name: (rng.standard_normal(shape) * 0.3).astype(np.float32)
              for name, shape in CNN_SHAPES.items()}
    names = [train.arg_name(step, i) for i in range(arity)]
    masks = {"conv1.weight": 0.0, "dw.weight": np.zeros((8, 1, 1, 1), np.float32),
             "pw.weight": np.zeros((1, 8, 1, 1), np.float32)}
    masks["dw.weight"][:3] = 1
    masks["pw.weight"][:, :2] = 1
    params = {n: torch.tensor(v, requires_grad=True) for n, v in values.items()}
    sgd = torch.optim.SGD(params.values(), lr=0.05, weight_decay=0.01,
                          momentum=0.9 if optimizer == "momentum" else 0.0)
    state = dict(values)
    for name in names:
        if name.endswith(".momentum"):
            state[name] = np.zeros(CNN_SHAPES[name[:-len(".momentum")]], np.float32)
    for _ in range(5):
        x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
        labels = rng.integers(0, 10, 2).astype(np.int32)
        args = [x] + [state[n] for n in names[1:-1]] + [labels]
        results = interpreter.run_function(module, "train_step", args)
        for position in range(1, len(results)):
            state[names[train.updated_arg(step, position)]] = results[position]
        sgd.zero_grad()
        loss = _torch_cnn(params, torch.tensor(x), torch.tensor(labels).long())
        loss.backward()
        for name, mask in masks.items():       # frozen channels: no gradient, no decay
            params[name].grad = None if np.isscalar(mask) else \
                params[name].grad * torch.tensor(mask)
        frozen = {name: params[name].detach().clone() for name in masks}
        sgd.step()
        with torch.no_grad():
            for name, mask in masks.items():
                keep = torch.tensor(1.0 - (mask if not np.isscalar(mask) else 0.0))
                params[name].copy_(params[name] * (1 - keep) + frozen[name] * keep)
        assert abs(float(results[0]) - loss.item()) < 1e-4 * abs(loss.item())
    for name, value in params.items():
        np.testing.assert_allclose(state[name], value.detach().numpy(), rtol=1e-4,
                                   atol=1e-6, err_msg=name)


def test_int8_partial_update_leaves_the_other_channels():
    """int8 weights: the first k input channels change, the others keep their integers."""
    text = QUANTIZED.replace("tensor<3x2x1x1xi8>", "tensor<3x2x1x1x!w>").replace(
        "%wq = quant.scast %w : tensor<3x2x1x1x!w> to tensor<3x2x1x1x!w>\n", "").replace(
        "train.qconv2d %x, %wq", "train.qconv2d %x, %w")
    module = parse_module(text, "q.mlir", new_context())
    apply_scheme(find_function(module, "forward"),
                 {"layers": {"conv": {"channels": 1}}})
    run_pipeline(module, ["train-autodiff{lr=1.0}", "train-prune"])
    rng = np.random.default_rng(0)
    x = rng.integers(-20, 60, (1, 2, 4, 4)).astype(np.int8)
    w = rng.integers(-100, 100, (3, 2, 1, 1)).astype(np.int8)
    b = rng.integers(-50, 50, 3).astype(np.int32)
    loss, w2, b2 = interpreter.run_function(module, "train_step",
                                            [x, w, b, np.array([1], np.int32)])
    assert np.isfinite(loss)
    assert np.array_equal(w2[:, 1:], w[:, 1:])
    assert not np.array_equal(w2[:, :1], w[:, :1])


# ---------------------------------------------------------------------------------------
# Pruned steps
# ---------------------------------------------------------------------------------------

GRADIENT_OF_PARAMETERS = ("conv2d_grad_weight", "linear_grad_weight", "bias_grad")


def step_ops(module) -> list[tuple[str, str]]:
    """(op name, location name) of the ops after the loss gradient of @train_step, from
    its printed form with locations."""
    text = find_function(module, "train_step").operation.get_asm(enable_debug_info=True)
    ops, seen_seed = [], False
    for line in text.splitlines():
        match = re.search(r"= (\S+) .*loc\((\"[^\"]*\"|[^)]*)\)\s*$", line)
        if not match:
            continue
        name, where = match.group(1), match.group(2).strip('"')
        seen_seed = seen_seed or name.endswith("cross_entropy_grad")
        if seen_seed:
            ops.append((name, where))
    return ops


def _zoo_model(name: str):
    torch = pytest.importorskip("torch")
    import importlib
    zoo = Path(tcc.__file__).resolve().parent / "examples" / "zoo"
    sys.path.insert(0, str(zoo))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(zoo))
    from tcc.compiler.frontends.pytorch import import_module
    net = getattr(module, {"mobilenetv2": "MobileNetV2", "dscnn": "DSCNN"}[name])().eval()
    torch.manual_seed(0)
    return import_module(net, (torch.randn(*module.INPUT_SHAPE),), filename=f"{name}.py")


# Five paper-format schemes of MobileNetV2 (11 convs besides the classifier), from the
# largest to the smallest, and tcc-format frozen / bias-only / last-k / partial ones.
ZOO_SCHEMES = [
    {"n_bias_update": 11, "manual_weight_idx": [2, 5, 8, 9, 10],
     "weight_update_ratio": [1, 1, 1, 1, 1]},
    {"n_bias_update": 8, "manual_weight_idx": [5, 8, 9, 10],
     "weight_update_ratio": [1, 1, 0.5, 1]},
    {"n_bias_update": 6, "manual_weight_idx": [8, 9, 10], "weight_update_ratio": [1, 0.5, 1]},
    {"n_bias_update": 4, "manual_weight_idx": [9, 10], "weight_update_ratio": [0.25, 0.5]},
    {"n_bias_update": 2, "manual_weight_idx": [10], "weight_update_ratio": [0]},
]


def test_float_zoo_model_schemes_prune_and_shrink():
    """MobileNetV2 of the zoo with five paper-format schemes: one weight gradient per
    trained weight, one bias gradient per trained bias, input gradients only above the
    first trained layer, and saved-for-backward bytes that fall with the scheme."""
    saved = []
    for scheme in ZOO_SCHEMES:
        imported = _zoo_model("mobilenetv2")
        report = analysis.analyze_module(imported.module, analysis.StepOptions(scheme=scheme))
        saved.append(report.saved_bytes)
        forward = find_function(imported.module, "forward")
        trained = {n for n, (r, _) in roles(forward).items() if r == "trainable"}
        convs = [op for op in forward.entry_block.operations
                 if op.name in ("train.conv2d", "train.linear")]
        first = min(i for i, op in enumerate(convs)
                    if train.arg_name(forward, op.operands[1].arg_number) in trained
                    or train.arg_name(forward, op.operands[2].arg_number) in trained)
        names = [name for name, _ in step_ops(imported.module)]
        count = {kind: sum(1 for n in names if n.endswith(kind))
                 for kind in ("grad_weight", "bias_grad", "grad_input")}
        assert count["grad_weight"] == sum(1 for n in trained if n.endswith("weight")), scheme
        assert count["bias_grad"] == sum(1 for n in trained if n.endswith("bias")), scheme
        assert count["grad_input"] == len(convs) - 1 - first, scheme
    assert saved == sorted(saved, reverse=True), saved
    assert saved[0] > 2 * saved[-1]


@pytest.mark.parametrize("scheme, expected", [
    ({"layers": {"classifier": "full"}}, {"classifier.weight", "classifier.bias"}),
    ({"default": "bias"}, None),
    ({"layers": {"features.4.0": "full", "classifier": "full"}},
     {"features.4.0.weight", "features.4.0.bias", "classifier.weight", "classifier.bias"}),
    ({"layers": {"features.3.conv.1.0": {"channels": 0.5}, "classifier": "full"}},
     {"features.3.conv.1.0.weight", "features.3.conv.1.0.bias", "classifier.weight",
      "classifier.bias"}),
])
def test_zoo_step_updates_what_the_scheme_says(scheme, expected):
    imported = _zoo_model("mobilenetv2")
    analysis.derive_step(imported.module, analysis.StepOptions(scheme=scheme))
    step = find_function(imported.module, "train_step")
    ret = step.entry_block.operations[len(step.entry_block.operations) - 1]
    updated = {train.arg_name(step, train.updated_arg(step, i))
               for i in range(1, len(ret.operands))}
    if expected is None:
        expected = {n for n in roles(step) if n.endswith("bias")}
    assert updated == expected


# ---------------------------------------------------------------------------------------
# MCUNet-5FPS and its five schemes
# ---------------------------------------------------------------------------------------

def _tte(model: str, label: str):
    from tcc.compiler.frontends.tte import import_tte
    imported = import_tte(TTE / f"{model}.json", num_classes=10)
    report = analysis.analyze_module(imported.module, analysis.StepOptions(
        scheme=f"{SCHEMES}#{model}/{label}"))
    return imported, report


@needs_tte
def test_mcunet_schemes():
    labels = list(json.loads(SCHEMES.read_text())["mcunet-5fps"])
    labels.sort(key=lambda label: int(label.rstrip("kb")))
    saved = []
    for label in labels:
        imported, report = _tte("mcunet-5fps", label)
        saved.append(report.saved_bytes)
        forward = find_function(imported.module, "forward")
        state = {}
        for op in forward.entry_block.operations:
            if op.name != "train.qconv2d":
                continue
            name = re.fullmatch(r'loc\("([^"]+)"\)', str(op.location)).group(1)
            weight = train.arg_role(forward, op.operands[1].arg_number)
            bias = train.arg_role(forward, op.operands[2].arg_number)
            state[name] = ("full" if weight == "trainable" else
                           "bias" if bias == "trainable" else "frozen")
        # The printed train_step: no weight gradient for frozen or bias-only layers,
        # no bias gradient for frozen layers, no gradient op at all below the first
        # trained layer.
        ops = step_ops(imported.module)
        order = list(state)
        first = min(i for i, n in enumerate(order) if state[n] != "frozen")
        for op_name, where in ops:
            if where not in state:
                continue
            if op_name.endswith("conv2d_grad_weight"):
                assert state[where] == "full", (label, op_name, where)
            if op_name.endswith("bias_grad"):
                assert state[where] != "frozen", (label, op_name, where)
            assert order.index(where) >= first, (label, op_name, where)
        text = find_function(imported.module, "train_step").operation.get_asm(
            enable_debug_info=True)
        for name, kind in state.items():
            if kind == "frozen":
                assert not re.search(rf'(grad_weight|bias_grad)[^\n]*loc\("{re.escape(name)}"\)',
                                     text), (label, name)
    # Saved-for-backward bytes fall as the scheme shrinks.
    assert saved == sorted(saved), list(zip(labels, saved))
    assert len(set(saved)) == len(saved)


@needs_tte
def test_tcc_analyze_cli_on_mcunet(tmp_path):
    from tcc.compiler.frontends.tte import import_tte
    imported = import_tte(TTE / "mcunet-5fps.json", num_classes=10)
    model, _ = imported.write(tmp_path / "mcunet.mlir")
    result = subprocess.run([sys.executable, "-m", "tcc.compiler.cli", "analyze", str(model),
                             "--scheme", str(SCHEMES), "--scheme-key", "mcunet-5fps/49kb",
                             "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["partial_parameters"] == 3
    assert 0 < report["saved_for_backward_bytes"] < report["saved_for_backward_ir_bytes"]
    # trainable bytes + saved bytes are the paper's budget (49 kB), give or take the
    # 10-class head and the logits
    total = report["saved_for_backward_bytes"] + report["trainable_parameter_bytes"]
    assert 49_000 < total < 56_000


# ---------------------------------------------------------------------------------------
# tcc analyze
# ---------------------------------------------------------------------------------------

def tcc_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcc.compiler.cli", *map(str, args)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_tcc_analyze_table_and_json(tmp_path):
    model = write(tmp_path, CNN, "cnn.mlir")
    scheme = write(tmp_path, {"layers": {"conv1": "bias", "pw": {"channels": 2},
                                         "fc": "full"}})
    result = tcc_cli("analyze", model, "--scheme", scheme)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"model: {model}   scheme: {scheme}"
    assert re.match(r"\s+saved for backward\s+[\d,]+ B", lines[1])
    data = json.loads(tcc_cli("analyze", model, "--scheme", scheme, "--json").stdout)
    # conv1 bias-only and pw partial: pw keeps x[:, :2] (2·2·6·6 f32), the relu masks
    # of conv1 and dw are bits, the flattened pw output feeds fc's weight gradient.
    saved = {t["name"]: t for t in data["saved"]}
    assert any("slice [2, 2, 6, 6]" in n for n in saved)
    assert data["trainable_parameter_bytes"] == 4 * (8 + 16 * 2 + 16 + 5760 + 10)
    assert data["gradient_bytes"] == data["trainable_parameter_bytes"]
    assert data["momentum_bytes"] == 0
    momentum = json.loads(tcc_cli("analyze", model, "--scheme", scheme, "--optimizer",
                                  "momentum", "--json").stdout)
    # one buffer per trained parameter, of the parameter's type (pw.weight's whole)
    assert momentum["momentum_bytes"] == 4 * (8 + 16 * 8 + 16 + 5760 + 10)


@pytest.mark.parametrize("args, message", [
    (["--scheme", "{dir}/none.json"], "no such scheme file"),
    (["--scheme-key", "a/b"], "--scheme-key needs --scheme"),
    (["--scheme", "{dir}/bad.json"], "unknown layer 'head'"),
])
def test_tcc_analyze_errors(tmp_path, args, message):
    model = write(tmp_path, CNN, "cnn.mlir")
    write(tmp_path, {"layers": {"head": "full"}}, "bad.json")
    result = tcc_cli("analyze", model, *[a.format(dir=tmp_path) for a in args])
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_prune_needs_a_step():
    with pytest.raises(TccError, match="no function @train_step to prune"):
        run_pipeline(cnn(), ["train-prune"])


def test_prune_is_idempotent():
    module = cnn()
    apply_scheme(find_function(module, "forward"),
                 {"layers": {"conv1": "bias", "dw": {"channels": 3}, "fc": "full"}})
    run_pipeline(module, ["train-autodiff", "train-prune"])
    once = str(module)
    run_pipeline(module, ["train-prune"])
    assert str(module) == once

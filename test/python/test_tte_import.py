"""The TTE int8 model importer (compiler/frontends/tte.py) on the three tiny-training
models in ../shared/models/tte (data of another project, read in place, never copied)."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import tcc
from tcc.compiler.errors import InputError, TccError
from tcc.compiler.frontends.model_file import ImportedModel, weights_file
from tcc.compiler.source import find_function, load_module, new_context

MODELS_DIR = Path(tcc.__file__).parent / ".." / "shared" / "models" / "tte"

needs_models = pytest.mark.skipif(not (MODELS_DIR / "mcunet-5fps.json").is_file(),
                                  reason="../shared/models/tte is not available")

# Convs of each model in forward order, the classifier not counted (README: MCUNet-5FPS
# has 42; the others counted from their layer trees), and identity residual blocks.
MODELS = {"mcunet-5fps": (42, 7), "mbv2-w0.35": (51, 10), "proxyless-w0.3": (60, 13)}


def tte():
    from tcc.compiler.frontends import tte as module
    return module


_CACHE: dict = {}


def imported(name: str, form: str = "json", **options) -> ImportedModel:
    """import_tte of MODEL.json or original/MODEL.pkl, cached per arguments."""
    key = (name, form, tuple(sorted(options.items())))
    if key not in _CACHE:
        path = (MODELS_DIR / f"{name}.json" if form == "json"
                else MODELS_DIR / "original" / f"{name}.pkl")
        _CACHE[key] = tte().import_tte(path, **options)
    return _CACHE[key]


def forward_ops(model: ImportedModel):
    return list(find_function(model.module, "forward").entry_block.operations)


def arg_attrs(model: ImportedModel) -> list[dict[str, str]]:
    """Per argument: its attributes as strings (train.name unquoted)."""
    function = find_function(model.module, "forward")
    result = []
    for attrs in function.arg_attrs:
        entry = {}
        for named in attrs:
            value = str(named.attr)
            entry[named.name] = value.strip('"') if named.name == "train.name" else value
        result.append(entry)
    return result


def npz_keys(name: str) -> list[str]:
    with np.load(MODELS_DIR / f"{name}.npz") as data:
        return list(data.files)


# ---------------------------------------------------------------------------------------
# The three models
# ---------------------------------------------------------------------------------------

@needs_models
@pytest.mark.parametrize("name", MODELS)
def test_json_and_pkl_give_the_same_model(name):
    pytest.importorskip("torch")
    from_json, from_pkl = imported(name, "json"), imported(name, "pkl")
    assert str(from_json.module) == str(from_pkl.module)
    assert list(from_json.weights) == list(from_pkl.weights)
    for key, value in from_json.weights.items():
        other = from_pkl.weights[key]
        assert value.dtype == other.dtype and np.array_equal(value, other), key


@needs_models
@pytest.mark.parametrize("name", MODELS)
def test_structure(name):
    convs, residuals = MODELS[name]
    model = imported(name)
    ops = [op.name for op in forward_ops(model)]
    assert ops.count("train.qconv2d") == convs + 1
    assert ops.count("train.qadd") == residuals
    assert ops.count("train.qglobal_avg_pool") == 1
    assert ops[-4:] == ["train.qconv2d", "train.reshape", "quant.dcast", "func.return"]
    assert ops.index("train.qglobal_avg_pool") == len(ops) - 5

    function = find_function(model.module, "forward")
    assert str(function.type.results[0]) == "tensor<1x1000xf32>"
    assert str(function.type.inputs[0]).startswith("tensor<1x3x128x128x!quant.uniform<i8:f32,")
    assert re.search(r"0\.00784313725490196\d*>>$", str(function.type.inputs[0]))

    # Parameters: the NPZ key prefixes of the weights and biases, in forward order.
    attrs = arg_attrs(model)
    assert attrs[0] == {"train.name": "input"}  # the data input: named, no role
    names = [a["train.name"] for a in attrs[1:]]
    expected = [k.replace(".params.", ".") for k in npz_keys(name)
                if not k.endswith(".w_scales")]
    assert names == expected
    assert list(model.weights) == names
    assert len(names) == 2 * (convs + 1)
    for a in attrs[1:]:
        role = "trainable" if a["train.name"].startswith("classifier.") else "frozen"
        assert a["train.role"] == f"#train.role<{role}>", a
    for key, value in model.weights.items():
        assert value.dtype == (np.int8 if key.endswith(".weight") else np.int32), key


@needs_models
def test_types_attributes_and_locations():
    model = imported("mcunet-5fps")
    text = model.module.operation.get_asm(enable_debug_info=True)
    tree = json.loads((MODELS_DIR / "mcunet-5fps.json").read_text())
    function = find_function(model.module, "forward")
    names = [a.get("train.name") for a in arg_attrs(model)]
    arg_types = [str(t) for t in function.type.inputs]

    # Weights are per-axis quantized with the model's float32 scales, exactly.
    dw = tree["blocks"][3]["depthwise"]
    with np.load(MODELS_DIR / "mcunet-5fps.npz") as data:
        scales = data["blocks.3.depthwise.params.w_scales"]
    weight_type = arg_types[names.index("blocks.3.depthwise.weight")]
    match = re.fullmatch(r"tensor<(\d+)x1x7x7x!quant\.uniform<i8:f32:0, \{(.*)\}>>",
                         weight_type)
    assert match and int(match[1]) == dw["out_channel"]
    printed = np.array([float(s) for s in match[2].split(",")])
    assert np.array_equal(printed, scales.astype(np.float64))
    assert arg_types[names.index("blocks.3.depthwise.bias")] == f"tensor<{dw['out_channel']}xi32>"

    convs = {str(op.location): op for op in forward_ops(model) if op.name == "train.qconv2d"}
    depthwise = convs['loc("blocks.3.depthwise")']
    assert str(depthwise.attributes["stride"]) == "array<i64: 2, 2>"
    assert str(depthwise.attributes["padding"]) == "array<i64: 3, 3>"
    assert depthwise.attributes["groups"].value == dw["in_channel"]
    pointwise = convs['loc("blocks.3.pointwise1")']
    assert "groups" not in pointwise.attributes or pointwise.attributes["groups"].value == 1
    assert 'loc("blocks.2.residual")' in text and 'loc("global_avg_pool")' in text
    assert 'loc("classifier")' in text and 'loc("first_conv")' in text
    assert "rounding float_scale" in str(depthwise)

    # The output of each conv is quantized with its y_scale / y_zero.
    result = str(depthwise.results[0].type)
    assert f"{dw['params']['y_scale']!r}:{dw['params']['y_zero']}>" in result \
        or (dw["params"]["y_zero"] == 0 and result.endswith(f"{dw['params']['y_scale']!r}>>"))


@needs_models
def test_rounding_multiplier_shift():
    model = imported("mcunet-5fps", rounding="multiplier_shift")
    ops = [op for op in forward_ops(model) if op.name.startswith("train.q")]
    assert ops and all("rounding multiplier_shift" in str(op) for op in ops)
    assert "float_scale" not in str(model.module)


@needs_models
def test_import_is_fast():
    path = MODELS_DIR / "mcunet-5fps.json"
    tte().import_tte(path)
    start = time.perf_counter()
    tte().import_tte(path)
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------------------------------
# A fresh head
# ---------------------------------------------------------------------------------------

@needs_models
def test_num_classes_replaces_the_head():
    original = imported("mcunet-5fps")
    model = imported("mcunet-5fps", num_classes=10)
    function = find_function(model.module, "forward")
    assert str(function.type.results[0]) == "tensor<1x10xf32>"
    weight, bias = model.weights["classifier.weight"], model.weights["classifier.bias"]
    assert weight.shape == (10, 160, 1, 1) and weight.dtype == np.int8
    assert bias.shape == (10,) and bias.dtype == np.int32 and not bias.any()
    assert np.abs(weight).reshape(10, -1).max(axis=1).tolist() == [127] * 10
    assert weight.min() >= -127
    # The backbone is untouched.
    for key, value in original.weights.items():
        if not key.startswith("classifier."):
            assert np.array_equal(model.weights[key], value)
    # Same input/output quantization as the original head; roles trainable.
    head = [op for op in forward_ops(model) if op.name == "train.qconv2d"][-1]
    old = [op for op in forward_ops(original) if op.name == "train.qconv2d"][-1]
    assert str(head.operands[0].type) == str(old.operands[0].type)
    q_new = str(head.results[0].type).split("x", 4)[-1]
    q_old = str(old.results[0].type).split("x", 4)[-1]
    assert q_new == q_old
    roles = {a["train.name"]: a["train.role"] for a in arg_attrs(model)[1:]}
    assert roles["classifier.weight"] == roles["classifier.bias"] == "#train.role<trainable>"
    # Scales in the type: max|w| / 127 as float32, for Kaiming-uniform draws of the seed.
    fan_in = 160
    rng = np.random.default_rng(0)
    w = rng.uniform(-1 / np.sqrt(fan_in), 1 / np.sqrt(fan_in), size=(10, 160, 1, 1))
    scales = (np.abs(w).reshape(10, -1).max(axis=1) / 127).astype(np.float32)
    match = re.search(r"\{(.*)\}", str(head.operands[1].type))
    assert np.array_equal(np.array([float(s) for s in match[1].split(",")]),
                          scales.astype(np.float64))
    assert np.array_equal(weight, np.rint(w / scales[:, None, None, None].astype(np.float64)))


@needs_models
def test_num_classes_is_deterministic_per_seed():
    path = MODELS_DIR / "mbv2-w0.35.json"
    a = tte().import_tte(path, num_classes=5, seed=1)
    b = tte().import_tte(path, num_classes=5, seed=1)
    c = tte().import_tte(path, num_classes=5, seed=2)
    assert str(a.module) == str(b.module)
    assert np.array_equal(a.weights["classifier.weight"], b.weights["classifier.weight"])
    assert not np.array_equal(a.weights["classifier.weight"], c.weights["classifier.weight"])


# ---------------------------------------------------------------------------------------
# Writing and reading back
# ---------------------------------------------------------------------------------------

@needs_models
@pytest.mark.parametrize("options", [{}, {"num_classes": 10}])
def test_write_round_trip(tmp_path, options):
    model = imported("proxyless-w0.3", **options)
    text_before = str(model.module)
    mlir, npz = model.write(tmp_path / "proxyless.mlir")
    assert mlir == tmp_path / "proxyless.mlir" and npz == tmp_path / "proxyless.npz"
    module = load_module(mlir, new_context())
    assert weights_file(module, mlir) == npz
    assert str(module).replace(' attributes {train.weights = "proxyless.npz"}', "") \
        == text_before.replace(' attributes {train.weights = "proxyless.npz"}', "")
    with np.load(npz) as data:
        assert sorted(data.files) == sorted(model.weights)
        for key, value in model.weights.items():
            assert data[key].dtype == value.dtype and np.array_equal(data[key], value), key


# ---------------------------------------------------------------------------------------
# Errors: broken copies in tmp_path
# ---------------------------------------------------------------------------------------

def copy_model(tmp_path: Path, name: str = "mcunet-5fps", *, tree=None, text=None,
               npz: bool = True, drop: str | None = None, replace=None) -> Path:
    """tmp_path/NAME.json (edited `tree` or raw `text`) with NAME.npz beside it (without
    the array `drop`, with `replace` = {key: array} applied), or no NPZ."""
    path = tmp_path / f"{name}.json"
    if text is not None:
        path.write_text(text)
    else:
        if tree is None:
            tree = json.loads((MODELS_DIR / f"{name}.json").read_text())
        path.write_text(json.dumps(tree, indent=1))
    if npz:
        if drop is None and not replace:
            shutil.copyfile(MODELS_DIR / f"{name}.npz", path.with_suffix(".npz"))
        else:
            with np.load(MODELS_DIR / f"{name}.npz") as data:
                arrays = {k: data[k] for k in data.files if k != drop}
            arrays.update(replace or {})
            np.savez(path.with_suffix(".npz"), **arrays)
    return path


def expect_error(path: Path, pattern: str, cls=InputError, location: str | None = None,
                 **options) -> TccError:
    with pytest.raises(cls) as info:
        tte().import_tte(path, **options)
    assert re.search(pattern, info.value.message), info.value.message
    assert info.value.location == (location or str(path))
    return info.value


def original_tree(name: str = "mcunet-5fps") -> dict:
    return json.loads((MODELS_DIR / f"{name}.json").read_text())


@needs_models
def test_copy_imports(tmp_path):
    model = tte().import_tte(copy_model(tmp_path))
    assert str(model.module) == str(imported("mcunet-5fps").module)


@needs_models
def test_malformed_json(tmp_path):
    text = (MODELS_DIR / "mcunet-5fps.json").read_text()
    broken = text.replace('"blocks":', '"blocks"', 1)
    path = copy_model(tmp_path, text=broken)
    offset = broken.index('"blocks" [') + len('"blocks" ')   # at the '['
    line = broken.count("\n", 0, offset) + 1
    col = offset - (broken.rfind("\n", 0, offset) + 1) + 1
    expect_error(path, r"^malformed JSON: Expecting ':' delimiter$",
                 location=f"{path}:{line}:{col}")


@needs_models
def test_missing_npz(tmp_path):
    expect_error(copy_model(tmp_path, npz=False), r"missing weights file mcunet-5fps\.npz")


def test_missing_file(tmp_path):
    expect_error(tmp_path / "absent.json", "no such file")
    expect_error(tmp_path / "absent.pkl", "no such file")


@needs_models
def test_missing_array_key(tmp_path):
    path = copy_model(tmp_path, drop="blocks.3.depthwise.params.weight")
    expect_error(path, r"^blocks\[3\]\.depthwise\.params\.weight: array "
                       r"'blocks\.3\.depthwise\.params\.weight' is missing from "
                       r"mcunet-5fps\.npz$")


@needs_models
def test_wrong_dtype_and_shape(tmp_path):
    with np.load(MODELS_DIR / "mcunet-5fps.npz") as data:
        weight = data["blocks.3.depthwise.params.weight"]
        bias = data["blocks.5.pointwise2.params.bias"]
    # The NPZ differs from what the JSON declares.
    path = copy_model(tmp_path, replace={"blocks.3.depthwise.params.weight":
                                         weight.astype(np.int16)})
    expect_error(path, r"^blocks\[3\]\.depthwise\.params\.weight: array .* is int16 in "
                       r"mcunet-5fps\.npz but declared int8$")
    path = copy_model(tmp_path, replace={"blocks.5.pointwise2.params.bias": bias[:-1]})
    expect_error(path, r"^blocks\[5\]\.pointwise2\.params\.bias: array .* has shape "
                       rf"\[{bias.size - 1}\] in mcunet-5fps\.npz but declared \[{bias.size}\]$")
    # Declared and stored agree, but not with the layer.
    tree = original_tree()
    tree["blocks"][5]["pointwise2"]["params"]["bias"]["dtype"] = "int64"
    path = copy_model(tmp_path, tree=tree, replace={
        "blocks.5.pointwise2.params.bias": bias.astype(np.int64)})
    expect_error(path, r"^blocks\[5\]\.pointwise2\.params\.bias: expected int32 values, "
                       r"got int64$")
    tree = original_tree()
    tree["blocks"][3]["depthwise"]["kernel_size"] = [5, 5]
    expect_error(copy_model(tmp_path, tree=tree),
                 r"^blocks\[3\]\.depthwise\.params\.weight: expected shape "
                 r"\[\d+, 1, 5, 5\], got \[\d+, 1, 7, 7\]$")


@needs_models
def test_bad_fields(tmp_path):
    tree = original_tree()
    del tree["blocks"][2]["residual"]["params"]["y_zero"]
    expect_error(copy_model(tmp_path, tree=tree),
                 r"^blocks\[2\]\.residual\.params: missing field 'y_zero'$")
    tree = original_tree()
    tree["first_conv"]["params"]["y_scale"] = -1.0
    expect_error(copy_model(tmp_path, tree=tree),
                 r"^first_conv\.params\.y_scale: expected a positive finite scale")
    tree = original_tree()
    tree["blocks"][4]["depthwise"]["params"]["x_zero"] = 3
    expect_error(copy_model(tmp_path, tree=tree),
                 r"^blocks\[4\]\.depthwise\.params\.x_scale: input quantization .* differs "
                 r"from the previous layer's output")
    tree = original_tree()
    tree["blocks"][1]["depthwise"]["stride"] = 1
    expect_error(copy_model(tmp_path, tree=tree),
                 r"^blocks\[1\]\.depthwise\.out_shape: expected 64x64 ")


@needs_models
def test_unknown_layer_kind(tmp_path):
    tree = original_tree()
    tree["blocks"][4]["attention"] = None
    expect_error(copy_model(tmp_path, tree=tree),
                 r"^blocks\[4\]: unknown layer kind 'attention'")
    tree = original_tree()
    tree["pooling"] = {}
    expect_error(copy_model(tmp_path, tree=tree), r"^pooling: unknown layer kind 'pooling'")


@needs_models
def test_unsupported_layers(tmp_path):
    from tcc.compiler.errors import UnsupportedError
    tree = original_tree()
    tree["blocks"][4]["se"] = {"params": {}}
    expect_error(copy_model(tmp_path, tree=tree), r"^blocks\[4\]\.se: squeeze-and-excitation",
                 cls=UnsupportedError)
    tree = original_tree()
    tree["blocks"][4]["depthwise"]["act"] = "relu"
    expect_error(copy_model(tmp_path, tree=tree), r"^blocks\[4\]\.depthwise\.act: activation",
                 cls=UnsupportedError)


def test_not_a_tiny_training_pkl(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "state_dict.pkl"
    torch.save({"conv.weight": torch.zeros(2, 2)}, path)
    expect_error(path, r"^not a tiny-training model \(expected a dict with 'first_conv'")
    # Pickled code is refused, never run.
    path = tmp_path / "code.pkl"
    torch.save({"first_conv": Path("x"), "blocks": []}, path)
    expect_error(path, r"^not a tiny-training model: torch\.load\(weights_only=True\) "
                       r"refused it")
    path = tmp_path / "text.pkl"
    path.write_text("hello")
    expect_error(path, r"^not a tiny-training model")


def test_bad_arguments(tmp_path):
    path = tmp_path / "never-read.json"
    with pytest.raises(InputError, match="unknown rounding 'nearest'"):
        tte().import_tte(path, rounding="nearest")
    with pytest.raises(InputError, match="positive integer"):
        tte().import_tte(path, num_classes=0)


# ---------------------------------------------------------------------------------------
# A small synthetic model in both formats (no ../shared needed)
# ---------------------------------------------------------------------------------------

def tiny_tree(seed: int = 0) -> dict:
    """A TTE layer tree with numpy arrays: 1x3x8x8 input; first conv 3->4 (3x3, stride 2);
    block 0 depthwise 3x3 + pointwise 4->4 + identity residual; block 1 pointwise 4->8,
    depthwise 5x5 stride 2, pointwise 8->6; feature_mix 6->12; classifier 12->5."""
    rng = np.random.default_rng(seed)

    def conv(cin, cout, k, stride, size, x, y, depthwise=False):
        groups = cin if depthwise else 1
        return {"in_channel": cin, "in_shape": size, "out_channel": cout,
                "out_shape": (size + 2 * ((k - 1) // 2) - k) // stride + 1,
                "kernel_size": [k, k], "stride": stride, "groups": groups,
                "depthwise": depthwise, "act": None,
                "params": {"weight": rng.integers(-127, 128, (cout, cin // groups, k, k),
                                                  dtype=np.int8),
                           "bias": rng.integers(-500, 500, cout, dtype=np.int32),
                           "x_scale": x[0], "x_zero": x[1], "y_scale": y[0], "y_zero": y[1],
                           "w_scales": rng.uniform(0.001, 0.01, cout).astype(np.float32)}}

    q_in, q1, q2, q3, q4 = (1 / 127.5, 0), (6 / 255, -128), (0.05, 3), (0.07, -5), (0.04, -2)
    q5, q6, q7, q8, q9 = (6 / 255, -128), (0.09, 1), (0.03, -128), (0.11, -7), (0.2, 10)
    classifier = conv(12, 5, 1, 1, 1, q8, q9)
    for key in ("in_shape", "out_shape", "depthwise", "act"):
        del classifier[key]
    return {
        "first_conv": conv(3, 4, 3, 2, 8, q_in, q1),
        "blocks": [
            {"pointwise1": None, "depthwise": conv(4, 4, 3, 1, 4, q1, q2, depthwise=True),
             "pointwise2": conv(4, 4, 1, 1, 4, q2, q3),
             "residual": {"in_channel": 4, "in_shape": 4,
                          "params": {"x_scale": q1[0], "x_zero": q1[1],
                                     "y_scale": q4[0], "y_zero": q4[1]}},
             "se": None},
            {"pointwise1": conv(4, 8, 1, 1, 4, q4, q5),
             "depthwise": conv(8, 8, 5, 2, 4, q5, q6, depthwise=True),
             "pointwise2": conv(8, 6, 1, 1, 2, q6, q7), "residual": None, "se": None}],
        "feature_mix": conv(6, 12, 1, 1, 2, q7, q8),
        "classifier": classifier}


def write_tiny(tmp_path: Path, tree: dict, stem: str = "tiny") -> Path:
    """tree as STEM.json + STEM.npz (the shared models' format)."""
    arrays = {}

    def replace(node, key):
        if isinstance(node, np.ndarray):
            arrays[key] = node
            return {"array": key, "dtype": str(node.dtype), "shape": list(node.shape)}
        if isinstance(node, dict):
            return {k: replace(v, f"{key}.{k}" if key else k) for k, v in node.items()}
        if isinstance(node, list):
            return [replace(v, f"{key}.{i}") for i, v in enumerate(node)]
        return node

    path = tmp_path / f"{stem}.json"
    path.write_text(json.dumps(replace(tree, ""), indent=1))
    np.savez(path.with_suffix(".npz"), **arrays)
    return path


def test_tiny_model_text(tmp_path):
    model = tte().import_tte(write_tiny(tmp_path, tiny_tree()))
    ops = forward_ops(model)
    assert [op.name for op in ops] == (
        ["train.qconv2d"] * 3 + ["train.qadd"] + ["train.qconv2d"] * 4
        + ["train.qglobal_avg_pool", "train.qconv2d", "train.reshape", "quant.dcast",
           "func.return"])
    names = [a.get("train.name") for a in arg_attrs(model)]
    prefixes = ["first_conv", "blocks.0.depthwise", "blocks.0.pointwise2",
                "blocks.1.pointwise1", "blocks.1.depthwise", "blocks.1.pointwise2",
                "feature_mix", "classifier"]
    assert names == ["input"] + [f"{p}.{k}" for p in prefixes for k in ("weight", "bias")]
    depthwise = ops[4 + 1]
    assert str(depthwise.location) == 'loc("blocks.1.depthwise")'
    assert str(depthwise.attributes["stride"]) == "array<i64: 2, 2>"
    assert str(depthwise.attributes["padding"]) == "array<i64: 2, 2>"
    assert depthwise.attributes["groups"].value == 8
    add = ops[3]
    assert [str(v.type) for v in add.operands] == [str(ops[0].results[0].type),
                                                   str(ops[2].results[0].type)]
    assert str(add.results[0].type) == "tensor<1x4x4x4x!quant.uniform<i8:f32, 4.000000e-02:-2>>"
    assert str(ops[-2].results[0].type) == "tensor<1x5xf32>"
    assert str(ops[-4].operands[0].type) == \
        "tensor<1x12x1x1x!quant.uniform<i8:f32, 1.100000e-01:-7>>"


def test_tiny_model_pkl_matches_json(tmp_path):
    torch = pytest.importorskip("torch")
    tree = tiny_tree()
    torch.save(tree, tmp_path / "tiny.pkl")     # numpy 2 pickles: numpy._core names
    from_pkl = tte().import_tte(tmp_path / "tiny.pkl")
    from_json = tte().import_tte(write_tiny(tmp_path, tree))
    assert str(from_pkl.module) == str(from_json.module)
    for key, value in from_json.weights.items():
        assert np.array_equal(from_pkl.weights[key], value)


def test_tiny_model_feature_mix_quantization_is_checked(tmp_path):
    tree = tiny_tree()
    tree["feature_mix"]["params"]["x_scale"] = 0.5
    path = write_tiny(tmp_path, tree)
    expect_error(path, r"^feature_mix\.params\.x_scale: input quantization \(0\.5, -128\) "
                       r"differs from the previous layer's output \(0\.03, -128\)$")


def test_tiny_model_round_trip_and_head(tmp_path):
    model = tte().import_tte(write_tiny(tmp_path, tiny_tree()), num_classes=3, seed=7)
    assert model.weights["classifier.weight"].shape == (3, 12, 1, 1)
    mlir, npz = model.write(tmp_path / "out" / "tiny.mlir")
    module = load_module(mlir, new_context())
    assert str(find_function(module, "forward").type.results[0]) == "tensor<1x3xf32>"
    with np.load(npz) as data:
        assert np.array_equal(data["classifier.weight"], model.weights["classifier.weight"])


# ---------------------------------------------------------------------------------------
# Running the imported models (smoke check against the numpy oracle of the README)
# ---------------------------------------------------------------------------------------

def run_forward(model: ImportedModel, x: np.ndarray) -> np.ndarray:
    from tcc.runtime.interpreter import run_function
    names = [a.get("train.name") for a in arg_attrs(model)]
    (logits,) = run_function(model.module, "forward",
                             [x] + [model.weights[n] for n in names[1:]])
    return logits


def test_tiny_model_runs_like_the_numpy_reference(tmp_path):
    import tte_numpy_reference as reference
    path = write_tiny(tmp_path, tiny_tree(3))
    tree, _ = reference.load(path)
    x = np.random.default_rng(1).integers(-128, 128, (1, 3, 8, 8), dtype=np.int8)
    expected = reference.dequantize_logits(tree, reference.logits_int8(tree, x))
    logits = run_forward(tte().import_tte(path), x)
    assert logits.dtype == np.float32 and np.array_equal(logits, expected)
    ms = run_forward(tte().import_tte(path, rounding="multiplier_shift"), x)
    assert ms.shape == (1, 5) and np.abs(ms - expected).max() <= 2 * 0.2 + 1e-6


@needs_models
def test_mcunet_runs_like_the_numpy_reference():
    import tte_numpy_reference as reference
    path = MODELS_DIR / "mcunet-5fps.json"
    tree, _ = reference.load(path)
    x = np.random.default_rng(0).integers(-128, 128, (1, 3, 128, 128), dtype=np.int8)
    expected = reference.dequantize_logits(tree, reference.logits_int8(tree, x))
    assert np.array_equal(run_forward(imported("mcunet-5fps"), x), expected)
    head = run_forward(imported("mcunet-5fps", num_classes=10), x)
    assert head.shape == (1, 10) and np.isfinite(head).all()

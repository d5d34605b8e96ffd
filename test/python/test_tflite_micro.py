"""tcc's int8 `rounding multiplier_shift` semantics against TFLite Micro, bit for bit.

Single CONV_2D / DEPTHWISE_CONV_2D / ADD layers are taken at random (fixed seed) from the
three int8 TTE models in ../shared/models/tte (per model: 10 convs - the first conv,
pointwise, stride-1 and strided depthwise convs, the rest at random - and 5 residual
adds), written as one-op .tflite files by tflite_models.py (no TensorFlow), and run in the
TFLite Micro Python interpreter on random int8 inputs of a small spatial size. The same
layers run through

  (a) tcc.runtime.quantized_ops.qconv2d / qadd(..., rounding="multiplier_shift"), and
  (b) a one-op MLIR module (`train.qconv2d` / `train.qadd ... rounding multiplier_shift`)
      in tcc.runtime.interpreter.run_function,

and must equal TFLite Micro's output exactly. The writer itself is checked against TFLite
Micro alone (hand-computed cases and an independent numpy model of TFLite's kernels).
`rounding float_scale` must differ from TFLite Micro (exact .5 ties, decided differently).

Scales: a .tflite file holds float32 scales, so every layer's scales are rounded to float32
first and both sides are built from those values.

Padding: the models pad (k-1)//2 on each side. TFLite's SAME equals that for stride 1, and
for stride 2 only on odd input sizes (on even sizes it pads one less before, see
tflite_models.py); those layers get an explicit int8 PAD (with the zero point) + VALID conv.

Skipped when tflite_micro (or flatbuffers) is not installed, or when ../shared/models/tte
is not there.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import tcc

pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
pytest.importorskip("flatbuffers", reason="flatbuffers is not installed")

import tflite_models as tfm  # noqa: E402  (test/python, next to this file)

TTE_DIR = Path(tcc.__file__).resolve().parent / ".." / "shared" / "models" / "tte"
MODELS = ("mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3")
CONVS_PER_MODEL = 10
ADDS_PER_MODEL = 5
SIZES = (4, 5, 6, 7, 8, 9)  # input H = W, drawn per layer
SEED = 2024

requires_models = pytest.mark.skipif(
    not all((TTE_DIR / f"{m}.json").is_file() and (TTE_DIR / f"{m}.npz").is_file()
            for m in MODELS),
    reason=f"the TTE models are not in {TTE_DIR}")


# ----------------------------------------------------------------------------- layers

@dataclass
class Conv:
    label: str
    weight: np.ndarray          # int8 OIHW
    bias: np.ndarray            # int32 [O]
    x_scale: float              # all scales float32-representable
    x_zp: int
    w_scales: np.ndarray        # float64 holding float32 values
    y_scale: float
    y_zp: int
    stride: int
    groups: int

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[2])

    @property
    def padding(self) -> int:
        return (self.kernel - 1) // 2

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1]) * self.groups

    @property
    def depthwise(self) -> bool:
        return self.groups > 1


@dataclass
class Add:
    label: str
    channels: int
    a_scale: float              # block input (residual.params.x_scale / x_zero)
    a_zp: int
    b_scale: float              # pointwise2 output
    b_zp: int
    y_scale: float
    y_zp: int


@dataclass
class Case:
    layer: Conv | Add
    inputs: list                # int8 NCHW arrays
    tflite_padding: object      # "SAME" or an explicit pad (convs)
    expected: np.ndarray        # TFLite Micro's output, int8 NCHW
    model: bytes = field(repr=False, default=b"")


def _conv(label: str, layer: dict, arrays) -> Conv:
    p = layer["params"]
    return Conv(label=label,
                weight=np.asarray(arrays[p["weight"]["array"]], np.int8),
                bias=np.asarray(arrays[p["bias"]["array"]], np.int32),
                x_scale=tfm.f32(p["x_scale"]), x_zp=int(p["x_zero"]),
                w_scales=tfm.f32(arrays[p["w_scales"]["array"]]),
                y_scale=tfm.f32(p["y_scale"]), y_zp=int(p["y_zero"]),
                stride=int(layer["stride"]), groups=int(layer["groups"]))


@lru_cache(maxsize=None)
def model_layers(name: str) -> tuple[list[Conv], list[Add]]:
    """All convs (forward order, classifier last) and identity-shortcut residual adds."""
    tree = json.loads((TTE_DIR / f"{name}.json").read_text())
    arrays = np.load(TTE_DIR / f"{name}.npz")
    convs = [_conv("first_conv", tree["first_conv"], arrays)]
    adds = []
    for i, block in enumerate(tree["blocks"]):
        for part in ("pointwise1", "depthwise", "pointwise2"):
            if block.get(part):
                convs.append(_conv(f"blocks.{i}.{part}", block[part], arrays))
        residual = block.get("residual")
        if residual and "params" in residual and "weight" not in residual["params"]:
            rp, b = residual["params"], block["pointwise2"]["params"]
            adds.append(Add(label=f"blocks.{i}.residual", channels=int(residual["in_channel"]),
                            a_scale=tfm.f32(rp["x_scale"]), a_zp=int(rp["x_zero"]),
                            b_scale=tfm.f32(b["y_scale"]), b_zp=int(b["y_zero"]),
                            y_scale=tfm.f32(rp["y_scale"]), y_zp=int(rp["y_zero"])))
    if tree.get("feature_mix"):
        convs.append(_conv("feature_mix", tree["feature_mix"], arrays))
    convs.append(_conv("classifier", tree["classifier"], arrays))
    return convs, adds


def pick_layers(name: str, rng: np.random.Generator) -> tuple[list[Conv], list[Add]]:
    """The first conv, 3 pointwise, 2 stride-1 and 2 strided depthwise convs, the rest of
    CONVS_PER_MODEL at random; ADDS_PER_MODEL residual adds."""
    convs, adds = model_layers(name)
    picked = [0]
    groups = [
        ([i for i, c in enumerate(convs) if c.kernel == 1 and c.groups == 1], 3),
        ([i for i, c in enumerate(convs) if c.depthwise and c.stride == 1], 2),
        ([i for i, c in enumerate(convs) if c.depthwise and c.stride > 1], 2),
    ]
    for pool, count in groups:
        pool = [i for i in pool if i not in picked]
        picked += [int(i) for i in rng.choice(pool, size=min(count, len(pool)), replace=False)]
    rest = [i for i in range(len(convs)) if i not in picked]
    picked += [int(i) for i in rng.choice(rest, size=CONVS_PER_MODEL - len(picked),
                                          replace=False)]
    add_idx = rng.choice(len(adds), size=min(ADDS_PER_MODEL, len(adds)), replace=False)
    return [convs[i] for i in sorted(picked)], [adds[int(i)] for i in sorted(add_idx)]


def _conv_case(conv: Conv, rng: np.random.Generator) -> Case:
    size = int(rng.choice(SIZES))
    x = rng.integers(-128, 128, (1, conv.in_channels, size, size), dtype=np.int64)
    x = x.astype(np.int8)
    padding = "SAME" if tfm.same_matches_torch(size, conv.kernel, conv.stride) \
        else conv.padding
    model = tfm.conv2d_model(conv.weight, conv.bias, input_shape=x.shape,
                             x_scale=conv.x_scale, x_zp=conv.x_zp, w_scales=conv.w_scales,
                             y_scale=conv.y_scale, y_zp=conv.y_zp, stride=conv.stride,
                             padding=padding, depthwise=conv.depthwise)
    y = tfm.nhwc_to_nchw(tfm.run_tflite_micro(model, [tfm.nchw_to_nhwc(x)]))
    return Case(conv, [x], padding, y, model)


def _add_case(add: Add, rng: np.random.Generator) -> Case:
    size = int(rng.choice(SIZES))
    a, b = (rng.integers(-128, 128, (1, add.channels, size, size)).astype(np.int8)
            for _ in range(2))
    model = tfm.add_model((1, size, size, add.channels), a_scale=add.a_scale, a_zp=add.a_zp,
                          b_scale=add.b_scale, b_zp=add.b_zp, y_scale=add.y_scale,
                          y_zp=add.y_zp)
    y = tfm.run_tflite_micro(model, [tfm.nchw_to_nhwc(a), tfm.nchw_to_nhwc(b)])
    return Case(add, [a, b], None, tfm.nhwc_to_nchw(y), model)


@lru_cache(maxsize=None)
def cases(name: str) -> list[Case]:
    """The picked layers of model `name` with random inputs and TFLite Micro's outputs."""
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    convs, adds = pick_layers(name, rng)
    return [_conv_case(c, rng) for c in convs] + [_add_case(a, rng) for a in adds]


# -------------------------------------------------------------------- tcc's two paths

def run_quantized_ops(case: Case, rounding: str) -> np.ndarray:
    from tcc.runtime import quantized_ops as qo

    layer = case.layer
    if isinstance(layer, Conv):
        return qo.qconv2d(case.inputs[0], layer.weight, layer.bias, x_scale=layer.x_scale,
                          x_zp=layer.x_zp, w_scales=layer.w_scales, y_scale=layer.y_scale,
                          y_zp=layer.y_zp, qmin=-128, qmax=127,
                          stride=(layer.stride, layer.stride),
                          padding=(layer.padding, layer.padding), dilation=(1, 1),
                          groups=layer.groups, rounding=rounding)
    return qo.qadd(case.inputs[0], case.inputs[1], a_scale=layer.a_scale, a_zp=layer.a_zp,
                   b_scale=layer.b_scale, b_zp=layer.b_zp, y_scale=layer.y_scale,
                   y_zp=layer.y_zp, qmin=-128, qmax=127, rounding=rounding)


def _float(value: float) -> str:
    """An MLIR float literal that parses back to exactly `value`."""
    text = repr(float(value))
    if "e" in text and "." not in text.split("e")[0]:
        text = text.replace("e", ".0e")
    return text


def _tensor(shape, element: str) -> str:
    return "tensor<" + "x".join(str(int(d)) for d in shape) + "x" + element + ">"


def _act(scale: float, zp: int) -> str:
    return f"!quant.uniform<i8:f32, {_float(scale)}:{zp}>"


def mlir_text(case: Case, rounding: str) -> str:
    """A module with @forward holding the one quantized op of `case`."""
    layer, y_shape = case.layer, case.expected.shape
    if isinstance(layer, Conv):
        x_t = _tensor(case.inputs[0].shape, _act(layer.x_scale, layer.x_zp))
        w_t = _tensor(layer.weight.shape, "!quant.uniform<i8:f32:0, {"
                      + ", ".join(_float(s) for s in layer.w_scales) + "}>")
        b_t = _tensor(layer.bias.shape, "i32")
        y_t = _tensor(y_shape, _act(layer.y_scale, layer.y_zp))
        geometry = ""
        if layer.stride != 1:
            geometry += f" stride [{layer.stride}, {layer.stride}]"
        if layer.padding:
            geometry += f" padding [{layer.padding}, {layer.padding}]"
        if layer.groups != 1:
            geometry += f" groups {layer.groups}"
        args = f"%x: {x_t}, %w: {w_t}, %b: {b_t}"
        body = (f"%y = train.qconv2d %x, %w, %b{geometry} rounding {rounding}"
                f" : ({x_t}, {w_t}, {b_t}) -> {y_t}")
    else:
        a_t = _tensor(case.inputs[0].shape, _act(layer.a_scale, layer.a_zp))
        b_t = _tensor(case.inputs[1].shape, _act(layer.b_scale, layer.b_zp))
        y_t = _tensor(y_shape, _act(layer.y_scale, layer.y_zp))
        args = f"%a: {a_t}, %b: {b_t}"
        body = f"%y = train.qadd %a, %b rounding {rounding} : ({a_t}, {b_t}) -> {y_t}"
    return (f"func.func @forward({args}) -> {y_t} {{\n"
            f"  {body}\n"
            f"  return %y : {y_t}\n"
            f"}}\n")


def run_mlir(case: Case, rounding: str) -> np.ndarray:
    from tcc.compiler.source import new_context, parse_module
    from tcc.runtime.interpreter import run_function

    module = parse_module(mlir_text(case, rounding), f"{case.layer.label}.mlir", new_context())
    inputs = list(case.inputs)
    if isinstance(case.layer, Conv):
        inputs += [case.layer.weight, case.layer.bias]
    (y,) = run_function(module, "forward", inputs)
    return np.asarray(y)


def _describe(case: Case, got: np.ndarray) -> str:
    got = np.asarray(got)
    if got.shape != case.expected.shape:
        return f"{case.layer.label}: shape {got.shape}, TFLite Micro {case.expected.shape}"
    bad = np.nonzero(got.astype(np.int32) != case.expected)
    first = tuple(int(v[0]) for v in bad)
    return (f"{case.layer.label} (input {case.inputs[0].shape}, tflite padding "
            f"{case.tflite_padding}): {bad[0].size} of {got.size} outputs differ, channels "
            f"{sorted(set(bad[1].tolist()))[:8]}, first at {first}: tcc {int(got[first])}, "
            f"TFLite Micro {int(case.expected[first])}")


def _mismatches(run, name: str, rounding: str = "multiplier_shift") -> list[str]:
    out = []
    for case in cases(name):
        got = np.asarray(run(case, rounding))
        if got.shape != case.expected.shape or got.dtype != np.int8 or \
                not np.array_equal(got, case.expected):
            out.append(_describe(case, got) + f" [dtype {got.dtype}]")
    return out


# ---------------------------------------------------------------- the writer itself

def test_same_padding_rule():
    """SAME == symmetric (k-1)//2 for stride 1, and for stride 2 on odd sizes only."""
    for k in (1, 3, 5, 7):
        for size in range(1, 20):
            assert tfm.same_matches_torch(size, k, 1)
            if k > 1:
                assert tfm.same_matches_torch(size, k, 2) == (size % 2 == 1), (size, k)
    assert tfm.same_padding(8, 3, 2) == (0, 1)
    assert tfm.same_padding(9, 3, 2) == (1, 1)
    assert tfm.same_padding(8, 7, 2) == (2, 3)


def test_stride2_even_size_same_is_shifted_and_explicit_pad_is_not():
    rng = np.random.default_rng(1)
    c, o, k, size = 3, 4, 3, 8
    w = rng.integers(-127, 128, (o, c, k, k)).astype(np.int8)
    b = rng.integers(-2000, 2000, o).astype(np.int32)
    x = rng.integers(-128, 128, (1, c, size, size)).astype(np.int8)
    q = dict(x_scale=tfm.f32(0.02), x_zp=-3, w_scales=tfm.f32(rng.uniform(0.001, 0.01, o)),
             y_scale=tfm.f32(0.05), y_zp=5)
    same = tfm.nhwc_to_nchw(tfm.run_tflite_micro(
        tfm.conv2d_model(w, b, input_shape=x.shape, stride=2, padding="SAME", **q),
        [tfm.nchw_to_nhwc(x)]))
    explicit = tfm.nhwc_to_nchw(tfm.run_tflite_micro(
        tfm.conv2d_model(w, b, input_shape=x.shape, stride=2, padding=1, **q),
        [tfm.nchw_to_nhwc(x)]))
    torch_like = tfm.tflite_reference_conv2d(x, w, b, stride=2, padding=1, **q)
    # SAME on an even size: nothing before, one row/column after
    x_asym = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=q["x_zp"])
    assert np.array_equal(same, tfm.tflite_reference_conv2d(x_asym, w, b, stride=2, **q))
    assert not np.array_equal(same, torch_like)
    assert np.array_equal(explicit, torch_like)


def test_writer_hand_computed_ties():
    """Identity 1x1 conv with effective scale 0.5: multiplier 2^30, shift 0. gemmlowp's
    SaturatingRoundingDoublingHighMul rounds +n.5 up and -n.5 toward zero."""
    c = 4
    w = np.eye(c, dtype=np.int8).reshape(c, c, 1, 1)
    x = np.array([-128, -59, -5, -3, -1, 0, 1, 3, 5, 59, 126, 127] * 3, np.int8)
    x = x.reshape(1, c, 3, 3)
    model = tfm.conv2d_model(w, np.zeros(c, np.int32), input_shape=x.shape, x_scale=0.5,
                             x_zp=0, w_scales=np.ones(c), y_scale=1.0, y_zp=0)
    y = tfm.nhwc_to_nchw(tfm.run_tflite_micro(model, [tfm.nchw_to_nhwc(x)]))
    expected = {-128: -64, -59: -29, -5: -2, -3: -1, -1: 0, 0: 0, 1: 1, 3: 2, 5: 3, 59: 30,
                126: 63, 127: 64}
    assert tfm.tflite_quantize_multiplier(0.5) == (1 << 30, 0)
    assert [expected[int(v)] for v in x.ravel()] == y.ravel().tolist()
    # bias, zero points, clamping and double rounding: acc = 2 * (x - 10) + 7 (odd),
    # eff = 0.25 -> multiplier 2^30, shift -1: SRDHM halves acc (ties: + up, - toward 0),
    # then RoundingDivideByPOT halves again (ties away from 0).
    model = tfm.conv2d_model(2 * w, np.full(c, 7, np.int32), input_shape=x.shape,
                             x_scale=0.5, x_zp=10, w_scales=np.full(c, 0.5), y_scale=1.0,
                             y_zp=-100)
    y = tfm.nhwc_to_nchw(tfm.run_tflite_micro(model, [tfm.nchw_to_nhwc(x)]))
    assert tfm.tflite_quantize_multiplier(0.25) == (1 << 30, -1)
    acc = 2 * (x.astype(np.int64) - 10) + 7
    half = np.where(acc >= 0, (acc + 1) // 2, -((-acc) // 2))
    quarter = np.where(half >= 0, (half + 1) // 2, -((-half + 1) // 2))
    assert np.array_equal(y, np.clip(quarter - 100, -128, 127))
    single = np.sign(acc) * np.floor(np.abs(acc) / 4 + 0.5)  # one rounding: differs
    assert not np.array_equal(y, np.clip(single - 100, -128, 127))


def test_writer_depth_multiplier_and_add():
    rng = np.random.default_rng(3)
    c, m, k = 3, 2, 3
    w = rng.integers(-127, 128, (c * m, 1, k, k)).astype(np.int8)
    b = rng.integers(-5000, 5000, c * m).astype(np.int32)
    x = rng.integers(-128, 128, (2, c, 6, 5)).astype(np.int8)
    q = dict(x_scale=tfm.f32(0.03), x_zp=7, w_scales=tfm.f32(rng.uniform(0.001, 0.02, c * m)),
             y_scale=tfm.f32(0.04), y_zp=-20)
    for stride, padding in ((1, "SAME"), (2, 1), (1, "VALID")):
        model = tfm.conv2d_model(w, b, input_shape=x.shape, stride=stride, padding=padding,
                                 depthwise=True, **q)
        y = tfm.nhwc_to_nchw(tfm.run_tflite_micro(model, [tfm.nchw_to_nhwc(x)]))
        ref = tfm.tflite_reference_conv2d(x, w, b, stride=stride, groups=c,
                                          padding=0 if padding == "VALID" else 1, **q)
        assert np.array_equal(y, ref), (stride, padding)
    a, bb = (rng.integers(-128, 128, (1, 4, 5, 6)).astype(np.int8) for _ in range(2))
    qa = dict(a_scale=tfm.f32(0.05), a_zp=3, b_scale=tfm.f32(0.11), b_zp=-9,
              y_scale=tfm.f32(0.13), y_zp=2)
    y = tfm.run_tflite_micro(tfm.add_model(a.shape, **qa), [a, bb])
    assert np.array_equal(y, tfm.tflite_reference_add(a, bb, **qa))


@requires_models
@pytest.mark.parametrize("name", MODELS)
def test_writer_matches_numpy_model_of_tflite(name):
    """TFLite Micro on the written models == the independent numpy model of TFLite's
    int8 kernels (int32 accumulator wrapping around, as TFLite's does)."""
    for case in cases(name):
        layer = case.layer
        if isinstance(layer, Conv):
            ref = tfm.tflite_reference_conv2d(
                case.inputs[0], layer.weight, layer.bias, x_scale=layer.x_scale,
                x_zp=layer.x_zp, w_scales=layer.w_scales, y_scale=layer.y_scale,
                y_zp=layer.y_zp, stride=layer.stride, padding=layer.padding,
                groups=layer.groups)
        else:
            ref = tfm.tflite_reference_add(
                *case.inputs, a_scale=layer.a_scale, a_zp=layer.a_zp, b_scale=layer.b_scale,
                b_zp=layer.b_zp, y_scale=layer.y_scale, y_zp=layer.y_zp)
        assert np.array_equal(ref, case.expected), _describe(case, ref)


@requires_models
@pytest.mark.parametrize("name", MODELS)
def test_picked_layers_cover_the_kinds(name):
    picked = [c.layer for c in cases(name)]
    convs = [layer for layer in picked if isinstance(layer, Conv)]
    assert len(convs) == CONVS_PER_MODEL
    assert convs[0].label == "first_conv"
    assert any(c.kernel == 1 for c in convs)
    assert any(c.depthwise and c.stride == 1 for c in convs)
    assert any(c.depthwise and c.stride == 2 for c in convs)
    assert sum(isinstance(layer, Add) for layer in picked) == ADDS_PER_MODEL


# ------------------------------------------------------------ tcc against TFLite Micro

@requires_models
@pytest.mark.parametrize("name", MODELS)
def test_quantized_ops_multiplier_shift_equals_tflite_micro(name):
    bad = _mismatches(run_quantized_ops, name)
    assert not bad, "quantized_ops (multiplier_shift) != TFLite Micro:\n" + "\n".join(bad)


@requires_models
@pytest.mark.parametrize("name", MODELS)
def test_mlir_multiplier_shift_equals_tflite_micro(name):
    bad = _mismatches(run_mlir, name)
    assert not bad, "train.q* rounding multiplier_shift != TFLite Micro:\n" + "\n".join(bad)


def test_float_scale_differs_from_tflite_micro_on_ties():
    """An exact .5 tie: float_scale rounds half to even, TFLite's integer path does not."""
    from tcc.runtime import quantized_ops as qo

    c = 2
    w = np.eye(c, dtype=np.int8).reshape(c, c, 1, 1)
    x = np.array([-59, -5, -1, 1, 5, 59], np.int8).reshape(1, c, 1, 3)
    q = dict(x_scale=0.5, x_zp=0, w_scales=np.ones(c), y_scale=1.0, y_zp=0)
    tflite = tfm.nhwc_to_nchw(tfm.run_tflite_micro(
        tfm.conv2d_model(w, np.zeros(c, np.int32), input_shape=x.shape, **q),
        [tfm.nchw_to_nhwc(x)]))
    kw = dict(q, qmin=-128, qmax=127, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
              groups=1)
    ms = qo.qconv2d(x, w, np.zeros(c, np.int32), rounding="multiplier_shift", **kw)
    fs = qo.qconv2d(x, w, np.zeros(c, np.int32), rounding="float_scale", **kw)
    assert np.array_equal(ms, tflite)
    assert tflite.ravel().tolist() == [-29, -2, 0, 1, 3, 30]
    assert fs.ravel().tolist() == [-30, -2, 0, 0, 2, 30]   # round half to even


@requires_models
def test_float_scale_differs_from_tflite_micro_on_model_layers():
    """On the picked layers float_scale disagrees with TFLite Micro somewhere (counts are
    printed; run with -s)."""
    differing_layers, differing_outputs, total = [], 0, 0
    for name in MODELS:
        for case in cases(name):
            fs = run_quantized_ops(case, "float_scale")
            n = int(np.count_nonzero(fs != case.expected))
            total += case.expected.size
            if n:
                differing_layers.append(f"{name}:{case.layer.label} ({n} of "
                                        f"{case.expected.size})")
                differing_outputs += n
    print(f"\nfloat_scale != TFLite Micro: {differing_outputs} of {total} outputs, "
          f"{len(differing_layers)} layers: " + ", ".join(differing_layers))
    assert differing_layers

"""Import the int8 models of the Tiny Training Engine (TTE, "On-Device Training Under
256KB Memory", mit-han-lab/tiny-training) into the train dialect.

Two inputs hold the same layer tree:

- the `.pkl` files as tiny-training ships them: torch.save archives of nested dicts of
  numpy arrays. They are read with `torch.load(weights_only=True)`, allowing only
  numpy's array/dtype reconstruction functions, so no pickled code ever runs;
- a `.json` layer tree whose arrays are `{"array": KEY, "dtype": ..., "shape": [...]}`
  references into the `.npz` of the same stem beside it.

The tree is `first_conv`, `blocks[i].{pointwise1, depthwise, pointwise2, residual, se}`,
`feature_mix`, `classifier`. Each conv becomes a `train.qconv2d` (padding (k-1)//2, its
stride, groups for depthwise convs; ReLU/ReLU6 are folded into the output quant type as
in TTE), an identity residual a `train.qadd`, then `train.qglobal_avg_pool`, the 1x1
classifier `train.qconv2d`, `train.reshape` to [1, N] and `quant.dcast` to f32 logits:

    func.func @forward(%input: tensor<1x3x128x128x!quant.uniform<i8:f32, s:z>>,
                       %first_conv.weight: tensor<16x3x3x3x!quant.uniform<i8:f32:0, {...}>>
                           {train.name = "first_conv.weight", train.role = #train.role<frozen>},
                       %first_conv.bias: tensor<16xi32> {...}, ...) -> tensor<1x1000xf32>

Parameters are named after their layer (`blocks.3.depthwise.weight`, `.bias`; the NPZ
key without its `.params` part). Everything is frozen except the classifier's weight and
bias, which are trainable. Weight scales live in the per-axis quantized types; the
ImportedModel's weights hold only the integer storage (int8 weights, int32 biases).

`num_classes=N` replaces the head by a fresh N-class one, as the paper does for transfer
learning: float weights drawn from PyTorch's default conv initialisation (Kaiming-uniform
with a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))) with numpy's
default_rng(seed), quantized symmetrically per output channel with scale max|w|/127
(stored as float32), int32 biases 0, and the input and output quantization of the
original head.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, UnsupportedError
from .model_file import ImportedModel

ROUNDINGS = ("float_scale", "multiplier_shift")
TOP_LEVEL = ("first_conv", "blocks", "feature_mix", "classifier")
BLOCK_PARTS = ("pointwise1", "depthwise", "pointwise2", "residual", "se")
CONV_PARTS = ("pointwise1", "depthwise", "pointwise2")
CONV_KEYS = frozenset(("in_channel", "in_shape", "out_channel", "out_shape", "kernel_size",
                       "stride", "groups", "depthwise", "act", "params"))
PARAM_KEYS = frozenset(("weight", "bias", "x_scale", "x_zero", "y_scale", "y_zero",
                        "w_scales"))


# ---------------------------------------------------------------------------------------
# The layer tree
# ---------------------------------------------------------------------------------------

@dataclass
class QParams:
    """Per-tensor activation quantization: real = (q - zero_point) * scale."""

    scale: float
    zero_point: int


@dataclass
class Conv:
    """One quantized convolution of the tree."""

    name: str                 # parameter prefix, e.g. "blocks.3.depthwise"
    path: str                 # JSON path, e.g. "blocks[3].depthwise"
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    groups: int
    weight: np.ndarray        # int8 [O, I/groups, kh, kw]
    bias: np.ndarray          # int32 [O]
    w_scales: np.ndarray      # float32 [O]
    x: QParams
    y: QParams
    in_size: int | None = None
    out_size: int | None = None

    @property
    def padding(self) -> tuple[int, int]:
        return ((self.kernel[0] - 1) // 2, (self.kernel[1] - 1) // 2)


@dataclass
class Residual:
    """An identity shortcut: y = requant(block input + pointwise2 output)."""

    name: str
    path: str
    x: QParams                # the block input's quantization
    y: QParams


@dataclass
class Block:
    index: int
    convs: list[Conv]         # pointwise1 (optional), depthwise, pointwise2, in order
    residual: Residual | None


@dataclass
class TteModel:
    """A TTE model's layer tree with its arrays, as read from a .pkl or .json + .npz."""

    first_conv: Conv
    blocks: list[Block]
    feature_mix: Conv | None
    classifier: Conv
    input_size: int
    source: str = ""

    def convs(self) -> list[Conv]:
        """Every conv in forward order, the classifier last."""
        convs = [self.first_conv]
        for block in self.blocks:
            convs.extend(block.convs)
        if self.feature_mix is not None:
            convs.append(self.feature_mix)
        convs.append(self.classifier)
        return convs


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------

class _Reader:
    """Validates a raw tree (from JSON or a pickle) into a TteModel.

    `arrays` is the NPZ (JSON input) or None (pickle input, arrays inline). Errors name
    the input file as location and the JSON path of the offending field.
    """

    def __init__(self, source: str, arrays=None, arrays_name: str = ""):
        self.source = source
        self.arrays = arrays
        self.arrays_name = arrays_name

    def fail(self, path: str, message: str, cls=InputError):
        raise cls(f"{path}: {message}" if path else message, self.source)

    # -- scalars -----------------------------------------------------------------------

    def field(self, node: dict, key: str, path: str):
        if key not in node:
            self.fail(path, f"missing field '{key}'")
        return node[key]

    def integer(self, node: dict, key: str, path: str, *, minimum: int | None = None,
                maximum: int | None = None) -> int:
        value = self.field(node, key, path)
        where = f"{path}.{key}"
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            self.fail(where, f"expected an integer, got {_describe(value)}")
        value = int(value)
        if minimum is not None and value < minimum:
            self.fail(where, f"expected an integer >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            self.fail(where, f"expected an integer <= {maximum}, got {value}")
        return value

    def positive_float(self, node: dict, key: str, path: str) -> float:
        value = self.field(node, key, path)
        where = f"{path}.{key}"
        if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)):
            self.fail(where, f"expected a number, got {_describe(value)}")
        value = float(value)
        if not (math.isfinite(value) and value > 0):
            self.fail(where, f"expected a positive finite scale, got {value!r}")
        return value

    def pair(self, node: dict, key: str, path: str) -> tuple[int, int]:
        value = self.field(node, key, path)
        where = f"{path}.{key}"
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            value = (value, value)
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                           and v >= 1 for v in value)):
            self.fail(where, f"expected a positive integer or a pair of them, "
                             f"got {_describe(value)}")
        return int(value[0]), int(value[1])

    def qparams(self, params: dict, prefix: str, path: str) -> QParams:
        return QParams(self.positive_float(params, f"{prefix}_scale", path),
                       self.integer(params, f"{prefix}_zero", path,
                                    minimum=-128, maximum=127))

    # -- arrays ------------------------------------------------------------------------

    def array(self, params: dict, key: str, path: str, dtype: str,
              shape: tuple[int, ...]) -> np.ndarray:
        node = self.field(params, key, path)
        where = f"{path}.{key}"
        if self.arrays is None:
            value = node
            if not isinstance(value, np.ndarray):
                self.fail(where, f"expected a numpy array, got {_describe(value)}")
        else:
            if not isinstance(node, dict) or not isinstance(node.get("array"), str):
                self.fail(where, 'expected an array reference {"array": KEY, ...}, got '
                                 f"{_describe(node)}")
            name = node["array"]
            if name not in self.arrays:
                self.fail(where, f"array '{name}' is missing from {self.arrays_name}")
            try:
                value = self.arrays[name]
            except (OSError, ValueError, zipfile.BadZipFile) as error:
                self.fail(where, f"cannot read array '{name}' from {self.arrays_name}: "
                                 f"{error}")
            declared_dtype = node.get("dtype")
            if declared_dtype is not None and str(declared_dtype) != str(value.dtype):
                self.fail(where, f"array '{name}' is {value.dtype} in {self.arrays_name} "
                                 f"but declared {declared_dtype}")
            declared_shape = node.get("shape")
            if declared_shape is not None and list(declared_shape) != list(value.shape):
                self.fail(where, f"array '{name}' has shape {list(value.shape)} in "
                                 f"{self.arrays_name} but declared {list(declared_shape)}")
        if value.dtype != np.dtype(dtype):
            self.fail(where, f"expected {dtype} values, got {value.dtype}")
        if tuple(value.shape) != shape:
            self.fail(where, f"expected shape {list(shape)}, got {list(value.shape)}")
        return value

    # -- layers ------------------------------------------------------------------------

    def node(self, value, path: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {_describe(value)}")
        return value

    def conv(self, value, name: str, path: str, *, classifier: bool = False) -> Conv:
        node = self.node(value, path)
        unknown = sorted(set(node) - CONV_KEYS)
        if unknown:
            self.fail(path, f"unknown field '{unknown[0]}' of a conv layer")
        act = node.get("act")
        if act is not None:
            self.fail(f"{path}.act", f"activation {act!r} is not supported (TTE folds "
                      "ReLU/ReLU6 into the output quantization; expected null)",
                      UnsupportedError)
        in_channels = self.integer(node, "in_channel", path, minimum=1)
        out_channels = self.integer(node, "out_channel", path, minimum=1)
        kernel = self.pair(node, "kernel_size", path)
        stride = self.pair(node, "stride", path) if "stride" in node else (1, 1)
        groups = self.integer(node, "groups", path, minimum=1) if "groups" in node else 1
        if in_channels % groups or out_channels % groups:
            self.fail(f"{path}.groups", f"{groups} groups do not divide {in_channels} input "
                      f"and {out_channels} output channels")
        if node.get("depthwise") and groups != in_channels:
            self.fail(f"{path}.groups", f"a depthwise conv needs groups = in_channel = "
                      f"{in_channels}, got {groups}")
        in_size = out_size = None
        if "in_shape" in node:
            in_size = self.integer(node, "in_shape", path, minimum=1)
        if "out_shape" in node:
            out_size = self.integer(node, "out_shape", path, minimum=1)
        if classifier and kernel != (1, 1):
            self.fail(f"{path}.kernel_size", f"the classifier must be a 1x1 conv, got "
                      f"{list(kernel)}")
        params = self.node(self.field(node, "params", path), f"{path}.params")
        ppath = f"{path}.params"
        unknown = sorted(set(params) - PARAM_KEYS)
        if unknown:
            self.fail(ppath, f"unknown field '{unknown[0]}' of conv parameters")
        weight = self.array(params, "weight", ppath, "int8",
                            (out_channels, in_channels // groups, kernel[0], kernel[1]))
        bias = self.array(params, "bias", ppath, "int32", (out_channels,))
        w_scales = self.array(params, "w_scales", ppath, "float32", (out_channels,))
        bad = ~(np.isfinite(w_scales) & (w_scales > 0))
        if bad.any():
            channel = int(np.argmax(bad))
            self.fail(f"{ppath}.w_scales", f"channel {channel} has the scale "
                      f"{float(w_scales[channel])!r}; weight scales must be positive and "
                      "finite")
        return Conv(name=name, path=path, in_channels=in_channels,
                    out_channels=out_channels, kernel=kernel, stride=stride, groups=groups,
                    weight=weight, bias=bias, w_scales=w_scales,
                    x=self.qparams(params, "x", ppath), y=self.qparams(params, "y", ppath),
                    in_size=in_size, out_size=out_size)

    def residual(self, value, name: str, path: str) -> Residual:
        node = self.node(value, path)
        params = self.node(self.field(node, "params", path), f"{path}.params")
        if any(key in node for key in ("kernel_size", "out_channel")) or "weight" in params:
            self.fail(path, "only identity shortcuts are supported (this residual has a "
                      "conv)", UnsupportedError)
        unknown = sorted(set(node) - {"in_channel", "in_shape", "params"})
        if unknown:
            self.fail(path, f"unknown field '{unknown[0]}' of a residual")
        unknown = sorted(set(params) - {"x_scale", "x_zero", "y_scale", "y_zero"})
        if unknown:
            self.fail(f"{path}.params", f"unknown field '{unknown[0]}' of residual "
                      "parameters")
        ppath = f"{path}.params"
        return Residual(name=name, path=path, x=self.qparams(params, "x", ppath),
                        y=self.qparams(params, "y", ppath))

    def block(self, value, index: int) -> Block:
        path = f"blocks[{index}]"
        node = self.node(value, path)
        for key in node:
            if key not in BLOCK_PARTS:
                self.fail(path, f"unknown layer kind '{key}' (a block has "
                          f"{', '.join(BLOCK_PARTS)})")
        if node.get("se") is not None:
            self.fail(f"{path}.se", "squeeze-and-excitation layers are not supported",
                      UnsupportedError)
        convs = []
        for part in CONV_PARTS:
            if node.get(part) is not None:
                convs.append(self.conv(node[part], f"blocks.{index}.{part}",
                                       f"{path}.{part}"))
        if not convs:
            self.fail(path, "a block needs at least one conv")
        residual = None
        if node.get("residual") is not None:
            residual = self.residual(node["residual"], f"blocks.{index}.residual",
                                     f"{path}.residual")
        return Block(index=index, convs=convs, residual=residual)

    def model(self, tree) -> TteModel:
        if not isinstance(tree, dict) or "first_conv" not in tree or "blocks" not in tree:
            keys = (", ".join(repr(k) for k in list(tree)[:6]) if isinstance(tree, dict)
                    else _describe(tree))
            self.fail("", "not a tiny-training model (expected a dict with 'first_conv', "
                      f"'blocks' and 'classifier'; got {keys})")
        for key in tree:
            if key not in TOP_LEVEL:
                self.fail(str(key), f"unknown layer kind '{key}' (the model has "
                          f"{', '.join(TOP_LEVEL)})")
        first = self.conv(tree["first_conv"], "first_conv", "first_conv")
        if first.in_size is None:
            self.fail("first_conv", "missing field 'in_shape' (the input resolution)")
        blocks_value = tree["blocks"]
        if not isinstance(blocks_value, (list, tuple)):
            self.fail("blocks", f"expected a list, got {_describe(blocks_value)}")
        blocks = [self.block(b, i) for i, b in enumerate(blocks_value)]
        feature_mix = None
        if tree.get("feature_mix") is not None:
            feature_mix = self.conv(tree["feature_mix"], "feature_mix", "feature_mix")
        classifier = self.conv(self.field(tree, "classifier", ""), "classifier",
                               "classifier", classifier=True)
        model = TteModel(first_conv=first, blocks=blocks, feature_mix=feature_mix,
                         classifier=classifier, input_size=first.in_size,
                         source=self.source)
        self.check_chain(model)
        return model

    def check_chain(self, model: TteModel) -> None:
        """Channel counts, spatial sizes and quantization agree from layer to layer."""
        channels, q = model.first_conv.in_channels, model.first_conv.x
        size = (model.input_size, model.input_size)

        def follow(conv: Conv):
            nonlocal channels, size, q
            if conv.in_channels != channels:
                self.fail(f"{conv.path}.in_channel", f"expected {channels} input channels "
                          f"(the previous layer's output), got {conv.in_channels}")
            if conv.in_size is not None and (conv.in_size, conv.in_size) != size:
                self.fail(f"{conv.path}.in_shape", f"expected {_size(size)} (the previous "
                          f"layer's output), got {conv.in_size}")
            if (conv.x.scale, conv.x.zero_point) != (q.scale, q.zero_point):
                self.fail(f"{conv.path}.params.x_scale", "input quantization "
                          f"({conv.x.scale!r}, {conv.x.zero_point}) differs from the "
                          f"previous layer's output ({q.scale!r}, {q.zero_point})")
            out = _conv_out(size, conv)
            if min(out) < 1:
                self.fail(f"{conv.path}.kernel_size", f"a {_size(conv.kernel)} kernel does "
                          f"not fit a {_size(size)} input")
            if conv.out_size is not None and (conv.out_size, conv.out_size) != out:
                self.fail(f"{conv.path}.out_shape", f"expected {_size(out)} (input "
                          f"{_size(size)}, kernel {_size(conv.kernel)}, stride "
                          f"{_size(conv.stride)}), got {conv.out_size}")
            channels, size, q = conv.out_channels, out, conv.y

        follow(model.first_conv)
        for block in model.blocks:
            block_in = (channels, size, q)
            for conv in block.convs:
                follow(conv)
            if block.residual is not None:
                r = block.residual
                if (channels, size) != block_in[:2]:
                    self.fail(r.path, f"an identity shortcut needs the block output "
                              f"({channels}x{_size(size)}) to match its input "
                              f"({block_in[0]}x{_size(block_in[1])})")
                xq = block_in[2]
                if (r.x.scale, r.x.zero_point) != (xq.scale, xq.zero_point):
                    self.fail(f"{r.path}.params.x_scale", "shortcut quantization "
                              f"({r.x.scale!r}, {r.x.zero_point}) differs from the block "
                              f"input's ({xq.scale!r}, {xq.zero_point})")
                q = r.y
        if model.feature_mix is not None:
            follow(model.feature_mix)
        size = (1, 1)    # the global average pool keeps the quantization
        follow(model.classifier)


def _conv_out(size: tuple[int, int], conv: Conv) -> tuple[int, int]:
    """Output height and width of `conv` (padding (k-1)//2) on a `size` input."""
    return tuple((n + 2 * p - k) // s + 1
                 for n, k, s, p in zip(size, conv.kernel, conv.stride, conv.padding))


def _size(pair: tuple[int, int]) -> str:
    return f"{pair[0]}x{pair[1]}"


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list, tuple)):
        return type(value).__name__
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {list(value.shape)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_json(path: Path) -> TteModel:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read file: {error}", str(path)) from None
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON: {error.msg}",
                         f"{path}:{error.lineno}:{error.colno}") from None
    npz = path.with_suffix(".npz")
    if not npz.is_file():
        raise InputError(f"missing weights file {npz.name} (expected beside the JSON "
                         "with the same stem)", str(path))
    try:
        arrays = np.load(npz, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise InputError(f"cannot read weights file {npz.name}: {error}", str(path)) from None
    with arrays:
        if not hasattr(arrays, "files"):
            raise InputError(f"weights file {npz.name} is not an .npz archive", str(path))
        return _Reader(str(path), arrays, npz.name).model(tree)


def _numpy_safe_globals() -> list:
    """What numpy arrays in a pickle need: array reconstruction and dtypes, under numpy
    1.x's names (`numpy.core.multiarray.*`) as tiny-training's pickles spell them."""
    try:
        from numpy._core import multiarray
    except ImportError:             # numpy 1.x
        from numpy.core import multiarray
    dtypes = {type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDG"}
    return [(multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
            (multiarray.scalar, "numpy.core.multiarray.scalar"),
            (multiarray._reconstruct, "numpy._core.multiarray._reconstruct"),
            (multiarray.scalar, "numpy._core.multiarray.scalar"),
            np.ndarray, np.dtype, *sorted(dtypes, key=lambda t: t.__name__)]


def _read_pickle(path: Path) -> TteModel:
    if not path.is_file():
        raise InputError("no such file", str(path))
    try:
        import torch
    except ImportError:
        raise InputError("reading a tiny-training .pkl needs PyTorch (pip install torch); "
                         "or import the .json + .npz form", str(path)) from None
    safe = _numpy_safe_globals()
    try:
        if hasattr(torch.serialization, "safe_globals"):
            with torch.serialization.safe_globals(safe):
                tree = torch.load(path, map_location="cpu", weights_only=True)
        else:                       # torch < 2.5: allow-list globally
            torch.serialization.add_safe_globals(safe)
            tree = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:      # noqa: BLE001 - pickle/zip errors of any kind
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise InputError(f"not a tiny-training model: torch.load(weights_only=True) "
                         f"refused it ({type(error).__name__}: {first[:200]})",
                         str(path)) from None
    return _Reader(str(path), None).model(tree)


def load_tte(path: str | Path) -> TteModel:
    """Reads a TTE model from its .pkl, or its .json with the .npz of the same stem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path)
    if suffix in (".pkl", ".pt", ".pth"):
        return _read_pickle(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except OSError as error:
        raise InputError(f"cannot read file: {error}", str(path)) from None
    if head.startswith(b"PK") or head[:1] == b"\x80":
        return _read_pickle(path)
    if head.lstrip()[:1] in (b"{", b""):
        return _read_json(path)
    raise InputError("expected a tiny-training .pkl or a .json layer tree", str(path))


# ---------------------------------------------------------------------------------------
# A fresh head
# ---------------------------------------------------------------------------------------

def fresh_head(classifier: Conv, num_classes: int, seed: int = 0) -> Conv:
    """An N-class 1x1 head with PyTorch's default conv init, quantized per channel."""
    fan_in = classifier.in_channels * classifier.kernel[0] * classifier.kernel[1]
    bound = 1.0 / math.sqrt(fan_in)
    rng = np.random.default_rng(seed)
    shape = (num_classes, classifier.in_channels, classifier.kernel[0], classifier.kernel[1])
    w = rng.uniform(-bound, bound, size=shape)
    peak = np.abs(w).reshape(num_classes, -1).max(axis=1)
    scales = (np.maximum(peak, np.finfo(np.float32).tiny) / 127.0).astype(np.float32)
    q = np.clip(np.rint(w / scales.astype(np.float64)[:, None, None, None]), -127, 127)
    return Conv(name=classifier.name, path=classifier.path,
                in_channels=classifier.in_channels, out_channels=num_classes,
                kernel=classifier.kernel, stride=classifier.stride, groups=1,
                weight=q.astype(np.int8), bias=np.zeros(num_classes, np.int32),
                w_scales=scales, x=classifier.x, y=classifier.y)


# ---------------------------------------------------------------------------------------
# MLIR text
# ---------------------------------------------------------------------------------------

@dataclass
class _Emitter:
    rounding: str
    aliases: list[str] = field(default_factory=list)
    act_alias: dict[tuple[float, int], str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    weight_alias_count: int = 0

    def act_type(self, q: QParams) -> str:
        key = (q.scale, q.zero_point)
        alias = self.act_alias.get(key)
        if alias is None:
            alias = f"!q{len(self.act_alias)}"
            self.act_alias[key] = alias
            self.aliases.append(f"{alias} = !quant.uniform<i8:f32, {q.scale!r}:"
                                f"{q.zero_point}>")
        return alias

    def param(self, name: str, type_: str, value: np.ndarray, trainable: bool) -> str:
        role = "trainable" if trainable else "frozen"
        self.args.append(f'    %{name}: {type_} {{train.name = "{name}", '
                         f"train.role = #train.role<{role}>}}")
        self.weights[name] = value
        return f"%{name}"

    def conv(self, conv: Conv, x: str, x_type: str, size: tuple[int, int],
             trainable: bool):
        """Emits one qconv2d; returns its value, its type and its output size."""
        scales = ",".join(map(repr, conv.w_scales.tolist()))
        alias = f"!w{self.weight_alias_count}"
        self.weight_alias_count += 1
        self.aliases.append(f"{alias} = !quant.uniform<i8:f32:0, {{{scales}}}>")
        o, i, kh, kw = conv.weight.shape
        w_type = f"tensor<{o}x{i}x{kh}x{kw}x{alias}>"
        b_type = f"tensor<{o}xi32>"
        w = self.param(f"{conv.name}.weight", w_type, conv.weight, trainable)
        b = self.param(f"{conv.name}.bias", b_type, conv.bias, trainable)
        out = _conv_out(size, conv)
        y_type = f"tensor<1x{o}x{_size(out)}x{self.act_type(conv.y)}>"
        geometry = []
        if conv.stride != (1, 1):
            geometry.append(f"stride [{conv.stride[0]}, {conv.stride[1]}]")
        if conv.padding != (0, 0):
            geometry.append(f"padding [{conv.padding[0]}, {conv.padding[1]}]")
        if conv.groups != 1:
            geometry.append(f"groups {conv.groups}")
        geometry.append(f"rounding {self.rounding}")
        y = f"%{conv.name}"
        self.body.append(f"  {y} = train.qconv2d {x}, {w}, {b} {' '.join(geometry)}\n"
                         f"      : ({x_type}, {w_type}, {b_type}) -> {y_type} "
                         f'loc("{conv.name}")')
        return y, y_type, out

    def text(self, input_type: str, result_type: str) -> str:
        args = ",\n".join([f"    %input: {input_type} {{train.name = \"input\"}}"] + self.args)
        return "\n".join([*self.aliases,
                          f"func.func @forward(\n{args})\n    -> {result_type} {{",
                          *self.body, "}", ""])


def emit_mlir(model: TteModel, rounding: str = "float_scale"
              ) -> tuple[str, dict[str, np.ndarray]]:
    """The MLIR text of `@forward` and its parameter arrays by `train.name`."""
    e = _Emitter(rounding)
    size = (model.input_size, model.input_size)
    channels = model.first_conv.in_channels
    input_type = f"tensor<1x{channels}x{_size(size)}x{e.act_type(model.first_conv.x)}>"
    x, x_type = "%input", input_type
    x, x_type, size = e.conv(model.first_conv, x, x_type, size, False)
    for block in model.blocks:
        block_in, block_in_type = x, x_type
        for conv in block.convs:
            x, x_type, size = e.conv(conv, x, x_type, size, False)
        if block.residual is not None:
            r = block.residual
            y_type = x_type[:x_type.rindex("x!")] + "x" + e.act_type(r.y) + ">"
            y = f"%{r.name}"
            e.body.append(f"  {y} = train.qadd {block_in}, {x} rounding {rounding}\n"
                          f"      : ({block_in_type}, {x_type}) -> {y_type} "
                          f'loc("{r.name}")')
            x, x_type = y, y_type
    if model.feature_mix is not None:
        x, x_type, size = e.conv(model.feature_mix, x, x_type, size, False)
    q = x_type[x_type.rindex("x!") + 1:-1]
    c = model.classifier.in_channels
    pooled_type = f"tensor<1x{c}x1x1x{q}>"
    e.body.append(f"  %pool = train.qglobal_avg_pool {x} rounding {rounding}\n"
                  f'      : {x_type} -> {pooled_type} loc("global_avg_pool")')
    logits, logits_type, _ = e.conv(model.classifier, "%pool", pooled_type, (1, 1), True)
    n = model.classifier.out_channels
    yq = e.act_type(model.classifier.y)
    e.body.append(f"  %logits.q = train.reshape {logits} : {logits_type} -> "
                  f'tensor<1x{n}x{yq}> loc("flatten")')
    e.body.append(f"  %logits = quant.dcast %logits.q : tensor<1x{n}x{yq}> to "
                  f'tensor<1x{n}xf32> loc("dequantize")')
    e.body.append(f"  return %logits : tensor<1x{n}xf32>")
    return e.text(input_type, f"tensor<1x{n}xf32>"), e.weights


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------

def import_tte(path: str | Path, *, num_classes: int | None = None, seed: int = 0,
               rounding: str = "float_scale") -> ImportedModel:
    """Imports a TTE int8 model (.pkl as tiny-training ships it, or .json + .npz).

    `num_classes` replaces the 1000-class head by a fresh one (see the module docstring);
    `rounding` is the requantization mode of every q-op ("float_scale": the paper's C and
    PyTorch simulation; "multiplier_shift": TFLite Micro / CMSIS-NN).
    """
    from ..source import new_context, parse_module

    if rounding not in ROUNDINGS:
        raise InputError(f"unknown rounding '{rounding}' (expected "
                         f"{' or '.join(ROUNDINGS)})")
    if num_classes is not None and (isinstance(num_classes, bool)
                                    or not isinstance(num_classes, int) or num_classes < 1):
        raise InputError(f"the number of classes must be a positive integer, "
                         f"got {num_classes!r}")
    model = load_tte(path)
    if num_classes is not None:
        model.classifier = fresh_head(model.classifier, num_classes, seed)
    text, weights = emit_mlir(model, rounding)
    module = parse_module(text, str(path), new_context())
    return ImportedModel(module, weights)


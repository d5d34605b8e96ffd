"""Sparse update schemes: which parameters a training step updates.

A scheme assigns each *layer* one rule:

- ``"frozen"``: nothing of the layer is trained;
- ``"bias"``: only its bias (TinyTL-style bias-only update);
- ``"full"``: every parameter of the layer;
- ``{"channels": k}`` (an integer >= 1) or ``{"channels": r}`` (a ratio in (0, 1]):
  the first k (or ⌈r·C⌉) channels of the weight, plus the whole bias.

A layer is named by its PyTorch module path — a parameter's `train.name` minus its
last component (``features.0.weight`` belongs to ``features.0``) — or by its conv
index ``conv:<i>``: the i-th conv-like op (conv2d, qconv2d, linear, qlinear) of
@forward in program order, the classifier included; negative indices count from the
end (``conv:-1`` is the classifier).

Two file formats (JSON) are read:

tcc's own::

    {"default": "frozen",
     "layers": {"features.0": "full", "conv:5": "bias",
                "blocks.3.pointwise1": {"channels": 0.25}},
     "optimizer": {"name": "momentum", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0},
     "qas": true}

``default`` (``frozen`` unless given; also ``bias``, ``full`` or ``keep`` = the roles
the model already has) applies to every parameter no layer names. ``optimizer`` and
``qas`` are optional and override the autodiff pass's settings.

The Tiny Training Engine paper's (mit-han-lab/tiny-training)::

    {"n_bias_update": 20, "manual_weight_idx": [23, 24, 27],
     "weight_update_ratio": [0, 0.25, 1]}

as its algorithm code interprets it: convs are indexed over the model's conv layers in
forward order *without* the classifier, which is always fully trained; the biases of
the last ``n_bias_update`` of those convs are trained; ``manual_weight_idx[j]`` trains
the weight of that conv with ``weight_update_ratio[j]`` of its channels (0: bias only,
1: all). A file may hold several schemes in nested objects (``schemes.json`` keys them
by model and memory budget): select one with a key path, ``load_scheme(path,
key="mcunet-5fps/49kb")`` or ``path#mcunet-5fps/49kb``.

Partial channels follow the paper's compiled graph (compilation/autodiff/diff_ops.py,
``sparse_in_channel_mcunetconv2d_grad`` and ``sparse_depth_wise_mcunetconv2d_grad``):

- a conv with ``groups == 1`` and a linear layer train their first k *input* channels,
  weight axis 1 — the gradient needs only ``x[:, :k]``;
- a depthwise conv (``groups == in channels``, weight ``C×1×kh×kw``) has one input
  channel per group, so its channels are the weight's axis 0 — the gradient needs
  ``x[:, :k]`` and ``dy[:, :k]``;
- other grouped convs are not supported (the paper's compiler rejects them too).

k = ⌈r·C⌉ (the README's definition; the paper's code rounds, which agrees on every
scheme it ships because r·C is an integer there). A k equal to C is a full update.

In the IR, `apply_scheme` sets ``train.role = #train.role<frozen|trainable>`` on every
parameter argument of @forward and ``train.channels = k : i64`` on partially trained
weights. Buffers (``running_mean``, ``running_var``, ``num_batches_tracked``) always
stay frozen.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .._mlir import ir
from .._mlir.dialects import func
from ..dialects import train
from .errors import InputError, UnsupportedError

CHANNELS = "train.channels"
CONV_LIKE = ("train.conv2d", "train.qconv2d", "train.linear", "train.qlinear")
QUANTIZED_CONV_LIKE = ("train.qconv2d", "train.qlinear")
RULES = ("frozen", "bias", "full")
DEFAULTS = ("frozen", "bias", "full", "keep")
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
OPTIMIZERS = ("sgd", "momentum")
TCC_KEYS = ("default", "layers", "optimizer", "qas")
PAPER_KEYS = ("n_bias_update", "manual_weight_idx", "weight_update_ratio")
# Keys of the paper's backward configs that do not change the compiled graph.
PAPER_IGNORED = ("enable_backward_config", "n_weight_update", "weight_select_criteria",
                 "pw1_weight_only", "freeze_fc", "quantize_gradient")
OPTIMIZER_KEYS = ("name", "lr", "momentum", "weight_decay")
_CONV_KEY = re.compile(r"conv:(-?\d+)")


# ---------------------------------------------------------------------------------------
# The scheme
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """What a scheme does to one layer."""

    kind: str                     # "frozen" | "bias" | "full" | "channels"
    count: int | None = None      # "channels": an exact channel count
    ratio: float | None = None    # "channels": a fraction of the channel axis

    def describe(self) -> str:
        if self.kind != "channels":
            return self.kind
        return f"channels {self.count}" if self.count is not None else \
            f"channels {self.ratio:g}"


@dataclass
class OptimizerConfig:
    """The scheme's optimizer section; None fields keep the pass's setting."""

    name: str | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None


@dataclass
class PaperScheme:
    """The paper's format, resolved against a model when it is applied."""

    n_bias_update: int | str                  # a count or "all"
    weights: list[tuple[int, float]]          # (conv index without the classifier, ratio)


@dataclass
class Scheme:
    """A parsed scheme. `locations` maps layer keys to `file:line:col` for messages."""

    layers: dict[str, Rule] = field(default_factory=dict)
    default: str = "frozen"
    optimizer: OptimizerConfig | None = None
    qas: bool | None = None
    paper: PaperScheme | None = None
    source: str | None = None
    name: str | None = None
    locations: dict[str, str] = field(default_factory=dict)

    def location(self, key: str) -> str | None:
        return self.locations.get(key, self.source)


@dataclass
class Assignment:
    """What `apply_scheme` decided for one parameter argument."""

    index: int
    name: str
    role: str                     # "frozen" | "trainable"
    channels: int | None = None   # partial update: k channels of `axis`
    axis: int | None = None
    layer: str | None = None      # the scheme key that chose it (None: the default)


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------

class _Source:
    """The JSON text of a scheme, to locate keys in error messages."""

    def __init__(self, text: str | None, path: str | None):
        self.text = text
        self.path = path

    def locate(self, key: str, after: str | None = None) -> str | None:
        """`path:line:col` of the first `"key":` (after the key `after`), or the path."""
        if self.text is None or self.path is None:
            return self.path
        start = 0
        if after is not None:
            found = re.search(rf'"{re.escape(after)}"\s*:', self.text)
            start = found.end() if found else 0
        match = re.compile(rf'"{re.escape(key)}"\s*:').search(self.text, start)
        if not match:
            return self.path
        line = self.text.count("\n", 0, match.start()) + 1
        column = match.start() - (self.text.rfind("\n", 0, match.start()) + 1) + 1
        return f"{self.path}:{line}:{column}"


def load_scheme(source, key: str | None = None) -> Scheme:
    """A Scheme from a JSON file (`PATH` or `PATH#KEY`), a JSON text's dict, or a Scheme.

    A file holding several schemes (nested objects, like the paper's schemes.json)
    needs `key`, a `/`-separated path to one of them.
    """
    if isinstance(source, Scheme):
        return source
    if isinstance(source, dict):
        return _select(source, key, _Source(None, None), None)
    text_path = str(source)
    if key is None and "#" in text_path and not Path(text_path).exists():
        text_path, key = text_path.split("#", 1)
    text, tree = _read_json(text_path)
    return _select(tree, key, _Source(text, text_path), text_path)


def list_schemes(source) -> list[str]:
    """The key paths of the schemes a file (or dict) holds; [""] for a single scheme."""
    tree = source if isinstance(source, dict) else _read_json(str(source))[1]
    return _leaves(tree, "")


def _read_json(text_path: str):
    """(text, parsed JSON) of a scheme file, errors as InputErrors."""
    try:
        text = Path(text_path).read_text()
    except FileNotFoundError:
        raise InputError("no such scheme file", text_path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read scheme file: {error}", text_path) from None
    try:
        return text, json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON in scheme file: {error.msg}",
                         f"{text_path}:{error.lineno}:{error.colno}") from None


def _is_scheme(node) -> bool:
    return isinstance(node, dict) and any(k in node for k in TCC_KEYS + PAPER_KEYS)


def _leaves(node, prefix: str) -> list[str]:
    """The key paths of the schemes under `node` ([prefix] if it is one)."""
    if _is_scheme(node):
        return [prefix]
    keys = []
    if isinstance(node, dict):
        for name, child in node.items():
            keys += _leaves(child, f"{prefix}/{name}" if prefix else name)
    return keys


def _select(tree, key: str | None, source: _Source, path: str | None) -> Scheme:
    where = path
    if not isinstance(tree, dict):
        raise InputError("a scheme must be a JSON object, got "
                         f"{type(tree).__name__}", where)
    node, name = tree, None
    choices = _leaves(tree, "")
    if _is_scheme(tree) or not choices:       # one scheme (its errors come from _parse)
        if key:
            raise InputError(f"the scheme file holds one scheme; there is no '{key}' in it",
                             where)
    else:
        if not key:
            listed = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
            raise InputError(f"the scheme file holds {len(choices)} schemes; choose one with "
                             f"a key (--scheme-key or FILE#KEY): {listed}", where)
        for part in key.strip("/").split("/"):
            if not isinstance(node, dict) or part not in node:
                listed = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
                raise InputError(f"no scheme '{key}' in the scheme file (it holds: {listed})",
                                 where)
            node = node[part]
        if not _is_scheme(node):
            raise InputError(f"'{key}' is not a scheme (expected an object with "
                             f"'layers' or 'n_bias_update', ...)", where)
        name = key.strip("/")
    scheme = _parse(node, source, key.strip("/").split("/")[-1] if key else None)
    scheme.source = path
    scheme.name = name
    return scheme


def _fail(message: str, location: str | None):
    raise InputError(message, location)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse(node: dict, source: _Source, anchor: str | None) -> Scheme:
    def at(key: str) -> str | None:
        return source.locate(key, anchor)

    paper = any(k in node for k in PAPER_KEYS)
    allowed = TCC_KEYS + (PAPER_KEYS + PAPER_IGNORED if paper else ())
    for key in node:
        if paper and key in ("layers", "default"):
            _fail(f"'{key}' cannot be combined with the paper's format "
                  "(n_bias_update, manual_weight_idx, weight_update_ratio)", at(key))
        if key not in allowed:
            _fail(f"unknown scheme field '{key}' (expected: {', '.join(allowed)})", at(key))
    scheme = Scheme()
    if paper:
        scheme.paper = _parse_paper(node, at)
    else:
        default = node.get("default", "frozen")
        if default not in DEFAULTS:
            _fail(f"'default' must be one of {', '.join(DEFAULTS)}, got {default!r}",
                  at("default"))
        scheme.default = default
        layers = node.get("layers", {})
        if not isinstance(layers, dict):
            _fail("'layers' must be an object mapping layer names to rules", at("layers"))
        for name, value in layers.items():
            scheme.layers[name] = _parse_rule(value, name, source.locate(name, "layers"))
            scheme.locations[name] = source.locate(name, "layers")
    if "optimizer" in node:
        scheme.optimizer = _parse_optimizer(node["optimizer"], source, at("optimizer"))
    if "qas" in node:
        if not isinstance(node["qas"], bool):
            _fail(f"'qas' must be true or false, got {node['qas']!r}", at("qas"))
        scheme.qas = node["qas"]
    return scheme


def _parse_rule(value, name: str, where: str | None) -> Rule:
    if isinstance(value, str):
        if value not in RULES:
            _fail(f"layer '{name}': unknown rule '{value}' (expected frozen, bias, full or "
                  '{"channels": k or ratio})', where)
        return Rule(value)
    if not isinstance(value, dict) or set(value) != {"channels"}:
        _fail(f"layer '{name}': a rule is \"frozen\", \"bias\", \"full\" or "
              f'{{"channels": k or ratio}}, got {json.dumps(value)}', where)
    channels = value["channels"]
    if isinstance(channels, int) and not isinstance(channels, bool):
        if channels < 1:
            _fail(f"layer '{name}': the channel count must be >= 1, got {channels}", where)
        return Rule("channels", count=channels)
    if not _number(channels):
        _fail(f"layer '{name}': 'channels' must be a count or a ratio, got "
              f"{json.dumps(channels)}", where)
    if not (math.isfinite(channels) and 0 < channels <= 1):
        _fail(f"layer '{name}': channel ratio {channels!r} is outside (0, 1]", where)
    return Rule("channels", ratio=float(channels))


def _parse_optimizer(node, source: _Source, where: str | None) -> OptimizerConfig:
    if not isinstance(node, dict):
        _fail("'optimizer' must be an object like {\"name\": \"sgd\", \"lr\": 0.01}", where)
    for key in node:
        if key not in OPTIMIZER_KEYS:
            _fail(f"unknown optimizer field '{key}' (expected: {', '.join(OPTIMIZER_KEYS)})",
                  source.locate(key, "optimizer"))
    config = OptimizerConfig()
    if "name" in node:
        if node["name"] not in OPTIMIZERS:
            _fail(f"unknown optimizer {node['name']!r} (expected sgd or momentum)",
                  source.locate("name", "optimizer"))
        config.name = node["name"]
    for key, low, strict in (("lr", 0.0, True), ("momentum", 0.0, False),
                             ("weight_decay", 0.0, False)):
        if key not in node:
            continue
        value = node[key]
        if not _number(value) or not math.isfinite(value) or value < low or \
                (strict and value == low):
            bound = "positive" if strict else "non-negative"
            _fail(f"optimizer '{key}' must be a {bound} finite number, got {value!r}",
                  source.locate(key, "optimizer"))
        setattr(config, key, float(value))
    return config


def _parse_paper(node: dict, at) -> PaperScheme:
    n_bias = node.get("n_bias_update", 0)
    if n_bias != "all" and (not isinstance(n_bias, int) or isinstance(n_bias, bool)
                            or n_bias < 0):
        _fail(f"'n_bias_update' must be a non-negative integer or \"all\", got {n_bias!r}",
              at("n_bias_update"))
    indices = node.get("manual_weight_idx") or []
    if isinstance(indices, str):          # the paper's command-line form "21-24-27"
        try:
            indices = [int(p) for p in indices.split("-")]
        except ValueError:
            _fail(f"'manual_weight_idx' must be a list of conv indices, got {indices!r}",
                  at("manual_weight_idx"))
    if not isinstance(indices, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices):
        _fail("'manual_weight_idx' must be a list of conv indices (integers >= 0), got "
              f"{json.dumps(indices)}", at("manual_weight_idx"))
    if len(set(indices)) != len(indices):
        _fail("'manual_weight_idx' names a conv twice", at("manual_weight_idx"))
    ratios = node.get("weight_update_ratio")
    if ratios is None:
        ratios = [1] * len(indices)
    elif _number(ratios):
        ratios = [ratios] * len(indices)
    elif isinstance(ratios, str):
        try:
            ratios = [float(p) for p in ratios.split("-")]
        except ValueError:
            _fail(f"'weight_update_ratio' must be a list of ratios, got {ratios!r}",
                  at("weight_update_ratio"))
    if not isinstance(ratios, list) or not all(_number(r) for r in ratios):
        _fail(f"'weight_update_ratio' must be a list of numbers, got {json.dumps(ratios)}",
              at("weight_update_ratio"))
    if len(ratios) != len(indices):
        _fail(f"'weight_update_ratio' has {len(ratios)} entries but 'manual_weight_idx' "
              f"has {len(indices)}", at("weight_update_ratio"))
    for position, ratio in enumerate(ratios):
        if not (math.isfinite(ratio) and 0 <= ratio <= 1):
            _fail(f"weight_update_ratio[{position}] = {ratio!r}: a ratio must be in (0, 1] "
                  "(or 0 for bias only)", at("weight_update_ratio"))
    return PaperScheme(n_bias, list(zip(indices, (float(r) for r in ratios))))


# ---------------------------------------------------------------------------------------
# The model side
# ---------------------------------------------------------------------------------------

def _arg_index(value) -> int | None:
    """The argument number of `value` if it is a block argument."""
    if isinstance(value, ir.BlockArgument):
        return value.arg_number
    return None


def _through_casts(value):
    """A parameter seen through storage casts (quant.scast) back to its argument."""
    while not isinstance(value, ir.BlockArgument):
        owner = value.owner
        if owner.name not in ("quant.scast",) or len(owner.operands) != 1:
            return value
        value = owner.operands[0]
    return value


def conv_like_ops(function: func.FuncOp) -> list:
    """The conv-like ops (conv2d, qconv2d, linear, qlinear) of a function, in order."""
    return [op for op in function.entry_block.operations if op.name in CONV_LIKE]


def layer_of(name: str) -> str:
    """A parameter's layer: its name minus the last component."""
    return name.rsplit(".", 1)[0] if "." in name else name


def channel_axis(op) -> tuple[int, int]:
    """(axis, channel count) of a partial-channel update of `op`'s weight.

    Axis 1 (input channels) for linear layers and groups == 1 convs, axis 0 for
    depthwise convs; raises UnsupportedError for other grouped convs.
    """
    weight = train.shape_of(op.operands[1])
    if op.name in ("train.linear", "train.qlinear"):
        return 1, weight[1]
    groups = ir.IntegerAttr(op.attributes["groups"]).value
    if groups == 1:
        return 1, weight[1]
    channels_in = train.shape_of(op.operands[0])[1]
    if weight[1] == 1 and groups == channels_in == weight[0]:
        return 0, weight[0]
    raise UnsupportedError(f"partial-channel updates of grouped convs ({groups} groups, not "
                           "depthwise) are not supported", _loc(op))


def weight_consumer(function: func.FuncOp, index: int):
    """The one conv-like op that takes argument `index` (or a quant.scast of it) as its
    weight (operand 1), or None if there is none or several. Other users (the gradient
    and update ops of a training step) are ignored."""
    arg = function.entry_block.arguments[index]
    consumers = []
    stack = [arg]
    while stack:
        value = stack.pop()
        for use in value.uses:
            owner = use.owner
            if owner.name == "quant.scast":
                stack.append(owner.results[0])
            elif owner.name in CONV_LIKE and use.operand_number == 1:
                consumers.append(owner)
    return consumers[0] if len(consumers) == 1 else None


def bias_consumer(function: func.FuncOp, index: int):
    """The conv-like op whose bias (operand 2) is argument `index`, or None."""
    arg = function.entry_block.arguments[index]
    for use in arg.uses:
        if use.owner.name in CONV_LIKE and use.operand_number == 2:
            return use.owner
    return None


def _loc(op) -> str:
    """The op's location as MLIR prints it; the pass pipeline turns it into file:line:col
    (as for every pass error)."""
    return str(op.location)


def _parameters(function: func.FuncOp) -> dict[int, str]:
    count = len(function.entry_block.arguments)
    return {i: train.arg_name(function, i) for i in range(count)
            if train.arg_role(function, i) is not None}


def is_quantized_type(element_type) -> bool:
    """An integer or quant element type: updated with train.qsgd."""
    return not isinstance(element_type, (ir.F32Type, ir.F64Type, ir.F16Type, ir.BF16Type))


def check_trainable(function: func.FuncOp, index: int, layer: str,
                    where: str | None) -> None:
    """Errors unless parameter `index` can be trained: a float tensor, an int8 tensor of a
    quantized type (its scales), or the int32 bias of a qconv2d / qlinear (s_x · s_w)."""
    arg = function.entry_block.arguments[index]
    element = ir.RankedTensorType(arg.type).element_type
    if not is_quantized_type(element):
        return
    name = train.arg_name(function, index)
    text = str(element)
    if text.startswith("!quant."):
        return
    consumer = bias_consumer(function, index)
    if consumer is not None and consumer.name in QUANTIZED_CONV_LIKE:
        return
    raise InputError(f"int8 layer '{layer}' has no quantization scales: its parameter "
                     f"'{name}' is a plain {arg.type} (train it through a quantized type, "
                     "or as the int32 bias of a qconv2d/qlinear)", where)


def set_arg_attr(function: func.FuncOp, index: int, name: str, value) -> None:
    """Sets (or, with value None, removes) argument attribute `name` of arg `index`."""
    count = len(function.entry_block.arguments)
    if "arg_attrs" in function.attributes:
        current = [ir.DictAttr(a) for a in ir.ArrayAttr(function.attributes["arg_attrs"])]
    else:
        current = [ir.DictAttr.get({}) for _ in range(count)]
    entries = {a.name: a.attr for a in current[index]}
    if value is None:
        entries.pop(name, None)
    else:
        entries[name] = value
    current[index] = ir.DictAttr.get(entries)
    function.attributes["arg_attrs"] = ir.ArrayAttr.get(current)


def arg_channels(function: func.FuncOp, index: int) -> int | None:
    """The `train.channels` of argument `index`, if any."""
    if "arg_attrs" not in function.attributes:
        return None
    attrs = ir.DictAttr(ir.ArrayAttr(function.attributes["arg_attrs"])[index])
    if CHANNELS not in attrs:
        return None
    return ir.IntegerAttr(attrs[CHANNELS]).value


# ---------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------

def _paper_layers(scheme: Scheme, convs: list) -> dict[str, Rule]:
    """The paper's scheme as conv-index rules (the classifier, conv:-1, always full)."""
    paper = scheme.paper
    body = len(convs) - 1
    if body < 0:
        raise InputError("the paper's scheme format needs a model with a classifier "
                         "(a conv or linear layer)", scheme.source)
    n_bias = body if paper.n_bias_update == "all" else paper.n_bias_update
    if n_bias > body:
        raise InputError(f"n_bias_update = {n_bias} but the model has only {body} conv "
                         "layers besides the classifier", scheme.source)
    rules: dict[str, Rule] = {}
    for i in range(body - n_bias, body):
        rules[f"conv:{i}"] = Rule("bias")
    for index, ratio in paper.weights:
        if index >= body:
            raise InputError(f"unknown layer conv:{index} in manual_weight_idx: the model has "
                             f"{body} conv layers besides the classifier (conv:0 to "
                             f"conv:{body - 1})", scheme.source)
        if ratio == 0:
            rules[f"conv:{index}"] = Rule("bias")
        elif ratio == 1:
            rules[f"conv:{index}"] = Rule("full")
        else:
            rules[f"conv:{index}"] = Rule("channels", ratio=ratio)
    rules[f"conv:{body}"] = Rule("full")
    return rules


def _layer_params(function: func.FuncOp, key: str, params: dict[int, str], convs: list,
                  where: str | None) -> tuple[list[int], int | None, set[int]]:
    """(parameter args, weight arg or None, bias args) of the layer `key`."""
    match = _CONV_KEY.fullmatch(key)
    if match:
        position = int(match.group(1))
        if not -len(convs) <= position < len(convs):
            raise InputError(f"unknown layer '{key}': the model has {len(convs)} conv-like "
                             f"layers (conv:0 to conv:{len(convs) - 1})", where)
        op = convs[position]
        members, weight, biases = [], None, set()
        source = _through_casts(op.operands[1])
        index = _arg_index(source)
        if index is not None and index in params:
            members.append(index)
            weight = index
        if len(op.operands) > 2:
            index = _arg_index(_through_casts(op.operands[2]))
            if index is not None and index in params:
                members.append(index)
                biases.add(index)
        if not members:
            raise InputError(f"layer '{key}' ({op.name}) has no "
                             "parameter arguments", where)
        return members, weight, biases
    members = [i for i, name in params.items() if layer_of(name) == key]
    if not members:
        known = sorted({layer_of(n) for n in params.values()})
        listed = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        raise InputError(f"unknown layer '{key}' (layers are parameter names without their "
                         f"last component, or conv:<i>; this model has {listed})", where)
    biases = {i for i in members if params[i].rsplit(".", 1)[-1] == "bias"
              or bias_consumer(function, i) is not None}
    weights = [i for i in members if i not in biases
               and params[i].rsplit(".", 1)[-1] not in BUFFERS]
    weight = None
    for i in weights:
        if weight_consumer(function, i) is not None:
            weight = i
            break
    if weight is None and len(weights) == 1:
        weight = weights[0]
    return members, weight, biases


def apply_scheme(function: func.FuncOp, scheme) -> list[Assignment]:
    """Sets the roles (and `train.channels`) of `function`'s parameters from `scheme`.

    Returns one Assignment per parameter argument, in argument order.
    """
    scheme = load_scheme(scheme)
    with function.context, function.location:
        return _apply(function, scheme)


def _apply(function: func.FuncOp, scheme: Scheme) -> list[Assignment]:
    params = _parameters(function)
    convs = conv_like_ops(function)
    if scheme.paper is not None:
        rules = _paper_layers(scheme, convs)
        default = "frozen"
    else:
        rules, default = dict(scheme.layers), scheme.default
    decided: dict[int, Assignment] = {}
    for key, rule in rules.items():
        where = scheme.location(key)
        members, weight, biases = _layer_params(function, key, params, convs, where)
        chosen = {}
        for index in members:
            if params[index].rsplit(".", 1)[-1] in BUFFERS:
                chosen[index] = ("frozen", None, None)
            elif rule.kind == "frozen":
                chosen[index] = ("frozen", None, None)
            elif rule.kind == "full":
                chosen[index] = ("trainable", None, None)
            elif rule.kind == "bias":
                chosen[index] = ("trainable" if index in biases else "frozen", None, None)
            else:
                chosen[index] = ("trainable", None, None)
        if rule.kind == "bias" and not biases:
            raise InputError(f"layer '{key}' has no bias to train", where)
        if rule.kind == "channels":
            if weight is None:
                raise InputError(f"layer '{key}' has no conv or linear weight for a "
                                 "partial-channel update", where)
            op = weight_consumer(function, weight)
            if op is None:
                raise InputError(f"layer '{key}': a partial-channel update needs a weight "
                                 f"('{params[weight]}') used by exactly one conv or linear op",
                                 where)
            axis, total = channel_axis(op)
            if rule.count is not None:
                if rule.count > total:
                    raise InputError(f"layer '{key}': {rule.count} channels requested but its "
                                     f"weight has {total} along axis {axis}", where)
                k = rule.count
            else:
                k = max(1, math.ceil(rule.ratio * total - 1e-9))
            if k < total:
                chosen[weight] = ("trainable", k, axis)
        for index, (role, k, axis) in chosen.items():
            if index in decided and (decided[index].role, decided[index].channels) != (role, k):
                raise InputError(f"layer '{key}' and layer '{decided[index].layer}' both set "
                                 f"parameter '{params[index]}'", where)
            if role == "trainable":
                check_trainable(function, index, key, where)
            decided[index] = Assignment(index, params[index], role, k, axis, key)
    result = []
    for index, name in params.items():
        if index in decided:
            assignment = decided[index]
        else:
            current = train.arg_role(function, index)
            if default == "keep":
                role = current
            elif default == "full":
                role = "trainable"
            elif default == "bias":
                role = "trainable" if name.rsplit(".", 1)[-1] == "bias" \
                    or bias_consumer(function, index) is not None else "frozen"
            else:
                role = "frozen"
            if name.rsplit(".", 1)[-1] in BUFFERS:
                role = "frozen"
            if role == "trainable" and current != "trainable":
                check_trainable(function, index, layer_of(name), scheme.source)
            assignment = Assignment(index, name, role)
        result.append(assignment)
        set_arg_attr(function, index, train.ROLE, train.role_attr(assignment.role))
        set_arg_attr(function, index, CHANNELS, None if assignment.channels is None else
                     ir.IntegerAttr.get(ir.IntegerType.get_signless(64), assignment.channels))
    return result

"""Automatic sparse update scheme under a memory budget (`tcc --budget=128KB`).

`choose_scheme(module, budget_bytes)` searches the sparse update schemes of the model's
@forward for one that trains as much as possible while the training step's arena — its
peak after autodiff, prune, --train-reorder and --plan-memory — stays within the budget.
Every candidate is measured on a copy of the module through that pipeline; nothing is
estimated from formulas. The module itself is not modified.

The candidates follow what the Tiny Training Engine paper found (Lin et al., "On-Device
Training Under 256KB Memory", 2022): biases are cheap and worth training, later layers
matter more than earlier ones, and a slice of a weight's channels gets much of the
benefit of the whole weight. The search grows one scheme along a ladder, keeping each
step that fits (convs are numbered in program order, the classifier last):

1. the classifier's bias alone (the smallest scheme: when it does not fit, nothing
   does and `BudgetError` says how much it needs), then its weight too (with a
   ratio 1/8, 1/4, 1/2 of its channels when the whole weight does not fit);
2. the biases of the last k convs before it: the largest k that fits (binary search;
   more depth means gradients through more layers and the masks they need);
3. weights of those k layers, from the last backwards, each with the largest channel
   ratio among 1/8, 1/4, 1/2, 1 that still fits (a layer where even 1/8 does not fit
   is left at its bias, and the walk goes on to the layer before it).

So a bigger budget trains at least as deep (step 2: the peak grows with the depth) and
never fewer biases; the weights of step 3 fill whatever the deepest backward leaves
free (step 3 gives up after MAX_MISSES layers in a row where not even 1/8 fits).

Each candidate is derived on a copy of the module (autodiff + prune + reorder); a
liveness lower bound over the budget rejects it at once, else --plan-memory's planner
decides (its heuristics first, then its search for up to `plan_time_limit` seconds when
their packing is over the budget but the bound is not). The chosen scheme is then
compiled through the real --plan-memory pass and the arena size it writes is the
reported peak (should that exceed the budget, the previous candidate that fitted is
taken instead). The search stops at `time_limit` seconds and keeps the best scheme
found so far (`BudgetChoice.complete` is then False).

The chosen scheme is in tcc's format with `conv:<i>` layer keys (`BudgetChoice.rules`,
JSON-ready); `BudgetChoice.scheme` is the parsed Scheme for `derive_step`.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field, replace

from .._mlir import ir
from .._mlir.dialects import func
from ..dialects import train
from . import liveness
from .analysis import StepOptions, derive_step
from .errors import InputError, TccError
from .pipeline import run_pipeline
from .schemes import (BUFFERS, CONV_LIKE, Scheme, _arg_index, _through_casts, channel_axis,
                      layer_of, load_scheme)
from .source import find_function

RATIOS = (0.125, 0.25, 0.5, 1.0)
"""Channel ratios tried for a weight, smallest first."""
ALIGNMENT = 16
DEFAULT_TIME_LIMIT = 60.0
DEFAULT_PLAN_TIME_LIMIT = 0.5
QUICK_PLAN_TIME_LIMIT = 0.02
MAX_MISSES = 6
"""Step 3 stops after this many layers in a row where not even 1/8 of the weight fits."""
ARENA_SIZE = "train.arena_size"

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2,
          "mb": 1024 ** 2, "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3,
          "gib": 1024 ** 3}
_BUDGET = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*")


class BudgetError(InputError):
    """No sparse update scheme fits in the budget."""


# ---------------------------------------------------------------------------------------
# Budgets
# ---------------------------------------------------------------------------------------

def parse_budget(text) -> int:
    """Bytes of a budget: `128KB` -> 131072. Units (case-insensitive): B, K/KB/KiB
    (1024 B, as microcontroller memories are counted), M/MB/MiB, G/GB/GiB; a plain
    number is bytes. Decimals are allowed when they give whole bytes ("1.5KB")."""
    if isinstance(text, bool):
        raise InputError(f"bad memory budget {text!r}")
    if isinstance(text, int):
        value, where = text, str(text)
    else:
        where = str(text)
        match = _BUDGET.fullmatch(where)
        if not match:
            raise InputError(f"bad memory budget '{where}' (expected a size like 128KB, "
                             "256KiB, 1MB or a number of bytes)")
        unit = match.group(2).lower()
        if unit not in _UNITS:
            raise InputError(f"bad memory budget '{where}': unknown unit "
                             f"'{match.group(2)}' (expected B, KB, KiB, MB, MiB, GB)")
        exact = float(match.group(1)) * _UNITS[unit]
        value = round(exact)
        if abs(exact - value) > 1e-6 * max(1.0, exact):
            raise InputError(f"bad memory budget '{where}': not a whole number of bytes")
    if value <= 0:
        raise InputError(f"bad memory budget '{where}': it must be positive")
    return value


def format_bytes(value: int) -> str:
    """`131072` -> `128 KB`, `1536` -> `1.5 KB` (1 KB = 1024 B)."""
    if value < 1024:
        return f"{value} B"
    kb = value / 1024
    return f"{kb:.0f} KB" if kb == int(kb) else f"{kb:.1f} KB"


# ---------------------------------------------------------------------------------------
# The model's trainable layers
# ---------------------------------------------------------------------------------------

@dataclass
class Layer:
    """One conv-like layer of @forward (conv2d, qconv2d, linear, qlinear)."""

    index: int                  # conv index in program order (the classifier last)
    name: str                   # its parameters' layer name ("features.3.conv.1")
    weight: int | None          # argument index of its weight parameter
    bias: int | None            # argument index of its bias parameter
    channels: int               # channels of a partial update (its axis)
    partial: bool               # partial-channel updates supported (not grouped)

    @property
    def key(self) -> str:
        return f"conv:{self.index}"

    def count(self, ratio: float) -> int:
        """Channels trained with `ratio` (schemes.py's rounding)."""
        return max(1, math.ceil(ratio * self.channels - 1e-9))

    def ratios(self) -> list[float]:
        """The ratios worth trying, smallest first: one per distinct channel count."""
        if self.weight is None:
            return []
        if not self.partial:
            return [1.0]
        seen, out = set(), []
        for ratio in RATIOS:
            k = self.count(ratio)
            if k not in seen:
                seen.add(k)
                out.append(1.0 if k >= self.channels else ratio)
        return out

    def rule(self, ratio: float):
        """The scheme rule training this layer's weight with `ratio` (and its bias)."""
        k = self.count(ratio)
        return "full" if k >= self.channels or not self.partial else {"channels": k}


def model_layers(function: func.FuncOp) -> list[Layer]:
    """The conv-like layers of `function` whose weight or bias is a parameter."""
    layers = []
    convs = [op for op in function.entry_block.operations if op.name in CONV_LIKE]
    for position, op in enumerate(convs):
        weight = _param(function, op, 1)
        bias = _param(function, op, 2)
        if weight is None and bias is None:
            continue
        name = layer_of(train.arg_name(function, weight if weight is not None else bias))
        try:
            _, channels = channel_axis(op)
            partial = True
        except TccError:                # grouped (not depthwise): whole weight only
            channels, partial = 1, False
        layers.append(Layer(position, name, weight, bias, channels, partial))
    return layers


def _param(function: func.FuncOp, op, operand: int) -> int | None:
    if len(op.operands) <= operand:
        return None
    index = _arg_index(_through_casts(op.operands[operand]))
    if index is None or train.arg_role(function, index) is None:
        return None
    if train.arg_name(function, index).rsplit(".", 1)[-1] in BUFFERS:
        return None
    return index


# ---------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """One point of the ladder: the classifier (0.0 = its bias only, else the ratio of
    its weight's channels), the biases of the last `bias_depth` layers before it, and
    weights of some of those (body position -> channel ratio)."""

    classifier: float = 0.0
    bias_depth: int = 0
    weights: tuple[tuple[int, float], ...] = ()

    def with_weight(self, position: int, ratio: float) -> "Candidate":
        weights = dict(self.weights)
        weights[position] = ratio
        return replace(self, weights=tuple(sorted(weights.items())))

    def layers(self, layers: list[Layer]) -> dict[str, object]:
        """The tcc-format `layers` of this candidate (conv:<i> keys)."""
        classifier, body = layers[-1], layers[:-1]
        rules: dict[str, object] = {}
        if self.classifier == 0.0:
            rules[classifier.key] = "bias"
        else:
            rules[classifier.key] = classifier.rule(self.classifier)
        for layer in body[len(body) - self.bias_depth:]:
            if layer.bias is not None:
                rules[layer.key] = "bias"
        for position, ratio in self.weights:
            rules[body[position].key] = body[position].rule(ratio)
        return rules

    def describe(self, layers: list[Layer]) -> str:
        classifier, body = layers[-1], layers[:-1]
        parts = [f"classifier {classifier.name}: " + (
            "bias" if self.classifier == 0.0 else _what(classifier, self.classifier))]
        if self.bias_depth:
            parts.append(f"biases of the last {self.bias_depth} layers before it")
        for position, ratio in self.weights:
            parts.append(f"{body[position].name} ({body[position].key}) weight "
                         f"{_ratio(body[position], ratio)}")
        return "; ".join(parts)


def _ratio(layer: Layer, ratio: float) -> str:
    k = layer.count(ratio)
    if k >= layer.channels or not layer.partial:
        return "full"
    return f"{k}/{layer.channels} channels"


def _what(layer: Layer, ratio: float) -> str:
    return "weight " + _ratio(layer, ratio) + (" + bias" if layer.bias is not None else "")


@dataclass
class Evaluation:
    """A candidate measured: `peak` is None when only its lower bound is known (the
    bound alone is over the budget)."""

    candidate: Candidate
    description: str
    fits: bool
    peak: int | None
    lower_bound: int
    seconds: float


@dataclass
class Trained:
    """What the chosen scheme trains in one layer."""

    layer: str                  # conv:<i>
    name: str                   # parameter layer name
    what: str                   # "bias", "weight full + bias", "weight 20/160 channels + bias"
    parameter_bytes: int        # trained parameter bytes (the slice of a partial weight)


@dataclass
class BudgetChoice:
    """The result of `choose_scheme`."""

    scheme: Scheme              # usable as StepOptions(scheme=...) / derive_step
    rules: dict                 # the tcc-format scheme (JSON-ready)
    peak: int                   # arena bytes after reorder + plan-memory
    lower_bound: int            # liveness lower bound of the reordered step
    budget: int
    trains: list[Trained]
    candidate: Candidate
    evaluations: list[Evaluation] = field(default_factory=list)
    seconds: float = 0.0
    complete: bool = True       # False when the time limit cut the search short

    @property
    def bias_depth(self) -> int:
        return self.candidate.bias_depth

    @property
    def trained_parameter_bytes(self) -> int:
        return sum(t.parameter_bytes for t in self.trains)

    def describe(self) -> str:
        """A few lines for the user: what was chosen, its peak, what it trains."""
        lines = [f"budget {format_bytes(self.budget)}: trains {len(self.trains)} layers "
                 f"({format_bytes(self.trained_parameter_bytes)} of parameters), peak arena "
                 f"{format_bytes(self.peak)} (liveness lower bound "
                 f"{format_bytes(self.lower_bound)}); {len(self.evaluations)} schemes "
                 f"measured in {self.seconds:.1f} s"
                 + ("" if self.complete else " (time limit reached)")]
        for t in self.trains:
            lines.append(f"  {t.layer:<8} {t.name}: {t.what}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"budget": self.budget, "peak": self.peak, "lower_bound": self.lower_bound,
                "scheme": self.rules,
                "trains": [{"layer": t.layer, "name": t.name, "what": t.what,
                            "parameter_bytes": t.parameter_bytes} for t in self.trains],
                "evaluated": len(self.evaluations), "seconds": round(self.seconds, 3),
                "complete": self.complete}


# ---------------------------------------------------------------------------------------
# Measuring a candidate
# ---------------------------------------------------------------------------------------

def step_function(module: ir.Module, options: StepOptions) -> func.FuncOp:
    return find_function(module, options.step)


def derive(module_text: str, context: ir.Context, scheme: Scheme,
           options: StepOptions) -> ir.Module:
    """A copy of the module with the scheme's training step derived and reordered
    (--train-autodiff, --train-prune, --train-reorder)."""
    copy = ir.Module.parse(module_text, context=context)
    derive_step(copy, replace(options, scheme=scheme))
    run_pipeline(copy, [f"train-reorder{{step={options.step}}}"])
    return copy


def planned_peak(module: ir.Module, options: StepOptions, *,
                 time_limit: float | None = None, alignment: int = ALIGNMENT) -> int:
    """Runs --plan-memory on the step; returns the arena size it writes."""
    settings = [f"function={options.step}", f"alignment={alignment}"]
    if time_limit is not None:
        settings.append(f"time-limit={time_limit:g}")
    run_pipeline(module, ["plan-memory{" + " ".join(settings) + "}"])
    return ir.IntegerAttr(module.operation.attributes[ARENA_SIZE]).value


class _Measurer:
    """Measures candidates on copies of one module, remembering the results."""

    def __init__(self, module: ir.Module, layers: list[Layer], budget: int,
                 options: StepOptions, plan_time_limit: float,
                 final_time_limit: float | None = None):
        self.text = module.operation.get_asm(enable_debug_info=True)
        self.context = module.context
        self.layers = layers
        self.budget = budget
        self.options = options
        self.plan_time_limit = plan_time_limit
        self.final_time_limit = final_time_limit
        self.results: dict[Candidate, Evaluation] = {}
        self.log: list[Evaluation] = []

    def scheme(self, candidate: Candidate) -> Scheme:
        return load_scheme({"default": "frozen", "layers": candidate.layers(self.layers)})

    def fits(self, candidate: Candidate) -> bool:
        return self.evaluate(candidate).fits

    def evaluate(self, candidate: Candidate) -> Evaluation:
        """Derives and reorders the candidate's step; a lower bound over the budget
        rejects it at once, else --plan-memory's planner (with a short time limit)
        decides."""
        if candidate in self.results:
            return self.results[candidate]
        from ..passes.plan_memory import plan_function
        start = time.perf_counter()
        module = derive(self.text, self.context, self.scheme(candidate), self.options)
        step = step_function(module, self.options)
        bound = liveness.lower_bound(step)
        peak = None
        if bound <= self.budget:
            # The heuristics first (they rarely miss the bound by much); the search
            # only when their packing is over the budget and the bound is not.
            for limit in (QUICK_PLAN_TIME_LIMIT, self.plan_time_limit):
                plan = plan_function(module, step, alignment=ALIGNMENT, time_limit=limit)
                bound = max(bound, plan.lower_bound)
                peak = plan.peak if peak is None else min(peak, plan.peak)
                if peak <= self.budget or bound > self.budget or \
                        limit >= self.plan_time_limit:
                    break
        result = Evaluation(candidate, candidate.describe(self.layers),
                            peak is not None and peak <= self.budget, peak, bound,
                            time.perf_counter() - start)
        self.results[candidate] = result
        self.log.append(result)
        return result

    def real_peak(self, candidate: Candidate) -> tuple[int, int]:
        """(arena size written by --plan-memory with its default time limit, liveness
        lower bound of the reordered step) of a candidate."""
        module = derive(self.text, self.context, self.scheme(candidate), self.options)
        bound = liveness.lower_bound(step_function(module, self.options))
        return planned_peak(module, self.options, time_limit=self.final_time_limit), bound


# ---------------------------------------------------------------------------------------
# The search
# ---------------------------------------------------------------------------------------

def choose_scheme(module: ir.Module, budget_bytes, *, forward: str = "forward",
                  time_limit: float = DEFAULT_TIME_LIMIT,
                  plan_time_limit: float = DEFAULT_PLAN_TIME_LIMIT,
                  final_time_limit: float | None = None,
                  options: StepOptions | None = None,
                  filename: str | None = None) -> BudgetChoice:
    """The sparse update scheme of `module`'s @forward that trains the most within
    `budget_bytes` (an int or a string like "128KB"); see the module docstring.

    `options` sets the optimizer of the derived step (momentum buffers count in the
    arena); `time_limit` bounds the whole search (the best scheme found so far is kept
    when it runs out), `plan_time_limit` each packing decision and `final_time_limit`
    the --plan-memory run that measures the chosen scheme (None: the pass's default;
    give the compile's own setting so that the reported peak is the compiled one).
    Raises BudgetError when not even the classifier's bias fits.
    """
    start = time.perf_counter()
    budget = parse_budget(budget_bytes)
    options = replace(options or StepOptions(), forward=forward, scheme=None)
    names = [op.sym_name.value for op in module.body.operations
             if isinstance(op, func.FuncOp)]
    if options.step in names:
        raise InputError(f"the model already has @{options.step}; a memory budget picks "
                         f"a sparse update scheme for a model with only @{forward}", filename)
    function = find_function(module, forward)
    layers = model_layers(function)
    if not layers:
        raise InputError(f"@{forward} has no conv or linear layer with parameters: there "
                         "is nothing a sparse update scheme could train", filename)
    measure = _Measurer(module, layers, budget, options, plan_time_limit, final_time_limit)
    deadline = start + time_limit
    classifier, body = layers[-1], layers[:-1]

    # 1. The classifier: its bias, then its weight (the largest ratio that fits).
    ladder = ([0.0] if classifier.bias is not None else []) + classifier.ratios()
    smallest = Candidate(classifier=ladder[0])
    if not measure.fits(smallest):
        peak, _ = measure.real_peak(smallest)
        what = "classifier bias only" if ladder[0] == 0.0 else \
            f"classifier weight {_ratio(classifier, ladder[0])}"
        raise BudgetError(f"nothing trainable fits in {format_bytes(budget)}: the smallest "
                          f"scheme ({what}) needs {format_bytes(peak)}", filename)
    best, complete = smallest, True
    for ratio in ladder[1:]:
        if time.perf_counter() > deadline:
            complete = False
            break
        candidate = Candidate(classifier=ratio)
        if not measure.fits(candidate):
            break
        best = candidate

    # 2. Biases of the last k layers before the classifier: the largest k that fits.
    if best.classifier == ladder[-1] and body and complete:
        low, high = 0, len(body)              # low fits; find the largest
        if time.perf_counter() > deadline:
            complete = False
        elif measure.fits(replace(best, bias_depth=high)):
            low = high
        while high - low > 1:
            if time.perf_counter() > deadline:
                complete = False
                break
            middle = (low + high) // 2
            if measure.fits(replace(best, bias_depth=middle)):
                low = middle
            else:
                high = middle
        best = replace(best, bias_depth=low)

        # 3. Weights of those layers, last first, each with the largest ratio that fits.
        misses = 0
        for position in range(len(body) - 1, len(body) - 1 - best.bias_depth, -1):
            layer = body[position]
            if layer.weight is None:
                continue
            taken = False
            for ratio in layer.ratios():
                if time.perf_counter() > deadline:
                    complete = False
                    break
                candidate = best.with_weight(position, ratio)
                if not measure.fits(candidate):
                    break
                best, taken = candidate, True
            misses = 0 if taken else misses + 1
            if not complete or misses >= MAX_MISSES:
                break

    # The chosen scheme through the whole pipeline (--plan-memory's own plan).
    history = [e.candidate for e in measure.log if e.fits]
    choices = [best] + [c for c in reversed(history) if c != best]
    for candidate in choices:
        peak, bound = measure.real_peak(candidate)
        if peak <= budget:
            break
    else:           # the plan pass never fits what the capacity search did
        raise BudgetError(f"nothing trainable fits in {format_bytes(budget)}: the smallest "
                          f"scheme needs {format_bytes(peak)}", filename)
    rules = {"default": "frozen", "layers": candidate.layers(layers)}
    return BudgetChoice(scheme=load_scheme(rules), rules=rules, peak=peak,
                        lower_bound=bound, budget=budget,
                        trains=_trained(function, layers, candidate),
                        candidate=candidate, evaluations=list(measure.log),
                        seconds=time.perf_counter() - start, complete=complete)


def _trained(function: func.FuncOp, layers: list[Layer],
             candidate: Candidate) -> list[Trained]:
    """What `candidate` trains, layer by layer in program order."""
    from .analysis import tensor_bytes
    args = function.entry_block.arguments
    classifier, body = layers[-1], layers[:-1]
    chosen: dict[int, float] = {}        # layer list position -> ratio (0 = bias only)
    for layer_position in range(len(body) - candidate.bias_depth, len(body)):
        if body[layer_position].bias is not None:
            chosen[layer_position] = 0.0
    for position, ratio in candidate.weights:
        chosen[position] = ratio
    chosen[len(layers) - 1] = candidate.classifier
    out = []
    for position in sorted(chosen):
        layer, ratio = layers[position], chosen[position]
        size = tensor_bytes(args[layer.bias].type) if layer.bias is not None else 0
        if ratio == 0.0:
            what = "bias"
        else:
            what = _what(layer, ratio)
            weight = tensor_bytes(args[layer.weight].type)
            k = layer.count(ratio)
            size += weight if k >= layer.channels or not layer.partial else \
                weight // layer.channels * k
        out.append(Trained(layer.key, layer.name, what, size))
    return out

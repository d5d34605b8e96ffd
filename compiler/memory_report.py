"""The memory report of a planned module: text, JSON and an SVG picture.

Everything is read back from the plan in the IR (`--plan-memory`'s attributes), so
the report shows what the code generators use:

- the arena (the module's `train.arena_size`), each function's peak (its highest
  byte) and liveness lower bound (the most bytes live at one op: no placement of this
  schedule beats it), and the gap between them;
- the tensors live at the op where the most bytes are live, with their names and
  source locations;
- the live bytes at every op;
- one rectangle per tensor storage in a time × offset picture (SVG): x is the op
  position, y the offset in the arena; the peak, the lower bound and the op with the
  most live bytes are marked, and each rectangle has a tooltip.

A *tensor* here is one storage of the plan: a value together with the values that
reuse it in place (an update, an element-wise op) or view it (a reshape) — they
share an offset. Trainable parameters and momentum buffers are reserved for the
whole function (they outlive the call). An op's planned scratch
(`train.scratch_offset`) is a tensor of kind "scratch", live while its op runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from .._mlir import ir
from .._mlir.dialects import func
from ..dialects import train
from . import liveness, memory_plan
from ..passes.plan_memory import value_offsets
from .errors import format_location
from .source import find_function

KINDS = {"parameter": "#8c6bb1", "input": "#41ab5d", "forward": "#4292c6",
         "backward": "#fd8d3c", "output": "#969696", "scratch": "#e7298a"}
"""Tensor kinds and their colours: trainable parameters and momentum buffers, data
inputs and labels, values computed before the loss (activations), after it
(gradients), and the returned loss."""


@dataclass
class Tensor:
    """One storage of the plan."""

    id: int
    name: str                      # the first value's name (train.name or op at file:line)
    kind: str
    offset: int
    size: int
    lower: int
    upper: int
    op: str = ""                   # defining op of the first value ("" for an argument)
    location: str = ""
    values: int = 1                # values sharing this storage


@dataclass
class FunctionReport:
    function: str
    peak_bytes: int                # highest byte any tensor of this function uses
    lower_bound_bytes: int
    persistent_bytes: int          # parameters and momentum buffers (whole function)
    peak_position: int             # the op with the most live bytes
    peak_op: str
    peak_location: str
    tensors: list[Tensor] = field(default_factory=list)
    live_bytes: list[int] = field(default_factory=list)      # per op position
    ops: list[tuple[str, str]] = field(default_factory=list)  # (op name, location)

    @property
    def gap_bytes(self) -> int:
        return self.peak_bytes - self.lower_bound_bytes

    @property
    def gap_percent(self) -> float:
        return 100.0 * self.gap_bytes / self.lower_bound_bytes if self.lower_bound_bytes \
            else 0.0

    def at_peak(self) -> list[Tensor]:
        """The tensors live at the op with the most live bytes, largest first."""
        t = self.peak_position
        return sorted((x for x in self.tensors if x.lower <= t < x.upper),
                      key=lambda x: (-x.size, x.offset))

    def to_json(self) -> dict:
        return {
            "function": self.function,
            "peak_bytes": self.peak_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "gap_bytes": self.gap_bytes,
            "gap_percent": round(self.gap_percent, 3),
            "persistent_bytes": self.persistent_bytes,
            "peak_position": self.peak_position,
            "peak_op": self.peak_op,
            "peak_location": self.peak_location,
            "tensors_at_peak": [asdict(t) for t in self.at_peak()],
            "live_bytes": [{"position": i, "op": op, "location": loc, "live_bytes": b}
                           for i, ((op, loc), b) in enumerate(zip(self.ops, self.live_bytes))],
            "tensors": [asdict(t) for t in self.tensors],
        }


# ---------------------------------------------------------------------------------------
# Reading the plan
# ---------------------------------------------------------------------------------------

_NAME_LOC = re.compile(r'loc\("([^"]*)"(?:\(|\)$)')


def _location(op) -> str:
    """`layer (file:line:col)`, `file:line:col` or `layer`, from the op's location
    (a name location carries the layer name the importers give)."""
    text = str(op.location)
    name = _NAME_LOC.match(text)
    where = format_location(text)
    if name and where:
        return f"{name.group(1)} ({where})"
    return where or (name.group(1) if name else "")


def _persistent(function: func.FuncOp, index: int) -> bool:
    return train.arg_role(function, index) == "trainable" or \
        train.momentum_of(function, index) is not None


def function_report(module: ir.Module, name: str) -> FunctionReport:
    """The report of planned function @name."""
    function = find_function(module, name)
    lives = liveness.lifetimes(function)
    offsets = value_offsets(function)
    number = {l.value: i for i, l in enumerate(lives)}
    parent = list(range(len(lives)))

    def root(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    # Values share a storage where an op's result has the offset of its operand.
    block = function.entry_block
    ops = list(block.operations)
    returned = list(ops[-1].operands) if ops and isinstance(ops[-1], func.ReturnOp) else []
    # In a training step (it returns updates) the first result is the loss: what is
    # computed up to it is the forward pass.
    is_step = any(train.updated_arg(function, i) is not None for i in range(len(returned)))
    loss_position = None
    for position, op in enumerate(ops):
        for result in op.results:
            r = number[result]
            if is_step and result == returned[0]:
                loss_position = position
            if offsets[r] < 0:
                continue
            for operand in op.operands:
                o = number[operand]
                if offsets[o] == offsets[r]:
                    parent[root(r)] = root(o)
                    break
    horizon = max((l.upper for l in lives), default=1)
    groups: dict[int, list[int]] = {}
    for i in range(len(lives)):
        if offsets[i] >= 0:
            groups.setdefault(root(i), []).append(i)
    num_args = len(block.arguments)
    tensors = []
    for members in groups.values():
        first = lives[members[0]]
        persistent = any(m < num_args and _persistent(function, m) for m in members)
        lower = 0 if persistent else min(lives[m].lower for m in members)
        upper = horizon if persistent else max(lives[m].upper for m in members)
        if persistent:
            kind = "parameter"
        elif members[0] < num_args:
            kind = "input"
        elif returned and any(lives[m].value == returned[0] for m in members) and \
                loss_position is not None:
            kind = "output"
        elif loss_position is None or first.position <= loss_position:
            kind = "forward"
        else:
            kind = "backward"
        if members[0] < num_args:
            label, op_name, where = train.arg_name(function, members[0]), "", ""
        else:
            owner = first.value.owner
            op_name, where = owner.name, _location(owner)
            label = f"{op_name} at {where}" if where else op_name
        tensors.append(Tensor(len(tensors), label, kind, offsets[members[0]],
                              max(lives[m].size for m in members), lower, upper,
                              op_name, where, len(members)))
    # An op's scratch (a fused bottleneck's rows, a channel of a fused backward)
    # holds its planned bytes while the op runs.
    from ..passes.plan_memory import SCRATCH_OFFSET
    for position, op in enumerate(ops):
        bytes_ = liveness.scratch_bytes(op)
        if bytes_ and SCRATCH_OFFSET in op.attributes:
            where = _location(op)
            tensors.append(Tensor(len(tensors), f"scratch of {op.name}" +
                                  (f" at {where}" if where else ""), "scratch",
                                  ir.IntegerAttr(op.attributes[SCRATCH_OFFSET]).value, bytes_,
                                  position, position + 1, op.name, where, 0))
    tensors.sort(key=lambda t: (t.lower, t.offset))
    for i, t in enumerate(tensors):
        t.id = i
    delta = [0] * (horizon + 1)
    for t in tensors:
        delta[t.lower] += t.size
        delta[t.upper] -= t.size
    live, running = [], 0
    for position in range(horizon):
        running += delta[position]
        live.append(running)
    peak_position = max(range(len(live)), key=lambda p: (live[p], -p)) if live else 0
    op_rows = [(op.name, _location(op)) for op in ops]
    peak_op, peak_location = op_rows[peak_position] if peak_position < len(op_rows) \
        else ("", "")
    return FunctionReport(
        name,
        max((t.offset + t.size for t in tensors), default=0),
        memory_plan.liveness_lower_bound(
            [memory_plan.Buffer(t.id, t.lower, t.upper, t.size) for t in tensors]),
        sum(t.size for t in tensors if t.kind == "parameter"),
        peak_position, peak_op, peak_location, tensors, live[:len(op_rows)], op_rows)


def report(module: ir.Module, functions=("train_step", "forward"), **extra) -> dict:
    """The whole report: the arena and one section per planned function present."""
    attributes = module.operation.attributes
    names = {op.sym_name.value for op in module.body.operations if isinstance(op, func.FuncOp)}
    sections = [function_report(module, f) for f in functions if f in names]
    result = dict(extra)
    result.update({
        "arena_bytes": ir.IntegerAttr(attributes["train.arena_size"]).value
        if "train.arena_size" in attributes else 0,
        "arena_alignment": ir.IntegerAttr(attributes["train.arena_alignment"]).value
        if "train.arena_alignment" in attributes else 1,
        "functions": {s.function: s.to_json() for s in sections},
    })
    return result


# ---------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------

def _kib(value: int) -> str:
    return f"{value:,} B ({value / 1024:.1f} KiB)"


def format_text(data: dict, *, rows: int | None = None) -> str:
    """The report as text: summary lines, the tensors at each function's peak and the
    live bytes per op (the first `rows` ops only, if given)."""
    lines = []
    summary = [(k, data[k]) for k in ("model", "target") if data.get(k)]
    summary.append(("arena (static, SRAM)", f"{_kib(data['arena_bytes'])}, "
                                            f"{data['arena_alignment']}-byte aligned"))
    for name, f in data["functions"].items():
        summary.append((f"  @{name} peak", f"{_kib(f['peak_bytes'])}; lower bound "
                        f"{f['lower_bound_bytes']:,} B; gap {f['gap_bytes']:,} B "
                        f"({f['gap_percent']:.2f}%)"))
    first = next(iter(data["functions"].values()), None)
    if first is not None:
        summary.append(("  parameters + momentum", f"{first['persistent_bytes']:,} B "
                                                   "(at the bottom, whole run)"))
    for key, label in (("trainable_parameter_bytes", "trainable parameters (whole)"),
                       ("frozen_parameter_bytes", "frozen parameters (flash)"),
                       ("ram_bytes", "target RAM")):
        if key in data:
            summary.append((label, f"{data[key]:,} B"))
    width = max(len(k) for k, _ in summary)
    lines += [f"{k:<{width}}  {v}" for k, v in summary]
    for name, f in data["functions"].items():
        where = f" at {f['peak_location']}" if f["peak_location"] else ""
        most = f["live_bytes"][f["peak_position"]]["live_bytes"] if f["live_bytes"] else 0
        lines += ["", f"@{name}: {most:,} B live at op {f['peak_position']} "
                  f"({f['peak_op']}{where}):",
                  f"  {'offset':>9} {'bytes':>9}  {'live':<13} {'kind':<9} tensor"]
        for t in f["tensors_at_peak"]:
            lines.append(f"  {t['offset']:>9} {t['size']:>9}  "
                         f"{'[' + str(t['lower']) + ', ' + str(t['upper']) + ')':<13} "
                         f"{t['kind']:<9} {t['name']}")
        lines += ["", f"@{name}: live bytes per op:"]
        shown = f["live_bytes"] if rows is None else f["live_bytes"][:rows]
        for row in shown:
            where = f"  {row['location']}" if row["location"] else ""
            lines.append(f"  {row['position']:>5} {row['live_bytes']:>10}  {row['op']}{where}")
        if len(shown) < len(f["live_bytes"]):
            lines.append(f"  ... {len(f['live_bytes']) - len(shown)} more ops")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------------------

def _nice_step(span: float, ticks: int) -> float:
    raw = span / max(ticks, 1)
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def render_svg(data: dict, function: str, *, width: int = 1200, height: int = 720) -> str:
    """A time × offset picture of one function's plan: one rectangle per tensor."""
    f = data["functions"][function]
    left, right, top, bottom = 84, 24, 64, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    horizon = max([t["upper"] for t in f["tensors"]] + [len(f["live_bytes"]), 1])
    ymax = max(data["arena_bytes"], f["peak_bytes"], f["lower_bound_bytes"], 1)
    ymax = int(ymax * 1.04) + 1

    def x(t: float) -> float:
        return left + plot_w * t / horizon

    def y(b: float) -> float:
        return top + plot_h * (1 - b / ymax)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f"<title>{escape(f'memory plan of @{function}')}</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>']
    title = (f"@{function}" + (f" of {data['model']}" if data.get("model") else "")
             + f": peak {f['peak_bytes']:,} B, lower bound {f['lower_bound_bytes']:,} B "
             f"(gap {f['gap_percent']:.2f}%), arena {data['arena_bytes']:,} B")
    out.append(f'<text x="{left}" y="22" font-size="15" font-weight="bold">'
               f"{escape(title)}</text>")
    # Legend.
    lx = left
    for kind, colour in KINDS.items():
        out.append(f'<rect x="{lx}" y="34" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="44">{kind}</text>')
        lx += 24 + 7 * len(kind) + 10
    out.append(f'<line x1="{lx}" y1="40" x2="{lx + 24}" y2="40" stroke="black" '
               f'stroke-width="1.5"/><text x="{lx + 28}" y="44">live bytes</text>')
    # Axes and grid.
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
               f'fill="#fafafa" stroke="#444"/>')
    unit, unit_name = (1024, "KiB") if ymax >= 8192 else (1, "B")
    step = _nice_step(ymax / unit, 8) * unit
    tick = 0.0
    while tick <= ymax:
        out.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{left + plot_w}" '
                   f'y2="{y(tick):.1f}" stroke="#e0e0e0"/>')
        label = f"{tick / unit:.0f} {unit_name}"
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                   f"{label}</text>")
        tick += step
    step = max(1, int(_nice_step(horizon, 10)))
    for t in range(0, horizon + 1, step):
        out.append(f'<line x1="{x(t):.1f}" y1="{top + plot_h}" x2="{x(t):.1f}" '
                   f'y2="{top + plot_h + 4}" stroke="#444"/>')
        out.append(f'<text x="{x(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                   f"{t}</text>")
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 14}" text-anchor="middle">'
               "op position (program order)</text>")
    out.append(f'<text x="16" y="{top + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + plot_h / 2})">offset in the arena</text>')
    # One rectangle per tensor, with a tooltip; a label where it fits.
    for t in f["tensors"]:
        x0, x1 = x(t["lower"]), x(t["upper"])
        y0, y1 = y(t["offset"] + t["size"]), y(t["offset"])
        tip = (f"{t['name']}\n{t['kind']}, {t['size']:,} B at offset {t['offset']:,}\n"
               f"live [{t['lower']}, {t['upper']})"
               + (f", {t['values']} values share it" if t["values"] > 1 else ""))
        out.append(f'<g><title>{escape(tip)}</title>'
                   f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{max(x1 - x0, 0.5):.2f}" '
                   f'height="{max(y1 - y0, 0.5):.2f}" fill="{KINDS[t["kind"]]}" '
                   f'fill-opacity="0.85" stroke="white" stroke-width="0.5"/></g>')
        if x1 - x0 > 70 and y1 - y0 > 13:
            layer = t["location"].split(" (")[0] if " (" in t["location"] or \
                ":" not in t["location"] else ""
            text = t["name"] if t["kind"] in ("parameter", "input") else \
                " ".join(filter(None, (t["op"].removeprefix("train."), layer)))
            room = int((x1 - x0 - 6) / 6.2)
            text = text if len(text) <= room else text[:max(room - 1, 1)] + "…"
            out.append(f'<text x="{x0 + 3:.2f}" y="{(y0 + y1) / 2 + 4:.2f}" fill="white" '
                       f'pointer-events="none">{escape(text)}</text>')
    # Live bytes per op (a step curve): the lower bound is its maximum.
    if f["live_bytes"]:
        points = []
        for row in f["live_bytes"]:
            p, b = row["position"], row["live_bytes"]
            points.append(f"{x(p):.2f},{y(b):.2f} {x(p + 1):.2f},{y(b):.2f}")
        out.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="black" '
                   'stroke-width="1.2"/>')
    # The peak, the lower bound and the op with the most live bytes.
    for value, colour, label, dy in (
            (f["peak_bytes"], "#d7301f", f"peak {f['peak_bytes']:,} B", -5),
            (f["lower_bound_bytes"], "#238b45", f"lower bound {f['lower_bound_bytes']:,} B",
             13 if f["peak_bytes"] - f["lower_bound_bytes"] < ymax * 0.03 else -5)):
        out.append(f'<line x1="{left}" y1="{y(value):.2f}" x2="{left + plot_w}" '
                   f'y2="{y(value):.2f}" stroke="{colour}" stroke-width="1.5" '
                   f'stroke-dasharray="6 3"/>')
        out.append(f'<text x="{left + plot_w - 4}" y="{y(value) + dy:.2f}" '
                   f'text-anchor="end" fill="{colour}" font-weight="bold">'
                   f"{escape(label)}</text>")
    p, op = f["peak_position"], f["peak_op"]
    where = f" at {f['peak_location']}" if f["peak_location"] else ""
    marker = x(p + 0.5)
    out.append(f"<g><title>{escape(f'most live bytes at op {p}: {op}{where}')}</title>"
               f'<line x1="{marker:.2f}" y1="{top}" x2="{marker:.2f}" y2="{top + plot_h}" '
               'stroke="#d7301f" stroke-width="1" stroke-dasharray="2 2"/></g>')
    anchor, shift = ("start", 4) if marker < left + plot_w * 0.6 else ("end", -4)
    out.append(f'<text x="{marker + shift:.2f}" y="{top + 12}" text-anchor="{anchor}" '
               f'fill="#d7301f">{escape(f"most live: op {p} ({op})")}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def files(data: dict, prefix: str = "memory_report") -> dict[str, str]:
    """PREFIX.txt, PREFIX.json and one SVG per function: PREFIX.svg for the first
    (the training step), PREFIX.FUNCTION.svg for the others."""
    out = {f"{prefix}.txt": format_text(data),
           f"{prefix}.json": json.dumps(data, indent=1) + "\n"}
    for i, name in enumerate(data["functions"]):
        out[f"{prefix}.svg" if i == 0 else f"{prefix}.{name}.svg"] = render_svg(data, name)
    return out


def write(data: dict, directory: Path, prefix: str = "memory_report") -> list[Path]:
    """Writes the report's files into `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files(data, prefix).items():
        (directory / name).write_text(text)
        paths.append(directory / name)
    return paths

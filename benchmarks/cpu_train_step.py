"""Training-step time and memory on this machine's CPU: tcc (--target=cpu) against
PyTorch eager and torch.compile (inductor), side by side in one run.

    python benchmarks/cpu_train_step.py [--models mlp,lenet,...] [--batches 1,32]
        [--updates full,sparse] [--threads 1] [--seconds 1.0] [--no-inductor]
        [--models-dir DIR] [--json FILE]

Models: the float zoo (examples/zoo) and MCUNet-5FPS in float (the TTE paper's int8
model from DIR = ../shared/models/tte, dequantized: weights w·s_w, biases b·s_x·s_w,
ReLU6 where the int8 layer's output range starts at 0, a fresh 10-class head), at each
batch size, with two updates:

- full: every parameter trained;
- sparse: biases everywhere plus the weights of the last two conv/linear layers (tcc:
  the scheme {"default": "bias", "layers": {...: "full"}}; PyTorch: requires_grad on
  the same tensors, so autograd prunes the same backward work).

Each framework runs SGD (lr 0.05) on one fixed batch: warm-up steps (inductor
compiles there), then --rounds interleaved rounds (tcc, eager, inductor, tcc, ...) of
timed steps, --seconds per engine in all; the median of the rounds' median step times
is reported (per-round medians are in the JSON). Memory: the peak resident memory
during the timed steps above the resident memory before them (freed heap returned to
the OS first with malloc_trim, the high-water mark reset through
/proc/self/clear_refs), i.e. the working memory of a step beyond the model's
persistent state (parameters); for tcc, that measured figure (kernel scratch: im2col
packings, padded operands) plus the arena, computed exactly (`train.arena_size`; it is
a global of the library, resident before the timed steps), also shown alone as
"arena MB". PyTorch runs on --threads threads (default 1: tcc's code is
single-threaded). The first-step losses of tcc and eager are compared (the importer
folds eval-mode batch norms, so they agree to rounding).

Then the compile cache: MCUNet-5FPS (float) compiled from its .mlir with an empty
cache directory (the first compile, printed), then again in a fresh Python process (a
cache hit: the seconds of that `tcc.compile` call, and of `import tcc` before it).
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import importlib.util
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "examples" / "zoo"
ZOO_MODELS = {"mlp": ("mlp.py", "MLP"), "lenet": ("lenet.py", "LeNet"),
              "dscnn": ("dscnn.py", "DSCNN"), "resnet8": ("resnet8.py", "ResNet8"),
              "mobilenetv2": ("mobilenetv2.py", "MobileNetV2"),
              "transformer": ("transformer.py", "TransformerEncoder")}
ALL_MODELS = (*ZOO_MODELS, "mcunet-5fps")
LR = 0.05


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------

def zoo_model(name: str):
    """(module in eval mode, input shape) of a zoo model."""
    file, cls = ZOO_MODELS[name]
    spec = importlib.util.spec_from_file_location(f"_zoo_{name}", ZOO / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import torch
    torch.manual_seed(0)
    net = getattr(module, cls)()
    # Non-trivial batch-norm statistics, as a trained model has.
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval(), tuple(module.INPUT_SHAPE)


def mcunet_float(models_dir: Path, classes: int = 10):
    """MCUNet-5FPS dequantized to float32, with a fresh `classes`-way head."""
    import torch
    from torch import nn

    layout = json.loads((models_dir / "mcunet-5fps.json").read_text())
    arrays = np.load(models_dir / "mcunet-5fps.npz")

    def value(node):
        return arrays[node["array"]] if isinstance(node, dict) and "array" in node else node

    def conv(node):
        p = node["params"]
        w = value(p["weight"]).astype(np.float32)
        s_w = value(p["w_scales"]).astype(np.float64)
        out_c, in_per_group, kh, kw = w.shape
        layer = nn.Conv2d(node["in_channel"], out_c, (kh, kw), node["stride"], (kh - 1) // 2,
                          groups=node["groups"], bias=True)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy((w * s_w[:, None, None, None]).astype(np.float32)))
            bias = value(p["bias"]).astype(np.float64) * float(p["x_scale"]) * s_w
            layer.bias.copy_(torch.from_numpy(bias.astype(np.float32)))
        relu6 = int(p["y_zero"]) == -128        # output range starts at 0: ReLU6
        return nn.Sequential(layer, nn.ReLU6()) if relu6 else nn.Sequential(layer)

    class Block(nn.Module):
        def __init__(self, node):
            super().__init__()
            self.pointwise1 = conv(node["pointwise1"]) if node["pointwise1"] else nn.Identity()
            self.depthwise = conv(node["depthwise"])
            self.pointwise2 = conv(node["pointwise2"])
            self.residual = node["residual"] is not None

        def forward(self, x):
            y = self.pointwise2(self.depthwise(self.pointwise1(x)))
            return x + y if self.residual else y

    class MCUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.first_conv = conv(layout["first_conv"])
            self.blocks = nn.Sequential(*(Block(b) for b in layout["blocks"]))
            self.pool = nn.AdaptiveAvgPool2d(1)
            torch.manual_seed(0)
            self.classifier = nn.Linear(layout["classifier"]["in_channel"], classes)

        def forward(self, x):
            x = self.pool(self.blocks(self.first_conv(x)))
            return self.classifier(torch.flatten(x, 1))

    return MCUNet().eval(), (1, 3, 128, 128)


def load_model(name: str, models_dir: Path):
    if name == "mcunet-5fps":
        return mcunet_float(models_dir)
    return zoo_model(name)


def last_layers(net, count: int = 2) -> list[str]:
    """Module paths of the last `count` conv/linear layers (registration order)."""
    from torch import nn
    names = [n for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return names[-count:]


# ---------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------

def _status(key: str) -> int:
    """A /proc/self/status field in bytes."""
    with open("/proc/self/status") as status:
        match = re.search(rf"^{key}:\s+(\d+) kB", status.read(), re.M)
    return int(match.group(1)) * 1024 if match else 0


def _release_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def measure(step, seconds: float, warmup: int = 3, min_steps: int = 5) -> dict:
    """Median seconds per call of `step()` and the peak memory above the baseline."""
    for _ in range(warmup):
        step()
    _release_memory()
    exact_peak = _reset_peak()
    base = _status("VmRSS")
    times = []
    deadline = time.perf_counter() + seconds
    while len(times) < min_steps or time.perf_counter() < deadline:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = _status("VmHWM") - base if exact_peak else None
    return {"ms": 1e3 * statistics.median(times), "steps": len(times),
            "peak_mb": None if peak is None else max(peak, 0) / 2**20}


# ---------------------------------------------------------------------------------------
# The three frameworks
# ---------------------------------------------------------------------------------------

def torch_trainer(net, trainable: set[str] | None, x, y, *, compiled: bool):
    import torch
    import torch.nn.functional as F
    net = copy.deepcopy(net)
    params = []
    for name, p in net.named_parameters():
        p.requires_grad_(trainable is None or name in trainable)
        if p.requires_grad:
            params.append(p)
    optimizer = torch.optim.SGD(params, lr=LR)
    model = torch.compile(net) if compiled else net

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


def sparse_trainable(net) -> set[str]:
    """PyTorch's side of the sparse update: every bias and the last two layers."""
    last = last_layers(net)
    return {name for name, _ in net.named_parameters()
            if name.endswith(".bias") or name.rpartition(".")[0] in last}


def sparse_scheme(net) -> dict:
    return {"default": "bias", "layers": {name: "full" for name in last_layers(net)}}


def arena_bytes(model) -> int:
    """The compiled step's arena, exactly: `train.arena_size` of the module as the cpu
    target plans it (compiler/targets/cpu_library.py's plan_memory, on a copy)."""
    from tcc._mlir import ir
    from tcc.compiler.targets import cpu_library
    source = model.module
    module = ir.Module.parse(str(source.operation), context=source.context)
    cpu_library.plan_memory(module, model.signature)
    attributes = module.operation.attributes
    return ir.IntegerAttr(attributes["train.arena_size"]).value \
        if "train.arena_size" in attributes else 0


def interleaved(steps: dict, rounds: int, seconds: float) -> dict:
    """Each engine's `measure` in `rounds` interleaved rounds (tcc, eager, inductor,
    tcc, ...), so that a slow spell of a shared machine hits every engine alike: the
    median of the rounds' medians, and the largest peak."""
    runs = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            runs[name].append(measure(step, seconds / rounds, warmup=1))
    result = {}
    for name, results in runs.items():
        peaks = [r["peak_mb"] for r in results if r["peak_mb"] is not None]
        result[name] = {"ms": statistics.median(r["ms"] for r in results),
                        "steps": sum(r["steps"] for r in results),
                        "rounds_ms": [r["ms"] for r in results],
                        "peak_mb": max(peaks) if peaks else None}
    return result


def run_config(name, net, shape, batch, update, args, mlir_path, cache_dir) -> dict:
    import torch
    import tcc
    from tcc.compiler.errors import TccError
    generator = torch.Generator().manual_seed(batch)
    x = torch.randn((batch, *shape[1:]), generator=generator)
    classes = net(x[:1]).shape[-1]
    y = torch.randint(0, classes, (batch,), generator=generator)
    row = {"model": name, "batch": batch, "update": update}
    scheme = sparse_scheme(net) if update == "sparse" else None
    trainable = sparse_trainable(net) if update == "sparse" else None
    steps = {}

    start = time.perf_counter()
    x_np, y_np = x.numpy(), y.numpy().astype(np.int32)
    tcc_loss = None
    try:
        model = tcc.compile(mlir_path, "cpu", scheme=scheme, lr=LR, cache_dir=cache_dir)
        row["tcc_compile_s"] = time.perf_counter() - start
        row["tcc_arena_mb"] = arena_bytes(model) / 2**20
        tcc_loss = model.train_step(x_np, y_np)          # the first step's loss
        steps["tcc"] = lambda: model.train_step(x_np, y_np)
    except TccError as error:
        row["tcc"] = {"error": str(error)[:200]}

    step = torch_trainer(net, trainable, x, y, compiled=False)
    eager_loss = step().item()
    steps["eager"] = step
    if tcc_loss is not None:
        row["loss_rel_diff"] = abs(tcc_loss - eager_loss) / max(abs(eager_loss), 1e-12)
    if args.inductor:
        try:
            step = torch_trainer(net, trainable, x, y, compiled=True)
            start = time.perf_counter()
            step()
            row["inductor_compile_s"] = time.perf_counter() - start
            steps["inductor"] = step
        except Exception as error:  # noqa: BLE001 - reported, not fatal
            row["inductor"] = {"error": f"{type(error).__name__}: {error}"[:200]}
    row.update(interleaved(steps, args.rounds, args.seconds))
    if "tcc" in steps and row["tcc"]["peak_mb"] is not None:
        # The arena is a global of the library: resident before the timed steps.
        row["tcc"]["peak_mb"] += row["tcc_arena_mb"]
    return row


def import_to_file(net, shape, batch, folder: Path, name: str) -> Path:
    import torch
    from tcc.compiler.frontends.pytorch import import_module
    x = torch.zeros((batch, *shape[1:]))
    imported = import_module(net, (x,))
    path, _ = imported.write(folder / f"{name}-b{batch}.mlir")
    return path


# ---------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------

def _fmt(value, digits=3):
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def table(rows) -> str:
    header = ("model", "batch", "update", "tcc ms", "eager ms", "induct ms", "eager/tcc",
              "induct/tcc", "tcc MB", "arena MB", "eager MB", "induct MB", "loss Δ",
              "compile s")
    lines = [header]
    for r in rows:
        tcc_ms, eager_ms = r["tcc"].get("ms"), r["eager"]["ms"]
        inductor = r.get("inductor", {})
        ind_ms = inductor.get("ms")
        lines.append((r["model"], str(r["batch"]), r["update"],
                      _fmt(tcc_ms) if tcc_ms else "error", _fmt(eager_ms),
                      _fmt(ind_ms) if ind_ms else ("error" if "error" in inductor else "-"),
                      f"{eager_ms / tcc_ms:.2f}x" if tcc_ms else "-",
                      f"{ind_ms / tcc_ms:.2f}x" if ind_ms and tcc_ms else "-",
                      _fmt(r["tcc"].get("peak_mb")), _fmt(r.get("tcc_arena_mb")),
                      _fmt(r["eager"]["peak_mb"]),
                      _fmt(inductor.get("peak_mb")),
                      f"{r['loss_rel_diff']:.1e}" if "loss_rel_diff" in r else "-",
                      f"{r['tcc_compile_s']:.2f}" if "tcc_compile_s" in r else "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) if i > 2 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(line, widths)))
                     for line in lines)


FRESH_COMPILE = """
import sys, time
start = time.perf_counter()
import tcc
imported = time.perf_counter()
model = tcc.compile(sys.argv[1], "cpu", cache_dir=sys.argv[2])
done = time.perf_counter()
print(imported - start, done - imported, model.cache_hit)
"""


def cache_check(models_dir: Path, folder: Path) -> dict:
    """First compile of MCUNet-5FPS (float) from its .mlir with an empty cache (in this
    process), then the second in a fresh Python process (a cache hit): the seconds of
    its `tcc.compile` call, and of `import tcc` before it."""
    import subprocess
    import tcc
    net, shape = mcunet_float(models_dir)
    path = import_to_file(net, shape, 1, folder, "mcunet-5fps-cache")
    cache_dir = folder / "cache-check"
    start = time.perf_counter()
    first = tcc.compile(path, "cpu", cache_dir=cache_dir)
    first_s = time.perf_counter() - start
    run = subprocess.run([sys.executable, "-c", FRESH_COMPILE, str(path), str(cache_dir)],
                         capture_output=True, text=True, cwd=folder)
    if run.returncode != 0:
        return {"first_compile_s": first_s, "error": run.stderr.strip()[-300:]}
    import_s, second_s, hit = run.stdout.split()
    second = tcc.compile(path, "cpu", cache_dir=cache_dir)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    same = bool(np.array_equal(first.infer(x), second.infer(x)))
    return {"first_compile_s": first_s, "second_compile_s": float(second_s),
            "second_import_s": float(import_s), "second_was_cache_hit": hit == "True",
            "same_logits": same}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(ALL_MODELS))
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--updates", default="full,sparse")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="timed seconds per engine and configuration")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the engines (median of medians)")
    parser.add_argument("--no-inductor", dest="inductor", action="store_false")
    parser.add_argument("--no-cache-check", dest="cache_check", action="store_false")
    parser.add_argument("--models-dir", type=Path,
                        default=REPO / ".." / "shared" / "models" / "tte")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)

    import torch
    from tcc.compiler.targets import cpu_library
    try:
        cpu_library.require_cpu_target()
    except Exception as error:  # noqa: BLE001
        print(error, file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        print(f"unknown models: {', '.join(unknown)} (known: {', '.join(ALL_MODELS)})",
              file=sys.stderr)
        return 1
    has_mcunet = (args.models_dir / "mcunet-5fps.json").is_file()
    if "mcunet-5fps" in models and not has_mcunet:
        print(f"skipping mcunet-5fps: no mcunet-5fps.json in {args.models_dir}", file=sys.stderr)
        models.remove("mcunet-5fps")
    batches = [int(b) for b in args.batches.split(",")]
    updates = [u for u in args.updates.split(",") if u]
    print(f"# cpu: {os.cpu_count()} cores; PyTorch {torch.__version__} on "
          f"{torch.get_num_threads()} thread(s); tcc single-threaded; SGD lr {LR}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tcc-bench-") as tmp:
        folder = Path(tmp)
        for name in models:
            net, shape = load_model(name, args.models_dir)
            for batch in batches:
                path = import_to_file(net, shape, batch, folder, name)
                for update in updates:
                    row = run_config(name, net, shape, batch, update, args, path,
                                     folder / "cache")
                    rows.append(row)
                    print(table([row]).splitlines()[1], flush=True)
        print()
        print(table(rows))
        report = {"rows": rows, "threads": torch.get_num_threads()}
        if args.cache_check and has_mcunet:
            check = cache_check(args.models_dir, folder)
            report["cache"] = check
            if "error" in check:
                print(f"\nMCUNet-5FPS (float): first compile {check['first_compile_s']:.2f} s; "
                      f"the second, in a fresh process, failed: {check['error']}")
            else:
                print(f"\nMCUNet-5FPS (float) from .mlir: first compile "
                      f"{check['first_compile_s']:.2f} s; second, in a fresh process, "
                      f"{check['second_compile_s'] * 1e3:.0f} ms (after import tcc "
                      f"{check['second_import_s'] * 1e3:.0f} ms; cache hit: "
                      f"{check['second_was_cache_hit']}, same logits: {check['same_logits']})")
    batch1 = [r for r in rows if r["batch"] == 1]
    faster = [r for r in batch1 if r["tcc"].get("ms", float("inf")) < r["eager"]["ms"]]
    print(f"\ntcc faster than eager at batch 1: {len(faster)}/{len(batch1)}")
    for r in rows:
        for framework in ("tcc", "inductor"):
            if "error" in r.get(framework, {}):
                print(f"{r['model']} b{r['batch']} {r['update']} {framework}: "
                      f"{r[framework]['error']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

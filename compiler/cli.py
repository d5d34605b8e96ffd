"""`tcc`: the compiler's command line. Parses arguments and calls the driver.

  tcc --target=cortex-m7 model.mlir -o OUT [--run]    C project (+ train in qemu)
  tcc --target=cpu model.mlir -o OUT [--run]          shared library + model.h (+ train)
  tcc --target=gpu model.mlir -o OUT [--run]          planned module (+ train with Triton)
  tcc run model.mlir --function NAME --inputs in.npz -o out.npz [--target=cpu|gpu|cortex-m7]
  tcc import-torch model.py:Class --input-shape 1x3x32x32 -o model.mlir
  tcc import-tte MODEL.pkl|MODEL.json [--num-classes N] -o model.mlir
  tcc import-tosa model.mlir -o model.mlir
  tcc analyze model.mlir [--scheme FILE [--scheme-key KEY]] [--json]
  tcc plan-memory buffers.csv -o offsets.csv [--capacity N] [--time-limit S]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import driver
from .cli_support import guarded_main
from .errors import InputError


class _Parser(argparse.ArgumentParser):
    """argparse that raises InputError instead of exiting with code 2."""

    def error(self, message):
        raise InputError(message)


def _training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (0.05)")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--weights", type=Path, help=".npz of initial parameters by name")
    parser.add_argument("--seed", type=int, default=0, help="seed of the default init and data")
    parser.add_argument("--scheme", help="sparse update scheme (JSON, tcc's or the paper's "
                                         "format); its optimizer entries take precedence")
    parser.add_argument("--scheme-key", help="which scheme of a file holding several")
    parser.add_argument("--optimizer", choices=["sgd", "momentum"], default="sgd")
    parser.add_argument("--momentum", type=float, default=0.9, help="with --optimizer momentum")
    parser.add_argument("--no-qas", action="store_true",
                        help="int8 SGD without quantization-aware scaling")
    parser.add_argument("--budget", type=_budget, metavar="SIZE",
                        help="pick a sparse update scheme whose arena fits, e.g. 128KB")
    parser.add_argument("--fuse-bottlenecks", choices=["auto", "always", "never"],
                        default="auto",
                        help="Cortex-M targets: run frozen int8 inverted bottlenecks row "
                             "band by row band (less SRAM, more instructions): when the "
                             "plan does not fit otherwise (auto), whenever it saves "
                             "memory (always), or never")
    parser.add_argument("--gradients", choices=["float", "int16"],
                        help="Cortex-M targets, int8 models: the backward pass in f32 "
                             "(default with an FPU) or int16 fixed point (default on "
                             "cortex-m3), its exponents calibrated on the training data")


def _budget(text: str) -> int:
    from .budget import parse_budget
    return parse_budget(text)


def _options(args) -> driver.TrainingOptions:
    if args.scheme_key and not args.scheme:
        raise InputError("--scheme-key needs --scheme")
    scheme = f"{args.scheme}#{args.scheme_key}" if args.scheme_key else args.scheme
    return driver.TrainingOptions(lr=args.lr, weight_decay=args.weight_decay,
                                  weights=args.weights, seed=args.seed, scheme=scheme,
                                  optimizer=args.optimizer, momentum=args.momentum,
                                  qas=not args.no_qas, budget=args.budget,
                                  target=args.target,
                                  fuse_bottlenecks=args.fuse_bottlenecks,
                                  gradients=args.gradients,
                                  calibration_data=getattr(args, "data", None))


def compile_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tcc", description="Compile a model's training step for a target.",
                     epilog="Also: tcc run MODEL --function NAME --inputs IN.npz -o OUT.npz; "
                            "tcc import-torch|import-tte|import-tosa MODEL -o OUT.mlir; "
                            "tcc analyze MODEL --scheme FILE")
    parser.add_argument("model", type=Path, help="model .mlir (train dialect)")
    parser.add_argument("--target", default="cortex-m7",
                        help="cortex-m7 (default), cortex-m4, cortex-m3 (C projects), cpu (a shared "
                             "library compiled through LLVM for this machine) or gpu (Triton)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output directory")
    _training_arguments(parser)
    parser.add_argument("--run", action="store_true",
                        help="build and train (in qemu for Cortex-M targets)")
    parser.add_argument("--host", action="store_true",
                        help="with --run on a Cortex-M target: run on this machine")
    parser.add_argument("--steps", type=int, default=20, help="training steps for --run (20)")
    parser.add_argument("--data", type=Path,
                        help="training data .npz ('inputs', 'labels'); default: bundled digits")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="also write the memory report (text, JSON, SVG) into DIR")
    return parser


def run_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tcc run", description="Run a function of a model on a target "
                                                 "(default: the reference interpreter).")
    parser.add_argument("model", type=Path)
    parser.add_argument("--function", default="train_step")
    parser.add_argument("--inputs", type=Path, required=True,
                        help=".npz of arguments, keyed by name, 'arg<i>' or position")
    parser.add_argument("-o", "--output", type=Path, required=True, help="results .npz")
    parser.add_argument("--target", default="reference",
                        help="reference (the interpreter), cpu (LLVM-compiled), gpu (Triton), "
                             "cortex-m7, cortex-m4 or cortex-m3 (C built with arm-none-eabi-gcc, run in "
                             "qemu)")
    _training_arguments(parser)
    return parser


def _shape(text: str) -> list[int]:
    try:
        shape = [int(d) for d in text.lower().split("x")]
    except ValueError:
        shape = []
    if not shape or min(shape) < 1:
        raise InputError(f"--input-shape expects sizes like 1x3x32x32, got '{text}'")
    return shape


def import_parser(kind: str) -> argparse.ArgumentParser:
    what = {"torch": "a PyTorch module (FILE.py:Class, constructed without arguments)",
            "tte": "a Tiny Training Engine int8 model (.pkl as shipped, or .json + .npz)",
            "tosa": "a TOSA .mlir file"}[kind]
    parser = _Parser(prog=f"tcc import-{kind}",
                     description=f"Import {what} as train-dialect MLIR plus weights (.npz).")
    parser.add_argument("model", help=what)
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="output .mlir (the weights go to the same name with .npz)")
    if kind == "torch":
        parser.add_argument("--input-shape", type=_shape, required=True,
                            help="example input shape, e.g. 1x3x32x32")
    if kind == "tte":
        parser.add_argument("--num-classes", type=int,
                            help="replace the classifier by a fresh N-class head")
        parser.add_argument("--rounding", default="float_scale",
                            choices=["float_scale", "multiplier_shift"],
                            help="requantization rounding (float_scale: the paper's)")
        parser.add_argument("--seed", type=int, default=0, help="seed of a fresh head")
    return parser


def _import(kind: str, argv: list[str]) -> int:
    args = import_parser(kind).parse_args(argv)
    if args.output.suffix != ".mlir":
        raise InputError("the output must be an .mlir file", str(args.output))
    options = {key: value for key, value in vars(args).items() if key not in ("model", "output")}
    mlir, weights, imported = driver.import_model(kind, args.model, args.output, **options)
    print(f"wrote {mlir} and {weights} ({len(imported.weights)} parameters)")
    return 0


def _compile(argv: list[str]) -> int:
    args = compile_parser().parse_args(argv)
    if args.steps < 1:
        raise InputError("--steps must be at least 1")
    driver.check_target(args.target)
    if args.target in ("cpu", "gpu") and args.host:
        raise InputError(f"--host applies to Cortex-M targets, not --target={args.target}")
    model = driver.prepare(args.model, _options(args))
    for note in model.notes:
        print(note)
    if args.target == "cpu":
        report = driver.compile_cpu(model, args.output, args.report, str(args.model))
        print(f"wrote {args.output}/ for cpu: {Path(report['library']).name} and model.h, "
              f"arena {report['arena_bytes']} B")
    elif args.target == "gpu":
        report = driver.compile_gpu(model, args.output, args.report, str(args.model))
        print(f"wrote {args.output}/ for gpu: the planned model.mlir, device arena "
              f"{report['arena_bytes']} B")
    else:
        report = driver.compile_cortex_m(model, args.target, args.output, args.report,
                                         str(args.model))
        print(f"wrote {args.output}/ for {args.target}: arena {report['arena_bytes']} B, "
              f"trainable parameters {report['trainable_parameter_bytes']} B")
    if not args.run:
        return 0
    inputs, labels = driver.training_batches(model, args.steps, args.data)
    if args.target == "cpu":
        where = "this machine (cpu)"
        losses = driver.train_on_host_library(args.output, inputs, labels)
    elif args.target == "gpu":
        where = "the GPU target"
        losses = driver.train_on_gpu(model, inputs, labels)
    else:
        where = "host" if args.host else f"qemu ({args.target})"
        losses = driver.train_on_device(args.output, args.target, inputs, labels,
                                        host=args.host)
    expected = driver.reference_losses(model, inputs, labels)
    for step, loss in enumerate(losses, start=1):
        print(f"step {step:3d}  loss {loss:.6f}")
    worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(losses, expected))
    print(f"{len(losses)} steps on {where}; max relative difference from the "
          f"reference interpreter: {worst:.2e}")
    return 0


def _run(argv: list[str]) -> int:
    args = run_parser().parse_args(argv)
    names = driver.run_function_file(args.model, args.function, args.inputs, args.output,
                                     _options(args), args.target)
    print(f"wrote {args.output}: {', '.join(names)}")
    return 0


def analyze_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tcc analyze",
                     description="Memory of a model's training step under a sparse update "
                                 "scheme: bytes saved for backward, trainable parameter, "
                                 "gradient and momentum bytes.")
    parser.add_argument("model", type=Path, help="model .mlir (@forward, or with a @train_step)")
    parser.add_argument("--scheme", help="scheme file (JSON: tcc's or the paper's format)")
    parser.add_argument("--scheme-key",
                        help="which scheme of a file holding several, e.g. mcunet-5fps/49kb")
    parser.add_argument("--optimizer", choices=["sgd", "momentum"],
                        help="default: the scheme's, else sgd")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--no-qas", action="store_true",
                        help="int8 SGD without quantization-aware scaling")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--details", action="store_true",
                        help="list every saved activation and updated parameter")
    return parser


def _analyze(argv: list[str]) -> int:
    from . import analysis
    args = analyze_parser().parse_args(argv)
    if args.scheme_key and not args.scheme:
        raise InputError("--scheme-key needs --scheme")
    scheme = f"{args.scheme}#{args.scheme_key}" if args.scheme_key else args.scheme
    options = analysis.StepOptions(scheme=scheme, optimizer=args.optimizer, lr=args.lr,
                                   momentum=args.momentum, weight_decay=args.weight_decay,
                                   qas=False if args.no_qas else None)
    report = analysis.analyze_file(args.model, options)
    print(analysis.to_json_text(report) if args.json else report.table(args.details))
    return 0


def plan_memory_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tcc plan-memory",
                     description="Static memory planning: offsets for buffers with known "
                                 "lifetimes in one arena (heuristics, then an exact "
                                 "branch and bound under a time limit).")
    parser.add_argument("buffers", type=Path,
                        help="CSV of id,lower,upper,size rows (live on [lower, upper))")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="CSV of id,offset rows to write")
    parser.add_argument("--capacity", type=int, metavar="N",
                        help="arena bytes: find any packing within N (fail if none)")
    parser.add_argument("--time-limit", type=float, default=2.0, metavar="S",
                        help="seconds for the search (2.0); without --capacity it "
                             "also stops at a node budget proportional to S, so that "
                             "the offsets do not depend on the machine's load")
    parser.add_argument("--alignment", type=int, default=1, metavar="A",
                        help="offsets are multiples of A bytes (1)")
    return parser


def _plan_memory(argv: list[str]) -> int:
    from . import memory_plan
    args = plan_memory_parser().parse_args(argv)
    if args.capacity is not None and args.capacity < 0:
        raise InputError("--capacity must not be negative")
    if not args.time_limit >= 0:
        raise InputError("--time-limit must not be negative")
    if args.alignment < 1:
        raise InputError("--alignment must be at least 1")
    buffers = memory_plan.read_buffers_csv(args.buffers)
    result = memory_plan.plan(buffers, capacity=args.capacity, time_limit=args.time_limit,
                              alignment=args.alignment)
    memory_plan.write_offsets_csv(args.output, buffers, result)
    print(memory_plan.summary(result, len(buffers), args.capacity))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "analyze":
        return guarded_main(lambda: _analyze(argv[1:]))
    if argv and argv[0] == "run":
        return guarded_main(lambda: _run(argv[1:]))
    if argv and argv[0] == "plan-memory":
        return guarded_main(lambda: _plan_memory(argv[1:]))
    if argv and argv[0] in ("import-torch", "import-tte", "import-tosa"):
        kind = argv[0].removeprefix("import-")
        return guarded_main(lambda: _import(kind, argv[1:]))
    return guarded_main(lambda: _compile(argv))


if __name__ == "__main__":
    sys.exit(main())

"""`tcc`: the compiler's command line. Parses arguments and calls the driver.

  tcc --target=cortex-m7 model.mlir -o OUT [--run]    C project (+ train in qemu)
  tcc run model.mlir --function NAME --inputs in.npz -o out.npz
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


def _options(args) -> driver.TrainingOptions:
    return driver.TrainingOptions(lr=args.lr, weight_decay=args.weight_decay,
                                  weights=args.weights, seed=args.seed)


def compile_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tcc", description="Compile a model's training step for a target.",
                     epilog="Also: tcc run MODEL --function NAME --inputs IN.npz -o OUT.npz")
    parser.add_argument("model", type=Path, help="model .mlir (train dialect)")
    parser.add_argument("--target", default="cortex-m7", help="cortex-m7 (default) or cortex-m4")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output directory")
    _training_arguments(parser)
    parser.add_argument("--run", action="store_true", help="build and train in qemu")
    parser.add_argument("--host", action="store_true", help="with --run: run on this machine")
    parser.add_argument("--steps", type=int, default=20, help="training steps for --run (20)")
    parser.add_argument("--data", type=Path,
                        help="training data .npz ('inputs', 'labels'); default: bundled digits")
    return parser


def run_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tcc run", description="Run a function in the reference interpreter.")
    parser.add_argument("model", type=Path)
    parser.add_argument("--function", default="train_step")
    parser.add_argument("--inputs", type=Path, required=True,
                        help=".npz of arguments, keyed by name, 'arg<i>' or position")
    parser.add_argument("-o", "--output", type=Path, required=True, help="results .npz")
    parser.add_argument("--target", default="reference",
                        help="only 'reference' for now (the interpreter)")
    _training_arguments(parser)
    return parser


def _compile(argv: list[str]) -> int:
    args = compile_parser().parse_args(argv)
    if args.steps < 1:
        raise InputError("--steps must be at least 1")
    model = driver.prepare(args.model, _options(args))
    report = driver.compile_cortex_m(model, args.target, args.output)
    print(f"wrote {args.output}/ for {args.target}: arena {report['arena_bytes']} B, "
          f"trainable parameters {report['trainable_parameter_bytes']} B")
    if not args.run:
        return 0
    inputs, labels = driver.training_batches(model, args.steps, args.data)
    where = "host" if args.host else f"qemu ({args.target})"
    losses = driver.train_on_device(args.output, args.target, inputs, labels, host=args.host)
    expected = driver.reference_losses(model, inputs, labels)
    for step, loss in enumerate(losses, start=1):
        print(f"step {step:3d}  loss {loss:.6f}")
    worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(losses, expected))
    print(f"{len(losses)} steps on {where}; max relative difference from the "
          f"reference interpreter: {worst:.2e}")
    return 0


def _run(argv: list[str]) -> int:
    args = run_parser().parse_args(argv)
    if args.target != "reference":
        raise InputError(f"unknown target '{args.target}' for tcc run (expected: reference)")
    names = driver.run_function_file(args.model, args.function, args.inputs, args.output,
                                     _options(args))
    print(f"wrote {args.output}: {', '.join(names)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        return guarded_main(lambda: _run(argv[1:]))
    return guarded_main(lambda: _compile(argv))


if __name__ == "__main__":
    sys.exit(main())

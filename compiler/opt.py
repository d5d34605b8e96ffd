"""`tcc-opt`: runs passes over .mlir files, like mlir-opt, with tcc's dialects
and passes. `tcc-opt --train-autodiff file.mlir`, or
`tcc-opt --pass-pipeline='builtin.module(train-autodiff{lr=0.1},cse)' file.mlir`."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .._mlir import ir
from .. import passes
from .cli_support import guarded_main
from .diagnostics import Emitted, check, parse_expectations
from .errors import InputError, TccError, format_location
from .pipeline import parse_pipeline, run_pipeline
from .source import new_context

SPLIT_MARKER = re.compile(r"^// -----\s*$", re.M)

USAGE = """usage: tcc-opt [options] [input.mlir|-]

options:
  -o FILE                    write the output to FILE (default: stdout)
  --pass-pipeline=PIPELINE   run a textual pipeline, e.g. 'builtin.module(train-autodiff,cse)'
  --PASS[="opt=val ..."]     run one pass (tcc's or upstream MLIR's), in command-line order
  --split-input-file         process each '// -----' chunk separately
  --verify-diagnostics       check errors against expected-error annotations
  --mlir-print-op-generic    print ops in the generic form
  --mlir-print-debuginfo     print op locations
  --mlir-print-local-scope   print locations inline (not as #loc aliases)
  --list-passes              list tcc's passes
"""


@dataclass
class OptOptions:
    input: str = "-"
    output: str | None = None
    pipeline: list[str] = field(default_factory=list)
    split_input_file: bool = False
    verify_diagnostics: bool = False
    print_generic: bool = False
    print_debuginfo: bool = False
    print_local_scope: bool = False


def parse_args(argv: list[str]) -> OptOptions | None:
    """Parses mlir-opt style arguments; returns None when only help was asked."""
    options = OptOptions()
    inputs = []
    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help"):
            print(USAGE)
            return None
        if arg == "--list-passes":
            print("\n".join(passes.pass_names()))
            return None
        if arg == "-o":
            options.output = next(args, None)
            if options.output is None:
                raise InputError("-o needs a file name")
        elif arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--"):
            options.output = arg[2:]
        elif arg.startswith("--pass-pipeline=") or arg.startswith("-pass-pipeline="):
            options.pipeline += parse_pipeline(arg.split("=", 1)[1])
        elif arg in ("--split-input-file", "-split-input-file"):
            options.split_input_file = True
        elif arg in ("--verify-diagnostics", "-verify-diagnostics"):
            options.verify_diagnostics = True
        elif arg in ("--mlir-print-op-generic", "-mlir-print-op-generic"):
            options.print_generic = True
        elif arg in ("--mlir-print-debuginfo", "-mlir-print-debuginfo"):
            options.print_debuginfo = True
        elif arg in ("--mlir-print-local-scope", "-mlir-print-local-scope"):
            options.print_local_scope = True
        elif arg.startswith("-") and arg != "-":
            options.pipeline.append(_pass_flag(arg))
        else:
            inputs.append(arg)
    if len(inputs) > 1:
        raise InputError(f"expected one input file, got {len(inputs)}: {' '.join(inputs)}")
    options.input = inputs[0] if inputs else "-"
    return options


def _pass_flag(arg: str) -> str:
    """`--name="a=1 b=2"` -> `name{a=1 b=2}`."""
    name, _, value = arg.lstrip("-").partition("=")
    if not re.fullmatch(r"[\w.-]+", name):
        raise InputError(f"unknown option '{arg}'")
    return f"{name}{{{value.strip(chr(34))}}}" if value else name


def _read_input(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read file: {error}", path) from None


def _chunks(text: str, split: bool) -> list[tuple[int, str]]:
    """(first line, text) of each chunk; chunks keep their file line numbers."""
    if not split:
        return [(1, text)]
    chunks, start, line = [], 0, 1
    for match in SPLIT_MARKER.finditer(text):
        chunks.append((line, text[start:match.start()]))
        line += text[start:match.end()].count("\n") + 1
        start = match.end() + 1
    chunks.append((line, text[start:]))
    return chunks


def _process(chunk: str, first_line: int, filename: str, options: OptOptions) -> str:
    """Parses one chunk, runs the pipeline, returns the printed result."""
    context = new_context()
    padded = "\n" * (first_line - 1) + chunk  # keep the file's line numbers
    try:
        module = ir.Module.parse(padded, context=context)
    except ir.MLIRError as error:
        raise _ChunkErrors(error.error_diagnostics, filename) from None
    run_pipeline(module, options.pipeline, filename)
    return module.operation.get_asm(print_generic_op_form=options.print_generic,
                                    enable_debug_info=options.print_debuginfo,
                                    use_local_scope=options.print_local_scope)


class _ChunkErrors(Exception):
    """Every diagnostic of a failed parse or verification."""

    def __init__(self, diagnostics, filename: str):
        super().__init__()
        self.errors = [(format_location(d.location, filename), d.message) for d in diagnostics]


def _emitted(error: Exception) -> list[Emitted]:
    pairs = error.errors if isinstance(error, _ChunkErrors) else [(error.location, error.message)]
    result = []
    for location, message in pairs:
        line = int(location.split(":")[-2]) if location and location.count(":") >= 2 else None
        result.append(Emitted("error", line, message))
    return result


def run_opt(options: OptOptions) -> int:
    text = _read_input(options.input)
    filename = "<stdin>" if options.input == "-" else options.input
    outputs, failed = [], False
    for first_line, chunk in _chunks(text, options.split_input_file):
        try:
            outputs.append(_process(chunk, first_line, filename, options))
            emitted = []
        except (_ChunkErrors, TccError) as error:
            emitted = _emitted(error)
            if not options.verify_diagnostics:
                pairs = (error.errors if isinstance(error, _ChunkErrors)
                         else [(error.location, error.message)])
                for location, message in pairs:
                    print(f"{location}: error: {message}" if location else f"error: {message}",
                          file=sys.stderr)
                failed = True
                continue
        if options.verify_diagnostics:
            problems = check(parse_expectations(chunk, first_line), emitted, filename)
            for problem in problems:
                print(problem, file=sys.stderr)
            failed |= bool(problems)
    result = "// -----\n".join(outputs)
    if options.output:
        Path(options.output).write_text(result)
    elif not options.verify_diagnostics or outputs:
        sys.stdout.write(result)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return guarded_main(lambda: _main(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    options = parse_args(argv)
    return 0 if options is None else run_opt(options)


if __name__ == "__main__":
    sys.exit(main())

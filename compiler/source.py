"""Loading MLIR text into tcc's context, with errors as `IRError`s."""

from __future__ import annotations

from dataclasses import dataclass

from pathlib import Path

from .._mlir import ir
from .._mlir.dialects import func
from .errors import InputError, IRError, format_location


def new_context() -> ir.Context:
    """A context with every upstream dialect and the train dialect registered."""
    context = ir.Context()
    context.allow_unregistered_dialects = False
    return context


def diagnostics_error(error: ir.MLIRError, filename: str | None) -> IRError:
    """The first error of an MLIRError as an IRError at its location."""
    diagnostics = list(error.error_diagnostics)
    if not diagnostics:
        return IRError(str(error), filename)
    first = diagnostics[0]
    return IRError(first.message, format_location(first.location, filename) or filename)


def parse_module(text: str, filename: str, context: ir.Context) -> ir.Module:
    """Parses and verifies `text`; errors name `filename`."""
    try:
        return ir.Module.parse(text, context=context)
    except ir.MLIRError as error:
        raise diagnostics_error(error, filename) from None


def load_module(path: str | Path, context: ir.Context) -> ir.Module:
    """Reads, parses and verifies an .mlir file."""
    path = Path(path)
    try:
        path.read_text()
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read file: {error}", str(path)) from None
    # Parsing the file itself (not its text) puts its name in every op's location.
    try:
        return ir.Module.parseFile(str(path), context=context)
    except ir.MLIRError as error:
        raise diagnostics_error(error, str(path)) from None


def defined_functions(module: ir.Module, name: str = "") -> list[func.FuncOp]:
    """The functions of `module` that have a body: all of them, or @name only."""
    return [op for op in module.body.operations
            if isinstance(op, func.FuncOp) and len(op.regions[0].blocks)
            and (not name or op.sym_name.value == name)]


@dataclass
class FunctionPass:
    """A pass that rewrites functions one at a time: every function of the module
    with a body, or only @function. Subclasses define `rewrite(function)`."""

    function: str = ""

    def run(self, module: ir.Module) -> None:
        for op in defined_functions(module, self.function):
            self.rewrite(op)

    def rewrite(self, function: func.FuncOp) -> None:
        raise NotImplementedError


def find_function(module: ir.Module, name: str) -> func.FuncOp:
    """The function @name of `module`; the error lists the functions there are."""
    for op in module.body.operations:
        if isinstance(op, func.FuncOp) and op.sym_name.value == name:
            return op
    names = ", ".join(f"@{op.sym_name.value}" for op in module.body.operations
                      if isinstance(op, func.FuncOp)) or "none"
    raise InputError(f"no function @{name} in the module (functions: {names})")

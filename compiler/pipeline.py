"""Runs a pass pipeline mixing tcc's passes and upstream MLIR passes.

The syntax is MLIR's: `builtin.module(train-autodiff{lr=0.1}, canonicalize, cse)`.
Consecutive upstream passes run in one upstream PassManager.
"""

from __future__ import annotations

import re

from .._mlir import ir, passmanager
from .. import passes as registry
from .errors import InputError, PassError, TccError, format_location

_OPTION = re.compile(r"([\w-]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s}]+)")


def split_top_level(text: str) -> list[str]:
    """Splits a comma-separated pipeline, keeping nested (...) and {...} whole."""
    items, depth, current = [], 0, []
    for char in text:
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
            if depth < 0:
                raise InputError(f"unbalanced ')' or '}}' in pass pipeline '{text}'")
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise InputError(f"unbalanced '(' or '{{' in pass pipeline '{text}'")
    items.append("".join(current).strip())
    return [item for item in items if item]


def parse_pipeline(text: str) -> list[str]:
    """The elements of a textual pipeline, with the `builtin.module(...)` anchor removed."""
    text = text.strip()
    match = re.fullmatch(r"builtin\.module\s*\((.*)\)", text, re.S)
    if match:
        text = match.group(1)
    return split_top_level(text)


def parse_element(element: str) -> tuple[str, dict[str, str]]:
    """`name{a=1 b=2}` -> ("name", {"a": "1", "b": "2"})."""
    match = re.fullmatch(r"([\w.-]+)\s*(?:\{(.*)\})?", element.strip(), re.S)
    if not match:
        raise InputError(f"malformed pass '{element}' in pipeline")
    options = {key: value.strip("\"'") for key, value in _OPTION.findall(match.group(2) or "")}
    return match.group(1), options


def run_pipeline(module: ir.Module, elements: list[str], filename: str | None = None) -> None:
    """Runs each element on `module` in order."""
    upstream: list[str] = []

    def flush():
        if upstream:
            _run_upstream(module, upstream, filename)
            upstream.clear()

    for element in elements:
        name, options = parse_element(element)
        if registry.is_registered(name):
            flush()
            pass_ = registry.create_pass(name, options)
            try:
                pass_.run(module)
            except TccError as error:
                if error.location and error.location.startswith("loc("):
                    error.location = format_location(error.location, filename)
                raise
        else:
            upstream.append(element)
    flush()
    _verify(module, filename)


def _run_upstream(module: ir.Module, elements: list[str], filename: str | None) -> None:
    text = "builtin.module(" + ",".join(elements) + ")"
    try:
        manager = passmanager.PassManager.parse(text, context=module.context)
    except ValueError as error:
        lines = [line for line in str(error).splitlines() if "error:" in line]
        reason = lines[0].split("error:", 1)[1].strip() if lines else "cannot parse"
        raise InputError(f"bad pass pipeline '{','.join(elements)}': {reason}") from None
    try:
        manager.run(module.operation)
    except ir.MLIRError as error:
        first = list(error.error_diagnostics)[:1]
        location = format_location(first[0].location, filename) if first else filename
        raise PassError(first[0].message if first else str(error), location) from None


def _verify(module: ir.Module, filename: str | None) -> None:
    try:
        module.operation.verify()
    except ir.MLIRError as error:
        first = list(error.error_diagnostics)[:1]
        location = format_location(first[0].location, filename) if first else filename
        raise PassError("pipeline produced invalid IR: "
                        + (first[0].message if first else str(error)), location) from None

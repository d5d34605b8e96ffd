"""`--verify-diagnostics`: checks emitted errors against `expected-error`
annotations, as mlir-opt does.

An annotation `// expected-error @+1 {{text}}` expects an error whose message
contains `text` on the line below; `@-N`, `@+N`, `@above`, `@below` and no
offset (the annotation's own line) are accepted, for error, warning, note and
remark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ANNOTATION = re.compile(
    r"expected-(?P<kind>error|warning|note|remark)\s*"
    r"(?:@(?P<offset>[+-]\d+|above|below))?\s*\{\{(?P<text>.*?)\}\}")


@dataclass
class Expected:
    kind: str
    line: int
    text: str
    matched: bool = False


@dataclass
class Emitted:
    kind: str
    line: int | None
    message: str


def parse_expectations(text: str, first_line: int = 1) -> list[Expected]:
    """Expectations in `text`, whose first line is line `first_line` of its file."""
    expected = []
    for number, line in enumerate(text.splitlines(), start=first_line):
        for match in _ANNOTATION.finditer(line):
            offset = match["offset"]
            target = number
            if offset == "above":
                target = number - 1
            elif offset == "below":
                target = number + 1
            elif offset:
                target = number + int(offset)
            expected.append(Expected(match["kind"], target, match["text"]))
    return expected


def check(expected: list[Expected], emitted: list[Emitted], filename: str) -> list[str]:
    """Messages for every unexpected diagnostic and every unmet expectation."""
    problems = []
    for diagnostic in emitted:
        match = next((e for e in expected if not e.matched and e.kind == diagnostic.kind
                      and e.line == diagnostic.line and e.text in diagnostic.message), None)
        if match:
            match.matched = True
        else:
            where = f"{filename}:{diagnostic.line}" if diagnostic.line else filename
            problems.append(f"{where}: error: unexpected {diagnostic.kind}: {diagnostic.message}")
    for e in expected:
        if not e.matched:
            problems.append(f'{filename}:{e.line}: error: expected {e.kind} "{e.text}" '
                            "was not produced")
    return problems

"""The one error hierarchy users see: each error prints as a single line
`location: error: message` and the command-line tools exit with code 1."""

from __future__ import annotations

import re

_LOC = re.compile(r'loc\("(?P<file>[^"]*)":(?P<line>\d+):(?P<col>\d+)')


def format_location(location, filename: str | None = None) -> str | None:
    """Turns an MLIR location into `file:line:col`, or None if it has no file.

    Text parsed from memory is named "-" by MLIR; `filename` replaces that.
    """
    if location is None:
        return None
    match = _LOC.search(str(location))
    if not match:
        return None
    file = match["file"]
    if file in ("-", "") and filename:
        file = filename
    return f"{file}:{match['line']}:{match['col']}"


class TccError(Exception):
    """An error the user can fix. `location` is `file:line:col` or a path."""

    def __init__(self, message: str, location: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        return f"{prefix}error: {self.message}"


class InputError(TccError):
    """A missing or unreadable file, or a bad command-line argument."""


class IRError(TccError):
    """Malformed or invalid IR (a parse or verifier failure)."""


class UnsupportedError(TccError):
    """An op, type or option that tcc does not support (yet)."""


class PassError(TccError):
    """A pass could not transform its input."""


class BuildError(TccError):
    """The generated project failed to compile or link; `output` is the log."""

    def __init__(self, message: str, location: str | None = None, output: str = ""):
        super().__init__(message, location)
        self.output = output


class RunError(TccError):
    """A compiled program failed when it ran."""

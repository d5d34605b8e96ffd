"""Shared helpers of the Python tests: the repository's examples/ and compiling MLIR text."""

from pathlib import Path

import pytest

from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import new_context, parse_module

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_text(name: str) -> str:
    """The text of examples/<name>."""
    return (EXAMPLES / name).read_text()


def compile_text(text: str, filename: str, pipeline=()):
    """Parses `text` in a fresh context and runs the pass `pipeline` elements on it."""
    module = parse_module(text, filename, new_context())
    if pipeline:
        run_pipeline(module, list(pipeline), filename)
    return module


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def load_example():
    """load_example(name, pipeline=(), edit=None) -> examples/<name> parsed, its text first
    passed through `edit` (text -> text) if given, then run through the pass `pipeline`."""
    def load(name: str, pipeline=(), edit=None):
        text = example_text(name)
        return compile_text(edit(text) if edit else text, name, pipeline)
    return load

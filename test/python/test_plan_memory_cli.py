"""`tcc plan-memory buffers.csv -o offsets.csv`: the stand-alone planner's command line."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tcc.compiler.cli import main
from tcc.compiler.memory_plan import Buffer, check_plan

MINIMALLOC = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "minimalloc"

ROWS = """id,lower,upper,size
a,0,2,40
b,1,3,40
c,0,3,20
d,3,5,100
"""


def write(tmp_path: Path, text: str, name: str = "buffers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def read_offsets(path: Path) -> dict:
    with path.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "offset"]
    return {ident: int(offset) for ident, offset in rows[1:]}


def plan_memory(*args) -> int:
    return main(["plan-memory", *map(str, args)])


def test_writes_offsets_and_prints_the_peak(tmp_path, capsys):
    out = tmp_path / "offsets.csv"
    assert plan_memory(write(tmp_path, ROWS), "-o", out) == 0
    printed = capsys.readouterr().out
    assert "peak 100 B" in printed and "lower bound 100 B" in printed
    assert "method" in printed and " s" in printed
    offsets = read_offsets(out)
    assert list(offsets) == ["a", "b", "c", "d"]
    buffers = [Buffer("a", 0, 2, 40), Buffer("b", 1, 3, 40), Buffer("c", 0, 3, 20),
               Buffer("d", 3, 5, 100)]
    assert check_plan(buffers, offsets) == 100


def test_alignment_and_time_limit(tmp_path, capsys):
    out = tmp_path / "offsets.csv"
    assert plan_memory(write(tmp_path, ROWS), "-o", out, "--alignment", "64",
                       "--time-limit", "0.5") == 0
    assert all(offset % 64 == 0 for offset in read_offsets(out).values())


def test_capacity_fits(tmp_path, capsys):
    out = tmp_path / "offsets.csv"
    assert plan_memory(write(tmp_path, ROWS), "-o", out, "--capacity", "100") == 0
    assert "within capacity 100 B" in capsys.readouterr().out


def test_capacity_too_small_fails_clearly(tmp_path, capsys):
    out = tmp_path / "offsets.csv"
    assert plan_memory(write(tmp_path, ROWS), "-o", out, "--capacity", "99") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no packing fits in 99 bytes" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("text, line, message", [
    ("id,lower,upper\na,0,1\n", 1, "missing: size"),
    ("", 1, "header"),
    (ROWS + "e,0,x,4\n", 6, "'upper' must be an integer, got 'x'"),
    (ROWS + "e,0,4\n", 6, "expected 4 fields, got 3"),
    (ROWS + "a,0,4,4\n", 6, "'a' already used on line 2"),
    (ROWS + "e,0,4,-4\n", 6, "negative size"),
    (ROWS + "e,5,4,4\n", 6, "not an interval"),
])
def test_malformed_csv_names_file_and_line(tmp_path, capsys, text, line, message):
    path = write(tmp_path, text)
    assert plan_memory(path, "-o", tmp_path / "out.csv") == 1
    err = capsys.readouterr().err
    assert f"{path}:{line}: error:" in err and message in err, err
    assert err.count("\n") == 1


def test_missing_file(tmp_path, capsys):
    assert plan_memory(tmp_path / "nope.csv", "-o", tmp_path / "out.csv") == 1
    err = capsys.readouterr().err
    assert "nope.csv" in err and "cannot read" in err


@pytest.mark.parametrize("flags, message", [
    (["--alignment", "0"], "--alignment must be at least 1"),
    (["--alignment", "x"], "invalid int value"),
    (["--capacity", "-1"], "--capacity must not be negative"),
    (["--time-limit", "-2"], "--time-limit must not be negative"),
    (["--frobnicate"], "unrecognized arguments"),
])
def test_bad_flags(tmp_path, capsys, flags, message):
    assert plan_memory(write(tmp_path, ROWS), "-o", tmp_path / "out.csv", *flags) == 1
    assert message in capsys.readouterr().err


def test_output_is_required(tmp_path, capsys):
    assert plan_memory(write(tmp_path, ROWS)) == 1
    assert "-o" in capsys.readouterr().err


def test_exit_code_of_the_command(tmp_path):
    path = write(tmp_path, ROWS)
    result = subprocess.run([sys.executable, "-m", "tcc.compiler.cli", "plan-memory", str(path),
                             "-o", str(tmp_path / "o.csv"), "--capacity", "10"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.startswith("error: no packing fits in 10 bytes")


@pytest.mark.skipif(not MINIMALLOC.is_dir(), reason="needs ../shared/benchmarks/minimalloc")
def test_minimalloc_instance(tmp_path, capsys):
    path = MINIMALLOC / "J.1048576.csv"
    out = tmp_path / "J.offsets.csv"
    assert plan_memory(path, "-o", out, "--capacity", "1048576", "--time-limit", "30") == 0
    assert "within capacity 1048576 B" in capsys.readouterr().out
    from tcc.compiler.memory_plan import read_buffers_csv
    assert check_plan(read_buffers_csv(path), read_offsets(out), capacity=1048576) <= 1048576

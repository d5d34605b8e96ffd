"""Runs a Triton test file again in a child pytest: TRITON_INTERPRET is read when triton
is imported, so interpreted and ahead-of-time tests each need their own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_child(test_file: str, mode_variable: str, mode: str) -> None:
    """Re-runs `test_file` with `mode_variable=mode` (and TRITON_INTERPRET=1 for the
    "interpret" mode); asserts that its tests passed."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env[mode_variable] = mode
    if mode == "interpret":
        env["TRITON_INTERPRET"] = "1"
    path = Path(test_file).resolve()
    run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                          "-rs", str(path)], env=env, capture_output=True, text=True,
                         cwd=path.parent)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert " passed" in run.stdout

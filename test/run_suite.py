"""Runs the lit suite and the pytest suite, then prints one summary line
`N passed, N failed, N skipped` and exits non-zero if anything failed."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_lit(report: Path) -> tuple[int, int, int]:
    lit = "import sys; from lit.main import main; sys.exit(main())"
    subprocess.run([sys.executable, "-c", lit, "-sv", str(ROOT / "test"), "-o", str(report)],
                   cwd=ROOT, stdin=subprocess.DEVNULL)
    if not report.exists():
        return 0, 1, 0  # lit itself failed to run
    codes = [test["code"] for test in json.loads(report.read_text())["tests"]]
    passed = sum(code in ("PASS", "XFAIL") for code in codes)
    skipped = sum(code == "UNSUPPORTED" for code in codes)
    return passed, len(codes) - passed - skipped, skipped


def run_pytest(report: Path) -> tuple[int, int, int]:
    subprocess.run([sys.executable, "-m", "pytest", "-q", str(ROOT / "test" / "python"),
                    f"--junitxml={report}"], cwd=ROOT, stdin=subprocess.DEVNULL)
    if not report.exists():
        return 0, 1, 0
    suite = ElementTree.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, skipped = int(suite.get("tests")), int(suite.get("skipped"))
    failed = int(suite.get("failures")) + int(suite.get("errors"))
    return total - failed - skipped, failed, skipped


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        results = [run_lit(Path(scratch) / "lit.json"), run_pytest(Path(scratch) / "pytest.xml")]
    passed, failed, skipped = (sum(column) for column in zip(*results))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Runs the whole test suite (lit + pytest) and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" test/run_suite.py "$@"

"""The fault matrix (tests/faults), run by pytest in a child process: its table and tally.

Every row is a fault a copy must survive (a kill at each phase of a sync, a full disk,
damaged files, two syncs at once, a vendor failing mid-sync), each asserting the same
promise. The figure recorded is how many rows keep it: rows passed / rows total.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.results import record

ROOT = Path(__file__).resolve().parent.parent
# The variable tests/faults/conftest.py reads to write the matrix as JSON.
MATRIX_JSON_ENV = "LIFEBOAT_FAULT_MATRIX_JSON"


def run_matrix(selection: Sequence[str]) -> tuple[dict, float]:
    """Run the matrix's tests: the report their conftest wrote, and the seconds it took."""
    with tempfile.TemporaryDirectory(prefix="lifeboat-faults-") as tmp:
        report = Path(tmp) / "matrix.json"
        env = {**os.environ, MATRIX_JSON_ENV: str(report)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if not report.exists():
            tail = (done.stdout + done.stderr)[-3000:]
            raise SystemExit(
                f"the fault matrix did not run (pytest exit {done.returncode}):\n{tail}"
            )
        return json.loads(report.read_text()), seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument(
        "tests", nargs="*", default=["tests/faults"], help="pytest selection (default: all rows)"
    )
    args = parser.parse_args(argv)
    report, seconds = run_matrix(args.tests)
    print(report["table"])
    print(f"  rows passed / rows total: {report['passed']} / {report['total']} in {seconds:.0f} s")
    path = record(
        {
            "fault_matrix_rows_passed": report["passed"],
            "fault_matrix_rows_total": report["total"],
            "fault_matrix_seconds": round(seconds, 1),
        }
    )
    print(f"figures written to {path}")
    # A row that fails is a finding the matrix reports, not a failure of the benchmark.
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

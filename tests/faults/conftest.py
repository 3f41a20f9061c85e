"""The fault matrix's fixtures, and the matrix itself printed after the tests (and as JSON).

Set LIFEBOAT_FAULT_MATRIX_JSON to a file name and the rows are also written there, with the
table as printed: `make bench` (bench/faults.py) reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.faults.harness import CHECKS, MATRIX, Lab, ReadOnly, Row, Scene, mount, umount

MATRIX_JSON_ENV = "LIFEBOAT_FAULT_MATRIX_JSON"
ROW = pytest.StashKey[Row]()
# Room for the copy, dlt's packages and the snapshots of a few thousand records, and little
# more: the filler that makes the disk full stays small.
SMALL_DISK = "64m"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """The runner, the base copy and the references, shared by every row of the session."""
    return Lab(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def scenes(lab: Lab) -> Iterator[Callable[..., Scene]]:
    """Open scenes (`scenes("later")`); their emulators stop when the row ends."""
    opened: list[Scene] = []

    def open_scene(scenario: str, home: Path | None = None) -> Scene:
        scene = lab.scene(scenario, home)
        opened.append(scene)
        return scene

    yield open_scene
    for scene in opened:
        scene.close()


@pytest.fixture
def row(request: pytest.FixtureRequest) -> Row:
    """The matrix row of this test, from its `case` parameter (id, fault, phase, interface)."""
    case = request.node.callspec.params["case"]
    opened = Row(case.id, case.fault, case.phase, case.interface)
    MATRIX.append(opened)
    request.node.stash[ROW] = opened
    return opened


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs to hold a data home, so that a run can fill it to the last byte."""
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a tmpfs of its own: run as root to mount one")
    disk = tmp_path / "disk"
    disk.mkdir()
    if problem := mount("-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(disk)):
        pytest.skip(f"cannot mount a tmpfs here: {problem}")
    yield disk
    umount(disk)


@pytest.fixture
def read_only() -> Iterator[ReadOnly]:
    """Read-only bind mounts (`read_only.freeze(dir)`), undone when the row ends."""
    mounts = ReadOnly()
    yield mounts
    mounts.thaw()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Each row's result is its test's: passed, FAILED, skipped, or error (setup, teardown)."""
    report = yield
    opened = item.stash.get(ROW, None)
    if opened is not None:
        if report.failed and opened.error is None:
            opened.error = _reason(report.longreprtext)
        if report.when == "call":
            opened.result = {"passed": "passed", "skipped": "skipped"}.get(report.outcome, "FAILED")
        elif report.skipped:
            opened.result = "skipped"
        elif report.failed:
            opened.result = "error"
    return report


def _reason(text: str) -> str:
    """The line of a failure's report that says what failed (pytest marks it with E)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    marked = [line.removeprefix("E").strip() for line in lines if line.startswith("E ")]
    return (marked or lines[-1:] or ["failed"])[0][:300]


def _cell(problems: list[str] | None) -> str:
    return "-" if problems is None else ("ok" if not problems else "FAIL")


def render(rows: list[Row]) -> str:
    """The matrix as a table, the problems of each failed row under it, and the tally."""
    header = ("row", "fault", "phase", "via", "result", *CHECKS)
    lines = [
        (r.id, r.fault, r.phase, r.interface, r.result, *(_cell(r.checks[c]) for c in CHECKS))
        for r in rows
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines, strict=True)]
    text = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *lines)
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    for r in rows:
        problems = [f"{c}: {p}" for c in CHECKS for p in r.checks[c] or []]
        if r.error and not problems:
            problems = [r.error]
        if r.result != "passed" and problems:
            text.append(f"{r.id}:")
            text += [f"    {p[:300]}" for p in problems]
    passed = sum(1 for r in rows if r.result == "passed")
    text.append(f"fault matrix: {passed}/{len(rows)} rows passed")
    return "\n".join(text)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not MATRIX:
        return
    table = render(MATRIX)
    terminalreporter.write_sep("=", "fault matrix")
    for line in table.splitlines():
        terminalreporter.write_line(line)
    if target := os.environ.get(MATRIX_JSON_ENV):
        passed = sum(1 for r in MATRIX if r.result == "passed")
        report = {
            "rows": [asdict(r) for r in MATRIX],
            "passed": passed,
            "total": len(MATRIX),
            "table": table,
        }
        Path(target).write_text(json.dumps(report, indent=2))

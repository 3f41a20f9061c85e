"""A disk that fills up in the middle of a later sync, at each phase that writes.

The data home lives on a 64 MB tmpfs; at the named point the run's own process fills it to
the last byte and goes on. The run must fail with one sentence and keep the earlier copy;
once the filler is deleted, the next ordinary run must finish the copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lifeboat.paths import DataHome
from tests.faults.harness import (
    LOAD_JOB,
    MANIFEST_WRITE,
    MID_LISTING,
    SEND,
    SNAPSHOT_PART,
    Fault,
    Lab,
    Point,
    Row,
    Scene,
    differences,
    drill_problems,
    shrunk,
    succeeded,
    told_failure,
)


@dataclass(frozen=True)
class DiskCase:
    phase: str
    point: Point
    interface: str = "cli"
    fault: str = "disk full"

    @property
    def id(self) -> str:
        return f"disk-full/{self.phase}/later/{self.interface}"


CASES = [
    # dlt writes each extracted page to its package on disk.
    DiskCase("extract", Point(SEND, "before", MID_LISTING["later"])),
    DiskCase("load", Point(LOAD_JOB, "before")),
    # Through Dagster, where a raw IOException would become the step's message.
    DiskCase("load", Point(LOAD_JOB, "before"), interface="dagster"),
    DiskCase("snapshot", Point(SNAPSHOT_PART, "before")),
    DiskCase("manifest", Point(MANIFEST_WRITE, "before")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_full_disk_fails_in_one_sentence_and_keeps_the_copy(
    case: DiskCase, row: Row, lab: Lab, scenes: Callable[..., Scene], small_disk: Path
) -> None:
    scene = scenes("later", small_disk / "home")
    if case.interface == "dagster":
        # Dagster's own run storage stays off the full disk: whether SQLite still finds a
        # free page there is chance, and this row is about what the copy's step says.
        outside = scene.workdir / "dagster"
        outside.mkdir()
        DataHome(scene.home).dagster_dir.symlink_to(outside)
    before = scene.copy()
    filler = small_disk / "filler"

    failed = scene.run(case.interface, Fault("fill", case.point, str(filler)))
    assert failed.struck, f"the disk was never filled at {case.point}: the run {failed.describe()}"
    during = scene.copy()
    filler.unlink()
    after = scene.run(case.interface)

    row.check("told", told_failure(failed, case.interface))
    row.check("next run", succeeded(after, "next run"))
    row.check(
        "copy",
        shrunk(before, during)
        + differences(scene.copy(), lab.reference("later"))
        + drill_problems(scene.home),
    )
    row.conclude()

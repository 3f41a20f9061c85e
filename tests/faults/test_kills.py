"""`kill -9` at every phase of a sync, first and later, through the CLI and through Dagster.

The killed process kills itself at the named point (tests/faults/child.py), so each row
stops the sync in the same place every time. Then the fault is over: the next ordinary run
must finish the copy with no manual step, equal to a clean run's, its snapshots restoring
to it, and say at most once that it found a stopped run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

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
    no_traceback,
    succeeded,
    told_recovery,
)


def point(phase: str, scenario: str) -> Point:
    """Where each phase is killed: inside it, after it wrote part of what it writes."""
    return {
        "extract": Point(SEND, "before", MID_LISTING[scenario]),
        # One extracted file normalized, the package not finished.
        "normalize": Point(
            "dlt.normalize.items_normalizers.arrow:ArrowItemsNormalizer.__call__", "after"
        ),
        # One table's file loaded, the others not (first load: appended; later: staged).
        "load": Point(LOAD_JOB, "after"),
        # Superseded versions kept in history, the load not begun.
        "history": Point("pipelines.runner:keep_superseded", "after"),
        # One Parquet part written, the others and the manifest not.
        "snapshot": Point(SNAPSHOT_PART, "after"),
        # The new manifest written to its temporary file, not yet renamed into place.
        "manifest": Point("os:replace", "before", within=MANIFEST_WRITE),
    }[phase]


@dataclass(frozen=True)
class KillCase:
    phase: str
    scenario: str
    interface: str
    fault: str = "SIGKILL"

    @property
    def id(self) -> str:
        return f"kill/{self.phase}/{self.scenario}/{self.interface}"


PHASES = ("extract", "normalize", "load", "history", "snapshot", "manifest")
CASES = [
    *(KillCase(phase, scenario, "cli") for scenario in ("first", "later") for phase in PHASES),
    # Through Dagster, the phases where its own state matters most: a first load, an
    # incremental load and a snapshot (each Dagster run costs several seconds).
    KillCase("load", "first", "dagster"),
    KillCase("load", "later", "dagster"),
    KillCase("snapshot", "later", "dagster"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_killed_sync_is_recovered_by_the_next_run(
    case: KillCase, row: Row, lab: Lab, scenes: Callable[..., Scene]
) -> None:
    scene = scenes(case.scenario)
    killed = scene.run(case.interface, Fault("kill", point(case.phase, case.scenario)))
    assert killed.killed, (
        f"the kill planted at {point(case.phase, case.scenario)} never struck: "
        f"the run {killed.describe()}"
    )

    after = scene.run(case.interface)

    row.check("next run", succeeded(after, "next run"))
    row.check(
        "copy",
        differences(scene.copy(), lab.reference(case.scenario)) + drill_problems(scene.home),
    )
    row.check("told", no_traceback(killed, "killed run") + told_recovery(after))
    row.conclude()

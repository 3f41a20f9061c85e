"""Two syncs of one vendor at once: the second waits or refuses, and never downloads for
nothing.

The first run (CLI or Dagster) holds still in the middle of its listing, until the test
releases it. The second is `lifeboat sync stripe`. It may wait
for the first (blocked on a lock: /proc/locks shows it) and then copy what is left, or
refuse with one sentence before asking the vendor for anything (the emulator's request
counter shows it). The first run then finishes, and so does the next ordinary run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.faults.harness import (
    MID_LISTING,
    SEND,
    VENDOR,
    Fault,
    Lab,
    Point,
    Row,
    Scene,
    differences,
    drill_problems,
    no_traceback,
    succeeded,
    told_failure,
    wait_for,
    waiting_on_lock,
)


@dataclass(frozen=True)
class TwoRunsCase:
    first: str  # the interface of the run that is copying
    interface: str = "cli"  # the second run's
    phase: str = "extract"

    @property
    def id(self) -> str:
        return f"concurrent/{self.first}+{self.interface}/later/{self.interface}"

    @property
    def fault(self) -> str:
        return f"second sync while {self.first} copies"


CASES = [TwoRunsCase("cli"), TwoRunsCase("dagster")]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_second_sync_waits_or_refuses_without_downloading(
    case: TwoRunsCase, row: Row, lab: Lab, scenes: Callable[..., Scene]
) -> None:
    scene = scenes("later")
    gate = scene.workdir / "gate"
    hold = Fault("hold", Point(SEND, "before", MID_LISTING["later"]), str(gate))
    first = scene.start(case.first, hold)
    wait_for(lambda: gate.with_suffix(".held").exists() or first.ended, "the first run's listing")
    assert not first.ended, f"the first run ended before it held: {first.finish().describe()}"
    asked = scene.control.requests(VENDOR)

    try:
        second = scene.start(case.interface)
        wait_for(lambda: second.ended or waiting_on_lock(second.pid), "the second run to settle")
        waited = not second.ended
        # The first run holds still: every request since it did is the second run's.
        downloaded = scene.control.requests(VENDOR) - asked
    finally:
        gate.with_suffix(".release").touch()
    second_run = second.finish()
    first_run = first.finish()
    after = scene.run(case.interface)

    told = []
    if downloaded:
        told.append(f"the second run asked the vendor {downloaded} times while the first copied")
    if waited:
        told += succeeded(second_run, "second run, once the first was done")
    elif second_run.code == 0:
        told.append("the second run copied alongside the first instead of waiting or refusing")
        told += no_traceback(second_run, "second run")
    else:
        told += told_failure(second_run, case.interface)
    row.check("told", told)
    row.check(
        "next run", succeeded(first_run, "first run, released") + succeeded(after, "next run")
    )
    row.check(
        "copy", differences(scene.copy(), lab.reference("later")) + drill_problems(scene.home)
    )
    row.conclude()

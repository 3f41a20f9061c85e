"""The vendor fails in the middle of a later sync: down, locking us out, throttling, hiding
records, sending broken or reshaped bodies.

Each fault starts after some requests went through (`after`), so the run has begun. The run
fails with one sentence, or succeeds where the product promises it (drift: records that no
longer fit are set aside); the copy never shrinks; once the vendor is back to normal, the
next ordinary run makes the copy a clean run makes. Empty and partial listings strike a
stale sync, the one that lists every record again and whose size the shrink guard judges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.faults.harness import (
    MID_LISTING,
    VENDOR,
    Lab,
    Row,
    Scene,
    differences,
    drill_problems,
    shrunk,
    succeeded,
    told_failure,
)

DRIFT = {
    "path": "/v1/charges",
    "add": {"risk_level": "normal"},  # a new field: a new column
    "change": {"amount": "12.50 USD"},  # a field of another type: set aside
    "one_in": 3,
}


@dataclass(frozen=True)
class VendorCase:
    mode: str
    options: dict[str, Any]
    scenario: str = "later"
    fails: bool = True  # False: the product's contract is that the run succeeds
    added: frozenset[str] = field(default_factory=frozenset)  # columns the fault adds
    interface: str = "cli"
    phase: str = "extract"

    @property
    def id(self) -> str:
        return f"vendor/{self.mode}/{self.scenario}/{self.interface}"

    @property
    def fault(self) -> str:
        return f"vendor {self.mode}"


def mid(scenario: str) -> int:
    return MID_LISTING[scenario]


CASES = [
    # Retried with backoff until the budget runs out: the slowest row (about 12 s).
    VendorCase("outage", {"after": mid("later")}),
    VendorCase("lockout", {"after": mid("later")}),
    # Through Dagster: the failed step's message is the person's sentence.
    VendorCase("lockout", {"after": mid("later")}, interface="dagster"),
    # A storm longer than the retries; Retry-After 0 keeps it fast.
    VendorCase("rate_limit", {"after": mid("later"), "retry_after": 0}),
    VendorCase("malformed", {"after": mid("later")}),
    # The charges listed again in full come back empty, or a third of them: far below the
    # 2,000 the copy holds, which the shrink guard must refuse.
    VendorCase("empty", {"after": mid("stale")}, scenario="stale"),
    VendorCase("partial", {"after": mid("stale"), "share": 0.3}, scenario="stale"),
    VendorCase("drift", DRIFT, fails=False, added=frozenset(DRIFT["add"])),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_vendor_fault_mid_sync_keeps_the_copy_and_the_next_run_catches_up(
    case: VendorCase, row: Row, lab: Lab, scenes: Callable[..., Scene]
) -> None:
    scene = scenes(case.scenario)
    before = scene.copy()
    scene.control.fault(VENDOR, case.mode, **case.options)

    faulty = scene.run(case.interface)
    during = scene.copy()
    scene.control.clear_faults(VENDOR)
    after = scene.run(case.interface)

    told = (
        told_failure(faulty, case.interface)
        if case.fails
        else succeeded(faulty, "run during the fault")
    )
    row.check("told", told)
    row.check("next run", succeeded(after, "next run"))
    row.check(
        "copy",
        shrunk(before, during)
        + differences(scene.copy(), lab.reference(case.scenario), case.added)
        + drill_problems(scene.home),
    )
    row.conclude()

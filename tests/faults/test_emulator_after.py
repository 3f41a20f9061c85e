"""The emulator's `after` fault option: a fault that starts in the middle of a sync."""

from __future__ import annotations

import requests

from emulators.control import EmulatorControl
from emulators.server import EmulatorServer
from tests.keys import STRIPE_KEY


def _statuses(server: EmulatorServer, n: int) -> list[int]:
    headers = {"Authorization": f"Bearer {STRIPE_KEY}"}
    url = f"{server.url}/stripe/v1/customers?limit=1"
    return [requests.get(url, headers=headers, timeout=10).status_code for _ in range(n)]


def test_a_fault_lets_after_requests_through_then_hits_count_of_them(
    emulator: EmulatorServer, control: EmulatorControl
) -> None:
    control.fault("stripe", "outage", after=2, count=2)

    assert _statuses(emulator, 6) == [200, 200, 503, 503, 200, 200]


def test_every_counts_from_where_the_fault_starts(
    emulator: EmulatorServer, control: EmulatorControl
) -> None:
    control.fault("stripe", "lockout", after=1, every=2)

    assert _statuses(emulator, 5) == [200, 200, 401, 200, 401]

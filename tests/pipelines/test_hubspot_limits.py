"""HubSpot's documented search limits, met by the connector over real HTTP.

https://developers.hubspot.com/docs/guides/api/crm/search#limitations: one query serves at
most 10,000 results, and the search endpoints take five requests a second per account.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulators.control import EmulatorControl
from pipelines.hubspot import settings
from pipelines.runner import sync
from tests.pipelines.test_hubspot import assert_copy_matches_vendor, hubspot


def test_more_than_ten_thousand_changes_since_the_cursor_all_reach_the_copy(
    make_emulator, home: Path
) -> None:
    """The emulator keeps HubSpot's real cap: 10,300 changes need a second, windowed query.

    About 12 seconds, nearly all of it the connector keeping under five searches a second.
    """
    server = make_emulator({"hubspot.contacts": 10_400})
    control = EmulatorControl(server.url)
    sync(hubspot(server.url, "contacts"), home)
    control.advance(seconds=3600, changes={"hubspot.contacts": {"updated": 10_300}})
    changed = 10_300 + control.state()["datasets"]["hubspot.contacts"]["created"] - 10_400
    control.reset_counters()

    result = sync(hubspot(server.url, "contacts"), home)

    assert result.tables["contacts"].rows_loaded == changed
    assert_copy_matches_vendor(home, server)
    # 50 pages up to the cap, two more from the last change seen, one of archived records:
    # paced searches are never refused, so nothing was asked twice.
    assert control.requests("hubspot") == 50 + 2 + 1


def test_many_changes_at_one_instant_are_walked_in_id_order(
    make_emulator, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More changes share one instant than a query may return. Reaching that with the real
    cap would take 150 paced searches, so here the connector stops its queries at 300
    itself (the emulator still holds HubSpot's 10,000)."""
    monkeypatch.setattr(settings, "SEARCH_RESULT_CAP", 300)
    server = make_emulator({"hubspot.contacts": 800})
    control = EmulatorControl(server.url)
    sync(hubspot(server.url, "contacts"), home)
    control.advance(seconds=1, changes={"hubspot.contacts": {"updated": 700}})
    result = sync(hubspot(server.url, "contacts"), home)
    assert result.tables["contacts"].rows_loaded == 700
    assert_copy_matches_vendor(home, server)


def test_the_search_per_second_limit_is_waited_out(emulator, home: Path) -> None:
    """HubSpot's SECONDLY 429 (another app of the account used the second up) is waited out."""
    control = EmulatorControl(emulator.url)
    sync(hubspot(emulator.url, "contacts"), home)
    control.advance(seconds=600, changes={"hubspot.contacts": {"updated": 5}})
    control.reset_counters()
    control.fault("hubspot", "rate_limit", policy="SECONDLY", count=1)
    started = time.monotonic()
    result = sync(hubspot(emulator.url, "contacts"), home)
    assert time.monotonic() - started >= settings.SEARCH_RETRY_AFTER_SECONDS
    assert result.tables["contacts"].rows_loaded >= 5
    assert_copy_matches_vendor(home, emulator)
    assert control.requests("hubspot") == 1 + 1 + 1  # refused, asked again, archived page

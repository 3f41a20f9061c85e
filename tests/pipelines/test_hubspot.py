"""The HubSpot connector against the HubSpot emulator over real HTTP, into real DuckDB files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.hubspot import App as HubSpotApp
from emulators.hubspot import iso
from emulators.server import Emulator, EmulatorServer
from lifeboat.errors import VendorBadResponse, VendorLockout, VendorOutage, VendorRateLimited
from pipelines.base import RetryPolicy, VendorContext
from pipelines.hubspot import settings
from pipelines.runner import sync, warehouse_path
from pipelines.snapshot import read_manifest, sha256

TOKEN = demo_credentials(["hubspot"])["hubspot"]["access_token"]
START = "2026-01-01 00:00:00+00"


@pytest.fixture(scope="module")
def hub() -> Iterator[EmulatorServer]:
    """One emulator for the tests that never move its clock (each server costs a shutdown)."""
    server = EmulatorServer(Emulator(seed=42)).start()
    yield server
    server.stop()


@pytest.fixture
def control(hub: EmulatorServer) -> Iterator[EmulatorControl]:
    """The shared emulator's controls, with its faults and counters reset after each test."""
    control = EmulatorControl(hub.url)
    control.reset_counters()
    yield control
    control.clear_faults("hubspot")


def hubspot(url: str, *datasets: str, retries: RetryPolicy | None = None) -> VendorContext:
    return VendorContext(
        "hubspot",
        f"{url}/hubspot",
        {"access_token": TOKEN},
        datasets=datasets,
        retries=retries or RetryPolicy(max_attempts=3, budget_seconds=5),
    )


def query(home: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "hubspot")), read_only=True) as con:
        return con.execute(sql).fetchall()


def app(server: EmulatorServer) -> HubSpotApp:
    found = server.emulator.apps["hubspot"]
    assert isinstance(found, HubSpotApp)
    return found


def assert_copy_matches_vendor(home: Path, server: EmulatorServer) -> None:
    """Every record HubSpot holds is in the copy as of its last change; deleted ones marked."""
    contacts = app(server).contacts
    now = server.emulator.clock.now()
    copy = {
        int(id_) - 1_000_051: (modified, deleted)
        for id_, modified, deleted in query(
            home,
            "SELECT id, strftime(lastmodifieddate, '%Y-%m-%dT%H:%M:%S.000Z'), _deleted "
            "FROM contacts",
        )
    }
    truth = {
        i: (iso(contacts.updated_at(i)), contacts.is_deleted(i))
        for i in range(contacts.count_at(now))
    }
    assert copy == truth


def test_full_sync_copies_every_dataset_and_snapshots_it(hub, home: Path) -> None:
    result = sync(hubspot(hub.url), home)
    assert {t: r.rows_held for t, r in result.tables.items()} == {
        "contacts": 500,
        "companies": 120,
        "deals": 250,
    }
    emails = query(home, "SELECT count(DISTINCT email) FROM contacts")[0][0]
    assert emails == 500
    first = query(
        home, "SELECT email, lifecyclestage, created_at FROM contacts WHERE id = '1000051'"
    )
    truth = app(hub).contact(0)
    assert first[0][:2] == (truth["email"], truth["lifecyclestage"])
    assert first[0][2].isoformat() == "2025-01-01T00:00:00+00:00"
    won = query(home, "SELECT count(*), sum(amount) FROM deals WHERE dealstage = 'closedwon'")
    assert won[0][0] > 0 and won[0][1] > 0
    manifest = read_manifest(home / "snapshots" / "hubspot")
    part = manifest["tables"]["contacts"]["parts"][0]
    assert manifest["tables"]["contacts"]["rows"] == 500 and part["rows"] == 500
    assert sha256(home / "snapshots" / "hubspot" / part["file"]) == part["sha256"]
    # Nothing changed at HubSpot: a second sync finds nothing new and leaves the copy as it was.
    before = query(home, "SELECT * EXCLUDE (_dlt_load_id) FROM deals ORDER BY id")
    again = sync(hubspot(hub.url, "deals"), home)
    assert again.tables["deals"].rows_held == 250
    assert query(home, "SELECT * EXCLUDE (_dlt_load_id) FROM deals ORDER BY id") == before


def test_incremental_sync_asks_only_for_what_changed(emulator, home: Path) -> None:
    control = EmulatorControl(emulator.url)
    sync(hubspot(emulator.url, "contacts"), home)
    control.reset_counters()
    control.advance(seconds=6 * 3600, changes={"hubspot.contacts": {"updated": 7, "deleted": 2}})
    new_contacts = control.state()["datasets"]["hubspot.contacts"]["created"] - 500
    assert new_contacts > 0
    result = sync(hubspot(emulator.url, "contacts"), home)
    # One search for what changed (plus the boundary record again), one archived listing.
    assert control.requests("hubspot") == 2
    assert control.served("hubspot")["contacts"] <= new_contacts + 7 + 1 + 2
    assert result.tables["contacts"].rows_loaded == new_contacts + 7 + 2
    assert result.tables["contacts"].rows_held == 500 + new_contacts
    deleted = query(
        home, "SELECT count(*) FROM contacts WHERE _deleted AND archived_at IS NOT NULL"
    )
    assert deleted == [(2,)]
    changed = query(home, f"SELECT count(*) FROM contacts WHERE updated_at > '{START}'")
    assert changed == [(new_contacts + 7 + 2,)]
    assert_copy_matches_vendor(home, emulator)
    # Exactly one search page of changes takes one search request.
    control.reset_counters()
    control.advance(seconds=1, changes={"hubspot.contacts": {"updated": settings.SEARCH_LIMIT - 1}})
    result = sync(hubspot(emulator.url, "contacts"), home)
    assert result.tables["contacts"].rows_loaded == settings.SEARCH_LIMIT - 1
    assert control.requests("hubspot") == 2
    assert_copy_matches_vendor(home, emulator)


def test_listing_pagination_edges(make_emulator, home: Path) -> None:
    """Exactly one full page, an empty dataset, and one record past a page."""
    edges = {"contacts": (100, 1), "companies": (0, 1), "deals": (101, 2)}
    server = make_emulator({f"hubspot.{name}": count for name, (count, _) in edges.items()})
    control = EmulatorControl(server.url)
    result = sync(hubspot(server.url), home)
    for name, (count, _) in edges.items():
        assert (result.tables[name].rows_held if name in result.tables else 0) == count
    # Each dataset's listing pages, then one (empty) page of its archived records.
    assert control.requests("hubspot") == sum(pages + 1 for _, pages in edges.values())


def test_rate_limits_are_ridden_out_honouring_retry_after(hub, control, home: Path) -> None:
    control.fault("hubspot", "rate_limit", retry_after=0, count=2)
    result = sync(hubspot(hub.url, "companies"), home)
    assert result.tables["companies"].rows_held == 120
    assert control.requests("hubspot") == 3 + 2  # two pages and the archived page, two 429s


def test_daily_limit_fails_at_once_as_rate_limited(hub, control, home: Path) -> None:
    control.fault("hubspot", "rate_limit", policy="DAILY")
    with pytest.raises(Exception) as failure:
        sync(hubspot(hub.url, "deals"), home)
    error = _root(failure.value)
    assert isinstance(error, VendorRateLimited)
    assert "daily" in str(error)
    assert control.requests("hubspot") == 1


def test_a_revoked_token_is_a_lockout_and_leaves_the_copy_untouched(emulator, home: Path) -> None:
    """Not an injected fault: HubSpot stops accepting the token (the app was uninstalled)."""
    control = EmulatorControl(emulator.url)
    sync(hubspot(emulator.url, "deals"), home)
    before = query(home, "SELECT * FROM deals ORDER BY id")
    control.credentials("hubspot", access_token="pat-na1-a-rotated-token")
    with pytest.raises(Exception) as failure:
        sync(hubspot(emulator.url, "deals"), home)
    error = _root(failure.value)
    assert isinstance(error, VendorLockout)
    assert error.status == 401 and "INVALID_AUTHENTICATION" in str(error)
    assert TOKEN not in str(failure.value)
    assert query(home, "SELECT * FROM deals ORDER BY id") == before


def test_lockout_fails_named_and_leaves_the_copy_untouched(hub, control, home: Path) -> None:
    sync(hubspot(hub.url, "contacts"), home)
    before = query(home, "SELECT * FROM contacts ORDER BY id")
    for status, category in [(401, "INVALID_AUTHENTICATION"), (403, "MISSING_SCOPES")]:
        control.fault("hubspot", "lockout", status=status)
        with pytest.raises(Exception) as failure:
            sync(hubspot(hub.url, "contacts"), home)
        error = _root(failure.value)
        assert isinstance(error, VendorLockout)
        assert error.status == status and category in str(error)
        assert TOKEN not in str(failure.value) and "pat-na1" not in str(error)
        assert query(home, "SELECT * FROM contacts ORDER BY id") == before


def test_outage_after_retries_is_named_an_outage(hub, control, home: Path) -> None:
    control.fault("hubspot", "outage")
    with pytest.raises(Exception) as failure:
        sync(hubspot(hub.url, "deals", retries=RetryPolicy(2, 5)), home)
    error = _root(failure.value)
    assert isinstance(error, VendorOutage)
    assert error.status == 503
    assert control.requests("hubspot") == 2


def test_malformed_body_is_a_bad_response(hub, control, home: Path) -> None:
    control.fault("hubspot", "malformed")
    with pytest.raises(Exception) as failure:
        sync(hubspot(hub.url, "deals"), home)
    error = _root(failure.value)
    assert isinstance(error, VendorBadResponse)
    assert "not valid JSON" in str(error)


def _root(exc: BaseException) -> BaseException:
    """dlt wraps resource errors; the named vendor error is underneath."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, VendorLockout | VendorOutage | VendorBadResponse | VendorRateLimited):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc

"""The Stripe connector against the Stripe emulator over real HTTP, into real DuckDB files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from lifeboat.errors import VendorBadResponse, VendorLockout, VendorOutage
from pipelines.base import RetryPolicy, VendorContext
from pipelines.runner import sync, warehouse_path
from pipelines.snapshot import read_manifest, sha256

KEY = demo_credentials(["stripe"])["stripe"]["api_key"]


def stripe(url: str, *datasets: str, retries: RetryPolicy | None = None) -> VendorContext:
    return VendorContext(
        "stripe",
        f"{url}/stripe",
        {"api_key": KEY},
        datasets=datasets,
        retries=retries or RetryPolicy(max_attempts=3, budget_seconds=5),
    )


def rows(home: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def test_full_sync_copies_every_dataset_and_snapshots_it(emulator, home: Path) -> None:
    result = sync(stripe(emulator.url), home)
    assert {t: r.rows_held for t, r in result.tables.items()} == {
        "customers": 200,
        "charges": 2000,
        "invoices": 600,
        "subscriptions": 150,
    }
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        emails = con.execute("SELECT count(DISTINCT email) FROM customers").fetchone()[0]
        assert emails == 200
        paid = con.execute("SELECT count(*) FROM charges WHERE paid").fetchone()[0]
        assert 0 < paid < 2000
    manifest = read_manifest(home / "snapshots" / "stripe")
    part = manifest["tables"]["charges"]["parts"][0]
    assert manifest["tables"]["charges"]["rows"] == 2000 and part["rows"] == 2000
    assert sha256(home / "snapshots" / "stripe" / part["file"]) == part["sha256"]


def test_incremental_sync_asks_only_for_what_changed(emulator, home: Path) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe(emulator.url, "charges"), home)
    control.reset_counters()
    control.advance(seconds=6 * 3600, changes={"stripe.charges": {"updated": 7}})
    new_charges = control.state()["datasets"]["stripe.charges"]["created"] - 2000
    result = sync(stripe(emulator.url, "charges"), home)
    served = control.served("stripe")
    # The listing returns only charges created since the cursor (the boundary one again).
    assert served["charges"] <= new_charges + 1
    assert result.tables["charges"].rows_loaded == new_charges + 7
    assert result.tables["charges"].rows_held == 2000 + new_charges
    refunded = [r for r in rows(home, "charges") if r[3]]  # amount_refunded
    assert len(refunded) >= 7
    # Each load adds one snapshot part holding just the rows it wrote.
    parts = read_manifest(home / "snapshots" / "stripe")["tables"]["charges"]["parts"]
    assert [p["rows"] for p in parts] == [2000, new_charges + 7]


def test_second_sync_without_changes_loads_nothing_new(emulator, home: Path) -> None:
    sync(stripe(emulator.url, "customers"), home)
    before = rows(home, "customers")
    result = sync(stripe(emulator.url, "customers"), home)
    assert result.tables["customers"].rows_held == 200
    assert [r[:-2] for r in rows(home, "customers")] == [r[:-2] for r in before]


@pytest.mark.parametrize(("count", "pages"), [(100, 1), (0, 1), (101, 2)])
def test_pagination_edges(make_emulator, home: Path, count: int, pages: int) -> None:
    server = make_emulator({"stripe.charges": count})
    result = sync(stripe(server.url, "charges"), home)
    held = result.tables["charges"].rows_held if "charges" in result.tables else 0
    assert held == count
    assert EmulatorControl(server.url).requests("stripe") == pages


def test_rate_limits_are_ridden_out_honouring_retry_after(emulator, home: Path) -> None:
    control = EmulatorControl(emulator.url)
    control.fault("stripe", "rate_limit", retry_after=0, count=2)
    result = sync(stripe(emulator.url, "customers"), home)
    assert result.tables["customers"].rows_held == 200


def test_lockout_fails_named_and_leaves_the_copy_untouched(emulator, home: Path) -> None:
    sync(stripe(emulator.url, "charges"), home)
    database = warehouse_path(home, "stripe")
    before = rows(home, "charges")
    control = EmulatorControl(emulator.url)
    control.advance(days=1)
    control.fault("stripe", "lockout")
    with pytest.raises(Exception) as failure:
        sync(stripe(emulator.url, "charges"), home)
    assert isinstance(_root(failure.value), VendorLockout)
    assert KEY not in str(failure.value)
    assert rows(home, "charges") == before
    assert database.exists()


def test_outage_after_retries_is_named_an_outage(emulator, home: Path) -> None:
    EmulatorControl(emulator.url).fault("stripe", "outage")
    with pytest.raises(Exception) as failure:
        sync(stripe(emulator.url, "charges", retries=RetryPolicy(2, 5)), home)
    assert isinstance(_root(failure.value), VendorOutage)


def test_malformed_body_is_a_bad_response(emulator, home: Path) -> None:
    EmulatorControl(emulator.url).fault("stripe", "malformed")
    with pytest.raises(Exception) as failure:
        sync(stripe(emulator.url, "charges"), home)
    error = _root(failure.value)
    assert isinstance(error, VendorBadResponse)
    assert "not valid JSON" in str(error)


def _root(exc: BaseException) -> BaseException:
    """dlt wraps resource errors; the named vendor error is underneath."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        if isinstance(seen, VendorLockout | VendorOutage | VendorBadResponse):
            return seen
        seen = seen.__cause__ or seen.__context__
    return seen

"""The copy keeps every version, reads as it was at any time, and never shrinks."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from lifeboat.errors import SuspectedShrink
from pipelines.base import RetryPolicy, VendorContext
from pipelines.history import as_of, keep_superseded
from pipelines.runner import (
    DATASET,
    appending_marker,
    dedupe_first_loads,
    guard_full_listings,
    make_pipeline,
    sync,
    warehouse_path,
)
from tests.keys import STRIPE_KEY


def stripe(url: str, *datasets: str) -> VendorContext:
    return VendorContext(
        "stripe",
        f"{url}/stripe",
        {"api_key": STRIPE_KEY},
        datasets=datasets,
        retries=RetryPolicy(2, 5),
    )


def connect(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True)


def test_updates_keep_the_earlier_version_and_as_of_returns_it(emulator, home: Path) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe(emulator.url, "charges"), home)
    time.sleep(0.01)  # load ids are timestamps: keep the two loads apart
    between = datetime.now(UTC)
    time.sleep(0.01)
    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 5}})
    sync(stripe(emulator.url, "charges"), home)
    with connect(home) as con:
        changed = [
            row[0]
            for row in con.execute(
                "SELECT id FROM charges_versions GROUP BY id HAVING count(*) = 2"
            ).fetchall()
        ]
        assert len(changed) == 5
        # History holds the replaced versions only: the first load replaced nothing.
        assert con.execute("SELECT count(*) FROM charges_history").fetchone()[0] == 5
        now = dict(con.execute("SELECT id, amount_refunded FROM charges").fetchall())
        before = dict(
            (r[0], r[1])
            for r in as_of(con, DATASET, "charges", between)
            .select("id, amount_refunded")
            .fetchall()
        )
        assert len(before) == 2000  # the copy as it was: the new charges not yet there
        for charge in changed:
            assert before[charge] == 0  # not refunded yet
            assert now[charge] > 0  # refunded since


def test_upstream_deletion_is_a_soft_delete_with_history(emulator, home: Path) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe(emulator.url, "customers"), home)
    time.sleep(0.01)
    between = datetime.now(UTC)
    control.advance(seconds=600, changes={"stripe.customers": {"deleted": 3}})
    sync(stripe(emulator.url, "customers"), home)
    with connect(home) as con:
        assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 200
        gone = con.execute(
            "SELECT id, _changed_at FROM customers WHERE _deleted ORDER BY id"
        ).fetchall()
        assert len(gone) == 3
        assert all(seen_gone is not None for _, seen_gone in gone)
        live_now = as_of(con, DATASET, "customers", datetime.now(UTC)).fetchall()
        live_then = as_of(con, DATASET, "customers", between).fetchall()
        everything_now = as_of(con, DATASET, "customers", datetime.now(UTC), include_deleted=True)
        assert len(live_then) == 200 and len(live_now) == 197
        assert len(everything_now.fetchall()) == 200


def test_full_listing_far_smaller_than_the_copy_is_refused(emulator, home: Path, tmp_path) -> None:
    sync(stripe(emulator.url, "charges"), home)
    # The copy rebuilt elsewhere (say, restored from its snapshots) holds the rows but no
    # dlt cursor, so the next run lists everything again.
    other = tmp_path / "other"
    (other / "warehouse").mkdir(parents=True)
    shutil.copy(warehouse_path(home, "stripe"), warehouse_path(other, "stripe"))
    with duckdb.connect(str(warehouse_path(other, "stripe"))) as con:
        con.execute("DELETE FROM _dlt_pipeline_state")
        before = con.execute("SELECT * FROM charges ORDER BY id").fetchall()
    EmulatorControl(emulator.url).fault("stripe", "partial", share=0.3)
    with pytest.raises(SuspectedShrink, match=r"returned .* records but the copy holds 2,000"):
        sync(stripe(emulator.url, "charges"), other)
    with duckdb.connect(str(warehouse_path(other, "stripe")), read_only=True) as con:
        assert con.execute("SELECT * FROM charges ORDER BY id").fetchall() == before


def test_guard_judges_only_full_listings_of_tables_that_ran() -> None:
    held = {"charges": 1000, "customers": 100}
    # An incremental run (a cursor) listing few records is normal.
    guard_full_listings("stripe", {"charges": "2026-01-01"}, held, {"charges": 3}, ["charges"])
    # A table that did not run is not judged.
    guard_full_listings("stripe", {}, held, {"charges": 990}, ["charges"])
    # Within the allowed share.
    guard_full_listings("stripe", {}, held, {"charges": 800}, ["charges"])
    with pytest.raises(SuspectedShrink):
        guard_full_listings("stripe", {}, held, {"charges": 799}, ["charges"])
    with pytest.raises(SuspectedShrink):
        guard_full_listings(
            "stripe", {"charges": "x"}, held, {}, ["charges"], full=frozenset({"charges"})
        )


def test_a_run_killed_after_keeping_versions_does_not_double_them(
    emulator, home: Path, tmp_path: Path
) -> None:
    sync(stripe(emulator.url, "customers"), home)
    database = warehouse_path(home, "stripe")
    incoming = tmp_path / "incoming.parquet"
    with duckdb.connect(str(database)) as con:
        con.execute(f"COPY (SELECT * FROM customers LIMIT 10) TO '{incoming}' (FORMAT parquet)")
        before = con.execute("SELECT count(*) FROM customers_versions").fetchall()[0][0]
    # Twice, as two runs that each died between keeping versions and loading would.
    for _ in range(2):
        keep_superseded(database, DATASET, {"customers": [str(incoming)]}, {"customers": ["id"]})
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM customers_history").fetchall()[0][0] == 20
        assert con.execute("SELECT count(*) FROM customers_versions").fetchall()[0][0] == before
        assert len(as_of(con, DATASET, "customers", datetime.now(UTC)).fetchall()) == 200


def test_a_first_load_is_appended_and_keys_held_twice_keep_their_newest_row(
    tmp_path: Path,
) -> None:
    database = tmp_path / "vendor.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(
            "CREATE TABLE main.items AS SELECT * FROM (VALUES "
            "('a', TIMESTAMPTZ '2026-01-01', 'old', '1'), "
            "('a', TIMESTAMPTZ '2026-01-02', 'new', '1'), "
            "('b', TIMESTAMPTZ '2026-01-01', 'only', '1')) "
            "AS t(id, _changed_at, note, _dlt_load_id)"
        )
        con.execute("CREATE TABLE main.clean AS SELECT 'x' AS id, '1' AS _dlt_load_id")

    removed = dedupe_first_loads(database, ["items", "clean"], {"items": ["id"], "clean": ["id"]})

    assert removed == {"items": 1}
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT id, note FROM items ORDER BY id").fetchall() == [
            ("a", "new"),
            ("b", "only"),
        ]


def test_the_first_load_appends_and_the_next_merges(emulator, home: Path) -> None:
    control = EmulatorControl(emulator.url)
    ctx = VendorContext("stripe", f"{emulator.url}/stripe", {"api_key": STRIPE_KEY})
    sync(ctx, home)
    schema = make_pipeline("stripe", home).default_schema
    assert schema.get_table("charges")["write_disposition"] == "append"
    assert not appending_marker(home, "stripe").exists()

    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 5}})
    result = sync(ctx, home)

    schema = make_pipeline("stripe", home).default_schema
    assert schema.get_table("charges")["write_disposition"] == "merge"
    assert result.tables["charges"].rows_held == 2000 + result.tables["charges"].rows_loaded - 5
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        assert con.execute("SELECT count(*) - count(DISTINCT id) FROM charges").fetchone() == (0,)


def test_a_run_that_died_before_its_duplicate_check_has_it_done_by_the_next(
    emulator, home: Path
) -> None:
    ctx = VendorContext(
        "stripe", f"{emulator.url}/stripe", {"api_key": STRIPE_KEY}, datasets=("customers",)
    )
    sync(ctx, home)
    database = warehouse_path(home, "stripe")
    with duckdb.connect(str(database)) as con:  # as if the first load had held one twice
        con.execute("INSERT INTO customers SELECT * FROM customers LIMIT 1")
    appending_marker(home, "stripe").write_text('["customers"]')

    result = sync(ctx, home)

    assert result.tables["customers"].rows_held == 200
    assert not appending_marker(home, "stripe").exists()

"""A backfill window loads exactly its records and never moves the incremental cursor."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from emulators.control import EmulatorControl
from pipelines.base import VendorContext, Window
from pipelines.runner import cursors, make_pipeline, sync, warehouse_path
from tests.keys import GA4_TOKEN, STRIPE_KEY

DAY = 86_400


def test_window_loads_its_days_only_and_keeps_the_cursor(emulator, home: Path) -> None:
    control = EmulatorControl(emulator.url)
    ctx = VendorContext(
        "stripe", f"{emulator.url}/stripe", {"api_key": STRIPE_KEY}, datasets=("charges",)
    )
    sync(ctx, home)
    cursor_before = cursors(make_pipeline("stripe", home))["charges"]
    start = control.state()["now"]
    control.advance(days=3, changes={"stripe.charges": {"updated": 30}})

    day_two = Window(
        datetime.fromtimestamp(start + DAY, UTC), datetime.fromtimestamp(start + 2 * DAY, UTC)
    )
    result = sync(replace(ctx, window=day_two), home)

    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        loaded = con.execute(
            "SELECT min(_changed_at), max(_changed_at), count(*) FROM charges "
            "WHERE _dlt_load_id = ?",
            [result.load_ids[0]],
        ).fetchone()
    assert loaded[2] == result.tables["charges"].rows_loaded > 0
    assert day_two.start <= loaded[0] and loaded[1] < day_two.end
    assert cursors(make_pipeline("stripe", home))["charges"] == cursor_before

    # The regular run then catches up on all three days from the unmoved cursor, once.
    caught_up = sync(ctx, home)
    created = control.state()["datasets"]["stripe.charges"]["created"]
    assert caught_up.tables["charges"].rows_held == created
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        newest = con.execute("SELECT max(_changed_at) FROM charges").fetchone()[0]
    assert newest > day_two.end
    assert cursors(make_pipeline("stripe", home))["charges"] > cursor_before
    assert timedelta(0) < newest - day_two.end < timedelta(days=2)


def test_window_on_a_date_cursor_reads_exactly_its_days(emulator, home: Path) -> None:
    ctx = VendorContext(
        "ga4", f"{emulator.url}/ga4", {"access_token": GA4_TOKEN}, {"property_id": "123"}
    )
    sync(ctx, home)
    cursor_before = cursors(make_pipeline("ga4", home))["daily_metrics"]
    window = Window(datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 4, tzinfo=UTC))
    result = sync(replace(ctx, window=window), home)
    assert result.tables["daily_metrics"].rows_loaded == 3
    with duckdb.connect(str(warehouse_path(home, "ga4")), read_only=True) as con:
        days = con.execute(
            "SELECT min(date), max(date) FROM daily_metrics WHERE _dlt_load_id = ?",
            [result.load_ids[0]],
        ).fetchone()
    assert [d.isoformat() for d in days] == ["2025-06-01", "2025-06-03"]
    assert cursors(make_pipeline("ga4", home))["daily_metrics"] == cursor_before

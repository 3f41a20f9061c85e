"""The YouTube connector against the YouTube emulator over real HTTP, into real DuckDB files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer
from emulators.settings import DAY
from lifeboat.errors import (
    ConfigError,
    VendorBadResponse,
    VendorError,
    VendorLockout,
    VendorOutage,
    VendorRateLimited,
)
from pipelines.base import RetryPolicy, VendorContext
from pipelines.runner import sync, warehouse_path
from pipelines.snapshot import read_manifest, sha256
from pipelines.youtube import source

TOKEN = demo_credentials(["youtube"])["youtube"]["access_token"]
SCALE = {"youtube.videos": 120, "youtube.comments": 250, "youtube.subscribers": 140}


def youtube(
    url: str, *datasets: str, retries: RetryPolicy | None = None, **options: Any
) -> VendorContext:
    return VendorContext(
        "youtube",
        f"{url}/youtube",
        {"access_token": TOKEN},
        options=options,
        datasets=datasets,
        retries=retries or RetryPolicy(max_attempts=3, budget_seconds=5),
    )


def count(home: Path, table: str) -> int:
    with duckdb.connect(str(warehouse_path(home, "youtube")), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def public_subscribers(server: EmulatorServer) -> int:
    app = server.emulator.apps["youtube"]
    live = app.subscribers.count_at(app.clock.now())
    return sum(
        1 for i in range(live) if app.is_public_subscriber(i) and not app.subscribers.is_deleted(i)
    )


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator(SCALE)


def test_full_sync_copies_every_dataset_and_snapshots_it(
    server: EmulatorServer, home: Path
) -> None:
    result = sync(youtube(server.url), home)

    assert {t: r.rows_held for t, r in result.tables.items()} == {
        "videos": 120,
        "comments": 250,
        "subscribers": public_subscribers(server),
    }
    assert str(result.tables["videos"].cursor).startswith("2025-12-28")
    with duckdb.connect(str(warehouse_path(home, "youtube")), read_only=True) as con:
        views, title, published = con.execute(
            "SELECT view_count, title, published_at FROM videos ORDER BY published_at DESC"
        ).fetchone()
        authors = con.execute(
            "SELECT count(DISTINCT author_display_name) FROM comments WHERE video_id IS NOT NULL"
        ).fetchone()[0]
        named = con.execute("SELECT count(*) FROM subscribers WHERE subscriber_title <> ''")
        assert named.fetchone()[0] == public_subscribers(server)
        assert con.execute("SELECT count(*) FROM videos WHERE _deleted").fetchone()[0] == 0
    assert isinstance(views, int) and views > 0
    assert title.endswith("#120")
    assert published.year == 2025
    assert authors > 10
    manifest = read_manifest(home / "snapshots" / "youtube")
    part = manifest["tables"]["comments"]["parts"][0]
    assert part["rows"] == 250
    assert sha256(home / "snapshots" / "youtube" / part["file"]) == part["sha256"]


def test_incremental_sync_asks_only_for_what_changed(server: EmulatorServer, home: Path) -> None:
    control = EmulatorControl(server.url)
    ctx = youtube(server.url, lookback_days=0)
    sync(ctx, home)
    app = server.emulator.apps["youtube"]
    before = {name: ds.count_at(app.clock.now()) for name, ds in app.datasets.items()}
    control.reset_counters()

    control.advance(days=4, changes={"youtube.comments": {"deleted": 3}})
    result = sync(ctx, home)

    new = {name: ds.count_at(app.clock.now()) - before[name] for name, ds in app.datasets.items()}
    served = control.served("youtube")
    assert new["videos"] == 2 and new["comments"] == 160
    # Newest first, the connector stops one page past its cursor (the cursor's own item
    # is asked for again because the range is closed, and dlt drops the duplicate).
    assert served["playlist_items"] <= 50
    assert new["videos"] <= served["videos"] <= new["videos"] + 1
    assert served["comments"] < new["comments"] + 100
    assert served["subscribers"] <= 50
    assert result.tables["videos"].rows_loaded == new["videos"]
    assert result.tables["comments"].rows_loaded == new["comments"]
    # Comments deleted upstream stay in the copy: a vendor never shrinks it.
    assert count(home, "comments") == 250 + new["comments"]
    assert count(home, "videos") == 120 + new["videos"]


def test_the_lookback_rereads_recent_uploads_and_refreshes_their_statistics(
    server: EmulatorServer, home: Path
) -> None:
    control = EmulatorControl(server.url)
    ctx = youtube(server.url, "videos", lookback_days=10)
    sync(ctx, home)
    with duckdb.connect(str(warehouse_path(home, "youtube")), read_only=True) as con:
        before = dict(con.execute("SELECT id, view_count FROM videos").fetchall())
        cursor = con.execute("SELECT max(published_at) FROM videos").fetchone()[0]

    # Every existing video gets new statistics; only the recent ones are asked for again.
    control.advance(days=1, changes={"youtube.videos": {"updated": 120}})
    sync(ctx, home)

    with duckdb.connect(str(warehouse_path(home, "youtube")), read_only=True) as con:
        rows = con.execute("SELECT id, view_count, published_at FROM videos").fetchall()
    window_start = cursor.timestamp() - 10 * DAY
    recent = {vid for vid, _, at in rows if at.timestamp() >= window_start}
    refreshed = {vid for vid, views, _ in rows if views != before[vid]}
    assert recent and refreshed == recent
    assert len(rows) == 120


@pytest.mark.parametrize("videos", [50, 0])
def test_pagination_edges(make_emulator, home: Path, videos: int) -> None:
    server = make_emulator(
        {"youtube.videos": videos, "youtube.comments": 0, "youtube.subscribers": 0}
    )
    control = EmulatorControl(server.url)

    result = sync(youtube(server.url), home)

    held = {table: r.rows_held for table, r in result.tables.items()}
    assert held.get("videos", 0) == videos
    assert held.get("comments", 0) == held.get("subscribers", 0) == 0
    assert control.served("youtube").get("playlist_items", 0) == videos
    # Per dataset one listing page; videos and comments each look the channel up first,
    # and a page of uploads costs one videos.list call when it holds any.
    assert control.requests("youtube") == 2 + 3 + (1 if videos else 0)


def test_rate_limits_are_ridden_out_honouring_retry_after(
    server: EmulatorServer, home: Path
) -> None:
    control = EmulatorControl(server.url)
    control.fault("youtube", "rate_limit", retry_after=0, count=2)

    result = sync(youtube(server.url, "videos"), home)

    assert result.tables["videos"].rows_held == 120
    # Two refused requests, then the channel, three pages of uploads, three videos.list.
    assert control.requests("youtube") == 2 + 1 + 3 + 3


def test_lockout_fails_named_and_leaves_the_copy_untouched(
    server: EmulatorServer, home: Path
) -> None:
    control = EmulatorControl(server.url)
    ctx = youtube(server.url)
    sync(ctx, home)
    control.advance(days=4)
    control.fault("youtube", "lockout")

    with pytest.raises(Exception) as failure:
        sync(ctx, home)
    assert isinstance(_root(failure.value), VendorLockout)
    assert TOKEN not in str(failure.value)
    assert (count(home, "videos"), count(home, "comments")) == (120, 250)

    # The next run after the vendor is back completes without losing or duplicating.
    control.clear_faults("youtube")
    sync(ctx, home)
    with duckdb.connect(str(warehouse_path(home, "youtube")), read_only=True) as con:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT id) FROM comments"
        ).fetchone()
    assert count(home, "videos") == 122
    assert total == distinct == 250 + 160


@pytest.mark.parametrize(
    ("mode", "options", "error", "words"),
    [
        ("lockout", {"reason": "authenticatedUserAccountSuspended"}, VendorLockout, "suspended"),
        ("lockout", {"reason": "accountClosed"}, VendorLockout, "closed"),
        ("lockout", {"status": 401}, VendorLockout, "access token"),
        ("rate_limit", {"reason": "quotaExceeded"}, VendorRateLimited, "daily"),
        ("outage", {}, VendorOutage, "unavailable"),
        ("malformed", {}, VendorBadResponse, "not valid JSON"),
    ],
)
def test_each_error_body_is_named_for_what_it_is(
    server: EmulatorServer,
    home: Path,
    mode: str,
    options: dict[str, Any],
    error: type[VendorError],
    words: str,
) -> None:
    EmulatorControl(server.url).fault("youtube", mode, **options)

    with pytest.raises(Exception) as failure:
        sync(youtube(server.url, "videos", retries=RetryPolicy(2, 5)), home)

    found = _root(failure.value)
    assert type(found) is error
    assert words in str(found)
    assert TOKEN not in str(failure.value) and TOKEN not in repr(found)


def _root(exc: BaseException) -> BaseException:
    """dlt wraps resource errors; the named vendor error is underneath."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, VendorError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def test_a_bad_lookback_is_a_config_error_naming_the_field() -> None:
    ctx = VendorContext("youtube", "https://www.googleapis.com", options={"lookback_days": "week"})

    with pytest.raises(ConfigError, match=re.escape("vendors.youtube.options.lookback_days")):
        source(ctx)


def test_a_spent_daily_quota_stops_the_run_cleanly_until_midnight_pacific(
    make_emulator, home: Path
) -> None:
    # YouTube's daily quota (https://developers.google.com/youtube/v3/getting-started#quota):
    # a budget of 17 units holds one full copy here (14 list calls) but not a second today.
    server = make_emulator({**SCALE, "youtube.quota_units": 17})
    control = EmulatorControl(server.url)
    ctx = youtube(server.url, lookback_days=0)
    sync(ctx, home)
    # 2026-01-01T02:00Z is 18:00 on Dec 31 in California: six hours before the reset.
    control.advance(seconds=2 * 3600)

    with pytest.raises(Exception) as failure:
        sync(ctx, home)

    spent = _root(failure.value)
    assert type(spent) is VendorRateLimited  # not a lockout: nothing is wrong with the account
    assert spent.retry_after == 6 * 3600
    assert "daily YouTube API quota" in spent.detail and "in 6.0 hours" in spent.detail
    assert (count(home, "videos"), count(home, "comments")) == (120, 250)

    # After midnight Pacific time the next run goes on from its cursor, losing nothing.
    control.advance(seconds=6 * 3600 + 60)
    result = sync(ctx, home)
    with duckdb.connect(str(warehouse_path(home, "youtube")), read_only=True) as con:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT id) FROM comments"
        ).fetchone()
    assert result.tables["comments"].rows_loaded == total - 250 > 0
    assert total == distinct

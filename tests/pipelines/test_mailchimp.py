"""The Mailchimp connector against the Mailchimp emulator over real HTTP, into real DuckDB files."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.mailchimp import App
from emulators.server import Emulator, EmulatorServer
from lifeboat.errors import (
    ConfigError,
    VendorBadResponse,
    VendorError,
    VendorLockout,
    VendorOutage,
    VendorRateLimited,
)
from pipelines.base import RetryPolicy, VendorContext
from pipelines.mailchimp import client
from pipelines.mailchimp.settings import CALL_TIMEOUT_SECONDS, MAX_CONNECTIONS
from pipelines.runner import sync, warehouse_path
from pipelines.snapshot import read_manifest

KEY = demo_credentials(["mailchimp"])["mailchimp"]["api_key"]
REAL_HOST = "https://{dc}.api.mailchimp.com"


@pytest.fixture(scope="module")
def http_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer(Emulator(seed=42)).start()
    yield server
    server.stop()


@pytest.fixture
def start(http_server: EmulatorServer) -> Callable[..., EmulatorServer]:
    """A fresh emulator at a chosen scale behind one socket (stopping one waits out its poll)."""

    def fresh(scale: dict[str, int] | None = None) -> EmulatorServer:
        emulator = Emulator(seed=42, scale=scale)
        http_server.httpd.RequestHandlerClass.emulator = emulator  # type: ignore[attr-defined]
        http_server.emulator = emulator
        return http_server

    return fresh


@pytest.fixture
def server(start: Callable[..., EmulatorServer]) -> EmulatorServer:
    """Default scale: 3 audiences, 600 members, 60 campaigns."""
    return start()


def mailchimp(url: str, *datasets: str, retries: RetryPolicy | None = None) -> VendorContext:
    return VendorContext(
        "mailchimp",
        f"{url}/mailchimp",
        {"api_key": KEY},
        datasets=datasets,
        retries=retries or RetryPolicy(max_attempts=3, budget_seconds=5),
    )


def query(home: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "mailchimp")), read_only=True) as con:
        return con.execute(sql).fetchall()


def app(server: EmulatorServer) -> App:
    return server.emulator.apps["mailchimp"]  # type: ignore[return-value]


def test_full_sync_copies_every_dataset_and_snapshots_it(
    server: EmulatorServer, home: Path
) -> None:
    result = sync(mailchimp(server.url), home)

    assert {t: r.rows_held for t, r in result.tables.items()} == {
        "lists": 3,
        "members": 600,
        "campaigns": 60,
    }
    # One table of members across audiences, keyed by (list_id, id).
    assert query(
        home, "SELECT count(DISTINCT list_id), count(DISTINCT (list_id, id)) FROM members"
    ) == [(3, 600)]
    statuses = dict(query(home, "SELECT status, count(*) FROM members GROUP BY status"))
    assert statuses["subscribed"] > statuses["unsubscribed"] > 0
    subscribed = query(home, "SELECT sum(member_count) FROM lists")[0][0]
    assert subscribed == statuses["subscribed"]
    assert (
        query(home, "SELECT count(*) FROM campaigns WHERE status = 'sent' AND opens > 0")[0][0] > 0
    )
    manifest = read_manifest(home / "snapshots" / "mailchimp")
    assert manifest["tables"]["members"]["rows"] == 600


def test_incremental_sync_asks_only_for_what_changed(server: EmulatorServer, home: Path) -> None:
    control = EmulatorControl(server.url)
    first = sync(mailchimp(server.url), home)
    cursor = int(datetime.fromisoformat(first.tables["members"].cursor).timestamp())
    control.reset_counters()
    control.advance(days=1, changes={"mailchimp.members": {"updated": 8, "deleted": 3}})
    now = control.state()["now"]
    members = app(server).members

    result = sync(mailchimp(server.url), home)

    served = control.served("mailchimp")
    # Only members changed since the cursor are asked for (its own second again, for safety).
    assert served["members"] == len(members.changed_since(cursor - 1, now))
    assert served["members"] < 60
    assert result.tables["members"].rows_loaded == len(members.changed_since(cursor, now))
    new_members = members.count_at(now) - 600
    assert result.tables["members"].rows_held == 600 + new_members
    # Archived members stay in the copy, marked deleted.
    assert query(home, "SELECT count(*) FROM members WHERE _deleted AND status = 'archived'") == [
        (3,)
    ]
    # Campaigns are re-read only for the last week, where reports still change.
    assert served["campaigns"] < 60


def test_second_sync_without_changes_loads_no_member_again(
    server: EmulatorServer, home: Path
) -> None:
    sync(mailchimp(server.url, "members"), home)
    before = query(home, "SELECT list_id, id, status, last_changed FROM members ORDER BY 1, 2")

    result = sync(mailchimp(server.url, "members"), home)

    assert result.tables["members"].rows_loaded == 0
    after = query(home, "SELECT list_id, id, status, last_changed FROM members ORDER BY 1, 2")
    assert after == before


@pytest.mark.parametrize(("count", "member_pages"), [(1000, 1), (0, 1), (1001, 2)])
def test_pagination_edges(
    start: Callable[..., EmulatorServer], home: Path, count: int, member_pages: int
) -> None:
    server = start({"mailchimp.lists": 1, "mailchimp.members": count, "mailchimp.campaigns": 0})
    control = EmulatorControl(server.url)

    result = sync(mailchimp(server.url), home)

    held = result.tables["members"].rows_held if "members" in result.tables else 0
    assert held == count
    # Lists twice (the audiences, then their ids), members' pages, the archived, campaigns.
    assert control.requests("mailchimp") == 2 + member_pages + 1 + 1


def test_an_account_without_audiences_syncs_empty(
    start: Callable[..., EmulatorServer], home: Path
) -> None:
    server = start({"mailchimp.lists": 0})

    result = sync(mailchimp(server.url), home)

    assert result.tables["campaigns"].rows_held == 60
    for dataset in ("lists", "members"):
        assert dataset not in result.tables or result.tables[dataset].rows_held == 0


def test_rate_limits_are_ridden_out_honouring_retry_after(
    server: EmulatorServer, home: Path
) -> None:
    EmulatorControl(server.url).fault("mailchimp", "rate_limit", retry_after=1, count=1)

    result = sync(mailchimp(server.url, "lists"), home)

    assert result.tables["lists"].rows_held == 3


def test_rate_limit_that_does_not_lift_is_named(server: EmulatorServer, home: Path) -> None:
    EmulatorControl(server.url).fault("mailchimp", "rate_limit", retry_after=0)

    with pytest.raises(Exception) as failure:
        sync(mailchimp(server.url, "lists", retries=RetryPolicy(2, 5)), home)

    error = _root(failure.value)
    assert isinstance(error, VendorRateLimited)
    assert "simultaneous connections" in str(error)


def test_lockouts_fail_named_and_leave_the_copy_untouched(
    server: EmulatorServer, home: Path
) -> None:
    sync(mailchimp(server.url, "members"), home)
    before = query(home, "SELECT * FROM members ORDER BY list_id, id")
    control = EmulatorControl(server.url)
    control.advance(days=1)

    for status, title in [
        (401, "API Key Invalid"),
        (403, "User Disabled"),
        (503, "Compliance Related"),
    ]:
        control.fault("mailchimp", "lockout", status=status)
        with pytest.raises(Exception) as failure:
            sync(mailchimp(server.url, "members"), home)

        error = _root(failure.value)
        # A compliance hold answers 503, but it is a lockout to act on, not an outage to wait.
        assert isinstance(error, VendorLockout), status
        assert title in str(error) and "Mailchimp" in str(error)
        assert KEY not in str(failure.value) and KEY[:32] not in str(failure.value)
        assert query(home, "SELECT * FROM members ORDER BY list_id, id") == before


def test_outage_after_retries_is_named_an_outage(server: EmulatorServer, home: Path) -> None:
    EmulatorControl(server.url).fault("mailchimp", "outage")

    with pytest.raises(Exception) as failure:
        sync(mailchimp(server.url, "lists", retries=RetryPolicy(2, 5)), home)

    assert isinstance(_root(failure.value), VendorOutage)


def test_malformed_body_is_a_bad_response(server: EmulatorServer, home: Path) -> None:
    EmulatorControl(server.url).fault("mailchimp", "malformed")

    with pytest.raises(Exception) as failure:
        sync(mailchimp(server.url, "members"), home)

    error = _root(failure.value)
    assert isinstance(error, VendorBadResponse)
    assert "not valid JSON" in str(error)


def test_a_full_sync_stays_within_the_connection_limit(server: EmulatorServer, home: Path) -> None:
    sync(mailchimp(server.url), home)

    assert 0 < app(server).peak_in_flight <= MAX_CONNECTIONS
    assert app(server).refused_connections == 0


def test_a_429_for_too_many_connections_is_ridden_out(server: EmulatorServer, home: Path) -> None:
    """Another integration on the same key holds all 10 connections for a while."""
    mailchimp_app = app(server)
    mailchimp_app.gate = threading.Event()
    others = ThreadPoolExecutor(MAX_CONNECTIONS)
    held = [
        others.submit(requests.get, f"{server.url}/mailchimp/3.0/ping", auth=("x", KEY), timeout=30)
        for _ in range(MAX_CONNECTIONS)
    ]
    wait_for(lambda: mailchimp_app.in_flight.get(KEY) == MAX_CONNECTIONS)
    # The other integration finishes once the copy has been refused at least once.
    opener = threading.Thread(
        target=lambda: (wait_for(lambda: mailchimp_app.refused_connections > 0), gate_open(server))
    )
    opener.start()

    result = sync(mailchimp(server.url, "lists"), home)

    opener.join()
    assert [f.result().status_code for f in held] == [200] * MAX_CONNECTIONS
    others.shutdown()
    assert mailchimp_app.refused_connections >= 1
    assert result.tables["lists"].rows_held == 3
    assert mailchimp_app.peak_in_flight == MAX_CONNECTIONS


def gate_open(server: EmulatorServer) -> None:
    gate = app(server).gate
    assert gate is not None
    gate.set()


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_403_without_a_body_is_throttling_and_is_retried(
    server: EmulatorServer, home: Path
) -> None:
    # Mailchimp's own refusals are problem+json; at high volume it throttles with a bare 403.
    EmulatorControl(server.url).fault("mailchimp", "rate_limit", status=403, count=1)

    result = sync(mailchimp(server.url, "lists"), home)

    assert result.tables["lists"].rows_held == 3


def test_a_revoked_key_is_a_named_lockout(server: EmulatorServer, home: Path) -> None:
    EmulatorControl(server.url).credentials("mailchimp", api_key="f" * 32 + "-us6")

    with pytest.raises(Exception) as failure:
        sync(mailchimp(server.url, "lists"), home)

    error = _root(failure.value)
    assert isinstance(error, VendorLockout)
    assert "API Key Invalid" in str(error) and KEY[:32] not in str(failure.value)


def test_calls_may_take_as_long_as_mailchimp_lets_them() -> None:
    # Mailchimp answers a call for up to 120 s: a shorter read timeout gives up on pages it
    # would still serve, and retries the same slow call until the budget runs out.
    session = client(VendorContext("mailchimp", REAL_HOST, {"api_key": KEY})).session

    assert session.timeout[1] >= CALL_TIMEOUT_SECONDS == 120  # type: ignore[attr-defined]


def test_the_data_center_comes_from_the_key_unless_configured() -> None:
    real = VendorContext("mailchimp", REAL_HOST, {"api_key": KEY})
    pinned = VendorContext("mailchimp", REAL_HOST, {"api_key": KEY}, options={"dc": "us19"})

    assert client(real).base_url == "https://us6.api.mailchimp.com"
    assert client(pinned).base_url == "https://us19.api.mailchimp.com"


def test_a_key_without_its_data_center_is_a_config_error_that_hides_the_key() -> None:
    bare = "0123456789abcdef0123456789abcdef"
    ctx = VendorContext("mailchimp", REAL_HOST, {"api_key": bare})

    with pytest.raises(ConfigError) as failure:
        client(ctx)

    assert "'dc'" in str(failure.value) and bare not in str(failure.value)


def _root(exc: BaseException) -> BaseException:
    """dlt wraps resource errors; the named vendor error is underneath."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, VendorError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc

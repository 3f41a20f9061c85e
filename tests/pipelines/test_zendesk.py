"""The Zendesk connector against the Zendesk emulator over real HTTP, into real DuckDB files."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from lifeboat.errors import (
    ConfigError,
    VendorBadResponse,
    VendorLockout,
    VendorOutage,
    VendorRateLimited,
)
from pipelines.base import RetryPolicy, VendorContext, Window
from pipelines.runner import cursors, make_pipeline, sync, warehouse_path
from pipelines.snapshot import read_manifest
from pipelines.zendesk import client

EMAIL = demo_credentials(["zendesk"])["zendesk"]["email"]
TOKEN = demo_credentials(["zendesk"])["zendesk"]["api_token"]
SCALE = {"zendesk.tickets": 400, "zendesk.users": 60}


def zendesk(url: str, *datasets: str, retries: RetryPolicy | None = None) -> VendorContext:
    return VendorContext(
        "zendesk",
        f"{url}/zendesk",
        {"email": EMAIL, "api_token": TOKEN},
        datasets=datasets,
        retries=retries or RetryPolicy(max_attempts=3, budget_seconds=5),
    )


def query(home: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "zendesk")), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def server(make_emulator):
    return make_emulator(SCALE)


@pytest.fixture
def ctl(server) -> EmulatorControl:
    return EmulatorControl(server.url)


def test_full_sync_copies_tickets_and_users_once_each(server, ctl, home: Path) -> None:
    result = sync(zendesk(server.url), home)

    assert {t: r.rows_held for t, r in result.tables.items()} == {"tickets": 400, "users": 60}
    assert ctl.served("zendesk") == {"tickets": 400, "users": 60}
    [(emails, end_users)] = query(
        home, "SELECT count(DISTINCT email), count(*) FILTER (role = 'end-user') FROM users"
    )
    assert emails == 60
    assert end_users == 54
    [(open_work, requesters_known)] = query(
        home,
        "SELECT count(*) FILTER (status IN ('new', 'open', 'pending')), "
        "count(*) FILTER (requester_id IN (SELECT id FROM users)) FROM tickets",
    )
    assert 0 < open_work < 400
    assert requesters_known == 400
    manifest = read_manifest(home / "snapshots" / "zendesk")
    assert manifest["tables"]["tickets"]["rows"] == 400


def test_incremental_sync_asks_only_for_what_changed(server, ctl, home: Path) -> None:
    sync(zendesk(server.url), home)
    copy = "SELECT * EXCLUDE (_dlt_load_id) FROM users ORDER BY id"
    before = query(home, copy)
    ctl.reset_counters()
    unchanged = sync(zendesk(server.url), home)
    # Nothing changed: at most the boundary record of each dataset comes again.
    assert sum(ctl.served("zendesk").values()) <= 2
    assert unchanged.tables["users"].rows_held == 60
    assert query(home, copy) == before
    ctl.reset_counters()
    ctl.advance(
        days=1,
        changes={
            "zendesk.tickets": {"updated": 7, "deleted": 3},
            "zendesk.users": {"updated": 0, "deleted": 2},
        },
    )

    result = sync(zendesk(server.url), home)

    tickets = result.tables["tickets"]
    new_tickets = tickets.rows_held - 400
    assert 30 <= new_tickets <= 40  # a day's new tickets, less any from the last minute
    assert tickets.rows_loaded == new_tickets + 10
    # Only the changes were asked for: at most the boundary record comes again.
    assert ctl.served("zendesk")["tickets"] <= tickets.rows_loaded + 1
    deleted = query(home, "SELECT status FROM tickets WHERE _deleted")
    assert deleted == [("deleted",)] * 3
    # A deleted user stays in the copy, marked, with the email to reach them.
    gone = query(home, "SELECT active, email FROM users WHERE _deleted")
    assert len(gone) == 2
    assert all(active is False and email for active, email in gone)


@pytest.mark.parametrize(("count", "pages"), [(1000, 1), (1001, 2)])
def test_pagination_edges(make_emulator, home: Path, count: int, pages: int) -> None:
    server = make_emulator({"zendesk.tickets": count})
    control = EmulatorControl(server.url)

    result = sync(zendesk(server.url, "tickets"), home)

    assert result.tables["tickets"].rows_held == count
    assert control.requests("zendesk") == pages


def test_an_empty_account_syncs_and_later_tickets_arrive(make_emulator, home: Path) -> None:
    server = make_emulator({"zendesk.tickets": 0})
    control = EmulatorControl(server.url)

    empty = sync(zendesk(server.url, "tickets"), home)
    assert empty.tables.get("tickets") is None or empty.tables["tickets"].rows_held == 0
    assert control.requests("zendesk") == 1
    control.advance(days=1)
    result = sync(zendesk(server.url, "tickets"), home)

    assert result.tables["tickets"].rows_held > 30


def test_rate_limits_are_ridden_out(server, ctl, home: Path) -> None:
    ctl.fault("zendesk", "rate_limit", retry_after=0, count=2)

    result = sync(zendesk(server.url, "users"), home)

    assert result.tables["users"].rows_held == 60
    assert ctl.requests("zendesk") == 3


def test_a_rate_limit_longer_than_the_budget_is_named_with_zendesks_wait(
    server, ctl, home: Path
) -> None:
    ctl.fault("zendesk", "rate_limit", retry_after=30)

    with pytest.raises(Exception) as failure:
        sync(zendesk(server.url, "users"), home)

    error = _root(failure.value)
    assert isinstance(error, VendorRateLimited)
    assert error.retry_after == 30
    assert "Number of allowed API requests per minute exceeded" in str(error)
    # Retry-After exceeded the budget, so no request was wasted before naming it.
    assert ctl.requests("zendesk") == 1


def test_lockout_fails_named_and_leaves_the_copy_untouched(server, ctl, home: Path) -> None:
    sync(zendesk(server.url, "tickets"), home)
    before = query(home, "SELECT * FROM tickets ORDER BY id")
    ctl.advance(days=1)
    ctl.fault("zendesk", "lockout")

    with pytest.raises(Exception) as failure:
        sync(zendesk(server.url, "tickets"), home)

    error = _root(failure.value)
    assert isinstance(error, VendorLockout)
    assert "Couldn't authenticate you" in str(error)
    assert TOKEN not in str(failure.value)
    assert query(home, "SELECT * FROM tickets ORDER BY id") == before


def test_a_suspended_account_is_a_lockout(server, ctl, home: Path) -> None:
    ctl.fault("zendesk", "lockout", status=403, reason="suspended")

    with pytest.raises(Exception) as failure:
        sync(zendesk(server.url, "users"), home)

    error = _root(failure.value)
    assert isinstance(error, VendorLockout)
    assert error.status == 403
    assert "suspended" in str(error)
    assert "reactivate" in str(error)


def test_outage_after_retries_is_named_an_outage(server, ctl, home: Path) -> None:
    ctl.fault("zendesk", "outage")

    with pytest.raises(Exception) as failure:
        sync(zendesk(server.url, "users", retries=RetryPolicy(2, 5)), home)

    assert isinstance(_root(failure.value), VendorOutage)
    assert ctl.requests("zendesk") == 2


def test_malformed_body_is_a_bad_response(server, ctl, home: Path) -> None:
    ctl.fault("zendesk", "malformed")

    with pytest.raises(Exception) as failure:
        sync(zendesk(server.url, "users"), home)

    error = _root(failure.value)
    assert isinstance(error, VendorBadResponse)
    assert "not valid JSON" in str(error)


def test_the_real_host_is_the_subdomains_and_auth_uses_the_api_token_form() -> None:
    real = VendorContext(
        "zendesk",
        "https://{subdomain}.zendesk.com",
        {"email": EMAIL, "api_token": TOKEN},
        options={"subdomain": "acme"},
    )
    api = client(real)
    signed = api.auth(requests.Request("GET", "https://acme.zendesk.com/").prepare())

    assert api.base_url == "https://acme.zendesk.com"
    scheme, encoded = signed.headers["Authorization"].split()
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{EMAIL}/token:{TOKEN}"
    with pytest.raises(ConfigError, match="subdomain"):
        client(VendorContext("zendesk", real.base_url, real.credentials))


def _root(exc: BaseException) -> BaseException:
    """dlt wraps resource errors; the named vendor error is underneath."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        if isinstance(seen, VendorLockout | VendorOutage | VendorBadResponse | VendorRateLimited):
            return seen
        seen = seen.__cause__ or seen.__context__
    return seen


def test_a_wrong_api_token_is_a_lockout_that_names_zendesks_answer(server, ctl, home) -> None:
    ctl.credentials("zendesk", email=EMAIL, api_token="the-token-after-rotation")

    with pytest.raises(Exception) as failure:
        sync(zendesk(server.url, "users"), home)

    error = _root(failure.value)
    assert isinstance(error, VendorLockout)
    assert error.status == 401
    assert "Couldn't authenticate you" in str(error)
    assert "API token" in str(error)


def test_a_window_inside_zendesks_last_minute_waits_for_the_next_run(
    server, ctl, home: Path
) -> None:
    ctx = zendesk(server.url, "tickets")
    sync(ctx, home)
    ctl.advance(days=1)
    cursor_before = cursors(make_pipeline("zendesk", home))["tickets"]
    now = ctl.state()["now"]
    # Zendesk refuses a start_time of its last minute (422, "Too recent start_time").
    recent = Window(datetime.fromtimestamp(now - 30, UTC), datetime.fromtimestamp(now + 60, UTC))

    result = sync(replace(ctx, window=recent), home)

    assert result.tables["tickets"].rows_held == 400
    assert cursors(make_pipeline("zendesk", home))["tickets"] == cursor_before
    # The next regular run picks up the whole day, that last minute's changes included later.
    assert sync(ctx, home).tables["tickets"].rows_held > 430


def test_the_exports_own_rate_limit_is_waited_out_and_the_copy_is_whole(
    make_emulator, home: Path
) -> None:
    # Zendesk allows 10 export requests a minute; here 2 every 2 seconds, so that the third
    # page of a 2,500-ticket export is refused with 429 and Retry-After.
    server = make_emulator(
        {
            "zendesk.tickets": 2500,
            "zendesk.export_requests_per_window": 2,
            "zendesk.export_window_seconds": 2,
        }
    )
    control = EmulatorControl(server.url)

    result = sync(zendesk(server.url, "tickets", retries=RetryPolicy(4, 30)), home)

    assert result.tables["tickets"].rows_held == 2500
    assert control.served("zendesk") == {"tickets": 2500}
    assert control.requests("zendesk") > 3  # the three pages, and at least one refusal


def test_a_ticket_changed_while_the_export_runs_is_held_once_in_its_latest_state(
    make_emulator, home: Path
) -> None:
    server = make_emulator({"zendesk.tickets": 1500})
    control = EmulatorControl(server.url)
    # Each request waits a second before it is answered: time for the helpdesk to change
    # tickets after the first page was sent and before the second is read.
    control.fault("zendesk", "slow", delay=1.0)
    changer = threading.Thread(target=_change_after_first_page, args=(control,))
    changer.start()

    result = sync(zendesk(server.url, "tickets"), home)
    changer.join()

    served = control.served("zendesk")["tickets"]
    held = result.tables["tickets"].rows_held
    assert served > held  # some tickets came twice: before and after their change
    [(rows, ids)] = query(home, "SELECT count(*), count(DISTINCT id) FROM tickets")
    assert rows == ids == held
    control.clear_faults("zendesk")
    latest = _export_all(server.url)
    copied = query(home, "SELECT id, status, generated_timestamp FROM tickets ORDER BY id")
    assert copied == [(t["id"], t["status"], t["generated_timestamp"]) for t in latest]


def _change_after_first_page(control: EmulatorControl) -> None:
    deadline = time.monotonic() + 20
    while control.served("zendesk").get("tickets", 0) < 1000:
        assert time.monotonic() < deadline, "the first page never came"
    control.advance(days=1, changes={"zendesk.tickets": {"updated": 60, "deleted": 5}})


def _export_all(url: str) -> list[dict]:
    """Every ticket as Zendesk holds it now, in id order (read with the official paths)."""
    tickets: list[dict] = []
    next_url: str | None = f"{url}/zendesk/api/v2/incremental/tickets/cursor.json?start_time=0"
    while next_url:
        body = requests.get(next_url, auth=(f"{EMAIL}/token", TOKEN), timeout=10).json()
        tickets.extend(body["tickets"])
        next_url = None if body["end_of_stream"] else body["after_url"]
    return sorted(tickets, key=lambda ticket: ticket["id"])

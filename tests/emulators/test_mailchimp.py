"""The Mailchimp emulator over real HTTP: offset listings, filters, problem+json, faults."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.mailchimp import App
from emulators.mailchimp.faults import MAX_CONNECTIONS
from emulators.server import EmulatorServer
from tests.emulators.shared_server import shared_server

KEYS = demo_credentials(["mailchimp", "stripe"])
API_KEY = KEYS["mailchimp"]["api_key"]
AUTH = ("anystring", API_KEY)
SCALE = {
    "mailchimp.lists": 3,
    "mailchimp.members": 450,
    "mailchimp.campaigns": 30,
    "stripe.customers": 200,
}
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")


http_server, server, ctl = shared_server(SCALE)


def app(server: EmulatorServer) -> App:
    return server.emulator.apps["mailchimp"]  # type: ignore[return-value]


def get(server: EmulatorServer, path: str, auth: Any = AUTH, **params: Any) -> requests.Response:
    return requests.get(f"{server.url}/mailchimp/3.0{path}", params=params, auth=auth, timeout=10)


def list_ids(server: EmulatorServer) -> list[str]:
    body = get(server, "/lists", count=1000).json()
    return [audience["id"] for audience in body["lists"]]


def members(server: EmulatorServer, list_id: str, count: int = 70, **params: Any) -> list[dict]:
    """Every member of a listing, paging by offset until `total_items` is reached."""
    found: list[dict] = []
    offset = 0
    while True:
        response = get(server, f"/lists/{list_id}/members", count=count, offset=offset, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["members"])
        offset += count
        if offset >= body["total_items"]:
            assert len(found) == body["total_items"]
            return found


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def assert_problem(response: requests.Response, status: int, title: str) -> dict[str, Any]:
    """Mailchimp's error form: application/problem+json with type, title, status, detail."""
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == title
    assert body["status"] == status
    assert body["type"].startswith("https://mailchimp.com/developer/marketing/docs/errors/")
    assert body["detail"] and body["instance"]
    return body


def test_paging_every_list_to_the_end_returns_each_member_once(server: EmulatorServer) -> None:
    ids = list_ids(server)
    assert len(ids) == 3

    seen: list[tuple[str, str]] = []
    for list_id in ids:
        listed = members(server, list_id)
        archived = members(server, list_id, status="archived")
        assert all(m["status"] != "archived" for m in listed)
        assert all(m["list_id"] == list_id for m in listed + archived)
        seen.extend((list_id, m["id"]) for m in listed + archived)

    assert len(seen) == len(set(seen)) == 450
    # The id is the MD5 of the lower-cased email, as Mailchimp's subscriber hash is.
    member = members(server, ids[0])[0]
    assert member["id"] == hashlib.md5(member["email_address"].lower().encode()).hexdigest()


def test_status_filters_partition_a_list(server: EmulatorServer, ctl: EmulatorControl) -> None:
    ctl.advance(days=20, changes={"mailchimp.members": {"updated": 40, "deleted": 10}})
    list_id = list_ids(server)[0]
    everyone = {m["id"]: m["status"] for m in members(server, list_id)}

    by_status = {s: members(server, list_id, status=s) for s in STATUSES}

    assert sum(len(found) for found in by_status.values()) == len(everyone)
    for status, found in by_status.items():
        assert {m["id"] for m in found} == {i for i, s in everyone.items() if s == status}
    assert len(by_status["subscribed"]) > len(by_status["unsubscribed"]) > 0


def test_lists_report_their_subscriber_counts(server: EmulatorServer) -> None:
    body = get(server, "/lists").json()
    audience = body["lists"][0]
    subscribed = members(server, audience["id"], status="subscribed")

    assert body["total_items"] == 3
    assert audience["stats"]["member_count"] == len(subscribed)
    assert audience["date_created"].endswith("+00:00")


def test_page_size_limit_is_enforced_with_mailchimps_error(server: EmulatorServer) -> None:
    list_id = list_ids(server)[0]

    full = get(server, f"/lists/{list_id}/members", count=1000)
    too_many = get(server, f"/lists/{list_id}/members", count=1001)

    assert full.status_code == 200 and len(full.json()["members"]) == 150
    body = assert_problem(too_many, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == "count"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/lists/{list}/members", {"count": "ten"}, "count"),
        ("/lists/{list}/members", {"offset": "-1"}, "offset"),
        ("/lists/{list}/members", {"status": "gone"}, "status"),
        ("/lists/{list}/members", {"since_last_changed": "yesterday"}, "since_last_changed"),
        ("/lists/{list}/members", {"sort_dir": "UP"}, "sort_dir"),
        ("/campaigns", {"since_create_time": "2026-13-01"}, "since_create_time"),
        ("/campaigns", {"status": "finished"}, "status"),
        ("/lists", {"count": "0"}, "count"),
    ],
)
def test_bad_parameters_get_a_400_problem_naming_the_field(
    server: EmulatorServer, path: str, params: dict[str, str], field: str
) -> None:
    response = get(server, path.format(list=list_ids(server)[0]), **params)

    body = assert_problem(response, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == field


def test_unknown_list_is_a_404_problem(server: EmulatorServer) -> None:
    assert_problem(get(server, "/lists/0000000000/members"), 404, "Resource Not Found")


def test_since_last_changed_returns_only_changes_after_a_clock_advance(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    list_id = list_ids(server)[0]
    before = {m["id"]: m for m in members(server, list_id)}
    since = ctl.state()["now"]
    ctl.advance(days=2, changes={"mailchimp.members": {"updated": 30, "deleted": 9}})

    changed = members(server, list_id, since_last_changed=iso(since))
    archived = members(server, list_id, since_last_changed=iso(since), status="archived")

    ds = app(server).members
    expected = {i for i in ds.changed_since(since, ctl.state()["now"]) if i % 3 == 0}
    assert len(changed) + len(archived) == len(expected) > 0
    assert all(m["last_changed"] > iso(since) for m in changed + archived)
    # Archiving is the change that deleted members show: same id, status archived.
    assert archived and all(m["id"] in before for m in archived)
    assert all(m["status"] == "archived" for m in archived)
    # New sign-ups over the two days are part of the window too.
    assert any(m["id"] not in before for m in changed)


def test_last_changed_sort_orders_the_window_both_ways(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.advance(days=5, changes={"mailchimp.members": {"updated": 60, "deleted": 5}})
    list_id = list_ids(server)[1]

    ascending = members(server, list_id, sort_field="last_changed", sort_dir="ASC")
    descending = members(server, list_id, sort_field="last_changed", sort_dir="DESC")

    keys = [m["last_changed"] for m in ascending]
    assert keys == sorted(keys)
    assert [m["id"] for m in ascending] == [m["id"] for m in reversed(descending)]


def test_before_last_changed_bounds_a_backfill_window(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    start = ctl.state()["now"]
    ctl.advance(days=3, changes={"mailchimp.members": {"updated": 30}})
    middle = ctl.advance(days=1)
    ctl.advance(days=3, changes={"mailchimp.members": {"updated": 30}})
    list_id = list_ids(server)[2]

    window = members(
        server, list_id, since_last_changed=iso(start), before_last_changed=iso(middle)
    )
    everything = members(server, list_id)

    expected = [m for m in everything if iso(start) < m["last_changed"] < iso(middle)]
    assert sorted(m["id"] for m in window) == sorted(m["id"] for m in expected)
    assert window


def test_campaigns_filter_by_create_and_send_time(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    since = ctl.state()["now"]
    ctl.advance(days=20)

    everything = get(server, "/campaigns", count=1000).json()
    created = get(server, "/campaigns", count=1000, since_create_time=iso(since)).json()
    sent = get(server, "/campaigns", count=1000, since_send_time=iso(since)).json()

    assert everything["total_items"] == len(everything["campaigns"]) >= 30
    assert created["campaigns"] and all(c["create_time"] > iso(since) for c in created["campaigns"])
    assert sent["campaigns"] and all(c["send_time"] > iso(since) for c in sent["campaigns"])
    statuses = {c["status"] for c in everything["campaigns"]}
    assert "sent" in statuses and statuses <= {"save", "paused", "schedule", "sending", "sent"}


def test_campaign_pages_cover_every_campaign_once(server: EmulatorServer) -> None:
    ids: list[str] = []
    offset = 0
    while True:
        body = get(server, "/campaigns", count=7, offset=offset).json()
        ids.extend(c["id"] for c in body["campaigns"])
        offset += 7
        if offset >= body["total_items"]:
            break

    assert len(ids) == len(set(ids)) == 30


def test_exclude_fields_drops_links_as_mailchimp_does(server: EmulatorServer) -> None:
    list_id = list_ids(server)[0]

    body = get(server, f"/lists/{list_id}/members", exclude_fields="members._links,_links").json()
    only = get(server, f"/lists/{list_id}/members", fields="members.id,total_items").json()

    assert "_links" not in body and all("_links" not in m for m in body["members"])
    assert set(only) == {"members", "total_items"}
    assert all(set(m) == {"id"} for m in only["members"])


def test_members_share_emails_with_stripe_customers(server: EmulatorServer) -> None:
    customers = requests.get(
        f"{server.url}/stripe/v1/customers",
        params={"limit": 100},
        auth=(KEYS["stripe"]["api_key"], ""),
        timeout=10,
    ).json()["data"]
    emails = {m["email_address"] for m in members(server, list_ids(server)[0])}

    shared = emails & {c["email"] for c in customers}
    assert len(shared) >= 10
    assert any(not e.endswith("@example.com") for e in emails)  # newsletter-only people too


def test_missing_credentials_get_api_key_missing(server: EmulatorServer) -> None:
    assert_problem(get(server, "/lists", auth=None), 401, "API Key Missing")


def test_a_key_without_its_data_center_is_invalid(server: EmulatorServer) -> None:
    assert_problem(get(server, "/lists", auth=("x", API_KEY[:32])), 401, "API Key Invalid")


def test_only_the_accounts_key_is_accepted(server: EmulatorServer, ctl: EmulatorControl) -> None:
    other = "f" * 32 + "-us6"  # well formed, but not this account's
    bearer = {"Authorization": f"Bearer {API_KEY}"}

    wrong = get(server, "/lists", auth=("anystring", other))
    by_bearer = requests.get(f"{server.url}/mailchimp/3.0/lists", headers=bearer, timeout=10)
    ctl.credentials("mailchimp", api_key=other)  # the key rotated at Mailchimp
    revoked = get(server, "/lists")

    body = assert_problem(wrong, 401, "API Key Invalid")
    assert body["detail"] == (
        "Your API key may be invalid, or you've attempted to access the wrong datacenter."
    )
    assert by_bearer.status_code == 200
    assert_problem(revoked, 401, "API Key Invalid")
    assert get(server, "/lists", auth=("anystring", other)).status_code == 200


def test_the_eleventh_simultaneous_call_gets_a_429(server: EmulatorServer) -> None:
    mailchimp = app(server)
    mailchimp.gate = threading.Event()  # calls stay in flight until it opens
    with ThreadPoolExecutor(MAX_CONNECTIONS) as pool:
        held = [pool.submit(get, server, "/ping") for _ in range(MAX_CONNECTIONS)]
        wait_for(lambda: mailchimp.in_flight.get(API_KEY) == MAX_CONNECTIONS)

        eleventh = get(server, "/ping")
        other_key = get(server, "/ping", auth=("anystring", "f" * 32 + "-us6"))
        mailchimp.gate.set()

    body = assert_problem(eleventh, 429, "Too Many Requests")
    assert body["detail"] == "You have exceeded the limit of 10 simultaneous connections."
    assert "Retry-After" not in eleventh.headers  # Mailchimp sends no rate-limit headers
    assert other_key.status_code == 401  # refused for its key, before any limit applies
    assert [f.result().status_code for f in held] == [200] * MAX_CONNECTIONS
    assert mailchimp.peak_in_flight == MAX_CONNECTIONS and mailchimp.in_flight[API_KEY] == 0
    assert get(server, "/ping").status_code == 200


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("status", "title"),
    [(401, "API Key Invalid"), (403, "User Disabled"), (503, "Compliance Related")],
)
def test_lockout_renders_mailchimps_account_errors(
    server: EmulatorServer, ctl: EmulatorControl, status: int, title: str
) -> None:
    ctl.fault("mailchimp", "lockout", status=status)

    assert_problem(get(server, "/lists"), status, title)


def test_rate_limit_is_a_429_problem_with_retry_after(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.fault("mailchimp", "rate_limit", retry_after=3, count=1)

    limited = get(server, "/lists")
    after = get(server, "/lists")

    body = assert_problem(limited, 429, "Too Many Requests")
    assert "simultaneous connections" in body["detail"]
    assert limited.headers["Retry-After"] == "3"
    assert after.status_code == 200


def test_outage_is_a_5xx(server: EmulatorServer, ctl: EmulatorControl) -> None:
    ctl.fault("mailchimp", "outage")

    assert get(server, "/lists").status_code == 503


def test_empty_and_partial_listings_shrink_the_members(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    list_id = list_ids(server)[0]
    full = len(members(server, list_id))

    ctl.fault("mailchimp", "partial", share=0.3)
    partial = get(server, f"/lists/{list_id}/members", count=1000).json()
    ctl.fault("mailchimp", "empty")
    empty = get(server, f"/lists/{list_id}/members", count=1000).json()

    assert 0 < len(partial["members"]) < full * 0.6 and partial["total_items"] < full * 0.6
    assert empty["members"] == [] and empty["total_items"] == 0


def test_malformed_fault_truncates_the_json(server: EmulatorServer, ctl: EmulatorControl) -> None:
    ctl.fault("mailchimp", "malformed")

    response = get(server, "/lists")

    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_slow_fault_still_answers_in_mailchimps_form(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.fault("mailchimp", "slow", delay=0.05)

    assert get(server, "/lists").json()["total_items"] == 3


def test_served_counts_records_per_dataset(server: EmulatorServer, ctl: EmulatorControl) -> None:
    list_id = list_ids(server)[0]
    ctl.reset_counters()

    get(server, f"/lists/{list_id}/members", count=25)
    get(server, "/campaigns", count=5)

    assert ctl.served("mailchimp") == {"members": 25, "campaigns": 5}

"""The Zendesk emulator over real HTTP: the cursor-based export, credentials, errors, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer
from emulators.zendesk import decode_cursor

DEMO = demo_credentials(["zendesk", "stripe"])
EMAIL = DEMO["zendesk"]["email"]
TOKEN = DEMO["zendesk"]["api_token"]
AUTH = (f"{EMAIL}/token", TOKEN)
UNAUTHENTICATED = {"error": "Couldn't authenticate you"}
SCALE = {"zendesk.tickets": 250, "zendesk.users": 40, "stripe.customers": 40}


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator(SCALE)


@pytest.fixture
def ctl(server: EmulatorServer) -> EmulatorControl:
    return EmulatorControl(server.url)


def export_url(server: EmulatorServer, resource: str) -> str:
    return f"{server.url}/zendesk/api/v2/incremental/{resource}/cursor.json"


def get(url: str, **params: Any) -> requests.Response:
    return requests.get(url, params=params or None, auth=AUTH, timeout=10)


def pages(server: EmulatorServer, resource: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of an export, following `after_url` until `end_of_stream`."""
    response = get(export_url(server, resource), **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        if body["end_of_stream"]:
            return
        response = get(body["after_url"])


def export_all(server: EmulatorServer, resource: str, **params: Any) -> list[dict[str, Any]]:
    return [record for page in pages(server, resource, **params) for record in page[resource]]


@pytest.mark.parametrize(("resource", "count"), [("tickets", 250), ("users", 40)])
def test_paging_to_the_end_returns_every_record_once_in_change_order(
    server: EmulatorServer, resource: str, count: int
) -> None:
    records = export_all(server, resource, start_time=0, per_page=30)

    ids = [record["id"] for record in records]
    assert len(ids) == count
    assert len(set(ids)) == count
    stamps = [(record["updated_at"], record["id"]) for record in records]
    assert stamps == sorted(stamps)


def test_a_full_page_says_more_follows_and_the_last_page_ends_the_stream(
    server: EmulatorServer,
) -> None:
    bodies = list(pages(server, "tickets", start_time=0, per_page=100))

    assert [len(body["tickets"]) for body in bodies] == [100, 100, 50]
    assert [body["end_of_stream"] for body in bodies] == [False, False, True]
    last = bodies[0]["tickets"][-1]
    assert decode_cursor(bodies[0]["after_cursor"]) == (last["generated_timestamp"], last["id"])
    # The emulator pages forwards only, and says so rather than offering a wrong way back.
    assert bodies[1]["before_cursor"] is None


def test_page_size_above_the_maximum_is_refused_with_zendesks_error_body(
    server: EmulatorServer,
) -> None:
    for per_page in (1001, 0, "ten"):
        response = get(export_url(server, "tickets"), start_time=0, per_page=per_page)
        assert response.status_code == 400
        assert response.json()["error"] == "InvalidPaginationParameter"
        assert "1000" in response.json()["description"]
    assert (
        len(get(export_url(server, "tickets"), start_time=0, per_page=1000).json()["tickets"])
        == 250
    )


def test_a_start_time_within_the_last_minute_is_refused(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    now = ctl.state()["now"]

    response = get(export_url(server, "users"), start_time=now - 30)

    assert response.status_code == 422
    assert response.json() == {
        "error": "InvalidValue",
        "description": "Too recent start_time. Use a start_time older than 1 minute",
    }
    assert get(export_url(server, "users"), start_time=now - 61).status_code == 200


def test_bad_parameters_get_zendesks_400_body(server: EmulatorServer) -> None:
    missing = get(export_url(server, "tickets"))
    not_a_time = get(export_url(server, "tickets"), start_time="yesterday")
    bad_cursor = get(export_url(server, "tickets"), cursor="bm90IGEgY3Vyc29y")
    unknown = get(f"{server.url}/zendesk/api/v2/incremental/widgets/cursor.json", start_time=0)

    for response in (missing, not_a_time, bad_cursor):
        assert response.status_code == 400
        assert set(response.json()) == {"error", "description"}
    assert bad_cursor.json()["error"] == "InvalidPaginationParameter"
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "InvalidEndpoint", "description": "Not found"}


def test_after_a_day_the_export_returns_only_what_changed(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    before = export_all(server, "tickets", start_time=0)
    resume = list(pages(server, "tickets", start_time=0))[-1]["after_cursor"]
    old_ids = {ticket["id"] for ticket in before}

    ctl.advance(days=1, changes={"zendesk.tickets": {"updated": 7, "deleted": 3}})
    changed = export_all(server, "tickets", cursor=resume)

    new = [ticket for ticket in changed if ticket["id"] not in old_ids]
    touched = [ticket for ticket in changed if ticket["id"] in old_ids]
    assert len(touched) == 10
    assert sum(ticket["status"] == "deleted" for ticket in touched) == 3
    assert 30 <= len(new) <= 41  # 40 new tickets a day, less those of the last minute
    assert all(
        ticket["generated_timestamp"] > before[-1]["generated_timestamp"] for ticket in changed
    )
    excluded = export_all(server, "tickets", start_time=0, exclude_deleted="true")
    assert not any(ticket["status"] == "deleted" for ticket in excluded)
    assert len(excluded) == len(before) + len(new) - 3


def test_deleted_users_stay_in_the_export_as_inactive(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    start = ctl.state()["now"] - 120

    ctl.advance(days=1, changes={"zendesk.users": {"updated": 0, "deleted": 2}})
    users = export_all(server, "users", start_time=start)

    inactive = [user for user in users if not user["active"]]
    assert len(inactive) == 2
    assert all(user["email"] for user in inactive)


def test_changes_in_the_last_minute_wait_for_the_next_request(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    start = ctl.state()["now"] - 120
    ctl.advance(seconds=30, changes={"zendesk.users": {"updated": 3}})

    assert export_all(server, "users", start_time=start) == []
    ctl.advance(seconds=60)
    assert len(export_all(server, "users", start_time=start)) == 3


def test_many_end_users_are_also_stripe_customers(server: EmulatorServer) -> None:
    users = export_all(server, "users", start_time=0)
    customers = requests.get(
        f"{server.url}/stripe/v1/customers",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {DEMO['stripe']['api_key']}"},
        timeout=10,
    ).json()["data"]

    shared = {user["email"] for user in users} & {customer["email"] for customer in customers}
    assert len(shared) >= len(users) // 3
    assert {user["role"] for user in users} == {"admin", "agent", "end-user"}


def test_only_the_accounts_email_and_api_token_are_accepted(server: EmulatorServer) -> None:
    url = export_url(server, "tickets")
    refused = {
        "no credentials": requests.get(url, params={"start_time": 0}, timeout=10),
        "wrong token": get_as(url, (f"{EMAIL}/token", "not-the-token")),
        "another agent": get_as(url, ("agent@example.com/token", TOKEN)),
        "the password form": get_as(url, (EMAIL, TOKEN)),
        "an empty token": get_as(url, (f"{EMAIL}/token", "")),
        "an unknown OAuth token": requests.get(
            url, params={"start_time": 0}, headers={"Authorization": "Bearer x"}, timeout=10
        ),
    }

    for case, response in refused.items():
        assert response.status_code == 401, case
        assert response.json() == UNAUTHENTICATED, case
        assert response.headers["WWW-Authenticate"] == 'Basic realm="Web Password"'
    assert get_as(url, (f"{EMAIL.upper()}/token", TOKEN)).status_code == 200  # emails ignore case


def test_a_revoked_token_is_refused_and_its_replacement_accepted(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    url = export_url(server, "users")
    assert get(url, start_time=0).status_code == 200

    ctl.credentials("zendesk", email=EMAIL, api_token="rotated-token")

    assert get(url, start_time=0).json() == UNAUTHENTICATED
    assert get_as(url, (f"{EMAIL}/token", "rotated-token")).status_code == 200


def get_as(url: str, auth: tuple[str, str]) -> requests.Response:
    return requests.get(url, params={"start_time": 0}, auth=auth, timeout=10)


def test_faults_render_in_zendesks_format(server: EmulatorServer, ctl: EmulatorControl) -> None:
    url = export_url(server, "tickets")

    ctl.fault("zendesk", "outage")
    assert get(url, start_time=0).status_code == 503

    ctl.fault("zendesk", "lockout")
    assert get(url, start_time=0).json() == UNAUTHENTICATED

    ctl.fault("zendesk", "lockout", status=403)
    forbidden = get(url, start_time=0)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "Forbidden"

    ctl.fault("zendesk", "lockout", status=403, reason="suspended")
    suspended = get(url, start_time=0)
    assert suspended.status_code == 403
    assert suspended.json()["error"] == "AccountSuspended"

    ctl.fault("zendesk", "rate_limit", retry_after=7)
    limited = get(url, start_time=0)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.text == "Number of allowed API requests per minute exceeded"

    ctl.fault("zendesk", "empty")
    empty = get(url, start_time=0).json()
    assert empty["tickets"] == []
    assert empty["end_of_stream"] is True
    assert empty["after_cursor"] is None

    ctl.fault("zendesk", "partial", share=0.5)
    assert 50 < len(export_all(server, "tickets", start_time=0)) < 200

    ctl.fault("zendesk", "malformed")
    with pytest.raises(requests.JSONDecodeError):
        get(url, start_time=0).json()

    ctl.clear_faults("zendesk")
    assert len(export_all(server, "tickets", start_time=0)) == 250

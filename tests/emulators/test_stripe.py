"""The Stripe emulator keeps Stripe's list contract, over real HTTP."""

from __future__ import annotations

import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials

KEY = demo_credentials(["stripe"])["stripe"]["api_key"]
AUTH = {"Authorization": f"Bearer {KEY}"}


def _get(url: str, path: str, **params: object) -> requests.Response:
    return requests.get(f"{url}/stripe{path}", params=params, headers=AUTH, timeout=10)


def _all(url: str, path: str) -> list[dict]:
    records: list[dict] = []
    params: dict[str, object] = {"limit": 100}
    while True:
        body = _get(url, path, **params).json()
        records += body["data"]
        if not body["has_more"]:
            return records
        params["starting_after"] = body["data"][-1]["id"]


def test_paging_newest_first_returns_every_charge_once(make_emulator) -> None:
    server = make_emulator({"stripe.charges": 250})
    seen: list[str] = []
    created: list[int] = []
    after = None
    pages = 0
    while True:
        params = {"limit": 100, **({"starting_after": after} if after else {})}
        body = _get(server.url, "/v1/charges", **params).json()
        pages += 1
        assert body["object"] == "list" and body["url"] == "/v1/charges"
        seen += [c["id"] for c in body["data"]]
        created += [c["created"] for c in body["data"]]
        if not body["has_more"]:
            break
        after = body["data"][-1]["id"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 250
    assert created == sorted(created, reverse=True)


def test_ending_before_pages_back_towards_newer(make_emulator) -> None:
    server = make_emulator({"stripe.charges": 30})
    first = _get(server.url, "/v1/charges", limit=10).json()["data"]
    second = _get(server.url, "/v1/charges", limit=10, starting_after=first[-1]["id"]).json()
    back = _get(server.url, "/v1/charges", limit=10, ending_before=second["data"][0]["id"]).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in first]


def test_limit_over_100_is_stripes_invalid_request_error(emulator) -> None:
    response = _get(emulator.url, "/v1/charges", limit=101)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "limit"


def test_unknown_cursor_is_resource_missing(emulator) -> None:
    response = _get(emulator.url, "/v1/charges", starting_after="ch_doesnotexist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"


def test_missing_key_is_401_with_stripes_message(emulator) -> None:
    response = requests.get(f"{emulator.url}/stripe/v1/charges", timeout=10)
    assert response.status_code == 401
    assert "You did not provide an API key" in response.json()["error"]["message"]


def test_created_filters_bound_the_listing(make_emulator) -> None:
    server = make_emulator({"stripe.charges": 100})
    everything = _get(server.url, "/v1/charges", limit=100).json()["data"]
    cut = everything[40]["created"]
    newer = _get(server.url, "/v1/charges", limit=100, **{"created[gt]": cut}).json()["data"]
    assert {c["id"] for c in newer} == {c["id"] for c in everything if c["created"] > cut}


def test_events_report_changes_after_the_clock_advances(emulator) -> None:
    control = EmulatorControl(emulator.url)
    before = control.state()["now"]
    control.advance(days=1, changes={"stripe.charges": {"updated": 5}})
    events = _get(
        emulator.url, "/v1/events", limit=100, type="charge.refunded", **{"created[gt]": before}
    ).json()
    assert len(events["data"]) == 5
    assert all(e["data"]["object"]["object"] == "charge" for e in events["data"])
    assert all(e["created"] > before for e in events["data"])
    times = [e["created"] for e in events["data"]]
    assert times == sorted(times, reverse=True)


def test_deleted_customer_disappears_from_list_and_retrieves_as_deleted(emulator) -> None:
    control = EmulatorControl(emulator.url)
    control.advance(seconds=60, changes={"stripe.customers": {"deleted": 1}})
    events = _get(emulator.url, "/v1/events", limit=10, type="customer.deleted").json()["data"]
    assert len(events) == 1
    gone = events[0]["data"]["object"]["id"]
    listed = {c["id"] for c in _all(emulator.url, "/v1/customers")}
    assert len(listed) == 199
    assert gone not in listed
    assert _get(emulator.url, f"/v1/customers/{gone}").json() == {
        "id": gone,
        "object": "customer",
        "deleted": True,
    }


def test_fault_modes_render_like_stripe(emulator) -> None:
    control = EmulatorControl(emulator.url)
    control.fault("stripe", "lockout")
    locked = _get(emulator.url, "/v1/charges")
    assert locked.status_code == 401
    assert locked.json()["error"]["code"] == "api_key_expired"
    control.fault("stripe", "lockout", status=403)
    assert _get(emulator.url, "/v1/charges").json()["error"]["type"] == "permission_error"
    control.fault("stripe", "rate_limit", retry_after=3)
    limited = _get(emulator.url, "/v1/charges")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert limited.json()["error"]["code"] == "rate_limit"
    control.fault("stripe", "outage")
    assert _get(emulator.url, "/v1/charges").status_code == 503
    control.fault("stripe", "malformed")
    broken = _get(emulator.url, "/v1/charges")
    assert broken.status_code == 200
    try:
        broken.json()
        raise AssertionError("a malformed body must not parse")
    except ValueError:
        pass
    control.fault("stripe", "empty")
    assert _get(emulator.url, "/v1/charges").json()["data"] == []
    control.clear_faults("stripe")
    assert len(_get(emulator.url, "/v1/charges", limit=5).json()["data"]) == 5

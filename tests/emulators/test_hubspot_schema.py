"""Every HubSpot emulator answer validates against the models of HubSpot's own client.

hubspot-api-client is generated from HubSpot's OpenAPI documents: each model lists its
fields (`attribute_map`), their types (`openapi_types`) and, through setters that refuse
None, which are required. The validator below reads exactly that, and nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import datetime
from types import ModuleType
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.server import Emulator, EmulatorServer
from tests.emulators.test_hubspot import TOKEN, call, changed_since, objects_url

KINDS = ("contacts", "companies", "deals")
LISTING = "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"
SEARCH = "CollectionResponseWithTotalSimplePublicObjectForwardPaging"
ONE = "SimplePublicObjectWithAssociations"
# Fields HubSpot documents in its error bodies that the client's Error model leaves out:
# "status" (https://developers.hubspot.com/docs/api-reference/error-handling) and, in a 429,
# the policy that refused the call
# (https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details#rate-limits).
DOCUMENTED_EXTRAS = {
    "Error": {"status": "str"},
    "RateLimitError": {
        "status": "str",
        "errorType": "str",
        "policyName": "str",
        "groupName": "str",
    },
}
# HubSpot serves a property the record has no value for as null, which the model's
# dict[str, str] cannot say (its docs show "phone": null in a contact's properties).
NULLABLE_VALUES = {"properties"}


def package(kind: str) -> ModuleType:
    return importlib.import_module(f"hubspot.crm.{kind}")


def required(model: type) -> set[str]:
    """The fields whose setter refuses None when the client validates: OpenAPI's required."""
    config = importlib.import_module(model.__module__.rsplit(".", 2)[0]).Configuration()
    config.client_side_validation = True
    probe = model.__new__(model)
    probe.local_vars_configuration = config
    found = set()
    for attr in model.openapi_types:
        try:
            setattr(probe, attr, None)
        except ValueError:
            found.add(model.attribute_map[attr])
    return found


def problems(value: Any, kind: str, type_name: str, where: str = "$") -> list[str]:
    """What in `value` the model `type_name` of `kind`'s client package does not allow."""
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        inner = type_name[5:-1]
        return [
            p for i, item in enumerate(value) for p in problems(item, kind, inner, f"{where}[{i}]")
        ]
    if type_name.startswith("dict["):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        inner = type_name[5:-1].split(", ", 1)[1]
        nullable = where.rsplit(".", 1)[-1] in NULLABLE_VALUES
        return [
            p
            for key, item in value.items()
            if not (item is None and nullable)
            for p in problems(item, kind, inner, f"{where}.{key}")
        ]
    primitive = {"str": str, "int": int, "bool": bool, "float": float}.get(type_name)
    if primitive is not None:
        wrong = not isinstance(value, primitive) or (primitive is int and isinstance(value, bool))
        return [f"{where}: expected {type_name}, got {value!r}"] if wrong else []
    if type_name == "datetime":
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return [f"{where}: expected an ISO-8601 date-time, got {value!r}"]
        return [] if isinstance(value, str) else [f"{where}: expected a string date-time"]
    return model_problems(value, kind, type_name, where)


def model_problems(value: Any, kind: str, type_name: str, where: str) -> list[str]:
    extras = DOCUMENTED_EXTRAS.get(type_name, {})
    model = getattr(package(kind).models, "Error" if type_name == "RateLimitError" else type_name)
    if not isinstance(value, dict):
        return [f"{where}: expected a {type_name} object, got {type(value).__name__}"]
    fields = {json: model.openapi_types[attr] for attr, json in model.attribute_map.items()}
    fields.update(extras)
    found = [f"{where}: required field {name!r} missing" for name in required(model) - set(value)]
    for name, item in value.items():
        if name not in fields:
            found.append(f"{where}: field {name!r} is not in HubSpot's {type_name}")
        elif item is None:
            found.append(f"{where}.{name}: null where HubSpot sends a {fields[name]}")
        else:
            found.extend(problems(item, kind, fields[name], f"{where}.{name}"))
    return found


def assert_valid(body: Any, kind: str, type_name: str) -> None:
    assert problems(body, kind, type_name) == []


@pytest.fixture(scope="module")
def hub() -> Iterator[EmulatorServer]:
    """An emulator that has lived five days: records created, changed and deleted."""
    server = EmulatorServer(Emulator(seed=11)).start()
    EmulatorControl(server.url).advance(days=5)
    yield server
    server.stop()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "params",
    [{}, {"limit": 100}, {"archived": "true", "limit": 100}, {"properties": "zzz_unknown"}],
)
def test_listings_are_hubspot_collections(hub, kind: str, params: dict[str, Any]) -> None:
    body = call("GET", objects_url(hub, kind), params=params).json()
    assert body["results"]
    assert_valid(body, kind, LISTING)


@pytest.mark.parametrize("kind", KINDS)
def test_one_record_is_a_hubspot_object(hub, kind: str) -> None:
    listed = call("GET", objects_url(hub, kind), params={"limit": 1}).json()["results"][0]
    body = call("GET", f"{objects_url(hub, kind)}/{listed['id']}").json()
    assert_valid(body, kind, ONE)


@pytest.mark.parametrize("kind", KINDS)
def test_search_pages_are_hubspot_collections_with_total(hub, kind: str) -> None:
    body = call(
        "POST", f"{objects_url(hub, kind)}/search", json={**changed_since(kind, 0), "limit": 50}
    )
    assert body.json()["paging"]["next"]["after"]
    assert_valid(body.json(), kind, SEARCH)


@pytest.mark.parametrize(
    ("method", "suffix", "kwargs"),
    [
        ("GET", "", {"params": {"limit": 101}}),
        ("GET", "/1", {}),
        ("GET", "", {"params": {"associations": "companies"}}),
        ("POST", "/search", {"json": {"limit": 201}}),
        ("POST", "/search", {"json": {"filterGroups": [{"filters": [{"propertyName": "x"}]}]}}),
    ],
)
def test_error_bodies_are_hubspot_errors(hub, method: str, suffix: str, kwargs: dict) -> None:
    response = call(method, objects_url(hub, "contacts") + suffix, **kwargs)
    assert response.status_code in (400, 404)
    assert_valid(response.json(), "contacts", "Error")


def test_auth_errors_are_hubspot_errors(hub) -> None:
    url = objects_url(hub, "deals")
    missing = requests.get(url, timeout=10)
    wrong = requests.get(url, headers={"Authorization": "Bearer pat-na1-wrong"}, timeout=10)
    for response in (missing, wrong):
        assert response.status_code == 401
        assert_valid(response.json(), "deals", "Error")
    control = EmulatorControl(hub.url)
    try:
        control.fault("hubspot", "lockout", status=403)
        locked = requests.get(url, headers=TOKEN, timeout=10)
        assert locked.status_code == 403
        assert_valid(locked.json(), "deals", "Error")
        for policy in ("TEN_SECONDLY_ROLLING", "DAILY", "SECONDLY"):
            control.fault("hubspot", "rate_limit", policy=policy)
            limited = requests.get(url, headers=TOKEN, timeout=10)
            assert limited.status_code == 429
            assert_valid(limited.json(), "deals", "RateLimitError")
    finally:
        control.clear_faults("hubspot")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r.update(id=int(r["id"])), "$.results[0].id: expected str"),
        (lambda r: r.update(archived="false"), "$.results[0].archived: expected bool"),
        (lambda r: r.update(createdAt="yesterday"), "expected an ISO-8601 date-time"),
        (lambda r: r.update(deletedAt="2026-01-01T00:00:00Z"), "'deletedAt' is not in"),
        (lambda r: r["properties"].update(email=["a@b"]), ".properties.email: expected str"),
        (lambda r: r.pop("updatedAt"), "required field 'updatedAt' missing"),
    ],
)
def test_the_validator_catches_what_hubspot_would_not_send(hub, mutate, expected: str) -> None:
    body = call("GET", objects_url(hub, "contacts"), params={"limit": 2}).json()
    mutate(body["results"][0])
    found = problems(body, "contacts", LISTING)
    assert len(found) == 1 and expected in found[0], found

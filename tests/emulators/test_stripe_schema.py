"""Every object the Stripe emulator serves validates against Stripe's own published contract.

Two artifacts Stripe publishes are the reference: its fixtures (`tests/contracts/stripe/
fixtures3.json`, one real example object per resource at Stripe's current API version) and
the typed models of the official `stripe` package (generated from Stripe's OpenAPI spec).
A served field must exist in both, with a compatible type; every field the model declares
non-optional must be served.
"""

from __future__ import annotations

import decimal
import json
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from stripe._list_object import ListObject
from stripe._stripe_object import StripeObject, UntypedStripeObject

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials

FIXTURES = Path(__file__).parents[1] / "contracts" / "stripe" / "fixtures3.json"
KEY = demo_credentials(["stripe"])["stripe"]["api_key"]
MODELS: dict[str, type[StripeObject]] = {
    "customer": stripe.Customer,
    "charge": stripe.Charge,
    "invoice": stripe.Invoice,
    "subscription": stripe.Subscription,
    "event": stripe.Event,
}
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


@cache
def fixtures() -> dict[str, Any]:
    return json.loads(FIXTURES.read_text())["resources"]


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return _JSON_TYPES.get(type(value), "null")


def check_example(value: Any, example: Any, path: str, errors: list[str]) -> None:
    """`value` has the shape of Stripe's example: known fields, the same JSON types."""
    if value is None or example is None:
        return  # nullability is the model's to judge
    kind, expected = _json_type(value), _json_type(example)
    if kind != expected and not (kind == "integer" and expected == "number"):
        errors.append(f"{path}: {kind} where Stripe's example has {expected}")
    elif isinstance(value, dict) and example:  # an empty example ({}) is a free-form map
        for name, inner in value.items():
            if name not in example:
                errors.append(f"{path}.{name}: not a field of Stripe's example object")
            else:
                check_example(inner, example[name], f"{path}.{name}", errors)
    elif isinstance(value, list) and example:
        for n, item in enumerate(value):
            check_example(item, example[0], f"{path}[{n}]", errors)


def _resolve(annotation: Any) -> Any:
    """A ForwardRef or string annotation ('Price') as the stripe class it names."""
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        return getattr(stripe, annotation, Any)
    return annotation


def _nullable(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def check_model(value: Any, annotation: Any, path: str, errors: list[str]) -> None:
    """`value` fits the stripe package's type annotation (strictly: unknown fields fail)."""
    annotation = _resolve(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return
    if value is None:
        if not _nullable(annotation):
            errors.append(f"{path}: null where Stripe's model does not allow it")
        return
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        for option in options:
            trial: list[str] = []
            check_model(value, option, path, trial)
            if not trial:
                return
        errors.append(f"{path}: {value!r:.60} fits none of {annotation}")
    elif origin is typing.Literal:
        if value not in args:
            errors.append(f"{path}: {value!r} is not one of {args}")
    elif origin in (list, typing.List):  # noqa: UP006 (typing.List is what stripe uses)
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list")
        else:
            for n, item in enumerate(value):
                check_model(item, args[0], f"{path}[{n}]", errors)
    elif origin is UntypedStripeObject:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object")
        else:
            for name, inner in value.items():
                check_model(inner, args[0], f"{path}.{name}", errors)
    elif origin is ListObject:
        _check_list_object(value, args[0], path, errors)
    elif isinstance(annotation, type) and issubclass(annotation, StripeObject):
        _check_object(value, annotation, path, errors)
    elif annotation is decimal.Decimal:
        if not isinstance(value, str):
            errors.append(f"{path}: a decimal is sent as a string")
    elif annotation is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            errors.append(f"{path}: expected a number")
    elif isinstance(annotation, type) and type(value) is not annotation:
        errors.append(f"{path}: {type(value).__name__} where Stripe's model has {annotation}")


def _check_list_object(value: Any, item: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, dict) or value.get("object") != "list":
        errors.append(f"{path}: expected a list object")
        return
    for name in value:
        if name not in ("object", "data", "has_more", "url", "total_count"):
            errors.append(f"{path}.{name}: not a field of a list object")
    check_model(value.get("has_more"), bool, f"{path}.has_more", errors)
    check_model(value.get("url"), str, f"{path}.url", errors)
    check_model(value.get("data"), list[item], f"{path}.data", errors)


def _check_object(value: Any, model: type[StripeObject], path: str, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object")
        return
    fields = {k: v for k, v in model.__annotations__.items() if not str(v).startswith("typing.C")}
    for name, inner in value.items():
        if name not in fields:
            errors.append(f"{path}.{name}: not a field of stripe.{model.__qualname__}")
        else:
            check_model(inner, fields[name], f"{path}.{name}", errors)
    for name, annotation in fields.items():
        optional = _nullable(_resolve(annotation)) or name == "deleted"
        if not optional and name not in value:
            errors.append(f"{path}.{name}: required by stripe.{model.__qualname__}, missing")


def problems(obj: dict[str, Any]) -> list[str]:
    """Every way `obj` departs from Stripe's example and model of its `object` type."""
    errors: list[str] = []
    kind = obj.get("object")
    if kind not in MODELS:
        return [f"unknown object type {kind!r}"]
    # An event's object is judged against its own type's example, below.
    shape = obj | {"data": {}} if kind == "event" else obj
    check_example(shape, fixtures()[kind], kind, errors)
    check_model(obj, MODELS[kind], kind, errors)
    if kind == "event":
        errors += [f"event.data.object: {e}" for e in problems(obj["data"]["object"])]
    return errors


def _get(url: str, path: str, **params: Any) -> dict[str, Any]:
    response = requests.get(
        f"{url}/stripe{path}",
        params=params,
        headers={"Authorization": f"Bearer {KEY}", "Stripe-Version": stripe.api_version},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("resource", ["customers", "charges", "invoices", "subscriptions"])
def test_every_listed_object_matches_stripes_contract(emulator, resource: str) -> None:
    EmulatorControl(emulator.url).advance(days=3)  # updated and canceled records too
    params = {"status": "all"} if resource == "subscriptions" else {}
    body = _get(emulator.url, f"/v1/{resource}", limit=100, **params)
    assert body["data"], "nothing to validate"
    for obj in body["data"]:
        assert problems(obj) == [], obj["id"]


def test_events_match_stripes_contract(emulator) -> None:
    EmulatorControl(emulator.url).advance(
        days=1,
        changes={f"stripe.{name}": {"updated": 3} for name in ("charges", "invoices", "customers")}
        | {"stripe.subscriptions": {"updated": 6}},
    )
    events = _get(emulator.url, "/v1/events", limit=100)["data"]
    assert {e["data"]["object"]["object"] for e in events} >= set(MODELS) - {"event"}
    for event in events:
        assert problems(event) == [], event["type"]


def test_deleted_object_matches_stripes_deleted_fixture(emulator) -> None:
    control = EmulatorControl(emulator.url)
    control.advance(seconds=60, changes={"stripe.customers": {"deleted": 1}})
    gone = _get(emulator.url, "/v1/events", type="customer.deleted")["data"][0]
    stub = _get(emulator.url, f"/v1/customers/{gone['data']['object']['id']}")
    assert set(stub) == set(fixtures()["deleted_customer"]) and stub["deleted"] is True


def test_the_validator_catches_a_wrong_type_an_unknown_and_a_missing_field(emulator) -> None:
    charge = _get(emulator.url, "/v1/charges", limit=1)["data"][0]
    assert problems(charge) == []
    assert any("amount" in e for e in problems(charge | {"amount": "500"}))
    assert any("charge.colour" in e for e in problems(charge | {"colour": "red"}))
    assert any("paid" in e for e in problems({k: v for k, v in charge.items() if k != "paid"}))
    assert any("captured" in e for e in problems(charge | {"captured": None}))
    # The shape this emulator served before Stripe's 2025-03-31.basil release fails too.
    invoice = _get(emulator.url, "/v1/invoices", limit=1)["data"][0]
    assert any("invoice.paid" in e for e in problems(invoice | {"paid": True}))
    nested = charge | {"billing_details": charge["billing_details"] | {"email": 7}}
    assert any("billing_details.email" in e for e in problems(nested))

"""Stripe's list parameters: each endpoint's documented ones, checked and turned into filters.

Stripe refuses what it does not know ("Received unknown parameter: x") and filters by
everything it documents; so does the emulator, never ignoring a filter silently.
Parameters per endpoint: https://docs.stripe.com/api/charges/list (customers, invoices,
subscriptions, events alike), as the `stripe` package's `*ListParams` types spell them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from emulators.core import BadRequest, Request

MAX_LIMIT = 100  # https://docs.stripe.com/api/pagination: limit between 1 and 100
RANGE_OPS = ("gt", "gte", "lt", "lte")
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
SUBSCRIPTION_STATUSES = (
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)
COLLECTION_METHODS = ("charge_automatically", "send_invoice")

_COMMON = {"limit": "int", "starting_after": "id", "ending_before": "id", "expand": "list"}
SPECS: dict[str, dict[str, Any]] = {
    "customers": {**_COMMON, "created": "range", "email": "str", "test_clock": "str"},
    "charges": {
        **_COMMON,
        "created": "range",
        "customer": "str",
        "payment_intent": "str",
        "transfer_group": "str",
    },
    "invoices": {
        **_COMMON,
        "created": "range",
        "due_date": "range",
        "collection_method": COLLECTION_METHODS,
        "customer": "str",
        "customer_account": "str",
        "status": INVOICE_STATUSES,
        "subscription": "str",
    },
    "subscriptions": {
        **_COMMON,
        "created": "range",
        "current_period_end": "range",
        "current_period_start": "range",
        "automatic_tax": {"enabled"},
        "collection_method": COLLECTION_METHODS,
        "customer": "str",
        "customer_account": "str",
        "plan": "str",
        "price": "str",
        "status": SUBSCRIPTION_STATUSES,
        "test_clock": "str",
    },
    "events": {
        **_COMMON,
        "created": "range",
        "type": "str",
        "types": "list",
        "delivery_success": "bool",
    },
}
_KEY = re.compile(r"^([a-z_]+)(?:\[([a-z_]*|\d+)\])?$")

Filter = Callable[[dict[str, Any]], bool]


def unknown(name: str) -> BadRequest:
    return BadRequest(
        400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
    )


def check(request: Request, endpoint: str) -> None:
    """Refuse any parameter the endpoint does not document, as Stripe does."""
    spec = SPECS[endpoint]
    for key in request.query:
        match = _KEY.match(key)
        if match is None or match[1] not in spec:
            raise unknown(key)
        kind, sub = spec[match[1]], match[2]
        if kind == "range":
            ok = sub is None or sub in RANGE_OPS
        elif kind == "list":
            ok = sub is not None and (sub == "" or sub.isdigit())
        elif isinstance(kind, set):
            ok = sub in kind
        else:
            ok = sub is None
        if not ok:
            raise unknown(key)
    if "expand[]" in request.query or any(k.startswith("expand[") for k in request.query):
        values = [v for k, vs in request.query.items() if k.startswith("expand[") for v in vs]
        # Nothing the emulator serves is expandable; Stripe's answer for such a path.
        raise BadRequest(400, f"This property cannot be expanded ({values[0]}).", param="expand")


def listed(request: Request, name: str) -> list[str]:
    """A list parameter in any of Stripe's spellings: name[]=a&name[]=b or name[0]=a."""
    values: list[str] = []
    for key, found in request.query.items():
        if key == f"{name}[]" or (key.startswith(f"{name}[") and key[len(name) + 1 : -1].isdigit()):
            values += found
    return values


def integer(raw: str, param: str) -> int:
    if not raw.lstrip("-").isdigit():
        raise BadRequest(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=param
        )
    return int(raw)


def limit(request: Request) -> int:
    value = integer(request.arg("limit", "10"), "limit")
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequest(
            400,
            "Invalid limit: must be between 1 and 100",
            code="parameter_invalid_integer",
            param="limit",
        )
    return value


def bounds(request: Request, name: str) -> tuple[int, int]:
    """The inclusive [low, high] window of `name[gt|gte|lt|lte]` (or `name=ts`)."""
    low, high = -(1 << 62), 1 << 62
    for op in (*RANGE_OPS, ""):
        param = f"{name}[{op}]" if op else name
        raw = request.arg(param)
        if raw is None:
            continue
        value = integer(raw, param)
        if op in ("gt",):
            low = max(low, value + 1)
        elif op in ("gte", ""):
            low = max(low, value)
        if op == "lt":
            high = min(high, value - 1)
        elif op in ("lte", ""):
            high = min(high, value)
    return low, high


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.arg(name)
    if value is not None and value not in allowed:
        options = ", ".join(allowed[:-1]) + f", or {allowed[-1]}"
        raise BadRequest(400, f"Invalid {name}: must be one of {options}", param=name)
    return value


def boolean(raw: str, param: str) -> bool:
    if raw not in ("true", "false"):
        raise BadRequest(400, f"Invalid boolean: {raw}", param=param)
    return raw == "true"


def _equals(path: tuple[str, ...], wanted: Any) -> Filter:
    def test(obj: dict[str, Any]) -> bool:
        value: Any = obj
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value == wanted

    return test


def _items(field: str, wanted: str) -> Filter:
    return lambda obj: any(i[field]["id"] == wanted for i in obj["items"]["data"])


def _period(name: str, low: int, high: int) -> Filter:
    # Stripe: the minimum item current_period_end / maximum item current_period_start.
    pick = min if name == "current_period_end" else max

    def test(obj: dict[str, Any]) -> bool:
        return low <= pick(i[name] for i in obj["items"]["data"]) <= high

    return test


def _subscription_status(value: str | None) -> Filter:
    if value == "all":
        return lambda obj: True
    if value == "ended":
        return lambda obj: obj["status"] in ("canceled", "incomplete_expired")
    if value is None:  # Stripe's default leaves canceled subscriptions out
        return lambda obj: obj["status"] != "canceled"
    return _equals(("status",), value)


def filters(request: Request, endpoint: str) -> list[Filter]:
    """Predicates on built objects for every filter the request sets (beyond created)."""
    spec = SPECS[endpoint]
    found: list[Filter] = []
    for name, kind in spec.items():
        if name in _COMMON or name == "created" or endpoint == "events":
            continue
        if kind == "range":
            if any(k.startswith(name) for k in request.query):
                low, high = bounds(request, name)
                found.append(
                    _period(name, low, high)
                    if name.startswith("current_period")
                    else lambda o, n=name, lo=low, hi=high: (
                        o.get(n) is not None and lo <= o[n] <= hi
                    )
                )
        elif isinstance(kind, set):
            raw = request.arg(f"{name}[enabled]")
            if raw is not None:
                found.append(_equals((name, "enabled"), boolean(raw, f"{name}[enabled]")))
        elif isinstance(kind, tuple):
            value = _choice(request, name, kind)
            if name == "status" and endpoint == "subscriptions":
                found.append(_subscription_status(value))
            elif value is not None:
                found.append(_equals((name,), value))
        elif (value := request.arg(name)) is not None:
            found.append(
                _items(name, value) if name in ("plan", "price") else _equals((name,), value)
            )
    return found

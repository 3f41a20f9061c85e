"""Stripe's REST API (customers, charges, invoices, subscriptions, events), list contract."""

from __future__ import annotations

import base64
import bisect
import heapq
import re
from collections.abc import Iterator
from typing import Any

from emulators.core import (
    MASK64,
    BadRequest,
    Dataset,
    Request,
    Response,
    VendorApp,
    json_response,
)
from emulators.names import person
from emulators.settings import DAY

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
INDEX_WIDTH = 8
EVENT_KEY_WIDTH = 13
EVENT_RETENTION = 30 * DAY
MAX_LIMIT = 100
PREFIXES = {"customers": "cus", "charges": "ch", "invoices": "in", "subscriptions": "sub"}
OBJECT_NAMES = {
    "customers": "customer",
    "charges": "charge",
    "invoices": "invoice",
    "subscriptions": "subscription",
}
EVENT_KINDS = ("created", "updated", "deleted")
CURRENCIES = ["usd", "usd", "usd", "eur", "gbp"]


_PAIRS = [a + b for a in B62 for b in B62]


def b62(value: int, width: int) -> str:
    """`value` in base 62, zero-padded to `width` digits (decodable with `un_b62`)."""
    pairs = []
    for _ in range((width + 1) // 2):
        value, digit = divmod(value, 3844)
        pairs.append(_PAIRS[digit])
    return "".join(reversed(pairs))[-width:]


def token(seed: int, length: int) -> str:
    """A random-looking alphanumeric string from a 64-bit seed (not decodable; fast)."""
    return (f"{seed & MASK64:016x}" * 2)[:length]


def un_b62(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + B62.index(char)
    return value


class App(VendorApp):
    name = "stripe"

    def __init__(self, clock, seed, scale, credentials=None) -> None:
        super().__init__(clock, seed, scale, credentials)
        self.customers = self.dataset(
            "customers", 200, created_per_day=5, updated_per_day=0.01, deleted_per_day=0.001
        )
        self.charges = self.dataset("charges", 2000, created_per_day=60, updated_per_day=0.002)
        self.invoices = self.dataset("invoices", 600, created_per_day=20, updated_per_day=0.01)
        self.subscriptions = self.dataset(
            "subscriptions", 150, created_per_day=2, updated_per_day=0.005
        )
        self.builders = {
            "customers": self.customer,
            "charges": self.charge,
            "invoices": self.invoice,
            "subscriptions": self.subscription,
        }
        self._mutation_keys: dict[str, tuple[int, list[tuple[int, int, int]]]] = {}
        self._customer_counts: dict[int, int] = {}
        self._contacts: dict[int, tuple[str, str]] = {}

    def advance(self, old: int, new: int) -> None:
        super().advance(old, new)
        self._contacts.clear()

    # --- ids ------------------------------------------------------------------------------

    def object_id(self, dataset: str, index: int, h: int | None = None) -> str:
        """A Stripe-like id whose last digits encode the index (`h` saves recomputing it)."""
        if h is None:
            h = self.datasets[dataset].hash(index, 4)
        return f"{PREFIXES[dataset]}_{token(h, 14)}{b62(index, INDEX_WIDTH)}"

    def parse_id(self, dataset: str, value: str) -> int:
        prefix = PREFIXES[dataset] + "_"
        if not value.startswith(prefix) or len(value) != len(prefix) + 14 + INDEX_WIDTH:
            raise BadRequest(
                404,
                f"No such {OBJECT_NAMES[dataset]}: '{value}'",
                code="resource_missing",
                param="id",
            )
        try:
            index = un_b62(value[-INDEX_WIDTH:])
        except ValueError:
            raise BadRequest(
                404,
                f"No such {OBJECT_NAMES[dataset]}: '{value}'",
                code="resource_missing",
                param="id",
            ) from None
        if index >= self.datasets[dataset].count_at(self.clock.now()):
            raise BadRequest(
                404,
                f"No such {OBJECT_NAMES[dataset]}: '{value}'",
                code="resource_missing",
                param="id",
            )
        return index

    def related_customer(self, ds: Dataset, index: int) -> int:
        """A customer that already existed on the day the record was created."""
        existing = self._customers_by_day(ds.created_at(index) // DAY)
        return ds.hash(index, 3) % existing

    def _customers_by_day(self, day: int) -> int:
        # Records by the million look this up; customers change only at day granularity here.
        known = self._customer_counts.get(day)
        if known is None:
            known = self._customer_counts[day] = max(self.customers.count_at(day * DAY), 1)
        return known

    def customer_contact(self, index: int) -> tuple[str, str]:
        """(id, email) of a customer, cached: charges and invoices ask for them constantly."""
        known = self._contacts.get(index)
        if known is None:
            _, email, _ = person(self.customers, index)
            version = self.customers.record_version(index)
            if version:
                email = email.replace("@example.com", f"+v{version}@example.com")
            known = self._contacts[index] = (self.object_id("customers", index), email)
        return known

    # --- objects --------------------------------------------------------------------------

    def customer(self, index: int) -> dict[str, Any]:
        ds = self.customers
        h = ds.hash(index, 4)
        name, email, phone = person(ds, index)
        version = ds.record_version(index)
        if version:
            email = email.replace("@example.com", f"+v{version}@example.com")
        return {
            "id": self.object_id("customers", index),
            "object": "customer",
            "address": {
                "city": ["Lyon", "Austin", "Leeds", "Osaka"][h % 4],
                "country": ["FR", "US", "GB", "JP"][h % 4],
                "line1": f"{h % 900 + 1} Main St",
                "line2": None,
                "postal_code": f"{h % 90000 + 10000}",
                "state": None,
            },
            "balance": 0,
            "created": ds.created_at(index),
            "currency": CURRENCIES[h % len(CURRENCIES)],
            "default_source": None,
            "delinquent": bool(version % 3 == 2),
            "description": None,
            "email": email,
            "invoice_prefix": token(h, 8).upper(),
            "livemode": False,
            "metadata": {"segment": ["retail", "wholesale", "online"][h % 3]},
            "name": name,
            "phone": phone if h % 5 else None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }

    def charge(self, index: int) -> dict[str, Any]:
        ds = self.charges
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        amount = 500 + h % 50_000
        failed = h % 29 == 0
        refunded = amount if version and h % 2 else (amount // 2 if version else 0)
        customer_id, email = self.customer_contact(self.related_customer(ds, index))
        tail = token(h >> 7, 24)
        order = str(100000 + index)
        return {
            "id": self.object_id("charges", index, h),
            "object": "charge",
            "amount": amount,
            "amount_captured": 0 if failed else amount,
            "amount_refunded": refunded,
            "balance_transaction": None if failed else f"txn_{tail}",
            "billing_details": {
                "email": email,
                "name": None,
                "phone": None,
                "address": {"postal_code": str(h % 90000 + 10000)},
            },
            "captured": not failed,
            "created": ds.created_at(index),
            "currency": CURRENCIES[h % 5],
            "customer": customer_id,
            "description": "Order #" + order,
            "disputed": version > 1,
            "failure_code": "card_declined" if failed else None,
            "failure_message": "Your card was declined." if failed else None,
            "invoice": None,
            "livemode": False,
            "metadata": {"order": order},
            "paid": not failed,
            "payment_intent": f"pi_{tail[::-1]}",
            "payment_method": f"pm_{tail[3:]}{tail[:3]}",
            "receipt_email": email,
            "refunded": refunded == amount,
            "status": "failed" if failed else "succeeded",
        }

    def invoice(self, index: int) -> dict[str, Any]:
        ds = self.invoices
        h = ds.hash(index, 4)
        created = ds.created_at(index)
        version = ds.record_version(index)
        customer = self.related_customer(ds, index)
        name, email, _ = person(self.customers, customer)
        total = 1000 + h % 200_000
        status = ["open", "paid", "paid", "paid", "uncollectible"][h % 5]
        if version:
            status = "paid" if status == "open" else ("void" if version > 1 else status)
        paid = status == "paid"
        return {
            "id": self.object_id("invoices", index),
            "object": "invoice",
            "amount_due": total,
            "amount_paid": total if paid else 0,
            "amount_remaining": 0 if paid or status == "void" else total,
            "attempt_count": 1 + (h % 3),
            "attempted": True,
            "billing_reason": "subscription_cycle" if h % 2 else "manual",
            "collection_method": "charge_automatically" if h % 3 else "send_invoice",
            "created": created,
            "currency": CURRENCIES[h % len(CURRENCIES)],
            "customer": self.object_id("customers", customer),
            "customer_email": email,
            "customer_name": name,
            "due_date": created + 30 * DAY if h % 3 == 0 else None,
            "hosted_invoice_url": None,
            "livemode": False,
            "number": f"{token(h, 6).upper()}-{index + 1:04d}",
            "paid": paid,
            "period_end": created,
            "period_start": created - 30 * DAY,
            "status": status,
            "subtotal": total,
            "total": total,
        }

    def subscription(self, index: int) -> dict[str, Any]:
        ds = self.subscriptions
        h = ds.hash(index, 4)
        created = ds.created_at(index)
        version = ds.record_version(index)
        now = self.clock.now()
        period = 30 * DAY
        start = created + ((now - created) // period) * period
        status = ["active", "active", "active", "trialing", "past_due"][h % 5]
        if version:
            status = ["canceled", "past_due", "active"][version % 3]
        return {
            "id": self.object_id("subscriptions", index),
            "object": "subscription",
            "cancel_at_period_end": status == "canceled",
            "canceled_at": ds.updated_at(index) if status == "canceled" else None,
            "collection_method": "charge_automatically",
            "created": created,
            "currency": CURRENCIES[h % len(CURRENCIES)],
            "current_period_end": start + period,
            "current_period_start": start,
            "customer": self.object_id("customers", self.related_customer(ds, index)),
            "items": {
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": f"si_{token(h, 14)}",
                        "object": "subscription_item",
                        "quantity": 1 + h % 4,
                        "price": {
                            "id": f"price_{token(h % 7, 14)}",
                            "object": "price",
                            "unit_amount": [900, 2900, 9900][h % 3],
                            "recurring": {"interval": "month", "interval_count": 1},
                        },
                    }
                ],
            },
            "livemode": False,
            "metadata": {},
            "start_date": created,
            "status": status,
        }

    # --- requests -------------------------------------------------------------------------

    def authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        key = ""
        if auth.startswith("Bearer "):
            key = auth[7:].strip()
        elif auth.startswith("Basic "):
            try:
                key = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            except ValueError:
                key = ""
        return bool(re.match(r"^(sk|rk)_(test|live)_\w+$", key))

    def error(self, status: int, message: str, **extra: Any) -> Response:
        kind = "invalid_request_error"
        if status == 429:
            extra.setdefault("code", "rate_limit")
        elif status == 403:
            kind = "permission_error"
        elif status >= 500:
            kind = "api_error"
        if status == 401 and message.startswith("missing"):
            message = (
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY')."
            )
        body = {"error": {"message": message, "type": kind, **extra}}
        return json_response(body, status, Request_Id=f"req_{token(self.clock.now(), 14)}")

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 401))
        if status == 403:
            return self.error(
                403,
                "The provided key does not have access to this account; the "
                "account has been rejected or closed.",
                code="account_invalid",
            )
        return self.error(
            401,
            "Expired API Key provided: sk_live_****ock1.",
            code=fault.get("code", "api_key_expired"),
        )

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        response = self.error(
            429,
            "Request rate limit exceeded. Learn more about rate limits "
            "here https://stripe.com/docs/rate-limits.",
        )
        response.headers["Retry-After"] = str(fault.get("retry_after", 1))
        response.headers["Stripe-Should-Retry"] = "true"
        return response

    def route(self, request: Request) -> Response:
        try:
            if request.method != "GET":
                raise BadRequest(
                    405, f"Unrecognized request URL ({request.method}: {request.path})."
                )
            parts = request.path.strip("/").split("/")
            if len(parts) < 2 or parts[0] != "v1":
                raise BadRequest(404, f"Unrecognized request URL (GET: {request.path}).")
            resource = parts[1]
            if resource == "events" and len(parts) == 2:
                return self.list_events(request)
            if resource not in PREFIXES:
                raise BadRequest(404, f"Unrecognized request URL (GET: {request.path}).")
            if len(parts) == 3:
                return self.retrieve(resource, parts[2])
            return self.list_objects(resource, request)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)

    def retrieve(self, resource: str, object_id: str) -> Response:
        index = self.parse_id(resource, object_id)
        ds = self.datasets[resource]
        if ds.is_deleted(index):
            return json_response(
                {"id": object_id, "object": OBJECT_NAMES[resource], "deleted": True}
            )
        return json_response(self.builders[resource](index))

    def _limit(self, request: Request) -> int:
        raw = request.arg("limit", "10")
        if not raw.lstrip("-").isdigit():
            raise BadRequest(
                400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param="limit"
            )
        limit = int(raw)
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(
                400,
                "Invalid limit: must be between 1 and 100",
                code="parameter_invalid_integer",
                param="limit",
            )
        return limit

    def _created_bounds(self, request: Request) -> tuple[int, int]:
        """The [low, high] creation-time window from created[gt|gte|lt|lte] (or created=ts)."""
        low, high = -(1 << 62), 1 << 62
        for op in ("gt", "gte", "lt", "lte", ""):
            raw = request.arg(f"created[{op}]" if op else "created")
            if raw is None:
                continue
            if not raw.isdigit():
                raise BadRequest(
                    400,
                    f"Invalid timestamp: {raw}",
                    code="parameter_invalid_integer",
                    param=f"created[{op}]" if op else "created",
                )
            value = int(raw)
            if op == "gt":
                low = max(low, value + 1)
            elif op in ("gte", ""):
                low = max(low, value)
            if op == "lt":
                high = min(high, value - 1)
            elif op in ("lte", ""):
                high = min(high, value)
        return low, high

    def list_objects(self, resource: str, request: Request) -> Response:
        ds = self.datasets[resource]
        limit = self._limit(request)
        low, high = self._created_bounds(request)
        now = self.clock.now()
        first = ds.first_index_created_at_or_after(low)
        last = min(ds.count_at(min(now, high)), ds.count_at(now)) - 1  # inclusive
        starting_after = request.arg("starting_after")
        ending_before = request.arg("ending_before")
        if starting_after and ending_before:
            raise BadRequest(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                code="parameters_exclusive",
            )

        def visible(i: int) -> bool:
            return not ds.is_deleted(i) and request.keeps(ds, i)

        build = self.builders[resource]
        if ending_before:
            start = self.parse_id(resource, ending_before) + 1
            picked: list[int] = []
            i = max(start, first)
            while i <= last and len(picked) <= limit:
                if visible(i):
                    picked.append(i)
                i += 1
            has_more = len(picked) > limit
            indices = list(reversed(picked[:limit]))
        else:
            if starting_after:
                last = min(last, self.parse_id(resource, starting_after) - 1)
            indices = []
            i = last
            while i >= first and len(indices) <= limit:
                if visible(i):
                    indices.append(i)
                i -= 1
            has_more = len(indices) > limit
            indices = indices[:limit]
        data = [build(i) for i in indices]
        self.count_served(resource, len(data))
        return json_response(
            {"object": "list", "data": data, "has_more": has_more, "url": f"/v1/{resource}"}
        )

    # --- events ---------------------------------------------------------------------------

    def _event_key(self, time: int, dataset_no: int, kind: int, index: int) -> int:
        return (((time << 3) | dataset_no) << 2 | kind) << 32 | index

    def _decode_event_key(self, key: int) -> tuple[int, int, int, int]:
        index = key & 0xFFFFFFFF
        key >>= 32
        kind = key & 3
        key >>= 2
        return key >> 3, key & 7, kind, index

    def event_id(self, key: int) -> str:
        return f"evt_{token(key * 2654435761, 11)}{b62(key, EVENT_KEY_WIDTH)}"

    def _sorted_mutation_keys(self, name: str, dataset_no: int) -> list[tuple[int, int, int]]:
        ds = self.datasets[name]
        cached = self._mutation_keys.get(name)
        if cached is None or cached[0] != len(ds.log):
            kinds = {"updated": 1, "deleted": 2}
            keys = sorted(
                self._event_key(m.time, dataset_no, kinds[m.kind], m.index) for m in ds.log
            )
            cached = (len(ds.log), keys)
            self._mutation_keys[name] = cached
        return cached[1]

    def _event_streams(self, upper_key: int, low_time: int) -> list[Iterator[int]]:
        """Descending event keys below `upper_key`, one stream per dataset and kind."""
        streams: list[Iterator[int]] = []
        upper_time = self._decode_event_key(upper_key)[0]
        for dataset_no, name in enumerate(PREFIXES):
            ds = self.datasets[name]

            def creations(ds: Dataset = ds, dataset_no: int = dataset_no) -> Iterator[int]:
                i = ds.count_at(upper_time) - 1
                while i >= 0:
                    created = ds.created_at(i)
                    if created < low_time:
                        return
                    key = self._event_key(created, dataset_no, 0, i)
                    if key < upper_key:
                        yield key
                    i -= 1

            def mutations(keys: list[tuple[int, int, int]]) -> Iterator[int]:
                pos = bisect.bisect_left(keys, upper_key) - 1
                while pos >= 0:
                    key = keys[pos]
                    if self._decode_event_key(key)[0] < low_time:
                        return
                    yield key
                    pos -= 1

            streams.append(creations())
            streams.append(mutations(self._sorted_mutation_keys(name, dataset_no)))
        return streams

    def event(self, key: int) -> dict[str, Any]:
        time, dataset_no, kind, index = self._decode_event_key(key)
        name = list(PREFIXES)[dataset_no]
        obj = self.builders[name](index)
        return {
            "id": self.event_id(key),
            "object": "event",
            "api_version": "2024-06-20",
            "created": time,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": f"{OBJECT_NAMES[name]}.{EVENT_KINDS[kind]}",
        }

    def list_events(self, request: Request) -> Response:
        limit = self._limit(request)
        low, high = self._created_bounds(request)
        now = self.clock.now()
        low = max(low, now - EVENT_RETENTION)
        upper_key = self._event_key(min(high, now) + 1, 0, 0, 0)
        if request.arg("ending_before"):
            raise BadRequest(
                400,
                "ending_before is not supported by this emulator for events",
                param="ending_before",
            )
        after = request.arg("starting_after")
        if after:
            if not after.startswith("evt_") or len(after) != 4 + 11 + EVENT_KEY_WIDTH:
                raise BadRequest(
                    404,
                    f"No such event: '{after}'",
                    code="resource_missing",
                    param="starting_after",
                )
            upper_key = min(upper_key, un_b62(after[-EVENT_KEY_WIDTH:]))
        types = set(request.args("types[]"))
        if request.arg("type"):
            types.add(request.arg("type"))
        patterns = [re.compile("^" + re.escape(t).replace(r"\*", "[a-z_.]+") + "$") for t in types]
        merged = heapq.merge(*self._event_streams(upper_key, low), reverse=True)
        page: list[dict[str, Any]] = []
        has_more = False
        for key in merged:
            event = self.event(key)
            if patterns and not any(p.match(event["type"]) for p in patterns):
                continue
            if len(page) == limit:
                has_more = True
                break
            page.append(event)
        self.count_served("events", len(page))
        return json_response(
            {"object": "list", "data": page, "has_more": has_more, "url": "/v1/events"}
        )

"""Stripe's requests: retrieve and list the four resources, list events, honour Stripe-Version."""

from __future__ import annotations

import bisect
import email.utils
import heapq
import re
from collections.abc import Iterator
from typing import Any

from emulators.core import BadRequest, Dataset, Request, Response, json_response
from emulators.settings import DAY
from emulators.stripe import params
from emulators.stripe.data import (
    ACCOUNT_VERSION,
    API_VERSIONS,
    CREATED,
    DELETED,
    OBJECT_NAMES,
    PREFIXES,
    UPDATED,
    StripeData,
    b62,
    token,
    un_b62,
)
from emulators.stripe.faults import StripeFaults

EVENT_KEY_WIDTH = 13
# Stripe lists events from the last 30 days only: https://docs.stripe.com/api/events
EVENT_RETENTION = 30 * DAY
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_KINDS = {"updated": UPDATED, "deleted": DELETED}


class App(StripeFaults, StripeData):
    """Stripe's REST API for customers, charges, invoices, subscriptions and events."""

    def setup(self) -> None:
        super().setup()
        self._mutation_keys: dict[str, tuple[int, list[int]]] = {}

    def route(self, request: Request) -> Response:
        try:
            version = self._version(request)
            response = self._dispatch(request)
        except BadRequest as exc:
            version = ACCOUNT_VERSION
            response = self.error(exc.status, exc.message, **exc.extra)
        response.headers["Stripe-Version"] = version
        response.headers["Date"] = email.utils.formatdate(self.clock.now(), usegmt=True)
        return response

    def _version(self, request: Request) -> str:
        """The API version a request pins (https://docs.stripe.com/api/versioning)."""
        version = request.headers.get("stripe-version", "").strip()
        if not version:
            return ACCOUNT_VERSION
        if not _VERSION.match(version) or version not in API_VERSIONS:
            raise BadRequest(400, f"Invalid Stripe API version: {version}")
        return version

    def _dispatch(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if request.method != "GET":
            raise BadRequest(405, f"Unrecognized request URL ({request.method}: {request.path}).")
        if len(parts) not in (2, 3) or parts[0] != "v1":
            raise BadRequest(404, f"Unrecognized request URL (GET: {request.path}).")
        resource = parts[1]
        if resource == "events" and len(parts) == 2:
            return self.list_events(request)
        if resource not in PREFIXES:
            raise BadRequest(404, f"Unrecognized request URL (GET: {request.path}).")
        if len(parts) == 3:
            return self.retrieve(resource, parts[2])
        return self.list_objects(resource, request)

    def _index(self, resource: str, object_id: str, param: str = "id") -> int:
        index = self.index_of(resource, object_id)
        if index is None:
            raise BadRequest(
                404,
                f"No such {OBJECT_NAMES[resource]}: '{object_id}'",
                code="resource_missing",
                param=param,
            )
        return index

    def retrieve(self, resource: str, object_id: str) -> Response:
        index = self._index(resource, object_id)
        if self.datasets[resource].is_deleted(index):
            return json_response(
                {"id": object_id, "object": OBJECT_NAMES[resource], "deleted": True}
            )
        return json_response(self.builders[resource](index))

    # --- lists ----------------------------------------------------------------------------

    def list_objects(self, resource: str, request: Request) -> Response:
        params.check(request, resource)
        limit = params.limit(request)
        low, high = params.bounds(request, "created")
        wanted = params.filters(request, resource)
        ds = self.datasets[resource]
        now = self.clock.now()
        first = ds.first_index_created_at_or_after(low)
        last = min(ds.count_at(min(now, high)), ds.count_at(now)) - 1  # inclusive
        after, before = request.arg("starting_after"), request.arg("ending_before")
        if after and before:
            raise BadRequest(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                code="parameters_exclusive",
            )
        build = self.builders[resource]
        if before:
            start = max(self._index(resource, before, "ending_before") + 1, first)
            found = self._scan(ds, build, range(start, last + 1), limit, wanted, request)
            has_more = len(found) > limit
            found = list(reversed(found[:limit]))
        else:
            if after:
                last = min(last, self._index(resource, after, "starting_after") - 1)
            found = self._scan(ds, build, range(last, first - 1, -1), limit, wanted, request)
            has_more = len(found) > limit
            found = found[:limit]
        data = [obj if obj is not None else build(i) for i, obj in found]
        self.count_served(resource, len(data))
        return json_response(
            {"object": "list", "data": data, "has_more": has_more, "url": f"/v1/{resource}"}
        )

    def _scan(
        self,
        ds: Dataset,
        build: Any,
        indices: range,
        limit: int,
        wanted: list[params.Filter],
        request: Request,
    ) -> list[tuple[int, dict[str, Any] | None]]:
        """Up to limit+1 (index, object) pairs that a listing shows, in `indices` order.

        Without filters no object is built here (the listing builds just the page): the
        benchmark pages a million charges through this loop.
        """
        if not wanted:
            shown: list[int] = []
            for i in indices:
                if not ds.is_deleted(i) and request.keeps(ds, i):
                    shown.append(i)
                    if len(shown) > limit:
                        break
            return [(i, None) for i in shown]
        found: list[tuple[int, dict[str, Any] | None]] = []
        for i in indices:
            if ds.is_deleted(i) or not request.keeps(ds, i):
                continue
            obj = build(i)
            if all(test(obj) for test in wanted):
                found.append((i, obj))
                if len(found) > limit:
                    break
        return found

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

    def _sorted_mutation_keys(self, name: str, dataset_no: int) -> list[int]:
        ds = self.datasets[name]
        cached = self._mutation_keys.get(name)
        if cached is None or cached[0] != len(ds.log):
            keys = sorted(
                self._event_key(m.time, dataset_no, _KINDS[m.kind], m.index) for m in ds.log
            )
            cached = (len(ds.log), keys)
            self._mutation_keys[name] = cached
        return cached[1]

    def _creations(self, ds: Dataset, dataset_no: int, upper_key: int, low: int) -> Iterator[int]:
        i = ds.count_at(self._decode_event_key(upper_key)[0]) - 1
        while i >= 0:
            created = ds.created_at(i)
            if created < low:
                return
            key = self._event_key(created, dataset_no, CREATED, i)
            if key < upper_key:
                yield key
            i -= 1

    def _mutations(self, keys: list[int], upper_key: int, low: int) -> Iterator[int]:
        pos = bisect.bisect_left(keys, upper_key) - 1
        while pos >= 0 and self._decode_event_key(keys[pos])[0] >= low:
            yield keys[pos]
            pos -= 1

    def _event_streams(self, upper_key: int, low: int) -> list[Iterator[int]]:
        """Descending event keys below `upper_key`, one stream per dataset and kind."""
        streams: list[Iterator[int]] = []
        for dataset_no, name in enumerate(PREFIXES):
            streams.append(self._creations(self.datasets[name], dataset_no, upper_key, low))
            keys = self._sorted_mutation_keys(name, dataset_no)
            streams.append(self._mutations(keys, upper_key, low))
        return streams

    def event(self, key: int) -> dict[str, Any]:
        time, dataset_no, kind, index = self._decode_event_key(key)
        name = list(PREFIXES)[dataset_no]
        obj = self.builders[name](index)
        return {
            "id": self.event_id(key),
            "object": "event",
            "api_version": ACCOUNT_VERSION,
            "created": time,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": self.event_type(name, kind, obj),
        }

    def _event_patterns(self, request: Request) -> list[re.Pattern[str]]:
        """`type` (one, `*` as a wildcard) or `types` (up to 20 exact types), not both."""
        types = params.listed(request, "types")
        single = request.arg("type")
        if single is not None and types:
            raise BadRequest(
                400,
                "You may only specify one of these parameters: type, types.",
                code="parameters_exclusive",
            )
        if len(types) > 20:
            raise BadRequest(
                400, "Invalid array: types must have at most 20 elements.", param="types"
            )
        if single is not None:
            return [re.compile("^" + re.escape(single).replace(r"\*", "[a-z_.]+") + "$")]
        return [re.compile("^" + re.escape(t) + "$") for t in types]

    def list_events(self, request: Request) -> Response:
        params.check(request, "events")
        limit = params.limit(request)
        low, high = params.bounds(request, "created")
        now = self.clock.now()
        low = max(low, now - EVENT_RETENTION)
        upper_key = self._event_key(min(high, now) + 1, 0, 0, 0)
        if request.arg("ending_before"):
            raise BadRequest(
                400,
                "ending_before is not modelled by this emulator for events",
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
        patterns = self._event_patterns(request)
        delivered = request.arg("delivery_success")
        merged: Iterator[int] = heapq.merge(*self._event_streams(upper_key, low), reverse=True)
        # No webhook endpoint is configured, so every event counts as delivered.
        if delivered is not None and not params.boolean(delivered, "delivery_success"):
            merged = iter(())
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

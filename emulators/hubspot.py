"""HubSpot CRM v3 (contacts, companies, deals): list with `after` paging and the search endpoint."""

from __future__ import annotations

import bisect
import heapq
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from emulators.core import (
    BadRequest,
    Clock,
    Dataset,
    Request,
    Response,
    VendorApp,
    json_response,
    mix,
)
from emulators.names import person
from emulators.settings import DAY

PORTAL_ID = 24_680_135
# Object ids are numeric strings; each type gets its own range so ids never collide.
ID_BASE = {"contacts": 1_000_051, "companies": 18_000_000_001, "deals": 14_000_000_001}
LIST_MAX_LIMIT = 100
LIST_DEFAULT_LIMIT = 10
SEARCH_MAX_LIMIT = 200
SEARCH_DEFAULT_LIMIT = 10
# HubSpot serves at most this many results of one search query; paging past it is a 400.
SEARCH_RESULT_CAP = 10_000
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS_TOTAL = 25
TEN_SECONDLY_MAX = 190
DAILY_MAX = 500_000
# The property that holds each type's last modification time (contacts differ from the rest).
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
DEFAULT_PROPERTIES = {
    "contacts": [
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ],
    "companies": ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
    "deals": [
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ],
}
SEARCHABLE_TEXT = {
    "contacts": ("email", "firstname", "lastname", "phone", "company"),
    "companies": ("name", "domain", "phone", "website"),
    "deals": ("dealname",),
}
LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
]
LEAD_STATUS = ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "CONNECTED", "UNQUALIFIED"]
DEAL_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
]
OWNERS = ["52118233", "52118234", "60551870", "71002456"]
JOB_TITLES = ["Owner", "Office Manager", "Buyer", "Operations Lead", "Founder", "Accountant"]
COMPANY_WORDS = [
    "Harbor",
    "Maple",
    "Summit",
    "Copper",
    "Lantern",
    "Juniper",
    "Atlas",
    "Cedar",
    "Beacon",
    "Orchard",
    "Granite",
    "Willow",
]
COMPANY_KINDS = ["Bakery", "Logistics", "Studio", "Supply", "Dental", "Cycles", "Labs", "Foods"]
INDUSTRIES = [
    "RETAIL",
    "FOOD_BEVERAGES",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "DESIGN",
    "MEDICAL_PRACTICE",
    "SPORTING_GOODS",
    "COMPUTER_SOFTWARE",
    "WHOLESALE",
]
PLACES = [
    ("Lyon", "", "France"),
    ("Austin", "TX", "United States"),
    ("Leeds", "", "United Kingdom"),
    ("Osaka", "", "Japan"),
    ("Portland", "OR", "United States"),
    ("Hamburg", "", "Germany"),
]
# Share of contacts who are also Stripe customers (same index, same name and email).
STRIPE_OVERLAP_PER_10 = 6
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
RANGE_OPERATORS = {"EQ", "LT", "LTE", "GT", "GTE", "BETWEEN"}
NEG_INF = -(1 << 62)
POS_INF = 1 << 62
CONTINUATIONS = 64


def iso(seconds: int) -> str:
    """HubSpot's timestamp format: UTC with milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


def parse_ms(value: Any, where: str) -> int:
    """A filter value for a date property: epoch milliseconds or ISO-8601, as HubSpot accepts."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            400,
            f"Invalid value '{text}' for {where}: expected a timestamp in "
            "milliseconds or an ISO-8601 date",
            in_=where,
        ) from None
    return int(parsed.timestamp() * 1000)


@dataclass
class Group:
    """One filter group: an AND of filters, reduced to time and index ranges plus predicates."""

    time_lo: int = NEG_INF  # seconds, inclusive
    time_hi: int = POS_INF
    index_lo: int = 0  # inclusive
    index_hi: int = POS_INF  # exclusive
    checks: list[Callable[[int], bool]] = field(default_factory=list)
    empty: bool = False

    @property
    def time_bounded(self) -> bool:
        return self.time_lo > NEG_INF or self.time_hi < POS_INF


@dataclass
class Query:
    """A parsed search request."""

    kind: str
    groups: list[Group]
    sort: str  # "time" | "index"
    descending: bool
    properties: list[str]
    limit: int
    offset: int
    signature: bytes


class App(VendorApp):
    name = "hubspot"

    def __init__(self, clock: Clock, seed: int, scale: dict[str, int], credentials=None) -> None:
        super().__init__(clock, seed, scale, credentials)
        self.contacts = self.dataset(
            "contacts", 500, created_per_day=20, updated_per_day=0.02, deleted_per_day=0.002
        )
        self.companies = self.dataset(
            "companies", 120, created_per_day=2, updated_per_day=0.01, deleted_per_day=0.001
        )
        self.deals = self.dataset(
            "deals", 250, created_per_day=8, updated_per_day=0.03, deleted_per_day=0.002
        )
        # Stripe's customers under the same seed: contacts share their names and emails.
        self.stripe_customers = Dataset("customers", seed, clock.start, 0)
        self.builders: dict[str, Callable[[int], dict[str, str | None]]] = {
            "contacts": self.contact,
            "companies": self.company,
            "deals": self.deal,
        }
        self._indexes: dict[str, tuple[int, dict[str, list[Any]]]] = {}
        # Resumable search streams keyed by (query, offset): a page costs its own size only.
        self._continuations: OrderedDict[tuple[Any, ...], tuple[Iterator[int], int | None]] = (
            OrderedDict()
        )
        self._requests = 0
        self._correlations = 0
        # HubSpot's cap; a test may lower it to exercise clients without 10,000 records.
        self.search_result_cap = SEARCH_RESULT_CAP

    # --- records --------------------------------------------------------------------------

    def object_id(self, kind: str, index: int) -> str:
        return str(ID_BASE[kind] + index)

    def company_name(self, index: int) -> str:
        h = self.companies.hash(index, 1)
        return (
            f"{COMPANY_WORDS[h % len(COMPANY_WORDS)]} "
            f"{COMPANY_KINDS[(h >> 8) % len(COMPANY_KINDS)]}"
        )

    def company_domain(self, index: int) -> str:
        return self.company_name(index).lower().replace(" ", "") + f"{index}.example.com"

    def related_company(self, ds: Dataset, index: int) -> int | None:
        existing = self.companies.count_at(ds.created_at(index))
        if existing == 0:
            return None
        return ds.hash(index, 3) % existing

    def is_stripe_customer(self, index: int) -> bool:
        return self.contacts.hash(index, 5) % 10 < STRIPE_OVERLAP_PER_10

    def contact(self, index: int) -> dict[str, str | None]:
        ds = self.contacts
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        customer = self.is_stripe_customer(index)
        if customer:
            full_name, email, phone = person(self.stripe_customers, index)
        else:
            full_name, email, phone = person(ds, index)
            email = email.replace("@example.com", "@example.org")
        first, _, last = full_name.partition(" ")
        company = self.related_company(ds, index)
        city, state, country = PLACES[h % len(PLACES)]
        stage = LIFECYCLE[-1] if customer else LIFECYCLE[min(h % 4 + version, len(LIFECYCLE) - 2)]
        return {
            "associatedcompanyid": None
            if company is None
            else self.object_id("companies", company),
            "city": city,
            "company": None if company is None else self.company_name(company),
            "country": country,
            "createdate": iso(ds.created_at(index)),
            "email": email,
            "firstname": first,
            "hs_lead_status": LEAD_STATUS[(h >> 4) % len(LEAD_STATUS)] if h % 3 else None,
            "hs_object_id": self.object_id("contacts", index),
            "hubspot_owner_id": OWNERS[(h >> 6) % len(OWNERS)],
            "jobtitle": JOB_TITLES[(h >> 10) % len(JOB_TITLES)],
            "lastmodifieddate": iso(ds.updated_at(index)),
            "lastname": last,
            "lifecyclestage": stage,
            "phone": phone if h % 7 else None,
            "state": state or None,
        }

    def company(self, index: int) -> dict[str, str | None]:
        ds = self.companies
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        city, state, country = PLACES[h % len(PLACES)]
        employees = 2 + h % 240 + version * 3
        return {
            "annualrevenue": str(employees * 85_000),
            "city": city,
            "country": country,
            "createdate": iso(ds.created_at(index)),
            "domain": self.company_domain(index),
            "hs_lastmodifieddate": iso(ds.updated_at(index)),
            "hs_object_id": self.object_id("companies", index),
            "hubspot_owner_id": OWNERS[(h >> 6) % len(OWNERS)],
            "industry": INDUSTRIES[(h >> 8) % len(INDUSTRIES)],
            "lifecyclestage": LIFECYCLE[min(3 + (h % 3) + version, len(LIFECYCLE) - 1)],
            "name": self.company_name(index),
            "numberofemployees": str(employees),
            "phone": f"+1555{(h >> 16) % 10_000_000:07d}",
            "state": state or None,
            "website": "https://www." + self.company_domain(index),
        }

    def deal(self, index: int) -> dict[str, str | None]:
        ds = self.deals
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        created = ds.created_at(index)
        stage_no = h % len(DEAL_STAGES)
        if stage_no < 5:  # an open deal moves along the pipeline with each change
            stage_no = min(stage_no + version, 5)
            if version and h % 4 == 0:
                stage_no = 6
        stage = DEAL_STAGES[stage_no]
        company = self.related_company(ds, index)
        label = self.company_name(company) if company is not None else "New business"
        return {
            "amount": f"{500 + h % 60_000}.{(h >> 20) % 100:02d}",
            "closedate": iso(created + (14 + h % 60) * DAY),
            "createdate": iso(created),
            "deal_currency_code": ["USD", "USD", "EUR", "GBP"][(h >> 12) % 4],
            "dealname": f"{label} - {['Renewal', 'New order', 'Upgrade'][(h >> 9) % 3]}",
            "dealstage": stage,
            "hs_is_closed": "true" if stage.startswith("closed") else "false",
            "hs_lastmodifieddate": iso(ds.updated_at(index)),
            "hs_object_id": self.object_id("deals", index),
            "hubspot_owner_id": OWNERS[(h >> 6) % len(OWNERS)],
            "pipeline": "default",
        }

    def render(self, kind: str, index: int, wanted: list[str] | None) -> dict[str, Any]:
        """The v3 object envelope with the requested (or default) properties, all as strings."""
        ds = self.datasets[kind]
        props = self.builders[kind](index)
        names = wanted or DEFAULT_PROPERTIES[kind]
        # HubSpot always returns the id and the two dates, whatever was asked for.
        chosen = {name: props[name] for name in names if name in props}
        for name in ("createdate", MODIFIED_PROPERTY[kind], "hs_object_id"):
            chosen[name] = props[name]
        record: dict[str, Any] = {
            "id": self.object_id(kind, index),
            "properties": chosen,
            "createdAt": iso(ds.created_at(index)),
            "updatedAt": iso(ds.updated_at(index)),
            "archived": ds.is_deleted(index),
        }
        if ds.is_deleted(index):
            record["archivedAt"] = iso(ds.deleted[index])
        return record

    # --- sparse indexes of what changed (rebuilt only when the change log grows) ----------------

    def index(self, kind: str) -> dict[str, list[Any]]:
        ds = self.datasets[kind]
        cached = self._indexes.get(kind)
        if cached is None or cached[0] != len(ds.log):
            live = [(t, i) for i, t in ds.updated.items() if i not in ds.deleted]
            cached = (
                len(ds.log),
                {
                    "live_keys": sorted(live),
                    "live_indices": sorted(i for _, i in live),
                    "changed_indices": sorted(ds.updated),
                    "deleted_indices": sorted(ds.deleted),
                },
            )
            self._indexes[kind] = cached
        return cached[1]

    # --- requests -------------------------------------------------------------------------

    def correlation_id(self) -> str:
        self._correlations += 1
        h = mix(self.seed, self.clock.now(), self._correlations)
        hexed = f"{h:016x}{mix(h):016x}"
        return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}"

    def authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and bool(auth[7:].strip())

    def error(self, status: int, message: str, **extra: Any) -> Response:
        category = extra.pop("category", None)
        if status == 401 and message.startswith("missing"):
            message = (
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
            )
            category = "INVALID_AUTHENTICATION"
        body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": self.correlation_id(),
        }
        if category is None:
            category = {
                400: "VALIDATION_ERROR",
                401: "INVALID_AUTHENTICATION",
                403: "MISSING_SCOPES",
                404: "OBJECT_NOT_FOUND",
            }.get(status)
        if category:
            body["category"] = category
        where = extra.pop("in_", None)
        if where:
            body["errors"] = [{"message": message, "in": where}]
        body.update(extra)
        return json_response(body, status)

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 401))
        if status == 403:
            return self.error(
                403,
                "This app hasn't been granted all required scopes to make this call. Read more "
                "about required scopes here: https://developers.hubspot.com/scopes.",
                category="MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": ["crm.objects.contacts.read"]},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            )
        if fault.get("category") == "EXPIRED_AUTHENTICATION":
            return self.error(
                401,
                "The OAuth token used to make this call expired 2 day(s) ago.",
                category="EXPIRED_AUTHENTICATION",
            )
        return self.error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 "
            "authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            category="INVALID_AUTHENTICATION",
        )

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        policy = str(fault.get("policy", "TEN_SECONDLY_ROLLING")).upper()
        body = {
            "status": "error",
            "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": self.correlation_id(),
            "policyName": policy,
            "groupName": f"publicapi:private-app-api-calls-{policy.lower()}:{PORTAL_ID}",
            "category": "RATE_LIMITS",
        }
        response = json_response(body, 429)
        response.headers.update(self.limit_headers(remaining=0, daily_left=policy != "DAILY"))
        if policy != "DAILY":
            # The rolling window frees up within seconds; a daily limit lasts until midnight.
            response.headers["Retry-After"] = str(fault.get("retry_after", 1))
        return response

    def outage(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 503))
        if status == 500:
            return json_response(
                {
                    "status": "error",
                    "message": "internal error",
                    "correlationId": self.correlation_id(),
                },
                500,
            )
        # HubSpot sits behind Cloudflare: gateway failures come back as an HTML page.
        return Response(
            status,
            (
                f"<html><head><title>{status} Service Temporarily Unavailable</title></head>"
                f"<body><center><h1>{status} Service Temporarily Unavailable</h1></center>"
                "<hr><center>cloudflare</center></body></html>"
            ).encode(),
            {"CF-RAY": f"{mix(self.clock.now()):016x}-AMS"},
            content_type="text/html",
        )

    def limit_headers(
        self, remaining: int = TEN_SECONDLY_MAX - 1, daily_left: bool = True
    ) -> dict[str, str]:
        daily = max(DAILY_MAX - self._requests, 1) if daily_left else 0
        return {
            "X-HubSpot-RateLimit-Daily": str(DAILY_MAX),
            "X-HubSpot-RateLimit-Daily-Remaining": str(daily),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(TEN_SECONDLY_MAX),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
        }

    def route(self, request: Request) -> Response:
        self._requests += 1
        try:
            parts = request.path.strip("/").split("/")
            if len(parts) < 4 or parts[:3] != ["crm", "v3", "objects"]:
                raise BadRequest(
                    404,
                    f"No route for {request.method} {request.path}",
                    category="OBJECT_NOT_FOUND",
                )
            kind = parts[3]
            if kind not in self.builders:
                raise BadRequest(
                    400, f"Unable to infer object type from: {kind}", category="VALIDATION_ERROR"
                )
            if len(parts) == 5 and parts[4] == "search":
                if request.method != "POST":
                    raise BadRequest(405, f"HTTP {request.method} is not supported by this URL")
                return self.search(kind, request)
            if request.method != "GET":
                raise BadRequest(405, f"HTTP {request.method} is not supported by this URL")
            if len(parts) == 4:
                response = self.list_objects(kind, request)
            elif len(parts) == 5:
                response = self.retrieve(kind, parts[4], request)
            else:
                raise BadRequest(
                    404, f"No route for GET {request.path}", category="OBJECT_NOT_FOUND"
                )
            response.headers.update(self.limit_headers())
            return response
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)

    def requested_properties(self, values: list[str]) -> list[str] | None:
        names = [name.strip() for value in values for name in value.split(",") if name.strip()]
        return names or None

    def _int_arg(self, raw: str, name: str) -> int:
        if not raw.strip().lstrip("-").isdigit():
            raise BadRequest(400, f"Unable to parse '{raw}' as an integer for '{name}'", in_=name)
        return int(raw)

    def _bool_arg(self, raw: str, name: str) -> bool:
        if raw.lower() not in ("true", "false"):
            raise BadRequest(400, f"Unable to parse '{raw}' as a boolean for '{name}'", in_=name)
        return raw.lower() == "true"

    def retrieve(self, kind: str, object_id: str, request: Request) -> Response:
        ds = self.datasets[kind]
        archived = self._bool_arg(request.arg("archived", "false"), "archived")
        index = int(object_id) - ID_BASE[kind] if object_id.isdigit() else -1
        if not 0 <= index < ds.count_at(self.clock.now()) or ds.is_deleted(index) != archived:
            raise BadRequest(
                404, "Object not found.  objectId are usually numeric.", category="OBJECT_NOT_FOUND"
            )
        props = self.requested_properties(request.args("properties"))
        return json_response(self.render(kind, index, props))

    def list_objects(self, kind: str, request: Request) -> Response:
        """GET /crm/v3/objects/{type}: ascending ids, `after` is the id of the next record."""
        ds = self.datasets[kind]
        limit = self._int_arg(request.arg("limit", str(LIST_DEFAULT_LIMIT)), "limit")
        if not 1 <= limit <= LIST_MAX_LIMIT:
            raise BadRequest(
                400, f"limit must be between 1 and {LIST_MAX_LIMIT} (was {limit})", in_="limit"
            )
        archived = self._bool_arg(request.arg("archived", "false"), "archived")
        props = self.requested_properties(request.args("properties"))
        after = request.arg("after")
        start = 0
        if after:
            start = max(self._int_arg(after, "after") - ID_BASE[kind], 0)
        count = ds.count_at(self.clock.now())
        picked: list[int] = []
        if archived:
            # Archived records are few (a log of deletions), so walk that sorted list.
            deleted = self.index(kind)["deleted_indices"]
            pos = bisect.bisect_left(deleted, start)
            while pos < len(deleted) and len(picked) <= limit:
                if request.keeps(ds, deleted[pos]):
                    picked.append(deleted[pos])
                pos += 1
        else:
            i = start
            while i < count and len(picked) <= limit:
                if not ds.is_deleted(i) and request.keeps(ds, i):
                    picked.append(i)
                i += 1
        body: dict[str, Any] = {"results": [self.render(kind, i, props) for i in picked[:limit]]}
        if len(picked) > limit:
            next_after = self.object_id(kind, picked[limit])
            host = request.headers.get("host", "api.hubapi.com")
            body["paging"] = {
                "next": {
                    "after": next_after,
                    "link": f"http://{host}/{self.name}/crm/v3/objects/{kind}?after={next_after}",
                }
            }
        self.count_served(kind, len(body["results"]))
        return json_response(body)

    # --- search ---------------------------------------------------------------------------

    def search(self, kind: str, request: Request) -> Response:
        try:
            payload = request.json()
        except orjson.JSONDecodeError as exc:
            raise BadRequest(400, f"Invalid input JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise BadRequest(400, "Invalid input JSON: expected an object")
        query = self.parse_search(kind, payload)
        if query.offset >= self.search_result_cap:
            raise BadRequest(
                400,
                f"The search API returns at most {self.search_result_cap} results for a query; "
                f"paging past them (after={query.offset}) is not allowed. Narrow the query.",
                category="VALIDATION_ERROR",
            )
        ds = self.datasets[kind]
        keep = (lambda i: request.keeps(ds, i)) if request.share < 1.0 else None
        key = (query.signature, request.share, self.clock.now(), len(ds.log))
        stream, pending = self._resume(key, query.offset, kind, query, keep)
        # HubSpot stops at the cap even mid-page; the next page (if any) is the 400 above.
        take = min(query.limit, self.search_result_cap - query.offset)
        indices: list[int] = []
        if pending is not None:
            indices.append(pending)
        pending = None
        for index in stream:
            if len(indices) == take:
                pending = index
                break
            indices.append(index)
        end = query.offset + len(indices)
        body: dict[str, Any] = {
            "total": self.total(kind, query, keep, request.share),
            "results": [self.render(kind, i, query.properties) for i in indices],
        }
        if pending is not None:
            body["paging"] = {"next": {"after": str(end)}}
            self._continuations[(*key, end)] = (stream, pending)
            while len(self._continuations) > CONTINUATIONS:
                self._continuations.popitem(last=False)
        self.count_served(kind, len(indices))
        return json_response(body)

    def _resume(
        self,
        key: tuple[Any, ...],
        offset: int,
        kind: str,
        query: Query,
        keep: Callable[[int], bool] | None,
    ) -> tuple[Iterator[int], int | None]:
        saved = self._continuations.pop((*key, offset), None)
        if saved is not None:
            return saved
        stream = self.matches(kind, query, keep)
        for _ in range(offset):  # a cold start: skip without building records
            if next(stream, None) is None:
                break
        return stream, None

    def parse_search(self, kind: str, payload: dict[str, Any]) -> Query:
        limit = payload.get("limit", SEARCH_DEFAULT_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool):
            limit = self._int_arg(str(limit), "limit")
        if not 1 <= limit <= SEARCH_MAX_LIMIT:
            raise BadRequest(
                400, f"limit must be between 1 and {SEARCH_MAX_LIMIT} (was {limit})", in_="limit"
            )
        after = payload.get("after") or "0"
        offset = self._int_arg(str(after), "after")
        if offset < 0:
            raise BadRequest(400, f"Invalid 'after': {after}", in_="after")
        groups_raw = payload.get("filterGroups") or []
        if not isinstance(groups_raw, list):
            raise BadRequest(400, "filterGroups must be a list", in_="filterGroups")
        if len(groups_raw) > MAX_FILTER_GROUPS:
            raise BadRequest(
                400,
                f"Too many filter groups ({len(groups_raw)}). The maximum "
                f"number of filter groups is {MAX_FILTER_GROUPS}.",
                in_="filterGroups",
            )
        total_filters = 0
        groups: list[Group] = []
        for raw in groups_raw:
            filters = raw.get("filters") if isinstance(raw, dict) else None
            if not isinstance(filters, list):
                raise BadRequest(
                    400, "Each filter group needs a list of filters", in_="filterGroups"
                )
            if len(filters) > MAX_FILTERS_PER_GROUP:
                raise BadRequest(
                    400,
                    f"Too many filters in a group ({len(filters)}). The "
                    f"maximum is {MAX_FILTERS_PER_GROUP}.",
                    in_="filters",
                )
            total_filters += len(filters)
            groups.append(self.parse_group(kind, filters))
        if total_filters > MAX_FILTERS_TOTAL:
            raise BadRequest(
                400,
                f"Too many filters ({total_filters}). The maximum is {MAX_FILTERS_TOTAL}.",
                in_="filters",
            )
        if not groups:
            groups = [Group()]
        text = str(payload.get("query") or "").strip().lower()
        if text:
            fields = SEARCHABLE_TEXT[kind]
            build = self.builders[kind]

            def has_text(i: int) -> bool:
                props = build(i)
                return any(text in (props.get(f) or "").lower() for f in fields)

            for group in groups:
                group.checks.append(has_text)
        sort, descending = self.parse_sorts(kind, payload.get("sorts") or [], groups)
        props = payload.get("properties") or None
        if props is not None and not isinstance(props, list):
            raise BadRequest(400, "properties must be a list of property names", in_="properties")
        signature = orjson.dumps(
            {k: v for k, v in payload.items() if k not in ("after", "limit")},
            option=orjson.OPT_SORT_KEYS,
        )
        return Query(
            kind, groups, sort, descending, props, limit, offset, kind.encode() + b"\0" + signature
        )

    def parse_sorts(self, kind: str, sorts: Any, groups: list[Group]) -> tuple[str, bool]:
        if not isinstance(sorts, list):
            raise BadRequest(400, "sorts must be a list", in_="sorts")
        if len(sorts) > 1:
            raise BadRequest(400, "Only one sort is allowed per search.", in_="sorts")
        if not sorts:
            # With a modification-time filter, results come oldest change first; else by id.
            return ("time" if any(g.time_bounded for g in groups) else "index"), False
        rule = sorts[0]
        if isinstance(rule, str):
            descending = rule.startswith("-")
            name = rule.lstrip("-")
        elif isinstance(rule, dict):
            name = str(rule.get("propertyName", ""))
            direction = str(rule.get("direction", "ASCENDING")).upper()
            if direction not in ("ASCENDING", "DESCENDING"):
                raise BadRequest(400, f"Unknown sort direction '{direction}'", in_="sorts")
            descending = direction == "DESCENDING"
        else:
            raise BadRequest(400, "Invalid sort", in_="sorts")
        if name == MODIFIED_PROPERTY[kind]:
            return "time", descending
        if name in ("hs_object_id", "createdate"):
            return "index", descending
        raise BadRequest(
            400,
            f"Sorting by '{name}' is not supported by this emulator; sort by "
            f"{MODIFIED_PROPERTY[kind]}, createdate or hs_object_id.",
            in_="sorts",
        )

    def parse_group(self, kind: str, filters: list[Any]) -> Group:
        group = Group()
        ds = self.datasets[kind]
        for raw in filters:
            if not isinstance(raw, dict):
                raise BadRequest(400, "Invalid filter", in_="filters")
            name = str(raw.get("propertyName", ""))
            operator = str(raw.get("operator", "")).upper()
            if operator not in OPERATORS:
                raise BadRequest(
                    400, f"Unable to parse operator '{raw.get('operator')}'", in_="operator"
                )
            if name in (MODIFIED_PROPERTY[kind], "createdate", "hs_object_id") and (
                operator in RANGE_OPERATORS
            ):
                lo, hi = self.bounds(name, operator, raw)
                if name == MODIFIED_PROPERTY[kind]:
                    group.time_lo = max(group.time_lo, lo)
                    group.time_hi = min(group.time_hi, hi)
                elif name == "hs_object_id":
                    group.index_lo = max(group.index_lo, lo - ID_BASE[kind])
                    group.index_hi = min(group.index_hi, hi - ID_BASE[kind] + 1)
                else:  # createdate follows index order: creation times are monotone
                    group.index_lo = max(group.index_lo, ds.first_index_created_at_or_after(lo))
                    if hi < POS_INF:
                        group.index_hi = min(group.index_hi, ds.first_index_created_after(hi))
                continue
            group.checks.append(self.property_check(kind, name, operator, raw))
        group.index_lo = max(group.index_lo, 0)
        if group.time_lo > group.time_hi or group.index_lo >= group.index_hi:
            group.empty = True
        return group

    def bounds(self, name: str, operator: str, raw: dict[str, Any]) -> tuple[int, int]:
        """Inclusive [lo, hi] in seconds (dates) or ids for a range filter."""
        is_date = name != "hs_object_id"

        def value(key: str) -> int:
            if raw.get(key) is None:
                raise BadRequest(400, f"Filter on {name} with {operator} needs '{key}'", in_=key)
            if is_date:
                return parse_ms(raw[key], name)
            return self._int_arg(str(raw[key]), name)

        v = value("value")
        if is_date:
            # Records carry whole seconds; compare in milliseconds as HubSpot does.
            floor_s, ceil_s = v // 1000, -(-v // 1000)
        else:
            floor_s = ceil_s = v
        if operator == "EQ":
            return (ceil_s, floor_s) if is_date else (v, v)
        if operator == "GT":
            return floor_s + 1, POS_INF
        if operator == "GTE":
            return ceil_s, POS_INF
        if operator == "LT":
            return NEG_INF, ceil_s - 1
        if operator == "LTE":
            return NEG_INF, floor_s
        high = value("highValue")
        return ceil_s, (high // 1000 if is_date else high)

    def property_check(
        self, kind: str, name: str, operator: str, raw: dict[str, Any]
    ) -> Callable[[int], bool]:
        """A predicate for any other property, evaluated on the built record (a scan)."""
        build = self.builders[kind]
        wanted = raw.get("value")
        values = [str(v).lower() for v in raw.get("values") or []]
        target = None if wanted is None else str(wanted).lower()

        def check(i: int) -> bool:
            current = build(i).get(name)
            text = None if current is None else current.lower()
            if operator == "HAS_PROPERTY":
                return text is not None
            if operator == "NOT_HAS_PROPERTY":
                return text is None
            if operator == "EQ":
                return text == target
            if operator == "NEQ":
                return text != target
            if operator == "IN":
                return text in values
            if operator == "NOT_IN":
                return text not in values
            if operator == "CONTAINS_TOKEN":
                return text is not None and (target or "").strip("*") in text
            if operator == "NOT_CONTAINS_TOKEN":
                return text is None or (target or "").strip("*") not in text
            if text is None or target is None:
                return False
            low, high = target, str(raw.get("highValue", "")).lower()
            return {
                "LT": text < low,
                "LTE": text <= low,
                "GT": text > low,
                "GTE": text >= low,
                "BETWEEN": low <= text <= high,
            }[operator]

        return check

    def matches(self, kind: str, query: Query, keep: Callable[[int], bool] | None) -> Iterator[int]:
        """Indices of live records matching the query, in the query's order, lazily."""
        groups = [g for g in query.groups if not g.empty]
        if not groups:
            return iter(())
        ds = self.datasets[kind]
        time_lo = min(g.time_lo for g in groups)
        time_hi = max(g.time_hi for g in groups)
        index_lo = min(g.index_lo for g in groups)
        index_hi = max(g.index_hi for g in groups)
        if query.sort == "time":
            candidates = self.by_time(kind, time_lo, time_hi, index_lo, index_hi, query.descending)
        else:
            candidates = self.by_index(kind, index_lo, index_hi, query.descending)
        # One group of date and id ranges only: a time-ordered stream needs no further check.
        streamed = query.sort == "time" and len(groups) == 1 and not groups[0].checks

        def accepted(i: int) -> bool:
            if keep is not None and not keep(i):
                return False
            if streamed:
                return True
            updated = ds.updated_at(i)
            return any(
                g.time_lo <= updated <= g.time_hi
                and g.index_lo <= i < g.index_hi
                and all(check(i) for check in g.checks)
                for g in groups
            )

        return (i for i in candidates if accepted(i))

    def by_time(
        self, kind: str, lo: int, hi: int, index_lo: int, index_hi: int, descending: bool
    ) -> Iterator[int]:
        """Live records with lo <= last change <= hi, ordered by (change time, id).

        Records never changed after creation follow index order (creation is monotone); the
        changed ones come from a sparse sorted list. Merging the two costs only what is read.
        """
        ds = self.datasets[kind]
        now = self.clock.now()
        changed = ds.updated
        keys: list[tuple[int, int]] = self.index(kind)["live_keys"]
        first = max(ds.first_index_created_at_or_after(lo) if lo > NEG_INF else 0, index_lo)
        last = min(ds.count_at(min(hi, now)), index_hi, ds.count_at(now))  # exclusive
        start = bisect.bisect_left(keys, (lo, -1))
        stop = bisect.bisect_right(keys, (hi, POS_INF))

        def unchanged() -> Iterator[tuple[int, int]]:
            span = range(last - 1, first - 1, -1) if descending else range(first, last)
            for i in span:
                if i not in changed:
                    yield ds.created_at(i), i

        def modified() -> Iterator[tuple[int, int]]:
            span = range(stop - 1, start - 1, -1) if descending else range(start, stop)
            for pos in span:
                key = keys[pos]
                if index_lo <= key[1] < index_hi:
                    yield key

        for _, i in heapq.merge(unchanged(), modified(), reverse=descending):
            yield i

    def by_index(self, kind: str, index_lo: int, index_hi: int, descending: bool) -> Iterator[int]:
        ds = self.datasets[kind]
        last = min(index_hi, ds.count_at(self.clock.now()))
        span = range(last - 1, index_lo - 1, -1) if descending else range(index_lo, last)
        for i in span:
            if not ds.is_deleted(i):
                yield i

    def total(
        self, kind: str, query: Query, keep: Callable[[int], bool] | None, share: float
    ) -> int:
        """How many records match; counted from the sparse indexes when the query allows."""
        groups = [g for g in query.groups if not g.empty]
        if not groups:
            return 0
        if len(groups) > 1 or groups[0].checks:
            return sum(1 for _ in self.matches(kind, query, keep))
        g = groups[0]
        ds = self.datasets[kind]
        now = self.clock.now()
        idx = self.index(kind)
        first = max(
            ds.first_index_created_at_or_after(g.time_lo) if g.time_lo > NEG_INF else 0, g.index_lo
        )
        last = min(ds.count_at(min(g.time_hi, now)), g.index_hi, ds.count_at(now))
        count = 0
        if last > first:
            changed = idx["changed_indices"]
            count = (last - first) - (
                bisect.bisect_left(changed, last) - bisect.bisect_left(changed, first)
            )
        if g.time_bounded:
            keys = idx["live_keys"]
            start = bisect.bisect_left(keys, (g.time_lo, -1))
            stop = bisect.bisect_right(keys, (g.time_hi, POS_INF))
            count += sum(1 for pos in range(start, stop) if g.index_lo <= keys[pos][1] < g.index_hi)
        else:
            live = idx["live_indices"]
            count += bisect.bisect_left(live, g.index_hi) - bisect.bisect_left(live, g.index_lo)
        return round(count * share) if share < 1.0 else count

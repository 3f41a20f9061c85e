"""HubSpot's CRM search: the request body parsed and checked, matches streamed lazily.

The contract: https://developers.hubspot.com/docs/guides/api/crm/search
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from emulators.core import BadRequest, Dataset
from emulators.hubspot.data import (
    DATE_PROPERTIES,
    ID_BASE,
    MODIFIED_PROPERTY,
    NUMBER_PROPERTIES,
    SEARCHABLE_TEXT,
    Builder,
)

SEARCH_MAX_LIMIT = 200
SEARCH_DEFAULT_LIMIT = 10
# One query serves at most 10,000 results; asking past them is a 400 (see Limitations).
SEARCH_RESULT_CAP = 10_000
# "up to five filterGroups with up to 6 filters in each group, with a maximum of 18 filters
# in total" (Limitations, as the search guide states it today).
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS_TOTAL = 18
BODY_FIELDS = {"query", "limit", "after", "sorts", "properties", "filterGroups"}
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


def typed(name: str, value: Any) -> Any:
    """A property value as HubSpot compares it: dates in ms, numbers as numbers, text folded."""
    if value is None:
        return None
    if name in DATE_PROPERTIES:
        return parse_ms(value, name)
    if name in NUMBER_PROPERTIES:
        try:
            return float(value)
        except ValueError:
            raise BadRequest(400, f"'{value}' is not a number for {name}", in_=name) from None
    return str(value).lower()


def int_arg(raw: str, name: str) -> int:
    if not raw.strip().lstrip("-").isdigit():
        raise BadRequest(400, f"Unable to parse '{raw}' as an integer for '{name}'", in_=name)
    return int(raw)


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
    """A parsed search request. `sort` is "time", "index" or a property name."""

    kind: str
    groups: list[Group]
    sort: str
    descending: bool
    properties: list[str] | None
    limit: int
    offset: int
    signature: bytes


class Searching:
    """Parses search bodies into queries (the matching records come from `streams`)."""

    datasets: dict[str, Dataset]
    builders: dict[str, Builder]
    known_properties: dict[str, frozenset[str]]

    def parse_search(self, kind: str, payload: dict[str, Any]) -> Query:
        unknown = sorted(set(payload) - BODY_FIELDS)
        if unknown:
            raise BadRequest(
                400, f'Invalid input JSON: Unrecognized field "{unknown[0]}"', in_=unknown[0]
            )
        limit = int_arg(str(payload.get("limit", SEARCH_DEFAULT_LIMIT)), "limit")
        if not 1 <= limit <= SEARCH_MAX_LIMIT:
            raise BadRequest(
                400, f"limit must be between 1 and {SEARCH_MAX_LIMIT} (was {limit})", in_="limit"
            )
        after = payload.get("after") or "0"
        offset = int_arg(str(after), "after")
        if offset < 0:
            raise BadRequest(400, f"Invalid 'after': {after}", in_="after")
        groups = self.parse_groups(kind, payload.get("filterGroups") or [])
        text = str(payload.get("query") or "").strip().lower()
        if text:
            fields, build = SEARCHABLE_TEXT[kind], self.builders[kind]

            def has_text(i: int) -> bool:
                props = build(i)
                return any(text in (props.get(f) or "").lower() for f in fields)

            for group in groups:
                group.checks.append(has_text)
        sort, descending = self.parse_sorts(kind, payload.get("sorts") or [], groups)
        props = payload.get("properties") or None
        if props is not None and not (
            isinstance(props, list) and all(isinstance(p, str) for p in props)
        ):
            raise BadRequest(400, "properties must be a list of property names", in_="properties")
        signature = orjson.dumps(
            {k: v for k, v in payload.items() if k not in ("after", "limit")},
            option=orjson.OPT_SORT_KEYS,
        )
        return Query(
            kind, groups, sort, descending, props, limit, offset, kind.encode() + b"\0" + signature
        )

    def parse_groups(self, kind: str, groups_raw: Any) -> list[Group]:
        if not isinstance(groups_raw, list):
            raise BadRequest(400, "filterGroups must be a list", in_="filterGroups")
        if len(groups_raw) > MAX_FILTER_GROUPS:
            raise BadRequest(
                400,
                f"Too many filter groups ({len(groups_raw)}). The maximum "
                f"number of filter groups is {MAX_FILTER_GROUPS}.",
                in_="filterGroups",
            )
        total, groups = 0, []
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
            total += len(filters)
            groups.append(self.parse_group(kind, filters))
        if total > MAX_FILTERS_TOTAL:
            raise BadRequest(
                400,
                f"Too many filters ({total}). The maximum is {MAX_FILTERS_TOTAL}.",
                in_="filters",
            )
        return groups or [Group()]

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
        self.check_property(kind, name, "sorts")
        if name == MODIFIED_PROPERTY[kind]:
            return "time", descending
        if name in ("hs_object_id", "createdate"):
            return "index", descending
        return name, descending

    def check_property(self, kind: str, name: str, where: str) -> None:
        if name not in self.known_properties[kind]:
            raise BadRequest(
                400,
                f"There was a problem with the request. Property '{name}' does not exist "
                f"on {kind}.",
                in_=where,
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
            self.check_property(kind, name, "propertyName")
            check_values(name, operator, raw)
            if name in (MODIFIED_PROPERTY[kind], "createdate", "hs_object_id") and (
                operator in RANGE_OPERATORS
            ):
                lo, hi = bounds(name, operator, raw)
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
            group.checks.append(property_check(self.builders[kind], name, operator, raw))
        group.index_lo = max(group.index_lo, 0)
        if group.time_lo > group.time_hi or group.index_lo >= group.index_hi:
            group.empty = True
        return group


def check_values(name: str, operator: str, raw: dict[str, Any]) -> None:
    """Each operator's own fields: `values` for IN, `highValue` for BETWEEN, none for HAS_."""
    if operator in ("IN", "NOT_IN"):
        if not isinstance(raw.get("values"), list) or not raw["values"]:
            raise BadRequest(400, f"{operator} on {name} needs a list of 'values'", in_="values")
        return
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return
    if raw.get("value") is None:
        raise BadRequest(400, f"Filter on {name} with {operator} needs 'value'", in_="value")
    if operator == "BETWEEN" and raw.get("highValue") is None:
        raise BadRequest(400, f"BETWEEN on {name} needs 'highValue'", in_="highValue")


def bounds(name: str, operator: str, raw: dict[str, Any]) -> tuple[int, int]:
    """Inclusive [lo, hi] in seconds (dates) or ids for a range filter."""
    is_date = name != "hs_object_id"
    v = parse_ms(raw["value"], name) if is_date else int_arg(str(raw["value"]), name)
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
    high = raw["highValue"]
    high_v = parse_ms(high, name) // 1000 if is_date else int_arg(str(high), name)
    return ceil_s, high_v


def property_check(
    build: Builder, name: str, operator: str, raw: dict[str, Any]
) -> Callable[[int], bool]:
    """A predicate for any other property, evaluated on the built record (a scan)."""
    target = typed(name, raw.get("value")) if raw.get("value") is not None else None
    values = [typed(name, v) for v in raw.get("values") or []]
    high = typed(name, raw.get("highValue")) if raw.get("highValue") is not None else None
    token = str(raw.get("value") or "").strip("*").lower()

    def check(i: int) -> bool:
        current = build(i).get(name)
        value = typed(name, current)
        if operator == "HAS_PROPERTY":
            return value is not None
        if operator == "NOT_HAS_PROPERTY":
            return value is None
        if operator == "NEQ":
            return value != target
        if operator == "NOT_IN":
            return value not in values
        if operator == "NOT_CONTAINS_TOKEN":
            return current is None or token not in current.lower()
        if value is None:
            return False
        if operator == "CONTAINS_TOKEN":
            return token in str(current).lower()
        if operator == "IN":
            return value in values
        return {
            "EQ": lambda: value == target,
            "LT": lambda: value < target,
            "LTE": lambda: value <= target,
            "GT": lambda: value > target,
            "GTE": lambda: value >= target,
            "BETWEEN": lambda: target <= value <= high,
        }[operator]()

    return check

"""runReport's table: rows by the requested dimensions, filtered, ordered, paged."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.core import BadRequest, Dataset, Request
from emulators.ga4.data import (
    ALIASES,
    COUNTS,
    DATE_DIMENSIONS,
    DIMENSIONS,
    FAMILIES,
    FAMILY_OF,
    KEY_COUNTS,
    METRICS,
    Property,
    day_date,
    metric_values,
)

SCHEMA_DOC = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
# Metrics that are above zero on every day with data: a date-only report of them has a row
# per day, so its pages are arithmetic.
ALWAYS_COUNTED = {"activeUsers", "sessions", "eventCount", "screenPageViews", "totalUsers"}
Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Query:
    """A validated runReport request."""

    ranges: list[tuple[int, int, str]]
    dimensions: list[str]
    metrics: list[str]  # every metric asked for, visible or not
    visible: list[int]  # positions in `metrics` of those the response shows
    limit: int
    offset: int
    order_bys: list[dict[str, Any]] = field(default_factory=list)
    dimension_filter: Predicate | None = None
    metric_filter: Predicate | None = None
    filter_fields: set[str] = field(default_factory=set)
    filter_leaves: int = 0
    keep_empty: bool = False
    aggregations: list[str] = field(default_factory=list)
    rate: float = 1.0


def metric_name(name: Any) -> str:
    """A metric's current name (a deprecated one still answers), or Google's 400."""
    if name in METRICS:
        return name
    if name in ALIASES:
        return name
    raise BadRequest(
        400,
        f"Field {name} is not a valid metric. For a list of valid dimensions and metrics, "
        f"see {SCHEMA_DOC}",
    )


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def dimension_name(name: Any, extra: tuple[str, ...] = ()) -> str:
    if name in DIMENSIONS or name in extra:
        return name
    raise BadRequest(
        400,
        f"Field {name} is not a valid dimension. For a list of valid dimensions and metrics, "
        f"see {SCHEMA_DOC}",
    )


# --- filters -------------------------------------------------------------------------------


def _number(raw: Any, path: str) -> float:
    raw = raw or {}
    if "int64Value" in raw:
        return float(int(raw["int64Value"]))
    if "doubleValue" in raw:
        return float(raw["doubleValue"])
    raise BadRequest(400, f"{path} needs an int64Value or a doubleValue.")


def _as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _string_test(spec: dict[str, Any], path: str) -> Callable[[str], bool]:
    match = spec.get("matchType", "EXACT")
    sensitive = bool(spec.get("caseSensitive"))
    wanted = str(spec.get("value", ""))
    if match in ("FULL_REGEXP", "PARTIAL_REGEXP"):
        try:
            pattern = re.compile(wanted, 0 if sensitive else re.IGNORECASE)
        except re.error as exc:
            raise BadRequest(400, f"{path}.value is not a valid regular expression: {exc}") from exc
        if match == "FULL_REGEXP":
            return lambda v: pattern.fullmatch(v) is not None
        return lambda v: pattern.search(v) is not None
    fold = (lambda s: s) if sensitive else str.lower
    wanted = fold(wanted)
    tests: dict[str, Callable[[str], bool]] = {
        "MATCH_TYPE_UNSPECIFIED": lambda v: fold(v) == wanted,
        "EXACT": lambda v: fold(v) == wanted,
        "BEGINS_WITH": lambda v: fold(v).startswith(wanted),
        "ENDS_WITH": lambda v: fold(v).endswith(wanted),
        "CONTAINS": lambda v: wanted in fold(v),
    }
    return tests[match]


def _numeric_test(spec: dict[str, Any], path: str) -> Callable[[float], bool]:
    operation = spec.get("operation", "OPERATION_UNSPECIFIED")
    value = _number(spec.get("value"), f"{path}.value")
    tests: dict[str, Callable[[float], bool]] = {
        "EQUAL": lambda v: v == value,
        "LESS_THAN": lambda v: v < value,
        "LESS_THAN_OR_EQUAL": lambda v: v <= value,
        "GREATER_THAN": lambda v: v > value,
        "GREATER_THAN_OR_EQUAL": lambda v: v >= value,
    }
    if operation not in tests:
        raise BadRequest(400, f"{path}.operation must be set to a comparison.")
    return tests[operation]


def _leaf(spec: dict[str, Any], kind: str, path: str) -> tuple[str, Callable[[Any], bool]]:
    """One Filter: its field and a test of that field's value."""
    name = spec.get("fieldName")
    if not name:
        raise BadRequest(400, f"{path}.fieldName is required.")
    name = dimension_name(name) if kind == "dimension" else canonical(metric_name(name))
    kinds = [k for k in spec if k.endswith("Filter")]
    if len(kinds) != 1:
        raise BadRequest(400, f"{path} needs exactly one of its filter types, got {kinds or 0}.")
    which, body = kinds[0], spec[kinds[0]] or {}
    if kind == "metric" and which not in ("numericFilter", "betweenFilter"):
        raise BadRequest(400, f"{path}: a metric filter must be a numericFilter or betweenFilter.")
    if which == "stringFilter":
        return name, _string_test(body, f"{path}.stringFilter")
    if which == "inListFilter":
        values = body.get("values") or []
        if not values:
            raise BadRequest(400, f"{path}.inListFilter.values must not be empty.")
        if body.get("caseSensitive"):
            return name, lambda v, s=set(values): v in s
        folded = {str(x).lower() for x in values}
        return name, lambda v: str(v).lower() in folded
    if which == "emptyFilter":
        return name, lambda v: v in ("", "(not set)")
    if which == "numericFilter":
        test = _numeric_test(body, f"{path}.numericFilter")
    else:
        low = _number(body.get("fromValue"), f"{path}.betweenFilter.fromValue")
        high = _number(body.get("toValue"), f"{path}.betweenFilter.toValue")
        test = lambda v, lo=low, hi=high: lo <= v <= hi  # noqa: E731
    return name, lambda v: (n := _as_number(v)) is not None and test(n)


def compile_filter(expr: Any, kind: str, path: str, query: Query) -> Predicate:
    """A FilterExpression as a predicate over a row's values; Google's 400 if malformed."""
    if not isinstance(expr, dict):
        raise BadRequest(400, f"{path} must be a FilterExpression.")
    parts = [k for k in ("andGroup", "orGroup", "notExpression", "filter") if k in expr]
    if len(parts) != 1:
        raise BadRequest(
            400, f"{path} needs exactly one of andGroup, orGroup, notExpression, filter."
        )
    part = parts[0]
    if part == "filter":
        name, test = _leaf(expr["filter"] or {}, kind, f"{path}.filter")
        query.filter_fields.add(name)
        query.filter_leaves += 1
        return lambda row: test(row[name])
    if part == "notExpression":
        inner = compile_filter(expr["notExpression"], kind, f"{path}.notExpression", query)
        return lambda row: not inner(row)
    expressions = (expr[part] or {}).get("expressions") or []
    inner_all = [
        compile_filter(e, kind, f"{path}.{part}.expressions[{i}]", query)
        for i, e in enumerate(expressions)
    ]
    if part == "andGroup":
        return lambda row: all(p(row) for p in inner_all)
    return lambda row: any(p(row) for p in inner_all)


# --- rows ----------------------------------------------------------------------------------


def fast_pages(query: Query, request: Request) -> bool:
    """Whether the report is one row per day in date order, pageable by arithmetic."""
    ordered_by_date = all(
        o.get("dimension", {}).get("dimensionName") == "date" for o in query.order_bys
    )
    return (
        query.dimensions == ["date"]
        and len(query.ranges) == 1
        and query.dimension_filter is None
        and query.metric_filter is None
        and not query.aggregations
        and ordered_by_date
        and (query.keep_empty or bool(ALWAYS_COUNTED & set(query.metrics)))
        and request.share >= 1
    )


def day_span(prop: Property, query: Query) -> tuple[int, int]:
    first, last, _ = query.ranges[0]
    low, high = max(first, prop.first_day), min(last, prop.today())
    if high >= low and prop.day_totals(high)["eventCount"] == 0:
        high -= 1  # today, at its first instant, has nothing recorded yet
    return low, high


def day_rows(prop: Property, query: Query) -> tuple[list[tuple[list[str], list[float]]], int]:
    """The page of a date-only report, and how many rows the whole report has."""
    low, high = day_span(prop, query)
    total = max(0, high - low + 1)
    desc = bool(query.order_bys and query.order_bys[0].get("desc"))
    span = range(query.offset, min(total, query.offset + query.limit))
    numbers = [high - i for i in span] if desc else [low + i for i in span]
    names = [canonical(m) for m in query.metrics]
    page = []
    for number in numbers:
        values = metric_values(prop.day_totals(number), names, query.rate)
        page.append(([day_date(number).strftime("%Y%m%d")], values))
    return page, total


def _slices(fams: list[int]) -> list[tuple[tuple[int, int], ...]]:
    ranges = [range(len(FAMILIES[f].values)) for f in fams]
    return [tuple(zip(fams, combo, strict=True)) for combo in itertools.product(*ranges)]


def grouped(
    prop: Property, query: Query, request: Request, days: Dataset
) -> dict[tuple[str, ...], dict[str, float]]:
    """Counts summed by the requested dimensions over every slice the filter keeps."""
    needed = set(query.dimensions) | query.filter_fields
    fams = sorted({FAMILIES.index(FAMILY_OF[d]) for d in needed if d in FAMILY_OF})
    slices = _slices(fams)
    dated = [d for d in needed if d in DATE_DIMENSIONS]
    groups: dict[tuple[str, ...], dict[str, float]] = {}
    for first, last, range_name in query.ranges:
        for number in range(max(first, prop.first_day), min(last, prop.today()) + 1):
            if not request.keeps(days, number - prop.first_day):
                continue
            totals = prop.day_totals(number)
            if totals["eventCount"] <= 0:
                continue  # only data the property recorded can be reported
            date = day_date(number)
            row: dict[str, Any] = {d: DATE_DIMENSIONS[d](date) for d in dated}
            row["dateRange"] = range_name
            for picks in slices:
                for family, index in picks:
                    spec = FAMILIES[family]
                    row.update(zip(spec.dimensions, spec.values[index], strict=True))
                if query.dimension_filter and not query.dimension_filter(row):
                    continue
                counts = prop.slice_counts(totals, number, dict(picks))
                key = tuple(row[d] for d in query.dimensions)
                into = groups.get(key)
                if into is None:
                    groups[key] = counts
                else:
                    for name in (*COUNTS, *KEY_COUNTS):
                        into[name] += counts[name]
    return groups


Row = tuple[list[str], list[float], dict[str, float]]


def table(prop: Property, query: Query, request: Request, days: Dataset) -> list[Row]:
    """Every row of the report (dimension values, metric values), filtered and ordered."""
    rows = []
    names = [canonical(m) for m in query.metrics]
    for key, counts in grouped(prop, query, request, days).items():
        values = metric_values(counts, names, query.rate)
        if not query.keep_empty and not any(values):
            continue
        if query.metric_filter:
            known = dict(zip(names, values, strict=True))
            extra = [n for n in query.filter_fields if n not in known and n in METRICS]
            known.update(zip(extra, metric_values(counts, extra, query.rate), strict=True))
            if not query.metric_filter(known):
                continue
        rows.append((list(key), values, counts))
    return ordered(rows, query)


def _dimension_key(order_type: str) -> Callable[[str], Any]:
    if order_type == "CASE_INSENSITIVE_ALPHANUMERIC":
        return str.lower
    if order_type == "NUMERIC":
        # Values that are not numbers sort together, below every number.
        return lambda v: (1, n) if (n := _as_number(v)) is not None else (0, 0.0)
    return lambda v: v


def ordered(rows: list[Row], query: Query) -> list[Row]:
    for order in reversed(query.order_bys):
        desc = bool(order.get("desc"))
        if "pivot" in order:
            raise BadRequest(400, "orderBys[].pivot is only valid in runPivotReport.")
        if "dimension" in order:
            name = (order["dimension"] or {}).get("dimensionName")
            if name not in query.dimensions:
                raise BadRequest(
                    400, f"orderBys dimension {name} is not in the request's dimensions."
                )
            at = query.dimensions.index(name)
            key = _dimension_key((order["dimension"] or {}).get("orderType", "ALPHANUMERIC"))
            rows.sort(key=lambda r, a=at, k=key: k(r[0][a]), reverse=desc)
        elif "metric" in order:
            name = (order["metric"] or {}).get("metricName")
            if name not in query.metrics:
                raise BadRequest(400, f"orderBys metric {name} is not in the request's metrics.")
            at = query.metrics.index(name)
            rows.sort(key=lambda r, a=at: r[1][a], reverse=desc)
        else:
            raise BadRequest(400, "Each orderBy needs a dimension or a metric.")
    return rows


def aggregates(rows: list[Row], query: Query) -> dict[str, list[dict[str, Any]]]:
    """totals/maximums/minimums rows for the requested metricAggregations."""
    names = [canonical(m) for m in query.metrics]
    found: dict[str, list[dict[str, Any]]] = {}
    fields = (("TOTAL", "totals"), ("MAXIMUM", "maximums"), ("MINIMUM", "minimums"))
    for aggregation, field_name in fields:
        if aggregation not in query.aggregations:
            continue
        if aggregation == "TOTAL":
            # Ratios of the whole table come from its summed counts, not from summed ratios.
            summed = {n: sum(r[2][n] for r in rows) for n in (*COUNTS, *KEY_COUNTS)}
            values = metric_values(summed, names, query.rate)
        else:
            pick = max if aggregation == "MAXIMUM" else min
            columns = list(zip(*(r[1] for r in rows), strict=True))
            values = [pick(c) for c in columns] if rows else [0] * len(names)
        reserved = [{"value": f"RESERVED_{aggregation}"}] * len(query.dimensions)
        found[field_name] = [{"dimensionValues": reserved, "values": values}]
    return found

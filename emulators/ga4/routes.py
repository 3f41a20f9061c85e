"""GA4 Data API v1beta requests: paths, system parameters and runReport's request body.

The request shapes below are the part of Google's discovery document
(`analyticsdata.v1beta.json`, `schemas`) that the emulator reads; tests hold them to it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from emulators.core import BadRequest, Request
from emulators.ga4.data import CURRENCY, CURRENCY_RATES, day_number
from emulators.ga4.report import Query, canonical, compile_filter, dimension_name, metric_name

# https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/properties/runReport
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 250_000  # "returns a maximum of 250,000 rows per request, no matter how many you ask"
MAX_METRICS = 10
MAX_DIMENSIONS = 9
MAX_DATE_RANGES = 4
MAX_BATCH = 5  # batchRunReports: "Up to 5 requests are allowed"
EARLIEST_DATE = dt.date(2015, 8, 14)  # GA4 refuses dates before this one
METHOD = "google.analytics.data.v1beta.BetaAnalyticsData"
PATH = re.compile(r"^/v1beta/properties/([^/:]+)(?::(\w+)|/(metadata))?$")
DAYS_AGO = re.compile(r"^(\d+)daysAgo$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FILTER_KINDS = ("stringFilter", "inListFilter", "numericFilter", "betweenFilter", "emptyFilter")

# Field -> type, as the discovery document writes it: a JSON type, a format ("int64"), an
# enum, a schema name, or a one-item list for an array. Unlisted schemas are opaque objects.
SCHEMAS: dict[str, dict[str, Any]] = {
    "RunReportRequest": {
        "property": "string",
        "dimensions": ["Dimension"],
        "metrics": ["Metric"],
        "dateRanges": ["DateRange"],
        "dimensionFilter": "FilterExpression",
        "metricFilter": "FilterExpression",
        "offset": "int64",
        "limit": "int64",
        "metricAggregations": [
            ("METRIC_AGGREGATION_UNSPECIFIED", "TOTAL", "MINIMUM", "MAXIMUM", "COUNT")
        ],
        "orderBys": ["OrderBy"],
        "currencyCode": "string",
        "cohortSpec": "CohortSpec",
        "keepEmptyRows": "boolean",
        "returnPropertyQuota": "boolean",
        "comparisons": ["Comparison"],
    },
    "BatchRunReportsRequest": {"requests": ["RunReportRequest"]},
    "Dimension": {"name": "string", "dimensionExpression": "DimensionExpression"},
    "Metric": {"name": "string", "expression": "string", "invisible": "boolean"},
    "DateRange": {"startDate": "string", "endDate": "string", "name": "string"},
    "FilterExpression": {
        "andGroup": "FilterExpressionList",
        "orGroup": "FilterExpressionList",
        "notExpression": "FilterExpression",
        "filter": "Filter",
    },
    "FilterExpressionList": {"expressions": ["FilterExpression"]},
    "Filter": {"fieldName": "string", **{k: k[0].upper() + k[1:] for k in FILTER_KINDS}},
    "StringFilter": {
        "matchType": (
            "MATCH_TYPE_UNSPECIFIED",
            "EXACT",
            "BEGINS_WITH",
            "ENDS_WITH",
            "CONTAINS",
            "FULL_REGEXP",
            "PARTIAL_REGEXP",
        ),
        "value": "string",
        "caseSensitive": "boolean",
    },
    "InListFilter": {"values": ["string"], "caseSensitive": "boolean"},
    "NumericFilter": {
        "operation": (
            "OPERATION_UNSPECIFIED",
            "EQUAL",
            "LESS_THAN",
            "LESS_THAN_OR_EQUAL",
            "GREATER_THAN",
            "GREATER_THAN_OR_EQUAL",
        ),
        "value": "NumericValue",
    },
    "BetweenFilter": {"fromValue": "NumericValue", "toValue": "NumericValue"},
    "EmptyFilter": {},
    "NumericValue": {"int64Value": "int64", "doubleValue": "number"},
    "OrderBy": {
        "metric": "MetricOrderBy",
        "dimension": "DimensionOrderBy",
        "pivot": "PivotOrderBy",
        "desc": "boolean",
    },
    "MetricOrderBy": {"metricName": "string"},
    "DimensionOrderBy": {
        "dimensionName": "string",
        "orderType": (
            "ORDER_TYPE_UNSPECIFIED",
            "ALPHANUMERIC",
            "CASE_INSENSITIVE_ALPHANUMERIC",
            "NUMERIC",
        ),
    },
}
# Query parameters every Google API takes (the discovery document's top-level `parameters`).
SYSTEM_PARAMETERS = {
    "$.xgafv",
    "access_token",
    "alt",
    "callback",
    "fields",
    "key",
    "oauth_token",
    "prettyPrint",
    "quotaUser",
    "uploadType",
    "upload_protocol",
}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def check(value: Any, kind: Any, path: str) -> None:
    """Hold a JSON value to its discovery type, answering as Google's JSON parser does."""
    if isinstance(kind, list):
        if not isinstance(value, list):
            raise BadRequest(400, f"Invalid value at '{path}', expected a list.")
        for i, item in enumerate(value):
            check(item, kind[0], f"{path}[{i}]")
    elif isinstance(kind, tuple):
        if value not in kind:
            raise BadRequest(400, f"Invalid value at '{path}' (TYPE_ENUM), \"{value}\"")
    elif kind == "string":
        if not isinstance(value, str):
            raise BadRequest(400, f"Invalid value at '{path}' (TYPE_STRING), {value}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise BadRequest(400, f"Invalid value at '{path}' (TYPE_BOOL), {value}")
    elif kind == "int64":
        # int64 travels as a JSON string or number.
        if isinstance(value, bool) or not re.fullmatch(r"-?\d+", str(value)):
            raise BadRequest(400, f"Invalid value at '{path}' (TYPE_INT64), \"{value}\"")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(400, f"Invalid value at '{path}' (TYPE_DOUBLE), \"{value}\"")
    elif kind in SCHEMAS:
        check_object(value, kind, path)
    elif not isinstance(value, dict):
        raise BadRequest(400, f"Invalid value at '{path}', expected an object.")


def check_object(value: Any, schema: str, path: str) -> None:
    if not isinstance(value, dict):
        raise BadRequest(400, f"Invalid JSON payload received. Expected an object at '{path}'.")
    fields = SCHEMAS[schema]
    for name, item in value.items():
        if name not in fields:
            where = f" at '{path}'" if path else ""
            raise BadRequest(
                400,
                f'Invalid JSON payload received. Unknown name "{name}"{where}: Cannot find field.',
            )
        check(item, fields[name], f"{path}.{snake(name)}" if path else snake(name))


def system_parameters(request: Request) -> None:
    """Google's query parameters: JSON only, and no parameter the method does not have."""
    for name in request.query:
        if name not in SYSTEM_PARAMETERS:
            raise BadRequest(
                400,
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message.",
            )
    if request.arg("alt", "json") != "json":
        raise BadRequest(400, "This emulator answers with JSON only (alt=json).")
    if request.arg("callback"):
        raise BadRequest(400, "JSONP callbacks are not served by this emulator.")


def day(value: Any, field: str, today: int) -> int:
    text = str(value or "")
    if text == "today":
        return today
    if text == "yesterday":
        return today - 1
    ago = DAYS_AGO.match(text)
    if ago:
        return today - int(ago.group(1))
    if ISO_DATE.match(text):
        try:
            date = dt.date.fromisoformat(text)
        except ValueError:
            date = None
        if date is not None:
            if date < EARLIEST_DATE:
                raise BadRequest(
                    400, f"Invalid dateRange {field}: {text}. Dates must be on or after 2015-08-14."
                )
            return day_number(date)
    raise BadRequest(
        400,
        f"Invalid dateRange {field}: {text or '(empty)'}. Dates must be formatted as "
        "YYYY-MM-DD, NdaysAgo, yesterday, or today.",
    )


def date_ranges(body: dict[str, Any], today: int) -> list[tuple[int, int, str]]:
    ranges = body.get("dateRanges") or []
    if not ranges:
        raise BadRequest(400, "dateRanges is required: a report needs at least one date range.")
    if len(ranges) > MAX_DATE_RANGES:
        raise BadRequest(400, f"Requests are limited to {MAX_DATE_RANGES} dateRanges.")
    found = []
    for i, spec in enumerate(ranges):
        first = day(spec.get("startDate"), "startDate", today)
        last = day(spec.get("endDate"), "endDate", today)
        if last < first:
            raise BadRequest(400, "Invalid dateRange: endDate must not be before startDate.")
        name = spec.get("name") or f"date_range_{i}"
        if "name" in spec and name.startswith(("date_range_", "RESERVED_")):
            raise BadRequest(
                400, f"dateRange name {name} cannot begin with date_range_ or RESERVED_."
            )
        found.append((first, last, name))
    return found


def _names(body: dict[str, Any]) -> tuple[list[str], list[str], list[int]]:
    """Requested dimensions, metrics and where the visible metrics are, each name checked."""
    for dim in body.get("dimensions") or []:
        if "dimensionExpression" in dim:
            raise BadRequest(400, "dimensionExpression is not served by this emulator.")
    for metric in body.get("metrics") or []:
        if "expression" in metric:
            raise BadRequest(400, "Metric expressions are not served by this emulator.")
    requested = body.get("dimensions") or []
    dimensions = [dimension_name(d.get("name"), ("dateRange",)) for d in requested]
    metrics = [metric_name(m.get("name")) for m in body.get("metrics") or []]
    visible = [i for i, m in enumerate(body.get("metrics") or []) if not m.get("invisible")]
    if len(dimensions) > MAX_DIMENSIONS:
        raise BadRequest(400, f"Requests are limited to {MAX_DIMENSIONS} dimensions.")
    if len(metrics) > MAX_METRICS:
        raise BadRequest(400, f"Requests are limited to {MAX_METRICS} metrics.")
    if not metrics:
        raise BadRequest(400, "At least one metric is required.")
    for kind, names in (("dimension", dimensions), ("metric", metrics)):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise BadRequest(400, f"Duplicate {kind} names: {', '.join(twice)}.")
    return dimensions, metrics, visible


def _paging(body: dict[str, Any]) -> tuple[int, int]:
    limit = int(body.get("limit", 0))
    offset = int(body.get("offset", 0))
    if limit < 0 or (limit == 0 and "limit" in body):
        raise BadRequest(400, f"limit must be positive, got {limit}.")
    if offset < 0:
        raise BadRequest(400, f"offset must be non-negative, got {offset}.")
    return min(limit or DEFAULT_LIMIT, MAX_LIMIT), offset


def parse(body: dict[str, Any], property_id: str, today: int, max_rows: int) -> Query:
    """A runReport body as a Query, or Google's 400 for what the contract refuses."""
    check_object(body, "RunReportRequest", "")
    if body.get("property") not in (None, "", f"properties/{property_id}"):
        raise BadRequest(400, "property in the body must match the property in the URL.")
    for unsupported in ("cohortSpec", "comparisons"):
        if unsupported in body:
            raise BadRequest(400, f"{unsupported} is not served by this emulator.")
    ranges = date_ranges(body, today)
    dimensions, metrics, visible = _names(body)
    if len(ranges) > 1 and "dateRange" not in dimensions:
        dimensions.append("dateRange")  # rows of several ranges say which range they are in
    limit, offset = _paging(body)
    aggregations = body.get("metricAggregations") or []
    if "COUNT" in aggregations:
        raise BadRequest(400, "metricAggregations COUNT is not served by this emulator.")
    currency = body.get("currencyCode") or CURRENCY
    if currency not in CURRENCY_RATES:
        raise BadRequest(400, f"currencyCode {currency} is not a currency this property reports.")
    query = Query(
        ranges=ranges,
        dimensions=dimensions,
        metrics=metrics,
        visible=visible,
        limit=min(limit, max_rows),
        offset=offset,
        order_bys=body.get("orderBys") or [],
        keep_empty=bool(body.get("keepEmptyRows")),
        aggregations=list(aggregations),
        rate=CURRENCY_RATES[currency] / CURRENCY_RATES[CURRENCY],
    )
    if body.get("dimensionFilter") is not None:
        query.dimension_filter = compile_filter(
            body["dimensionFilter"], "dimension", "dimension_filter", query
        )
    if body.get("metricFilter") is not None:
        query.metric_filter = compile_filter(body["metricFilter"], "metric", "metric_filter", query)
    query.filter_fields = {canonical(f) for f in query.filter_fields}
    return query


def _mask_parts(spec: str) -> dict[str, str]:
    """`a,b(c,d),e/f` as {a: "", b: "c,d", e: "f"}: the first level of a fields mask."""
    parts: dict[str, str] = {}
    depth, start = 0, 0
    for i, char in enumerate(spec + ","):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            item = spec[start:i].strip()
            start = i + 1
            if not item:
                continue
            paren, slash = item.find("("), item.find("/")
            if paren != -1 and (slash == -1 or paren < slash):
                parts[item[:paren]] = item[paren + 1 : -1]
            else:
                head, _, rest = item.partition("/")
                parts[head] = rest
    return parts


def mask(value: Any, spec: str) -> Any:
    """The response cut down to the `fields` parameter (Google's partial responses)."""
    if not spec:
        return value
    if isinstance(value, list):
        return [mask(item, spec) for item in value]
    if not isinstance(value, dict):
        return value
    parts = _mask_parts(spec)
    return {name: mask(value[name], inner) for name, inner in parts.items() if name in value}

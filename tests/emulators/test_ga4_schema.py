"""Every GA4 emulator answer holds to Google's discovery document for analyticsdata v1beta.

The document ships inside google-api-python-client; its `schemas` are the published shape of
each request and response. The validator here is strict: a field the schema does not have, a
value of the wrong type or outside an enum, a missing required field, each is a violation.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import googleapiclient
import pytest
import requests

from emulators.credentials import demo_credentials
from emulators.ga4.routes import SCHEMAS as EMULATOR_SCHEMAS
from emulators.server import Emulator, EmulatorServer

DOCUMENT = json.loads(
    (
        Path(googleapiclient.__file__).parent
        / "discovery_cache/documents/analyticsdata.v1beta.json"
    ).read_text()
)
SCHEMAS: dict[str, Any] = DOCUMENT["schemas"]
HEADERS = {"Authorization": f"Bearer {demo_credentials(['ga4'])['ga4']['access_token']}"}
INT32 = range(-(2**31), 2**31)
# google.rpc.Code names, which an error body's `status` carries (https://google.aip.dev/193).
CODES = {
    "INVALID_ARGUMENT",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "NOT_FOUND",
    "RESOURCE_EXHAUSTED",
    "INTERNAL",
    "UNIMPLEMENTED",
    "UNAVAILABLE",
}


def violations(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Where `value` departs from a discovery schema (empty when it conforms)."""
    if "$ref" in schema:
        return violations(value, SCHEMAS[schema["$ref"]], path)
    kind = schema.get("type")
    if kind == "object":
        return _object_violations(value, schema, path)
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        items = schema["items"]
        return [e for i, v in enumerate(value) for e in violations(v, items, f"{path}[{i}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        if schema.get("format") == "int64" and not re.fullmatch(r"-?\d+", value):
            return [f"{path}: expected an int64 string, got {value!r}"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{path}: {value!r} is not one of the enum's values"]
        return []
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and (schema.get("format") != "int32" or value in INT32)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "any":
        return []
    return [f"{path}: the schema has no type {kind!r}"]


def _object_violations(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {type(value).__name__}"]
    properties = schema.get("properties")
    if properties is None:
        extra = schema.get("additionalProperties")
        if extra is None:
            return []
        return [e for k, v in value.items() for e in violations(v, extra, f"{path}.{k}")]
    required = schema.get("required", [])
    found = [f"{path}.{name}: required but missing" for name in required if name not in value]
    for name, item in value.items():
        if name not in properties:
            found.append(f"{path}.{name}: not in the schema")
        else:
            found.extend(violations(item, properties[name], f"{path}.{name}"))
    return found


def table_violations(report: dict[str, Any]) -> list[str]:
    """What RunReportResponse's descriptions promise beyond types: cells match the headers."""
    found = []
    dimensions, metrics = report.get("dimensionHeaders", []), report.get("metricHeaders", [])
    for name in ("rows", "totals", "maximums", "minimums"):
        for i, row in enumerate(report.get(name, [])):
            if len(row.get("dimensionValues", [])) != len(dimensions):
                found.append(f"$.{name}[{i}]: dimensionValues do not match dimensionHeaders")
            if len(row.get("metricValues", [])) != len(metrics):
                found.append(f"$.{name}[{i}]: metricValues do not match metricHeaders")
            for header, cell in zip(metrics, row.get("metricValues", []), strict=False):
                number = int if header["type"] == "TYPE_INTEGER" else float
                try:
                    number(cell["value"])
                except ValueError:
                    found.append(f"$.{name}[{i}]: {cell['value']!r} is not a {header['type']}")
    return found


def report_violations(report: dict[str, Any]) -> list[str]:
    return violations(report, {"$ref": "RunReportResponse"}) + table_violations(report)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    running = EmulatorServer(Emulator(seed=5, scale={"ga4.daily_metrics": 40})).start()
    yield running
    running.stop()


def post(server: EmulatorServer, verb: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{server.url}/ga4/v1beta/properties/42:{verb}", json=body, headers=HEADERS, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def metrics(*names: str) -> list[dict[str, str]]:
    return [{"name": name} for name in names]


REPORTS = {
    "daily, with quota": {
        "dateRanges": [{"startDate": "30daysAgo", "endDate": "today"}],
        "dimensions": [{"name": "date"}],
        "metrics": metrics("activeUsers", "sessions", "keyEvents", "totalRevenue"),
        "returnPropertyQuota": True,
        "limit": "10",
    },
    "every served breakdown": {
        "dateRanges": [{"startDate": "2025-12-01", "endDate": "2025-12-07"}],
        "dimensions": [{"name": n} for n in ("yearMonth", "country", "deviceCategory", "pagePath")],
        "metrics": metrics(
            "engagementRate", "averageSessionDuration", "bounceRate", "screenPageViewsPerSession"
        ),
        "metricAggregations": ["TOTAL", "MAXIMUM", "MINIMUM"],
        "keepEmptyRows": True,
        "currencyCode": "EUR",
    },
    "two ranges, filtered": {
        "dateRanges": [
            {"startDate": "14daysAgo", "endDate": "8daysAgo"},
            {"startDate": "7daysAgo", "endDate": "yesterday", "name": "last_week"},
        ],
        "dimensions": [{"name": "sessionDefaultChannelGroup"}],
        "metrics": [{"name": "sessions"}, {"name": "newUsers", "invisible": True}],
        "dimensionFilter": {
            "orGroup": {
                "expressions": [
                    {"filter": {"fieldName": "sessionSource", "stringFilter": {"value": "google"}}},
                    {"filter": {"fieldName": "sessionMedium", "emptyFilter": {}}},
                ]
            }
        },
        "metricFilter": {
            "filter": {
                "fieldName": "newUsers",
                "numericFilter": {"operation": "GREATER_THAN", "value": {"int64Value": "0"}},
            }
        },
        "orderBys": [{"metric": {"metricName": "sessions"}, "desc": True}],
    },
    "nothing in range": {
        "dateRanges": [{"startDate": "2016-01-01", "endDate": "2016-01-31"}],
        "metrics": metrics("sessions"),
    },
}


@pytest.mark.parametrize("name", REPORTS)
def test_run_report_answers_validate_against_run_report_response(
    server: EmulatorServer, name: str
) -> None:
    report = post(server, "runReport", REPORTS[name])

    assert report_violations(report) == []
    assert report["kind"] == "analyticsData#runReport"


def test_batch_and_metadata_answers_validate(server: EmulatorServer) -> None:
    batch = post(server, "batchRunReports", {"requests": list(REPORTS.values())[:2]})
    metadata = requests.get(
        f"{server.url}/ga4/v1beta/properties/42/metadata", headers=HEADERS, timeout=10
    ).json()

    assert violations(batch, {"$ref": "BatchRunReportsResponse"}) == []
    assert [e for r in batch["reports"] for e in table_violations(r)] == []
    assert violations(metadata, {"$ref": "Metadata"}) == []


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"headers": {}},
        {"headers": {"Authorization": "Bearer ya29.wrong"}},
        {"json": {"dateRanges": [], "metrics": metrics("sessions")}},
    ],
)
def test_error_bodies_are_google_rpc_status(server: EmulatorServer, request_kwargs: dict) -> None:
    response = requests.post(
        f"{server.url}/ga4/v1beta/properties/42:runReport",
        **{"headers": HEADERS, "json": REPORTS["daily, with quota"], **request_kwargs},
        timeout=10,
    )

    error = response.json()["error"]
    status = error.pop("status")
    assert status in CODES and error["code"] == response.status_code
    assert violations(error, {"$ref": "Status"}) == []


def test_the_validator_catches_a_wrong_type_an_unknown_field_and_a_bad_enum(
    server: EmulatorServer,
) -> None:
    good = post(server, "runReport", REPORTS["daily, with quota"])
    wrong_type, unknown, bad_enum, bad_cell = (copy.deepcopy(good) for _ in range(4))
    wrong_type["rowCount"] = str(good["rowCount"])
    unknown["rows"][0]["date"] = "2025-12-01"
    bad_enum["metricHeaders"][0]["type"] = "TYPE_MONEY"
    bad_cell["rows"][0]["metricValues"][0]["value"] = "many"

    assert report_violations(good) == []
    assert report_violations(wrong_type) == ["$.rowCount: expected an integer, got '30'"]
    assert report_violations(unknown) == ["$.rows[0].date: not in the schema"]
    assert report_violations(bad_enum) == [
        "$.metricHeaders[0].type: 'TYPE_MONEY' is not one of the enum's values"
    ]
    assert report_violations(bad_cell) == ["$.rows[0]: 'many' is not a TYPE_INTEGER"]


def _discovery_type(spec: dict[str, Any]) -> Any:
    """A discovery field's type written the way emulators/ga4/routes.py writes it."""
    if "$ref" in spec:
        return spec["$ref"]
    if spec.get("type") == "array":
        return [_discovery_type(spec["items"])]
    if "enum" in spec:
        return tuple(spec["enum"])
    if spec.get("format") == "int64":
        return "int64"
    return spec["type"]


def test_every_request_field_the_emulator_reads_is_one_google_publishes() -> None:
    for schema, fields in EMULATOR_SCHEMAS.items():
        published = SCHEMAS[schema]["properties"]
        for name, kind in fields.items():
            assert name in published, f"{schema}.{name} is not in the discovery document"
            assert kind == _discovery_type(published[name]), f"{schema}.{name}"


def test_every_documented_run_report_field_is_read_by_the_emulator() -> None:
    # None is silently ignored: each is honoured or refused with a 400 (see test_ga4_report).
    published = SCHEMAS["RunReportRequest"]["properties"]
    assert set(EMULATOR_SCHEMAS["RunReportRequest"]) == set(published)

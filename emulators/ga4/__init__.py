"""Google Analytics 4 Data API v1beta: runReport, batchRunReports and getMetadata of a property.

Reports break a property's seeded daily numbers down by any served dimension, honour filters,
orderings, paging and aggregations, spend the property's quota tokens, and show the recent
days still being processed. Data: `data`; requests: `routes`, `report`; errors: `faults`.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import orjson

from emulators.core import BadRequest, Request, Response, VendorApp, json_response
from emulators.ga4 import faults
from emulators.ga4.data import (
    CURRENCY,
    DATE_DIMENSIONS,
    FAMILY_OF,
    METRICS,
    TIME_ZONE,
    Property,
    render,
)
from emulators.ga4.report import (
    Query,
    aggregates,
    canonical,
    day_rows,
    fast_pages,
    table,
)
from emulators.ga4.routes import (
    MAX_BATCH,
    MAX_LIMIT,
    METHOD,
    PATH,
    check_object,
    mask,
    parse,
    system_parameters,
)
from emulators.settings import DAY, HISTORY_DAYS

# Verbs of the API that this emulator does not serve: Google's UNIMPLEMENTED, never a 404.
UNSERVED = {"runPivotReport", "batchRunPivotReports", "runRealtimeReport", "checkCompatibility"}


class App(VendorApp):
    name = "ga4"

    def setup(self) -> None:
        super().setup()
        # One day of numbers per record; the scale is how many days the property has data for.
        self.days = self.dataset("daily_metrics", HISTORY_DAYS)
        self.property = Property(
            self.seed, self.clock.start // DAY - self.days.initial, self.clock.now
        )
        self.quota = faults.Quota(self.scale)
        # A test can make the row cap small to see paging past it without 250,000 rows.
        self.max_rows = int(self.scale.get("ga4.max_rows_per_request", MAX_LIMIT))

    # --- credentials ---------------------------------------------------------------------

    def _token(self, request: Request) -> str:
        auth = request.headers.get("authorization")
        if auth is not None:
            scheme, _, token = auth.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
        return request.arg("access_token") or request.arg("oauth_token") or ""

    def authorized(self, request: Request) -> bool:
        token = self._token(request)
        return bool(token) and token == self.credentials.get("access_token")

    def unauthorized(self, request: Request) -> Response:
        match = PATH.match(request.path)
        verb = (match.group(2) or "getMetadata") if match else "RunReport"
        method = f"{METHOD}.{verb[0].upper()}{verb[1:]}"
        return faults.unauthorized(not self._token(request), method)

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return faults.error(status, message, **extra)

    def lockout(self, fault: dict[str, Any]) -> Response:
        return faults.lockout(fault)

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        return faults.rate_limited(fault)

    def outage(self, fault: dict[str, Any]) -> Response:
        return faults.outage(fault)

    # --- requests ------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        response = self._answer(request)
        # Google's Date header, on the emulated clock: quota refresh times follow from it.
        response.headers["Date"] = formatdate(self.clock.now(), usegmt=True)
        return response

    def _answer(self, request: Request) -> Response:
        try:
            system_parameters(request)
            match = PATH.match(request.path)
            if match is None:
                raise BadRequest(404, f"Requested entity was not found: {request.path}")
            property_id, verb, metadata = match.groups()
            if not property_id.isdigit():
                raise BadRequest(
                    400, f"Invalid property ID: {property_id}. A numeric Property ID is required."
                )
            expected = "GET" if metadata else "POST"
            if (verb is None and not metadata) or request.method != expected:
                raise BadRequest(404, f"Method {request.method} not found for {request.path}")
            if metadata:
                answer = self.metadata(property_id)
            elif verb == "runReport":
                answer = self.run_report(request, property_id, self._body(request))
            elif verb == "batchRunReports":
                answer = self.batch(request, property_id, self._body(request))
            elif verb in UNSERVED:
                raise BadRequest(501, f"{verb} is not served by this emulator.")
            else:
                raise BadRequest(404, f"Method not found: {verb}")
            return json_response(mask(answer, request.arg("fields") or ""))
        except BadRequest as exc:
            return faults.error(exc.status, exc.message, **exc.extra)

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except orjson.JSONDecodeError:
            raise BadRequest(400, "Invalid JSON payload received.") from None
        if not isinstance(body, dict):
            raise BadRequest(400, "Invalid JSON payload received. Expected an object.")
        return body

    def batch(self, request: Request, property_id: str, body: dict[str, Any]) -> dict[str, Any]:
        check_object(body, "BatchRunReportsRequest", "")
        requests = body.get("requests") or []
        if len(requests) > MAX_BATCH:
            raise BadRequest(400, f"batchRunReports allows at most {MAX_BATCH} requests.")
        reports = [self.run_report(request, property_id, r) for r in requests]
        return {"reports": reports, "kind": "analyticsData#batchRunReports"}

    def run_report(self, request: Request, property_id: str, body: dict[str, Any]) -> dict:
        now = self.clock.now()
        self.quota.check(now)
        query = parse(body, property_id, self.property.today(), self.max_rows)
        extra: dict[str, list[dict[str, Any]]] = {}
        if fast_pages(query, request):
            page, total = day_rows(self.property, query)
        else:
            rows = table(self.property, query, request, self.days)
            total = len(rows)
            page = rows[query.offset : query.offset + query.limit]
            extra = aggregates(rows, query)
        self.count_served("daily_metrics", len(page))
        report = self._report(query, [(r[0], r[1]) for r in page], extra)
        if total:  # proto3 JSON leaves out zero counts
            report["rowCount"] = total
        currency = body.get("currencyCode") or CURRENCY
        report["metadata"] = {"currencyCode": currency, "timeZone": TIME_ZONE}
        # Days the property has data for: a range reaching back to 2015 costs what it reads.
        start, today = self.property.first_day, self.property.today()
        days = sum(max(0, min(b, today) - max(a, start) + 1) for a, b, _ in query.ranges)
        columns = len(query.dimensions) + len(query.metrics)
        tokens = faults.cost(len(page), columns, days, query.filter_leaves)
        quota = self.quota.charge(now, tokens)
        if body.get("returnPropertyQuota"):
            report["propertyQuota"] = quota
        report["kind"] = "analyticsData#runReport"
        return report

    def _report(
        self, query: Query, page: list[tuple[list[str], list[float]]], extra: dict[str, Any]
    ) -> dict[str, Any]:
        types = [METRICS[canonical(m)].type for m in query.metrics]

        def cells(values: list[float]) -> list[dict[str, str]]:
            return [{"value": render(values[i], types[i])} for i in query.visible]

        report: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in query.dimensions],
            "metricHeaders": [{"name": query.metrics[i], "type": types[i]} for i in query.visible],
        }
        if page:  # proto3 JSON leaves out empty lists
            report["rows"] = [
                {"dimensionValues": [{"value": v} for v in dims], "metricValues": cells(values)}
                for dims, values in page
            ]
        for name, rows in extra.items():
            report[name] = [
                {"dimensionValues": r["dimensionValues"], "metricValues": cells(r["values"])}
                for r in rows
            ]
        return report

    def metadata(self, property_id: str) -> dict[str, Any]:
        """getMetadata: the dimensions and metrics this property's reports accept."""
        dimensions = [
            {
                "apiName": name,
                "uiName": name,
                "description": f"The {name} of the event.",
                "category": "Time" if name in DATE_DIMENSIONS else "Other",
                "customDefinition": False,
            }
            for name in (*DATE_DIMENSIONS, *FAMILY_OF)
        ]
        metrics = []
        for name, metric in METRICS.items():
            entry: dict[str, Any] = {
                "apiName": name,
                "uiName": metric.ui_name,
                "description": f"{metric.ui_name} in the date range.",
                "type": metric.type,
                "category": metric.category,
                "customDefinition": False,
            }
            if metric.deprecated:
                entry["deprecatedApiNames"] = list(metric.deprecated)
            metrics.append(entry)
        name = f"properties/{property_id}/metadata"
        return {"name": name, "dimensions": dimensions, "metrics": metrics}

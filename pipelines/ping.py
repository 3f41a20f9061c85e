"""Is the vendor answering again? One cheap, authenticated request per vendor."""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

from pipelines.base import VendorContext


def _request(ctx: VendorContext) -> tuple[str, str, dict[str, Any]]:
    """The smallest read each vendor's contract offers: (method, path, request arguments)."""
    if ctx.vendor == "stripe":
        return "GET", "/v1/events", {"params": {"limit": 1}}
    if ctx.vendor == "hubspot":
        return "GET", "/crm/v3/objects/contacts", {"params": {"limit": 1}}
    if ctx.vendor == "zendesk":
        from pipelines.zendesk.settings import EXPORT_PATHS

        # The export's oldest record: always in the past, one record long.
        return "GET", EXPORT_PATHS["users"], {"params": {"start_time": 0, "per_page": 1}}
    if ctx.vendor == "mailchimp":
        from pipelines.mailchimp.settings import API_ROOT

        return "GET", f"{API_ROOT}/ping", {}
    if ctx.vendor == "youtube":
        from pipelines.youtube.settings import API

        return "GET", f"{API}/channels", {"params": {"mine": "true", "part": "id"}}
    if ctx.vendor == "ga4":
        from pipelines.ga4 import property_id
        from pipelines.ga4.settings import RUN_REPORT

        today = date.today().isoformat()
        body = {
            "dateRanges": [{"startDate": today, "endDate": today}],
            "dimensions": [{"name": "date"}],
            "metrics": [{"name": "activeUsers"}],
            "limit": 1,
        }
        return "POST", RUN_REPORT.format(property_id=property_id(ctx)), {"json": body}
    raise ValueError(f"no ping for vendor {ctx.vendor!r}")


def ping(ctx: VendorContext) -> None:
    """Return if the vendor answers with our credentials; raise the named VendorError if not."""
    module = importlib.import_module(f"pipelines.{ctx.vendor}")
    method, path, arguments = _request(ctx)
    response = module.client(ctx).request(path, method=method, **arguments)
    response.json()  # a body that does not parse is a bad response, not a recovery

"""Harvest API v2 (time tracking and invoicing): clients, contacts, projects, invoices, users/me.

https://help.getharvest.com/api-v2/ - `data` builds the seeded records, `listing` orders and
pages them, `routes` answers requests and `faults` renders Harvest's own answers. Served under
`/harvest`, so `https://api.harvestapp.com/v2/clients` is `/harvest/v2/clients` here.
"""

from __future__ import annotations

from typing import Any

from emulators.core import Request, Response, VendorApp
from emulators.harvest import faults
from emulators.harvest.data import Records
from emulators.harvest.listing import decode_cursor, encode_cursor
from emulators.harvest.routes import Routes
from emulators.harvest.settings import RATE_LIMIT_KEY, RATE_WINDOW_KEY

__all__ = ["App", "decode_cursor", "encode_cursor"]


class App(Records, Routes, VendorApp):
    name = "harvest"

    def setup(self) -> None:
        super().setup()
        # Harvest refuses to delete a client that has projects, invoices or estimates, so
        # clients are archived (is_active: false) rather than deleted here.
        # https://help.getharvest.com/api-v2/clients-api/clients/clients/#delete-a-client
        self.clients = self.dataset("clients", 120, created_per_day=0.5, updated_per_day=0.01)
        self.contacts = self.dataset(
            "contacts", 300, created_per_day=1, updated_per_day=0.01, deleted_per_day=0.003
        )
        self.projects = self.dataset(
            "projects", 200, created_per_day=0.5, updated_per_day=0.02, deleted_per_day=0.002
        )
        self.invoices = self.dataset(
            "invoices", 900, created_per_day=3, updated_per_day=0.03, deleted_per_day=0.002
        )
        self.builders = {
            "clients": self.client,
            "contacts": self.contact,
            "projects": self.project,
            "invoices": self.invoice,
        }
        limit = self.scale.get(RATE_LIMIT_KEY, 0)
        window = self.scale.get(RATE_WINDOW_KEY, 15)
        self.limiter = faults.RateLimiter(limit, window) if limit else None

    def authorized(self, request: Request) -> bool:
        return faults.accepts(request, self.credentials)

    def unauthorized(self, request: Request) -> Response:
        return faults.refused(request)

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return faults.error(status, message, **extra)

    def lockout(self, fault: dict[str, Any]) -> Response:
        return faults.lockout(fault)

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        return faults.rate_limited(int(fault.get("retry_after", 15)))

    def outage(self, fault: dict[str, Any]) -> Response:
        return faults.outage(fault)

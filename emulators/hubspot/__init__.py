"""HubSpot CRM v3 (contacts, companies, deals): list with `after` paging and the search endpoint."""

from __future__ import annotations

from collections import OrderedDict

from emulators.core import Dataset, VendorApp
from emulators.hubspot.data import Records, iso
from emulators.hubspot.faults import Errors, SearchLimiter
from emulators.hubspot.routes import Routes
from emulators.hubspot.search import Searching
from emulators.hubspot.streams import Streams

__all__ = ["App", "iso"]


class App(Errors, Routes, Searching, Streams, Records, VendorApp):
    """One HubSpot portal that accepts only its private app's access token.

    The mixins come before VendorApp so that HubSpot's answers replace its defaults.
    """

    name = "hubspot"

    def setup(self) -> None:
        super().setup()
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
        self.stripe_customers = Dataset("customers", self.seed, self.clock.start, 0)
        self.builders = {"contacts": self.contact, "companies": self.company, "deals": self.deal}
        # Every record of a type carries the same property names (some valued null).
        self.known_properties = {kind: frozenset(build(0)) for kind, build in self.builders.items()}
        self._indexes = {}
        self._continuations = OrderedDict()
        self._requests = 0
        self._correlations = 0
        self.search_limiter = SearchLimiter()

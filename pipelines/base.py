"""What every connector is given: where the vendor is, its credentials, what to copy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Response

from lifeboat.errors import ConfigError
from lifeboat.vendors import Vendor
from pipelines.http import Classifier, VendorSession
from pipelines.settings import MAX_ATTEMPTS, MAX_SHRINK_SHARE, RETRY_BUDGET_SECONDS


@dataclass(frozen=True)
class Window:
    """A backfill window [start, end): load exactly these records, never move the cursor."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry outages and rate limits before naming the failure."""

    max_attempts: int = MAX_ATTEMPTS
    budget_seconds: float = RETRY_BUDGET_SECONDS


@dataclass(frozen=True)
class VendorContext:
    """A connector's inputs. Secrets live in `credentials` and are never logged or shown."""

    vendor: str
    base_url: str
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    window: Window | None = None
    retries: RetryPolicy = RetryPolicy()
    max_shrink_share: float = MAX_SHRINK_SHARE
    # The vendor's registry entry, for a vendor lifeboat.yaml configures (`kind: rest`);
    # built-in vendors are found in the registry by name.
    entry: Vendor | None = field(default=None, repr=False, compare=False)

    def credential(self, name: str) -> str:
        value = self.credentials.get(name)
        if not value:
            raise ConfigError(
                f"{self.vendor}: credential '{name}' is missing; set the environment variable "
                f"named in lifeboat.yaml under vendors.{self.vendor}.credentials.{name}"
            )
        return value

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def wants(self, dataset: str) -> bool:
        return not self.datasets or dataset in self.datasets

    def url(self, **placeholders: str) -> str:
        """The base URL with `{placeholders}` (e.g. a subdomain or data center) filled in."""
        try:
            return self.base_url.format(**placeholders)
        except KeyError as exc:
            raise ConfigError(
                f"{self.vendor}: base_url {self.base_url!r} needs '{exc.args[0]}'; set it under "
                f"vendors.{self.vendor}.options in lifeboat.yaml"
            ) from None


_SIMPLE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class LifeboatRESTClient(RESTClient):
    """dlt's RESTClient, reading plain `a.b` data selectors without compiling JSONPath.

    dlt compiles the selector for every page; for the plain keys every vendor here uses,
    walking the parsed body gives the same answer at a fraction of the cost.
    """

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        if not isinstance(data_selector, str) or not _SIMPLE_PATH.match(data_selector):
            return super().extract_response(response, data_selector)
        data: Any = response.json()
        for key in data_selector.split("."):
            data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            return []
        return data if isinstance(data, list) else [data]


def rest_client(
    ctx: VendorContext,
    *,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    auth: Any = None,
    paginator: BasePaginator | None = None,
    data_selector: str | None = None,
    classifier: Classifier | None = None,
) -> RESTClient:
    """dlt's RESTClient over a VendorSession, so every request retries and names its failures."""
    session = VendorSession(
        ctx.vendor,
        classifier,
        max_attempts=ctx.retries.max_attempts,
        retry_budget=ctx.retries.budget_seconds,
        secrets=tuple(value for value in ctx.credentials.values() if value),
    )
    return LifeboatRESTClient(
        base_url=base_url or ctx.base_url,
        headers=dict(headers or {}),
        auth=auth,
        paginator=paginator,
        data_selector=data_selector,
        session=session,
    )

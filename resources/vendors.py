"""One resource per SaaS vendor: where its API is and the credentials, read at run time."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import dagster as dg

from lifeboat.config import Inventory
from lifeboat.settings import VENDOR_CATALOG
from pipelines.base import VendorContext


class VendorResource(dg.ConfigurableResource):
    """Base of the vendor resources. Secret fields come from `dg.EnvVar`, never from files."""

    base_url: str
    options: dict[str, str] = {}

    vendor: str = ""  # set by each subclass

    def credentials(self) -> dict[str, str]:
        names = VENDOR_CATALOG[self.vendor]["credentials"]
        return {name: getattr(self, name) for name in names}

    def context(self, datasets: tuple[str, ...] = ()) -> VendorContext:
        return VendorContext(
            vendor=self.vendor,
            base_url=self.base_url,
            credentials=self.credentials(),
            options=dict(self.options),
            datasets=datasets,
        )


class StripeResource(VendorResource):
    """Stripe, with a secret or restricted API key (read-only is enough)."""

    vendor: str = "stripe"
    api_key: str


class HubSpotResource(VendorResource):
    """HubSpot CRM, with a private app access token (crm.objects.*.read scopes)."""

    vendor: str = "hubspot"
    access_token: str


class ZendeskResource(VendorResource):
    """Zendesk Support, with an agent's email and an API token."""

    vendor: str = "zendesk"
    email: str
    api_token: str


class MailchimpResource(VendorResource):
    """Mailchimp Marketing, with an API key (its suffix names the data center)."""

    vendor: str = "mailchimp"
    api_key: str


class YouTubeResource(VendorResource):
    """YouTube Data API, with an OAuth access token of the channel's owner."""

    vendor: str = "youtube"
    access_token: str


class GA4Resource(VendorResource):
    """Google Analytics 4 Data API, with an OAuth access token that can read the property."""

    vendor: str = "ga4"
    access_token: str


RESOURCE_CLASSES: dict[str, type[VendorResource]] = {
    "stripe": StripeResource,
    "hubspot": HubSpotResource,
    "zendesk": ZendeskResource,
    "mailchimp": MailchimpResource,
    "youtube": YouTubeResource,
    "ga4": GA4Resource,
}


def vendor_resources(inventory: Inventory) -> dict[str, VendorResource]:
    """A resource per enabled vendor, keyed by vendor name, secrets as EnvVar references."""
    built: dict[str, VendorResource] = {}
    for vendor, config in inventory.enabled_vendors().items():
        secrets: dict[str, Any] = {}
        for name in VENDOR_CATALOG[vendor]["credentials"]:
            env = config.credentials.get(name) or f"{vendor.upper()}_{name.upper()}"
            secrets[name] = dg.EnvVar(env)
        built[vendor] = RESOURCE_CLASSES[vendor](
            base_url=inventory.base_url(vendor),
            options={key: str(value) for key, value in config.options.items()},
            **secrets,
        )
    return built


def with_vendor_parameters(fn: Callable[..., Any], vendors: Iterable[str]) -> Callable[..., Any]:
    """Give `fn` (which takes `**resources`) one keyword parameter per vendor resource.

    Dagster hands resources to an asset or sensor by parameter name, and each vendor's
    resource is keyed by the vendor's name: the parameters are named after the vendors.
    """
    signature = inspect.signature(fn, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    params += [
        inspect.Parameter(
            vendor, inspect.Parameter.KEYWORD_ONLY, annotation=RESOURCE_CLASSES[vendor]
        )
        for vendor in vendors
    ]
    fn.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return fn

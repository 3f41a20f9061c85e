"""One resource per SaaS vendor: where its API is and its credentials, read at run time."""

from __future__ import annotations

import dagster as dg

from lifeboat.config import Inventory, VendorConfig
from lifeboat.vendors import Vendor
from pipelines.base import VendorContext
from pipelines.registry import vendors

# What a generic kind builds a vendor from (lifeboat.vendors.VendorKind).
DEFINITION = {"kind", "title", "base_url", "credentials", "options", "api"}


class VendorResource(dg.ConfigurableResource):
    """A vendor's API root, options and credentials; secrets are `dg.EnvVar`s, never values.

    Each vendor's resource is keyed by the vendor's name (`stripe`, `hubspot`, ...): an
    asset, op or sensor asks for it with `required_resource_keys={vendor}`.
    """

    vendor: str
    base_url: str
    options: dict[str, str] = {}
    credentials: dict[str, str] = {}
    # For a vendor lifeboat.yaml configures through a generic kind (`kind: rest`): its entry
    # there, as JSON (names of variables, never secrets), to build the connector from.
    definition: str = ""

    def entry(self) -> Vendor | None:
        if not self.definition:
            return None
        config = VendorConfig.model_validate_json(self.definition)
        return vendors().kinds[str(config.kind)].build(self.vendor, config, "")

    def context(self, datasets: tuple[str, ...] = ()) -> VendorContext:
        return VendorContext(
            vendor=self.vendor,
            base_url=self.base_url,
            credentials=dict(self.credentials),
            options=dict(self.options),
            datasets=datasets,
            entry=self.entry(),
        )

    def secrets(self) -> tuple[str, ...]:
        """The credential values, to be masked wherever a text leaves lifeboat."""
        return tuple(value for value in self.credentials.values() if value)


def vendor_resources(inventory: Inventory) -> dict[str, VendorResource]:
    """A resource per enabled vendor, keyed by vendor name, secrets as EnvVar references."""
    return {
        vendor: VendorResource(
            vendor=vendor,
            base_url=inventory.base_url(vendor),
            options={key: str(value) for key, value in config.options.items()},
            credentials={
                name: dg.EnvVar(env) for name, env in inventory.credential_envs(vendor).items()
            },
            definition=config.model_dump_json(include=DEFINITION) if config.kind else "",
        )
        for vendor, config in inventory.enabled_vendors().items()
    }


def vendor_resource(context: dg.AssetExecutionContext | dg.OpExecutionContext, vendor: str):
    """The resource of `vendor` among those a step asked for by key."""
    resource: VendorResource = getattr(context.resources, vendor)
    return resource

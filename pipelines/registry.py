"""The vendor registry: every folder under pipelines/ that defines a `VENDOR` is a vendor."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING

import pipelines
from lifeboat.vendors import Registry, Vendor, VendorKind

if TYPE_CHECKING:  # the registry is read by modules that never copy: no dlt on import
    from pipelines.base import VendorContext

# The name a vendor's package gives its one Vendor object, and a generic connector's kind.
PLUGIN_ATTRIBUTE = "VENDOR"
KIND_ATTRIBUTE = "KIND"


def _discover() -> tuple[list[Vendor], list[VendorKind]]:
    found, kinds = [], []
    for module in pkgutil.iter_modules(pipelines.__path__):
        if not module.ispkg:
            continue
        package = importlib.import_module(f"{pipelines.__name__}.{module.name}")
        kind = getattr(package, KIND_ATTRIBUTE, None)
        if isinstance(kind, VendorKind):
            kinds.append(kind)
        vendor = getattr(package, PLUGIN_ATTRIBUTE, None)
        if isinstance(vendor, Vendor):
            if vendor.name != module.name:
                raise TypeError(
                    f"pipelines/{module.name}: its VENDOR is named {vendor.name!r}; "
                    "a vendor's name is its folder's"
                )
            found.append(vendor)
    return found, kinds


def entry(ctx: VendorContext) -> Vendor:
    """The vendor a connector's context copies: its own entry, else the registry's by name."""
    return ctx.entry if ctx.entry is not None else vendors()[ctx.vendor]


@cache
def vendors() -> Registry:
    """Every vendor, found once: one plugin object per folder under pipelines/.

    Vendors that lifeboat.yaml configures through a generic kind (`kind: rest`) are not
    here: they join the registry of the inventory that names them (Inventory.bind).
    """
    found, kinds = _discover()
    return Registry(sorted(found, key=lambda vendor: vendor.name), kinds)

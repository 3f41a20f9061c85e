"""The emulated vendors: every folder under emulators/ whose package defines an `App`."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import emulators
from emulators.core import VendorApp


@cache
def vendor_apps() -> dict[str, type[VendorApp]]:
    """Each emulated vendor's app class, by the path prefix it is served under."""
    found: dict[str, type[VendorApp]] = {}
    for module in sorted(pkgutil.iter_modules(emulators.__path__), key=lambda m: m.name):
        if not module.ispkg:
            continue
        package = importlib.import_module(f"{emulators.__name__}.{module.name}")
        app = getattr(package, "App", None)
        if isinstance(app, type) and issubclass(app, VendorApp):
            found[module.name] = app
    return found

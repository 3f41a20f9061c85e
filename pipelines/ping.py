"""Is the vendor answering again? One cheap, authenticated request per vendor."""

from __future__ import annotations

from pipelines.base import VendorContext
from pipelines.registry import entry


def ping(ctx: VendorContext) -> None:
    """Return if the vendor answers with our credentials; raise the named VendorError if not."""
    vendor = entry(ctx)
    method, path, arguments = vendor.ping(ctx)
    response = vendor.client(ctx).request(path, method=method, **arguments)
    response.json()  # a body that does not parse is a bad response, not a recovery

"""Every vendor table is merged on its key, never replaced: a vendor cannot shrink the copy."""

from __future__ import annotations

import pytest

from pipelines.base import VendorContext
from pipelines.registry import vendors
from pipelines.runner import make_source


@pytest.mark.parametrize("vendor", sorted(vendors()))
def test_every_resource_merges_and_never_replaces(vendor: str) -> None:
    ctx = VendorContext(vendor, "http://127.0.0.1:1", {}, {"property_id": "1", "subdomain": "x"})
    resources = make_source(ctx).resources
    assert set(resources) == set(vendors()[vendor].dataset_names)
    for name, resource in resources.items():
        disposition = resource.write_disposition
        kind = disposition["disposition"] if isinstance(disposition, dict) else disposition
        assert kind == "merge", (vendor, name, disposition)
        assert resource.compute_table_schema()["columns"]["_changed_at"]["dedup_sort"] == "desc"

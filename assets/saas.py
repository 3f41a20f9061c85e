"""The SaaS copies: one asset per vendor dataset, keyed [vendor, dataset], loaded by dlt."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from lifeboat.config import Inventory
from lifeboat.messages import explain, gather_facts, vendor_error_in
from lifeboat.settings import VENDOR_CATALOG
from pipelines.base import VendorContext
from pipelines.runner import SyncResult, make_pipeline, make_source, sync
from resources.vendors import RESOURCE_CLASSES, VendorResource
from resources.warehouse import WarehouseResource

KINDS = {"dlt", "duckdb"}


class CopyTranslator(DagsterDltTranslator):
    """Keys mirror the warehouse ([vendor, table]); one group per vendor; owner-readable text."""

    def __init__(self, inventory: Inventory, vendor: str) -> None:
        self.inventory = inventory
        self.vendor = vendor

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        dataset = data.resource.name
        rpo = self.inventory.rpo(self.vendor, dataset)
        title = VENDOR_CATALOG[self.vendor]["title"]
        return spec.replace_attributes(
            key=dg.AssetKey([self.vendor, dataset]),
            group_name=self.vendor,
            kinds=KINDS,
            deps=[],
            description=VENDOR_CATALOG[self.vendor]["describe"][dataset],
            metadata={
                **spec.metadata,
                "vendor": title,
                "rpo_minutes": int(rpo.total_seconds() // 60),
            },
            tags={"lifeboat/vendor": self.vendor},
        )


def _placeholder_context(inventory: Inventory, vendor: str) -> VendorContext:
    """A context without secrets: enough for dlt to name the resources, never to call out."""
    return VendorContext(
        vendor=vendor,
        base_url=inventory.base_url(vendor),
        options=inventory.vendors[vendor].options,
        datasets=tuple(inventory.enabled_datasets(vendor)),
    )


def _table_metadata(result: SyncResult, table: str) -> dict[str, Any]:
    figures = result.tables.get(table)
    if figures is None:
        return {}
    metadata: dict[str, Any] = {
        "rows_loaded": dg.MetadataValue.int(figures.rows_loaded),
        "rows_held": dg.MetadataValue.int(figures.rows_held),
        "dagster/row_count": dg.MetadataValue.int(figures.rows_held),
        "seconds": dg.MetadataValue.float(round(result.seconds, 2)),
    }
    if figures.cursor is not None:
        metadata["cursor"] = dg.MetadataValue.text(str(figures.cursor))
    if figures.snapshot:
        metadata["snapshot"] = dg.MetadataValue.path(figures.snapshot)
    if figures.columns:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(name, kind) for name, kind in figures.columns.items()]
        )
    return metadata


def vendor_copy(inventory: Inventory, vendor: str, data_dir: Path) -> dg.AssetsDefinition:
    """The multi-asset that copies every enabled dataset of one vendor in one dlt run."""
    translator = CopyTranslator(inventory, vendor)
    datasets = tuple(inventory.enabled_datasets(vendor))

    def copy(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        **resources: VendorResource,
    ) -> Iterator[dg.MaterializeResult]:
        api: VendorResource = resources[vendor]
        # A run may select only some of the vendor's datasets (a subset in the UI).
        selected = tuple(key.path[-1] for key in context.selected_asset_keys)
        try:
            result = sync(api.context(selected or datasets), warehouse.home_path)
        except Exception as exc:
            error = vendor_error_in(exc)
            if error is None:
                raise
            # The message a person reads in the UI and in alerts: what happened, what is
            # still safe, what to do. The failure sensor reads the kind from the chain.
            facts = gather_facts(vendor, warehouse.home_path, inventory)
            raise dg.Failure(
                description=explain(error, facts),
                metadata={"lifeboat/error_kind": error.kind},
            ) from error
        for key in sorted(context.selected_asset_keys, key=lambda k: k.path):
            yield dg.MaterializeResult(
                asset_key=key, metadata=_table_metadata(result, key.path[-1])
            )
        context.log.info(
            "%s: %s",
            VENDOR_CATALOG[vendor]["title"],
            "; ".join(
                f"{t}: {r.rows_loaded:,} loaded, {r.rows_held:,} held"
                for t, r in sorted(result.tables.items())
            ),
        )

    # Dagster hands resources to an asset by parameter name; each vendor's resource is keyed
    # by the vendor's name, so the parameter is named after it.
    signature = inspect.signature(copy, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    params.append(
        inspect.Parameter(
            vendor, inspect.Parameter.KEYWORD_ONLY, annotation=RESOURCE_CLASSES[vendor]
        )
    )
    copy.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return dlt_assets(
        dlt_source=make_source(_placeholder_context(inventory, vendor)),
        dlt_pipeline=make_pipeline(vendor, data_dir),
        name=f"{vendor}_copy",
        dagster_dlt_translator=translator,
        pool=f"vendor_{vendor}",
    )(copy)


def saas_assets(inventory: Inventory, data_dir: Path) -> list[dg.AssetsDefinition]:
    return [vendor_copy(inventory, vendor, data_dir) for vendor in inventory.enabled_vendors()]

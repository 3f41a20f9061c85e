"""The SaaS copies: one asset per vendor dataset, keyed [vendor, dataset], loaded by dlt."""

# No `from __future__ import annotations` here: Dagster inspects the context annotation.

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData

from assets.outcomes import copy_failure
from lifeboat import names
from lifeboat.alerts import Alert, Alerter
from lifeboat.config import Inventory
from lifeboat.instance import run_process_tags
from lifeboat.messages import (
    explain_new_columns,
    explain_set_aside,
)
from pipelines.base import VendorContext, Window
from pipelines.coverage import history_starts
from pipelines.runner import SyncResult, make_pipeline, make_source, sync
from resources.alerts import AlertsResource
from resources.vendors import vendor_resource
from resources.warehouse import WarehouseResource

KINDS = {"dlt", "duckdb"}
DAGSTER_DLT_OBJECTS = "dagster_dlt/"
UNDECLARED = (
    "A field the vendor sends that the connector does not declare: copied as received, "
    "typed from its values."
)
# The columns dlt adds to every table it loads.
DLT_COLUMNS = {
    "_dlt_load_id": "The load that last wrote this row (its time and status are in _dlt_loads).",
    "_dlt_id": "A unique id dlt gives each row it loads.",
}
# Before a first copy says where a vendor's history starts, the partitions cover this long.
UNKNOWN_HISTORY = timedelta(days=30)


class CopyTranslator(DagsterDltTranslator):
    """Keys mirror the warehouse ([vendor, table]); one group per vendor; owner-readable text."""

    def __init__(self, inventory: Inventory, vendor: str) -> None:
        self.inventory = inventory
        self.vendor = vendor

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        dataset = data.resource.name
        rpo = self.inventory.rpo(self.vendor, dataset)
        entry = self.inventory.registry[self.vendor]
        columns = entry.dataset(dataset).columns
        return spec.replace_attributes(
            key=dg.AssetKey([self.vendor, dataset]),
            group_name=self.vendor,
            kinds=KINDS,
            deps=[],
            description=entry.dataset(dataset).description,
            metadata={
                **spec.metadata,
                # Each vendor has its own DuckDB file: the table's name in the catalog that
                # attaches them is vendor.table, so two vendors' `invoices` are not one table.
                "dagster/table_name": f"{self.vendor}.{dataset}",
                "vendor": entry.title,
                "rpo_minutes": int(rpo.total_seconds() // 60),
                # The columns the connector declares, described in the vendor's words; a
                # copy's materialization adds the ones the vendor added since.
                "dagster/column_schema": dg.TableSchema(
                    columns=[
                        dg.TableColumn(c.name, c.kind, description=c.description or None)
                        for c in columns
                    ]
                ),
            },
            tags={names.VENDOR_TAG: self.vendor},
        )


def _placeholder_context(
    inventory: Inventory, vendor: str, datasets: tuple[str, ...]
) -> VendorContext:
    """A context without secrets: enough for dlt to name the resources, never to call out."""
    return VendorContext(
        vendor=vendor,
        base_url=inventory.base_url(vendor),
        options=inventory.vendors[vendor].options,
        datasets=datasets,
        entry=inventory.registry[vendor],
    )


def _table_metadata(result: SyncResult, table: str, described: dict[str, str]) -> dict[str, Any]:
    figures = result.tables.get(table)
    if figures is None:
        return {}
    metadata: dict[str, Any] = _drift_metadata(result, table)
    metadata |= {
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
            columns=[
                dg.TableColumn(name, kind, description=described.get(name) or UNDECLARED)
                for name, kind in figures.columns.items()
            ]
        )
    return metadata


def _drift_metadata(result: SyncResult, table: str) -> dict[str, Any]:
    found = result.drift.get(table)
    if found is None:
        return {}
    metadata: dict[str, Any] = {}
    if found.added:
        metadata["new_columns"] = dg.MetadataValue.text(", ".join(found.added))
    if found.quarantined:
        metadata["records_set_aside"] = dg.MetadataValue.int(found.quarantined)
        metadata["set_aside_because"] = dg.MetadataValue.text(
            "; ".join(
                f"{column}: expected {problem.expected}, got {problem.received}"
                for column, problem in found.misfit_columns.items()
            )
        )
    return metadata


def announce_drift(
    vendor: str, result: SyncResult, alerter: Alerter, log: Callable[[str], None]
) -> list[Alert]:
    """Tell a person, once, of fields the vendor added and of types it changed."""
    sent = []
    for dataset, found in sorted(result.drift.items()):
        messages = []
        if found.added:
            messages.append(explain_new_columns(vendor, dataset, found.added))
        if found.newly_misfit:
            messages.append(
                explain_set_aside(
                    vendor,
                    dataset,
                    found.quarantined,
                    {
                        column: (problem.expected, problem.received)
                        for column, problem in found.misfit_columns.items()
                    },
                )
            )
        for message in messages:
            log(message)
            sent.append(alerter.send(Alert("schema_drift", vendor, dataset, message)))
    return sent


def history_start(inventory: Inventory, data_dir: Path | None, now: datetime) -> date:
    """The first day of the partitions: `history_start` in lifeboat.yaml, else the earliest
    day of change any copy holds, else (before the first copy) the last `UNKNOWN_HISTORY`
    days: room to backfill recent days until a copy says where its history starts."""
    today = now.astimezone(UTC).date()
    if inventory.history_start is not None:
        return inventory.history_start
    starts = history_starts(data_dir) if data_dir is not None else {}
    held = [day for vendor, day in starts.items() if vendor in inventory.enabled_vendors()]
    return min(held) if held and min(held) <= today else today - UNKNOWN_HISTORY


def daily_partitions(
    inventory: Inventory, data_dir: Path | None = None, now: datetime | None = None
) -> dg.DailyPartitionsDefinition:
    """One partition per UTC day, today's included: a day's changes, for backfills.

    The range starts where the copies' history starts, so a fully copied dataset shows
    every day materialized (see `record_covered_days`), not hundreds of days missing.
    """
    start = history_start(inventory, data_dir, now or datetime.now(UTC))
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1, timezone="UTC")


def latest_copy(
    instance: dg.DagsterInstance, key: dg.AssetKey, *, regular: bool = False
) -> datetime | None:
    """When a run last materialized `key` (with `regular`, a run that loaded the day it ran
    on: not a backfill). The days copied_history_sensor records as covered belong to no
    run and say nothing of how fresh the copy is; this pages back past however many there
    are."""
    cursor = None
    while True:
        page = instance.fetch_materializations(key, limit=500, cursor=cursor)
        for record in page.records:
            event = record.event_log_entry
            when = datetime.fromtimestamp(event.timestamp, UTC)
            if event.run_id and (not regular or record.partition_key == when.strftime("%Y-%m-%d")):
                return when
        if not page.has_more:
            return None
        cursor = page.cursor


def covered_days(
    instance: dg.DagsterInstance,
    inventory: Inventory,
    data_dir: Path,
    key: dg.AssetKey,
    now: datetime,
) -> tuple[list[str], datetime | None]:
    """The past days a daily dataset's copies cover that Dagster does not yet show as copied.

    A first copy lists everything the vendor has, and each regular copy after it follows
    the cursor from where the last one stopped, so every day before the latest regular
    copy is in the copy, records or none: such a day is copied, not missing. A day whose
    run failed stays failed until a backfill loads it (the recovery sensor looks for
    those). Returns the days and the time of the copy that covers them.
    """
    regular = latest_copy(instance, key, regular=True)
    if regular is None:
        return [], None
    partitions = daily_partitions(inventory, data_dir, now)
    until = regular.strftime("%Y-%m-%d")
    days = [day for day in partitions.get_partition_keys(current_time=now) if day < until]
    status = instance.get_status_by_partition(key, days, partitions) or {}
    return [day for day in days if status.get(day) is None], regular


def backfill_window(context: dg.AssetExecutionContext, now: datetime) -> Window | None:
    """The window a partitioned run loads; None for a run that reaches today (a regular one).

    A run over past days (a backfill) loads exactly their changes and leaves the cursor
    alone; a run that includes the current day is the regular incremental copy.
    """
    if not context.has_partition_key_range:
        return None
    window = context.partition_time_window
    if window.end > now:
        return None
    return Window(window.start, window.end)


def vendor_copy(
    inventory: Inventory,
    vendor: str,
    data_dir: Path,
    datasets: tuple[str, ...],
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetsDefinition:
    """The multi-asset that copies some of a vendor's datasets in one dlt run."""
    translator = CopyTranslator(inventory, vendor)

    def copy(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        warehouse: WarehouseResource = context.resources.warehouse
        alerts: AlertsResource = context.resources.alerts
        api = vendor_resource(context, vendor)
        # A run may select only some of the vendor's datasets (a subset in the UI).
        selected = tuple(key.path[-1] for key in context.selected_asset_keys)
        window = backfill_window(context, datetime.now(UTC))
        if window is not None:
            context.log.info(
                "%s: backfilling changes from %s to %s; the cursor stays where it is",
                vendor,
                window.start.isoformat(),
                window.end.isoformat(),
            )
        # Names the process copying, so that if it is killed mid-copy, the next run (or
        # `lifeboat doctor`) can tell and free the vendor's pool slot this run holds.
        context.instance.add_run_tags(context.run_id, run_process_tags())
        try:
            result = sync(
                replace(api.context(selected or datasets), window=window), warehouse.home_path
            )
        except Exception as exc:
            # The message a person reads in the UI and in alerts (what happened, what is
            # still safe, what to do), and the outcome the sensors read, as metadata.
            secrets = api.secrets()
            failure = copy_failure(exc, vendor, warehouse.home_path, inventory, secrets)
            if failure is None:
                raise
            raise failure from exc
        finally:
            context.instance.add_run_tags(context.run_id, run_process_tags(running=False))
        if any(found.announce for found in result.drift.values()):
            announce_drift(vendor, result, alerts.alerter(), context.log.warning)
        entry = inventory.registry[vendor]
        for key in sorted(context.selected_asset_keys, key=lambda k: k.path):
            described = DLT_COLUMNS | {
                c.name: c.description for c in entry.dataset(key.path[-1]).columns
            }
            yield dg.MaterializeResult(
                asset_key=key, metadata=_table_metadata(result, key.path[-1], described)
            )
        context.log.info(
            "%s: %s",
            inventory.registry[vendor].title,
            "; ".join(
                f"{t}: {r.rows_loaded:,} loaded, {r.rows_held:,} held"
                for t, r in sorted(result.tables.items())
            ),
        )

    # dagster_dlt's own specs and translator; `dlt_assets` is this same multi-asset, but it
    # cannot ask for a resource by key, and each vendor's resource is keyed by its name.
    specs = [
        # dagster_dlt puts the dlt source, pipeline and translator objects in each spec's
        # metadata for its own `dlt_assets`; this asset holds them itself, and the UI can
        # only show them as "(unserializable)".
        spec.replace_attributes(
            metadata={
                key: value
                for key, value in spec.metadata.items()
                if not key.startswith(DAGSTER_DLT_OBJECTS)
            }
        )
        for spec in build_dlt_asset_specs(
            dlt_source=make_source(_placeholder_context(inventory, vendor, datasets)),
            dlt_pipeline=make_pipeline(vendor, data_dir),
            dagster_dlt_translator=translator,
        )
    ]
    return dg.multi_asset(
        specs=specs,
        name=names.copy_step(vendor, daily=partitions_def is not None),
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        # One copy step per vendor at a time: one writer per DuckDB file, one client
        # within the vendor's rate limits.
        pool=names.vendor_pool(vendor),
        required_resource_keys={vendor, "warehouse", "alerts"},
    )(copy)


def saas_assets(inventory: Inventory, data_dir: Path) -> list[dg.AssetsDefinition]:
    """Per vendor, its datasets in one asset, and its time series in one partitioned by day."""
    partitions = daily_partitions(inventory, data_dir)
    built = []
    for vendor in inventory.enabled_vendors():
        daily = tuple(inventory.daily_datasets(vendor))
        rest = tuple(d for d in inventory.enabled_datasets(vendor) if d not in daily)
        if rest:
            built.append(vendor_copy(inventory, vendor, data_dir, rest))
        if daily:
            built.append(vendor_copy(inventory, vendor, data_dir, daily, partitions))
    return built

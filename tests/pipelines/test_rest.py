"""The seventh vendor: Harvest, configured in lifeboat.yaml alone, with the others' safety."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from automation.copies import today
from definitions import build_definitions
from emulators.control import EmulatorControl
from lifeboat.config import Inventory, VendorConfig, load_inventory
from lifeboat.errors import SuspectedShrink, VendorLockout
from lifeboat.messages import vendor_error_in
from pipelines.base import RetryPolicy, VendorContext, Window
from pipelines.reconcile import reconcile
from pipelines.registry import vendors
from pipelines.restore import drill
from pipelines.runner import sync, table_counts, warehouse_path
from tests.keys import DEMO

ROOT = Path(__file__).resolve().parents[2]
DATASETS = {"clients", "contacts", "projects", "invoices"}


def harvest_only(tmp_path: Path, url: str) -> Inventory:
    """The shipped lifeboat.yaml's Harvest entry, pointed at this test's emulator."""
    shipped = yaml.safe_load((ROOT / "lifeboat.yaml").read_text())
    entry = {**shipped["vendors"]["harvest"], "base_url": f"{url}/harvest"}
    path = tmp_path / "lifeboat.yaml"
    path.write_text(yaml.safe_dump({"vendors": {"harvest": entry}}))
    return load_inventory(path, vendors())


def harvest(url: str, retries: RetryPolicy | None = None) -> VendorContext:
    """A context for the shipped Harvest entry at this emulator, built without a file."""
    shipped = yaml.safe_load((ROOT / "lifeboat.yaml").read_text())["vendors"]["harvest"]
    config = VendorConfig.model_validate({**shipped, "base_url": f"{url}/harvest"})
    entry = vendors().kinds["rest"].build("harvest", config, "")
    return VendorContext(
        "harvest",
        f"{url}/harvest",
        DEMO["harvest"],
        entry=entry,
        retries=retries or RetryPolicy(),
    )


def context(inventory: Inventory) -> VendorContext:
    return VendorContext(
        "harvest",
        inventory.base_url("harvest"),
        DEMO["harvest"],
        entry=inventory.registry["harvest"],
    )


def held(home: Path) -> dict[str, int]:
    return table_counts(warehouse_path(home, "harvest"), "main")


def test_every_dataset_copies_and_the_next_run_asks_only_for_what_changed(
    emulator, home: Path, tmp_path: Path
) -> None:
    ctx = context(harvest_only(tmp_path, emulator.url))
    first = sync(ctx, home)
    control = EmulatorControl(emulator.url)
    existing = {name: count for name, count in control.served("harvest").items()}
    assert set(first.tables) == DATASETS
    assert {t: r.rows_held for t, r in first.tables.items()} == existing
    with duckdb.connect(str(warehouse_path(home, "harvest")), read_only=True) as con:
        kinds = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'invoices'"
            ).fetchall()
        )
    assert kinds["id"] == "BIGINT" and kinds["amount"] == "DOUBLE"
    assert kinds["_changed_at"] == "TIMESTAMP WITH TIME ZONE"

    control.reset_counters()
    control.advance(days=1, changes={"harvest.invoices": {"updated": 7}})
    second = sync(ctx, home)
    served = control.served("harvest")
    # Only what changed since the cursor (and the records at the cursor itself) is read.
    assert served["invoices"] < 60 < first.tables["invoices"].rows_held
    assert second.tables["invoices"].rows_loaded >= 7
    assert held(home)["invoices"] >= first.tables["invoices"].rows_held


def test_a_record_gone_upstream_is_kept_and_marked_deleted_by_the_reconciliation(
    emulator, home: Path, tmp_path: Path
) -> None:
    ctx = context(harvest_only(tmp_path, emulator.url))
    sync(ctx, home)
    before = held(home)["contacts"]
    EmulatorControl(emulator.url).advance(days=1, changes={"harvest.contacts": {"deleted": 5}})
    result = reconcile(ctx, home)
    assert result.marked_deleted.get("contacts") == 5
    with duckdb.connect(str(warehouse_path(home, "harvest")), read_only=True) as con:
        rows, gone = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE _deleted) FROM contacts"
        ).fetchone()
    assert (rows, gone) == (before, 5)


def test_a_shrunken_full_listing_is_refused_and_the_copy_is_untouched(
    emulator, home: Path, tmp_path: Path
) -> None:
    ctx = context(harvest_only(tmp_path, emulator.url))
    sync(ctx, home)
    before = held(home)
    EmulatorControl(emulator.url).fault("harvest", "partial", share=0.3)
    with pytest.raises(SuspectedShrink):
        reconcile(ctx, home)
    assert held(home) == before


def test_a_revoked_token_is_a_lockout_and_the_copy_is_intact(
    emulator, home: Path, tmp_path: Path
) -> None:
    ctx = context(harvest_only(tmp_path, emulator.url))
    sync(ctx, home)
    before = held(home)
    EmulatorControl(emulator.url).credentials(
        "harvest", access_token="rotated-token", account_id=DEMO["harvest"]["account_id"]
    )
    with pytest.raises(Exception) as failure:
        sync(ctx, home)
    error = vendor_error_in(failure.value)
    assert isinstance(error, VendorLockout) and error.status == 401
    assert DEMO["harvest"]["access_token"] not in str(failure.value)
    assert held(home) == before


def test_a_field_the_api_adds_becomes_an_announced_column(
    emulator, home: Path, tmp_path: Path
) -> None:
    ctx = context(harvest_only(tmp_path, emulator.url))
    sync(ctx, home)
    control = EmulatorControl(emulator.url)
    control.advance(days=1, changes={"harvest.projects": {"updated": 3}})
    control.fault("harvest", "drift", path="/v2/projects", add={"color": "teal"})
    result = sync(replace(ctx, datasets=("projects",)), home)
    assert "color" in result.drift["projects"].added


def test_the_snapshots_restore_every_table_exactly(emulator, home: Path, tmp_path: Path) -> None:
    sync(context(harvest_only(tmp_path, emulator.url)), home)
    report = drill(home, "harvest")
    assert report.ok, report.summary()
    assert set(report.tables) >= DATASETS


def test_a_backfill_window_loads_that_window_and_leaves_the_cursor(
    emulator, home: Path, tmp_path: Path
) -> None:
    inventory = harvest_only(tmp_path, emulator.url)
    ctx = replace(context(inventory), datasets=("invoices",))
    first = sync(ctx, home)
    cursor = first.tables["invoices"].cursor
    end = datetime.fromisoformat(str(cursor))
    window = Window(end - timedelta(days=3), end - timedelta(days=1))
    backfill = sync(replace(ctx, window=window), home)
    assert 0 < backfill.tables["invoices"].rows_loaded < first.tables["invoices"].rows_held
    assert backfill.tables["invoices"].cursor == cursor


def test_it_copies_through_dagster_like_the_built_in_vendors(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in DEMO["harvest"].items():
        monkeypatch.setenv(f"HARVEST_{name.upper()}", value)
    defs = build_definitions(harvest_only(tmp_path, emulator.url), home)
    graph = defs.resolve_asset_graph()
    for dataset in DATASETS:
        spec = graph.get(dg.AssetKey(["harvest", dataset]))
        assert spec.group_name == "harvest" and spec.description
    result = defs.resolve_job_def("copy_harvest").execute_in_process(
        partition_key=today(datetime.now(UTC)), instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    materialized = {
        event.asset_key.path[-1]: event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert set(materialized) == DATASETS
    assert all(m["rows_held"].value > 0 for m in materialized.values())

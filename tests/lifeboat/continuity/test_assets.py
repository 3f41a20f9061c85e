"""Continuity assets in Dagster: lineage from the vendor tables; a lockout reaching the report."""

from __future__ import annotations

import csv
from pathlib import Path

import dagster as dg
import pytest

from assets.continuity import (
    CONTACTS_KEY,
    OPEN_WORK_KEY,
    REPORT_JOB,
    REPORT_KEY,
    VENDOR_STATUS_KEY,
    continuity,
)
from automation.copies import today
from definitions import build_definitions
from emulators.control import EmulatorControl
from lifeboat.config import Inventory
from lifeboat.instance import load_demo_credentials
from tests.lifeboat.continuity.helpers import shipped_inventory


def definitions(inventory: Inventory, home: Path) -> dg.Definitions:
    """The project's Definitions, with the continuity assets whether or not it merges them yet."""
    base = build_definitions(inventory, home)
    if REPORT_KEY in base.resolve_asset_graph().get_all_asset_keys():
        return base
    return dg.Definitions.merge(base, continuity(inventory, home))


def test_assets_sit_downstream_of_the_vendor_tables(tmp_path: Path, home: Path) -> None:
    inventory = shipped_inventory(tmp_path, "http://127.0.0.1:8765")
    graph = definitions(inventory, home).resolve_asset_graph()
    keys = [CONTACTS_KEY, OPEN_WORK_KEY, VENDOR_STATUS_KEY, REPORT_KEY]
    for key in keys:
        node = graph.get(key)
        assert node.group_name == "continuity"
        assert node.kinds and node.description and len(node.description) < 120
    assert dg.AssetKey(["stripe", "customers"]) in graph.get(CONTACTS_KEY).parent_keys
    assert dg.AssetKey(["mailchimp", "members"]) in graph.get(CONTACTS_KEY).parent_keys
    assert dg.AssetKey(["zendesk", "tickets"]) in graph.get(OPEN_WORK_KEY).parent_keys
    assert CONTACTS_KEY in graph.get(OPEN_WORK_KEY).parent_keys
    assert dg.AssetKey(["ga4", "daily_metrics"]) in graph.get(VENDOR_STATUS_KEY).parent_keys
    # The report shows the MySQL topology: the health assets feed it in the lineage.
    assert set(graph.get(REPORT_KEY).parent_keys) == {
        CONTACTS_KEY,
        OPEN_WORK_KEY,
        VENDOR_STATUS_KEY,
        dg.AssetKey(["mysql", "replica_health"]),
        dg.AssetKey(["mysql", "failover_readiness"]),
    }


def test_a_lockout_reaches_vendor_status_and_the_report(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo_credentials()
    inventory = shipped_inventory(tmp_path, emulator.url)
    defs = definitions(inventory, home)
    instance = dg.DagsterInstance.ephemeral()
    assert (
        defs.resolve_job_def("copy_all_vendors")
        .execute_in_process(partition_key=today(), instance=instance)
        .success
    )

    first = defs.resolve_job_def(REPORT_JOB).execute_in_process(instance=instance)
    assert first.success
    report = _metadata(first)[REPORT_KEY]
    html = Path(report["html"].value)
    assert html.is_file() and report["vendors"].value == len(inventory.enabled_vendors())
    assert _metadata(first)[CONTACTS_KEY]["dagster/row_count"].value > 1000
    assert _metadata(first)[OPEN_WORK_KEY]["unpaid_invoices"].value > 0
    assert "locked out" not in _states(home)

    EmulatorControl(emulator.url).fault("stripe", "lockout")
    failed = defs.resolve_job_def("copy_stripe").execute_in_process(
        partition_key=today(), instance=instance, raise_on_error=False
    )
    assert not failed.success
    assert defs.resolve_job_def(REPORT_JOB).execute_in_process(instance=instance).success
    rows = _rows(home)
    stripe = [r for r in rows if r["vendor"] == "stripe"]
    assert stripe and all(r["state"] == "locked out" for r in stripe)
    assert all(r["failure"].startswith("stripe: lockout (401)") for r in stripe)
    assert all(r["last_materialized"] for r in stripe), "the last good copy is still known"
    assert {r["state"] for r in rows if r["vendor"] != "stripe"} == {"healthy"}
    page = html.read_text(encoding="utf-8")
    assert 'data-state="locked out"><b>locked out</b><span class="n">1</span>' in page
    assert "stripe: lockout (401)" in page
    assert "sk_test_lifeboat_demo" not in page


def _metadata(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict]:
    found = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        found[materialization.asset_key] = materialization.metadata
    return found


def _rows(home: Path) -> list[dict[str, str]]:
    with (home / "continuity" / "vendor_status.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _states(home: Path) -> set[str]:
    return {row["state"] for row in _rows(home)}

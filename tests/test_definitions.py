"""The Dagster layer: definitions load, and a materialization copies into real DuckDB files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from automation.copies import today
from definitions import build_definitions
from lifeboat.config import load_inventory
from lifeboat.instance import PROJECT_ROOT, load_demo_credentials
from pipelines.registry import vendors
from pipelines.runner import warehouse_path
from tests.keys import STRIPE_KEY


def stripe_only(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "lifeboat.yaml"
    path.write_text(
        "vendors:\n"
        "  stripe:\n"
        f"    base_url: {url}/stripe\n"
        "    credentials: {api_key: LIFEBOAT_TEST_STRIPE_KEY}\n"
        "    rpo: 1h\n"
    )
    return path


def test_every_catalog_dataset_is_an_asset_with_group_kinds_and_description(home: Path) -> None:
    inventory = load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())
    defs = build_definitions(inventory, home)
    graph = defs.resolve_asset_graph()
    # Every built-in vendor and the REST API lifeboat.yaml configures (kind: rest).
    assert set(inventory.registry) == {*vendors(), "harvest"}
    expected = {
        dg.AssetKey([vendor, dataset])
        for vendor, entry in inventory.registry.items()
        for dataset in entry.dataset_names
    }
    assert expected <= set(graph.get_all_asset_keys())
    for key in expected:
        spec = graph.get(key)
        assert spec.group_name == key.path[0]
        assert {"dlt", "duckdb"} <= set(spec.kinds)
        assert spec.description and len(spec.description) < 120
        # Stripe's and Harvest's `invoices` are two tables: the UI must not link them as one.
        assert spec.metadata["dagster/table_name"] == ".".join(key.path)
        # What the asset page shows: plain values only (no "[DltSource] (unserializable)"),
        # and every declared column described in the vendor's words.
        plain = (str, int, float, bool, dg.TableSchema)
        assert all(isinstance(value, plain) for value in spec.metadata.values()), spec.metadata
        declared = inventory.registry[key.path[0]].dataset(key.path[1]).columns
        schema = spec.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == [c.name for c in declared]
        assert all(column.description for column in schema.columns)
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["stripe_every_rpo"].cron_schedule == "*/15 * * * *"
    # Per vendor: a copy at least twice per RPO, and a weekly reconciliation; one daily
    # restore drill of them all.
    assert {f"{vendor}_every_rpo" for vendor in inventory.registry} <= set(schedules)
    assert {f"reconcile_{vendor}_weekly" for vendor in inventory.registry} <= set(schedules)
    assert "restore_drills_daily" in schedules
    assert len(schedules) == 2 * len(inventory.registry) + 1


def test_materialize_copies_into_duckdb_with_metadata(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFEBOAT_TEST_STRIPE_KEY", STRIPE_KEY)
    defs = build_definitions(load_inventory(stripe_only(tmp_path, emulator.url), vendors()), home)
    job = defs.resolve_job_def("copy_stripe")
    result = job.execute_in_process(partition_key=today(), instance=dg.DagsterInstance.ephemeral())
    assert result.success
    materialized = {
        m.asset_key.path[-1]: m.metadata
        for node in ("stripe_copy", "stripe_daily")
        for m in result.asset_materializations_for_node(node)
    }
    assert set(materialized) == {"customers", "charges", "invoices", "subscriptions"}
    assert materialized["charges"]["rows_held"].value == 2000
    assert materialized["charges"]["rows_loaded"].value == 2000
    assert materialized["charges"]["cursor"].value.startswith("2025-12-31")
    assert Path(materialized["charges"]["snapshot"].value).is_dir()
    # The table as loaded, described: the vendor's fields and dlt's own columns alike.
    loaded = materialized["charges"]["dagster/column_schema"].value.columns
    assert {"amount", "_deleted", "_dlt_load_id"} <= {c.name for c in loaded}
    assert [c.name for c in loaded if not c.description] == []
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM charges").fetchone()[0] == 2000


def test_missing_credential_stops_the_run_naming_the_variable(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIFEBOAT_TEST_STRIPE_KEY", raising=False)
    defs = build_definitions(load_inventory(stripe_only(tmp_path, emulator.url), vendors()), home)
    with pytest.raises(dg.DagsterInvalidConfigError) as failure:
        defs.resolve_job_def("copy_stripe").execute_in_process(
            partition_key=today(), instance=dg.DagsterInstance.ephemeral()
        )
    assert 'environment variable "LIFEBOAT_TEST_STRIPE_KEY" which is not set' in str(failure.value)
    assert not warehouse_path(home, "stripe").exists()


def test_dagster_validates_the_workspace(home: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    load_demo_credentials()
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All code locations passed validation" in done.stdout + done.stderr


def test_second_run_loads_only_what_changed_for_every_vendor(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emulators.control import EmulatorControl

    load_demo_credentials()
    shipped = (PROJECT_ROOT / "lifeboat.yaml").read_text()
    config = tmp_path / "lifeboat.yaml"
    config.write_text(shipped.replace("http://127.0.0.1:8765", emulator.url))
    inventory = load_inventory(config, vendors())
    defs = build_definitions(inventory, home)
    job = defs.resolve_job_def("copy_all_vendors")

    def loaded(result: dg.ExecuteInProcessResult) -> dict[tuple[str, ...], tuple[int, int]]:
        found = {}
        for event in result.get_asset_materialization_events():
            materialization = event.step_materialization_data.materialization
            metadata = materialization.metadata
            found[tuple(materialization.asset_key.path)] = (
                metadata["rows_loaded"].value,
                metadata["rows_held"].value,
            )
        return found

    first = loaded(
        job.execute_in_process(partition_key=today(), instance=dg.DagsterInstance.ephemeral())
    )
    assert len(first) == sum(len(v.datasets) for v in inventory.registry.values())
    assert all(rows_loaded == rows_held > 0 for rows_loaded, rows_held in first.values())

    control = EmulatorControl(emulator.url)
    control.reset_counters()
    control.advance(days=1)
    served = control.state()["served"]
    assert not any(served.values()), "advancing the clock must not serve anything"
    second = loaded(
        job.execute_in_process(partition_key=today(), instance=dg.DagsterInstance.ephemeral())
    )
    served = control.state()["served"]
    # Mailchimp offers no change filter for audiences: the few there are are read every time.
    read_in_full = {("mailchimp", "lists")}
    for key, (rows_loaded, rows_held) in second.items():
        # Only the day's changes are loaded, and the copy never shrinks.
        if key not in read_in_full:
            assert rows_loaded < first[key][1], key
        assert rows_held >= first[key][1], key
    # Incremental requests: far fewer records served than the first copy loaded.
    total_first = sum(rows for rows, _ in first.values())
    total_served = sum(sum(counts.values()) for counts in served.values())
    assert total_served < total_first / 4


def test_backfill_of_past_days_loads_their_window_and_keeps_the_cursor(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emulators.control import EmulatorControl
    from pipelines.runner import cursors, make_pipeline

    monkeypatch.setenv("LIFEBOAT_TEST_STRIPE_KEY", STRIPE_KEY)
    inventory = load_inventory(stripe_only(tmp_path, emulator.url), vendors())
    job = build_definitions(inventory, home).resolve_job_def("copy_stripe")
    instance = dg.DagsterInstance.ephemeral()
    assert job.execute_in_process(partition_key=today(), instance=instance).success
    cursor = cursors(make_pipeline("stripe", home))["charges"]
    # Reloaded after the first copy, the partitions start where the copy's history does.
    job = build_definitions(inventory, home).resolve_job_def("copy_stripe")
    EmulatorControl(emulator.url).advance(days=3, changes={"stripe.charges": {"updated": 30}})

    # What the UI launches for a backfill of 2026-01-02..2026-01-03 (one run, one range).
    backfill = job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2026-01-02",
            "dagster/asset_partition_range_end": "2026-01-03",
        },
        asset_selection=[dg.AssetKey(["stripe", "charges"]), dg.AssetKey(["stripe", "invoices"])],
    )
    assert backfill.success
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        times = con.execute(
            "SELECT min(_changed_at), max(_changed_at), count(*) FROM charges "
            "WHERE _dlt_load_id = (SELECT max(_dlt_load_id) FROM charges)"
        ).fetchone()
    assert times[2] > 0
    assert times[0].isoformat() >= "2026-01-02" and times[1].isoformat() < "2026-01-04"
    assert cursors(make_pipeline("stripe", home))["charges"] == cursor
    status = instance.get_materialized_partitions(dg.AssetKey(["stripe", "charges"]))
    assert {"2026-01-02", "2026-01-03"} <= status

"""A full reconciliation turns absences into soft deletes and refuses a shrunken listing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from lifeboat.errors import SuspectedShrink
from pipelines.base import RetryPolicy, VendorContext
from pipelines.reconcile import reconcile
from pipelines.registry import vendors
from pipelines.runner import sync, warehouse_path
from pipelines.snapshot import read_manifest
from tests.keys import STRIPE_KEY


def stripe(url: str) -> VendorContext:
    return VendorContext(
        "stripe",
        f"{url}/stripe",
        {"api_key": STRIPE_KEY},
        datasets=("customers", "subscriptions"),
        retries=RetryPolicy(2, 5),
    )


def customers(home: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return con.execute("SELECT id, _deleted FROM customers ORDER BY id").fetchall()


def test_records_gone_upstream_are_marked_deleted_and_kept(emulator, home: Path) -> None:
    sync(stripe(emulator.url), home)
    # Three customers vanish; reconciliation runs before any incremental run saw it.
    EmulatorControl(emulator.url).advance(seconds=600, changes={"stripe.customers": {"deleted": 3}})
    result = reconcile(stripe(emulator.url), home)
    assert result.marked_deleted == {"customers": 3, "subscriptions": 0}
    rows = customers(home)
    assert len(rows) == 200 and sum(1 for _, deleted in rows if deleted) == 3
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        # Their earlier, live version is kept; the versions view has both.
        assert con.execute("SELECT count(*) FROM customers_history").fetchall()[0][0] == 3
        assert (
            con.execute(
                "SELECT count(*) FROM customers_versions WHERE id IN "
                "(SELECT id FROM customers WHERE _deleted)"
            ).fetchall()[0][0]
            == 6
        )
    parts = read_manifest(home / "snapshots" / "stripe")["tables"]["customers"]["parts"]
    assert parts[-1]["rows"] == 3  # the snapshot learns of the deletions too
    # Nothing vanished since: a second reconciliation marks nothing.
    assert reconcile(stripe(emulator.url), home).marked_deleted["customers"] == 0


@pytest.mark.parametrize(("mode", "options"), [("partial", {"share": 0.5}), ("empty", {})])
def test_a_shrunken_listing_fails_loudly_and_changes_nothing(
    emulator, home: Path, mode: str, options: dict
) -> None:
    sync(stripe(emulator.url), home)
    before = customers(home)
    EmulatorControl(emulator.url).fault("stripe", mode, **options)
    with pytest.raises(SuspectedShrink, match=r"lacks .* of the 200 records the copy holds"):
        reconcile(stripe(emulator.url), home)
    assert customers(home) == before


def test_reconcile_job_fails_in_dagster_with_the_plain_message(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from definitions import build_definitions
    from lifeboat.config import load_inventory

    sync(stripe(emulator.url), home)
    config = tmp_path / "lifeboat.yaml"
    config.write_text(
        f"vendors:\n  stripe:\n    base_url: {emulator.url}/stripe\n"
        "    credentials: {api_key: RECONCILE_TEST_KEY}\n"
    )
    monkeypatch.setenv("RECONCILE_TEST_KEY", STRIPE_KEY)
    defs = build_definitions(load_inventory(config, vendors()), home)
    assert "reconcile_stripe_weekly" in {s.name for s in defs.schedules}
    EmulatorControl(emulator.url).fault("stripe", "partial", share=0.4)
    result = defs.resolve_job_def("reconcile_stripe").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "lacks" in failure.step_failure_data.error.message

"""The restore drill passes on a real copy, catches a tampered snapshot, and restore rebuilds."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from emulators.control import EmulatorControl
from lifeboat.restore_cli import register
from pipelines.base import VendorContext
from pipelines.restore import RestoreError, drill, restore_vendor
from pipelines.runner import snapshot_dir, sync, warehouse_path
from pipelines.snapshot import read_manifest, sha256
from tests.keys import STRIPE_KEY

SCALE = {"stripe.customers": 60, "stripe.charges": 400, "stripe.invoices": 90}


def copy_stripe(url: str, home: Path) -> None:
    sync(VendorContext("stripe", f"{url}/stripe", {"api_key": STRIPE_KEY}), home)


@pytest.fixture
def copied(make_emulator, home: Path) -> Path:
    """Stripe copied twice, with updates between: snapshots of two loads per table."""
    server = make_emulator(SCALE)
    copy_stripe(server.url, home)
    EmulatorControl(server.url).advance(
        seconds=6 * 3600, changes={"stripe.charges": {"updated": 25}}
    )
    copy_stripe(server.url, home)
    assert len(read_manifest(snapshot_dir(home, "stripe"))["tables"]["charges"]["parts"]) == 2
    return home


def live_rows(home: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return con.execute(f"SELECT * EXCLUDE (_dlt_load_id) FROM {table} ORDER BY id").fetchall()


def test_drill_passes_on_a_real_copy_with_updated_records(copied: Path) -> None:
    report = drill(copied, "stripe")
    assert report.ok, report.summary()
    charges = report.tables["charges"]
    # The emulator's clock also created charges: the copy holds them and so do the snapshots.
    assert charges.live_rows == charges.restored_rows == len(live_rows(copied, "charges")) > 400
    assert charges.live_checksum == charges.restored_checksum
    assert {"customers", "charges", "invoices", "subscriptions"} <= set(report.tables)


def _rewrite_part(home: Path, table: str, change: Callable[[list[dict]], list[dict]]) -> Path:
    manifest = read_manifest(snapshot_dir(home, "stripe"))
    part = snapshot_dir(home, "stripe") / manifest["tables"][table]["parts"][-1]["file"]
    data = pq.read_table(part).to_pylist()
    pq.write_table(pq.read_table(part).from_pylist(change(data), pq.read_schema(part)), part)
    return part


def test_drill_detects_a_part_changed_after_it_was_written(copied: Path) -> None:
    def change(rows: list[dict]) -> list[dict]:
        rows[0]["amount"] = rows[0]["amount"] + 1
        return rows

    part = _rewrite_part(copied, "charges", change)
    report = drill(copied, "stripe")
    assert not report.ok
    assert report.tables["charges"].problems == [
        f"snapshot part charges/{part.name} does not match its checksum "
        "(changed or damaged since it was written)"
    ]
    assert report.tables["customers"].ok
    assert "restore drill FAILED" in report.summary()
    with pytest.raises(RestoreError, match="cannot be trusted"):
        restore_vendor(copied, "stripe", copied.parent / "restored")


def test_drill_detects_rows_lost_even_when_the_manifest_was_rewritten_to_match(
    copied: Path,
) -> None:
    """A bug that drops rows and records the new checksum must still fail the drill."""
    part = _rewrite_part(copied, "charges", lambda rows: rows[1:])
    directory = snapshot_dir(copied, "stripe")
    manifest = json.loads((directory / "manifest.json").read_text())
    for entry in manifest["tables"]["charges"]["parts"]:
        if entry["file"].endswith(part.name):
            entry["sha256"] = sha256(part)
    (directory / "manifest.json").write_text(json.dumps(manifest))
    report = drill(copied, "stripe")
    charges = report.tables["charges"]
    assert not report.ok
    # An updated charge whose newest version is gone restores as its older version:
    # same count, different content.
    held = len(live_rows(copied, "charges"))
    assert charges.problems in (
        ["the restored rows differ in content from the live copy (checksum mismatch)"],
        [f"the snapshot restores {held - 1:,} rows, the live copy holds {held:,}"],
    )


def test_drill_detects_changed_content_even_when_the_manifest_was_rewritten_to_match(
    copied: Path,
) -> None:
    """Same rows, one value changed, checksum and size recorded anew: only content shows it."""

    def change(rows: list[dict]) -> list[dict]:
        rows[0]["amount"] = rows[0]["amount"] + 1
        return rows

    part = _rewrite_part(copied, "charges", change)
    directory = snapshot_dir(copied, "stripe")
    manifest = json.loads((directory / "manifest.json").read_text())
    [entry] = [e for e in manifest["tables"]["charges"]["parts"] if e["file"].endswith(part.name)]
    entry["sha256"], entry["bytes"] = sha256(part), part.stat().st_size
    (directory / "manifest.json").write_text(json.dumps(manifest))
    report = drill(copied, "stripe")
    charges = report.tables["charges"]
    assert charges.problems == [
        "the restored rows differ in content from the live copy (checksum mismatch)"
    ]
    assert charges.live_rows == charges.restored_rows == len(live_rows(copied, "charges"))
    assert report.tables["invoices"].ok


def test_drill_detects_a_missing_part(copied: Path) -> None:
    manifest = read_manifest(snapshot_dir(copied, "stripe"))
    first = manifest["tables"]["invoices"]["parts"][0]["file"]
    (snapshot_dir(copied, "stripe") / first).unlink()
    report = drill(copied, "stripe")
    assert report.tables["invoices"].problems == [f"snapshot part {first} is missing"]


def test_restore_rebuilds_the_vendor_file_from_snapshots_alone(
    copied: Path, tmp_path: Path
) -> None:
    target = tmp_path / "restored"
    result = restore_vendor(copied, "stripe", target)
    assert result.path == target / "stripe.duckdb"
    assert result.rows["charges"] == len(live_rows(copied, "charges"))
    with duckdb.connect(str(result.path), read_only=True) as con:
        restored = con.execute(
            "SELECT * EXCLUDE (_dlt_load_id) FROM charges ORDER BY id"
        ).fetchall()
    # Every record, at its newest version, exactly as the live copy holds it.
    assert restored == live_rows(copied, "charges")
    with pytest.raises(RestoreError, match="already exists"):
        restore_vendor(copied, "stripe", target)


def test_restore_command_prints_what_it_rebuilt(
    copied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["restore", "stripe", "--to", str(tmp_path / "out")])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    held = len(live_rows(copied, "charges"))
    assert f"stripe/charges: {held:,} rows restored" in printed
    assert (tmp_path / "out" / "stripe.duckdb").exists()


def test_restore_without_snapshots_says_so(home: Path, tmp_path: Path) -> None:
    with pytest.raises(RestoreError, match="no snapshot"):
        restore_vendor(home, "hubspot", tmp_path / "out")

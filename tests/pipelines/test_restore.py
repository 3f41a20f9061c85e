"""The restore drill passes on a real copy, catches a tampered snapshot, and restore rebuilds:
with dlt's state, so a rebuilt copy continues from where its snapshots end."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from emulators.control import EmulatorControl
from lifeboat.restore_cli import register
from lifeboat.settings import QUARANTINE_TABLE
from pipelines.base import VendorContext
from pipelines.restore import RestoreError, drill, restore_vendor
from pipelines.runner import SyncResult, snapshot_copy, snapshot_dir, sync, warehouse_path
from pipelines.settings import DLT_STATE_TABLES
from pipelines.snapshot import read_manifest, sha256
from tests.keys import STRIPE_KEY

SCALE = {"stripe.customers": 60, "stripe.charges": 400, "stripe.invoices": 90}


def copy_stripe(url: str, home: Path) -> SyncResult:
    return sync(VendorContext("stripe", f"{url}/stripe", {"api_key": STRIPE_KEY}), home)


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
    assert set(report.tables) == {"customers", "charges", "invoices", "subscriptions"}


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
    # dlt's state came back too, but it is dlt's bookkeeping, not a table a person reads.
    assert "_dlt" not in printed and printed.count("rows restored") == 4
    assert (tmp_path / "out" / "stripe.duckdb").exists()


def test_restore_without_snapshots_says_so(home: Path, tmp_path: Path) -> None:
    with pytest.raises(RestoreError, match="no snapshot"):
        restore_vendor(home, "hubspot", tmp_path / "out")


def dlt_state(database: Path) -> dict[str, list[tuple]]:
    """Every row of each of dlt's state tables, in a stable order."""
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in DLT_STATE_TABLES
        }


def vendor_tables(database: Path) -> dict[str, list[tuple]]:
    """Each vendor table's rows on every column dlt did not add (history tables aside)."""
    with duckdb.connect(str(database), read_only=True) as con:
        tables = {}
        for table in ("customers", "charges", "invoices", "subscriptions"):
            columns = [
                row[0]
                for row in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND column_name NOT LIKE '\\_dlt%' ESCAPE '\\' ORDER BY 1",
                    [table],
                ).fetchall()
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            tables[table] = con.execute(f"SELECT {listed} FROM {table} ORDER BY ALL").fetchall()
        return tables


def test_restore_brings_back_dlt_state_exactly(copied: Path, tmp_path: Path) -> None:
    result = restore_vendor(copied, "stripe", tmp_path / "restored")
    assert result.continues
    assert set(result.rows) == {"customers", "charges", "invoices", "subscriptions"}
    assert dlt_state(result.path) == dlt_state(warehouse_path(copied, "stripe"))


def test_a_copy_rebuilt_from_its_snapshots_continues_where_they_end(
    make_emulator, tmp_path: Path
) -> None:
    """A damaged DuckDB file rebuilt by the next sync ends as a clean incremental run's."""
    server = make_emulator(SCALE)
    clean, rebuilt = tmp_path / "clean", tmp_path / "rebuilt"
    for home in (clean, rebuilt):
        copy_stripe(server.url, home)
    EmulatorControl(server.url).advance(
        seconds=6 * 3600, changes={"stripe.charges": {"updated": 25}}
    )
    for home in (clean, rebuilt):
        copy_stripe(server.url, home)
    database = warehouse_path(rebuilt, "stripe")
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 2])
    EmulatorControl(server.url).advance(
        seconds=6 * 3600, changes={"stripe.charges": {"updated": 25}}
    )

    expected = copy_stripe(server.url, clean)
    found = copy_stripe(server.url, rebuilt)

    assert list(database.parent.glob("stripe.duckdb.damaged-*"))  # it was rebuilt
    # Only what changed since the snapshots was asked for and loaded, as in the clean run.
    loaded = {table: result.rows_loaded for table, result in found.tables.items()}
    assert loaded == {table: result.rows_loaded for table, result in expected.tables.items()}
    assert loaded["charges"] < found.tables["charges"].rows_held // 4
    # `_changed_at` included: a full listing would mark updated charges by their creation.
    assert vendor_tables(database) == vendor_tables(warehouse_path(clean, "stripe"))
    assert drill(rebuilt, "stripe").ok, drill(rebuilt, "stripe").summary()


def test_a_rebuild_missing_a_table_lists_everything_again(make_emulator, tmp_path: Path) -> None:
    """dlt's cursors are kept only with every table they cover: never a table's old records
    skipped because its snapshot was lost along with the live copy."""
    server = make_emulator(SCALE)
    clean, rebuilt = tmp_path / "clean", tmp_path / "rebuilt"
    for home in (clean, rebuilt):
        copy_stripe(server.url, home)
    directory = snapshot_dir(rebuilt, "stripe")
    manifest = json.loads((directory / "manifest.json").read_text())
    del manifest["tables"]["invoices"]
    (directory / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(directory / "invoices")
    warehouse_path(rebuilt, "stripe").unlink()

    partial = restore_vendor(rebuilt, "stripe", tmp_path / "restored")
    assert not partial.continues and "invoices" not in partial.rows
    with duckdb.connect(str(partial.path), read_only=True) as con:
        assert not con.execute(
            "SELECT * FROM duckdb_tables() WHERE starts_with(table_name, '_dlt')"
        ).fetchall()

    copy_stripe(server.url, rebuilt)  # rebuilds the copy from the snapshots, then syncs
    copied = vendor_tables(warehouse_path(rebuilt, "stripe"))
    assert copied["invoices"] == vendor_tables(warehouse_path(clean, "stripe"))["invoices"]


def test_a_snapshot_with_no_load_catches_up_with_dlt_state(
    make_emulator, home: Path, tmp_path: Path
) -> None:
    """What `lifeboat doctor` does after a run stopped between its load and its snapshot."""
    server = make_emulator(SCALE)
    copy_stripe(server.url, home)
    before = shutil.copytree(snapshot_dir(home, "stripe"), tmp_path / "before")
    EmulatorControl(server.url).advance(seconds=3600, changes={"stripe.charges": {"updated": 9}})
    copy_stripe(server.url, home)
    shutil.rmtree(snapshot_dir(home, "stripe"))
    before.rename(snapshot_dir(home, "stripe"))  # the second load's snapshot never written

    snapshot_copy(home, "stripe", [])

    restored = restore_vendor(home, "stripe", tmp_path / "restored")
    assert restored.continues
    assert dlt_state(restored.path) == dlt_state(warehouse_path(home, "stripe"))


def test_a_restore_that_leaves_a_table_out_leaves_dlt_state_out_too(
    make_emulator, home: Path, tmp_path: Path
) -> None:
    """Records set aside are listed again after a restore that lost them: dlt's cursors,
    which moved past them, are not restored (nor are they for any table left out)."""
    server = make_emulator(SCALE)
    control = EmulatorControl(server.url)
    copy_stripe(server.url, home)
    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 6}})
    control.fault("stripe", "drift", change={"amount": "12.50 USD"}, one_in=2)
    assert copy_stripe(server.url, home).drift["charges"].quarantined > 0
    quarantine = read_manifest(snapshot_dir(home, "stripe"))["tables"][QUARANTINE_TABLE]
    (snapshot_dir(home, "stripe") / quarantine["parts"][0]["file"]).unlink()

    result = restore_vendor(home, "stripe", tmp_path / "partial", allow_partial=True)

    assert set(result.left_out) == {QUARANTINE_TABLE} and not result.continues
    with duckdb.connect(str(result.path), read_only=True) as con:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    assert tables == {"customers", "charges", "invoices", "subscriptions"}

"""Damaged manifests, parts and DuckDB files: named in one sentence, repaired by the next sync,
and never restored from silently; dlt's state tables, snapshotted too, never shown as datasets."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from emulators.server import EmulatorServer
from lifeboat import cli
from lifeboat.config import inventory
from lifeboat.continuity.history import vendor_history
from lifeboat.errors import LifeboatError
from pipelines.base import VendorContext
from pipelines.integrity import check_database, check_manifest, check_parts
from pipelines.registry import vendors
from pipelines.restore import RestoreError, drill, restore_vendor
from pipelines.runner import snapshot_dir, sync, table_counts, warehouse_path
from pipelines.settings import DATASET, DLT_STATE_TABLES
from pipelines.snapshot import ManifestDamaged, read_manifest
from tests.keys import STRIPE_KEY

SCALE = {"stripe.customers": 40, "stripe.charges": 300, "stripe.invoices": 60}
TABLES = {"customers", "charges", "invoices", "subscriptions"}


def copy_stripe(server: EmulatorServer, home: Path) -> None:
    sync(VendorContext("stripe", f"{server.url}/stripe", {"api_key": STRIPE_KEY}), home)


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator(SCALE)


@pytest.fixture
def copied(server: EmulatorServer, home: Path) -> Path:
    """Stripe copied twice, charges updated between: two parts of charges."""
    copy_stripe(server, home)
    EmulatorControl(server.url).advance(
        seconds=6 * 3600, changes={"stripe.charges": {"updated": 20}}
    )
    copy_stripe(server, home)
    return home


def manifest_path(home: Path) -> Path:
    return snapshot_dir(home, "stripe") / "manifest.json"


def edit_manifest(home: Path, change: Callable[[dict], None]) -> None:
    manifest = json.loads(manifest_path(home).read_text())
    change(manifest)
    manifest_path(home).write_text(json.dumps(manifest))


def part_files(home: Path) -> set[str]:
    """Every Parquet file in the table folders, relative to the snapshot directory."""
    directory = snapshot_dir(home, "stripe")
    return {p.relative_to(directory).as_posix() for p in directory.glob("*/*.parquet*")}


def listed(home: Path) -> set[str]:
    tables = read_manifest(snapshot_dir(home, "stripe"))["tables"].values()
    return {part["file"] for entry in tables for part in entry["parts"]}


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "lifeboat.sync" and r.levelno >= logging.WARNING
    ]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def run_cli(
    args: list[str], home: Path, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> int:
    config = home.parent / "lifeboat.yaml"
    config.write_text(
        f"vendors:\n  stripe:\n    base_url: {server.url}/stripe\n"
        "    credentials: {api_key: INTEGRITY_TEST_STRIPE_KEY}\n"
    )
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(config))
    monkeypatch.setenv("INTEGRITY_TEST_STRIPE_KEY", STRIPE_KEY)
    inventory.cache_clear()
    try:
        return cli.main(args)
    finally:
        inventory.cache_clear()


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "garbled": lambda path: path.write_bytes(b"\x00\xff\xfe garbage \x9c" * 20),
    "not a manifest": lambda path: path.write_text('["tables"]'),
    "a part outside the snapshot": lambda path: path.write_text(
        json.dumps(
            {
                "tables": {
                    "charges": {
                        "parts": [
                            {"file": "../../x.parquet", "load_id": "1", "rows": 1, "sha256": ""}
                        ]
                    }
                }
            }
        )
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_manifest_is_named_in_one_sentence(copied: Path, damage: str) -> None:
    DAMAGES[damage](manifest_path(copied))
    with pytest.raises(ManifestDamaged) as raised:
        read_manifest(snapshot_dir(copied, "stripe"))
    assert str(raised.value).startswith(f"the snapshot manifest {manifest_path(copied)} is damaged")
    problem = check_manifest(snapshot_dir(copied, "stripe"))
    assert problem is not None and "\n" not in problem.sentence
    assert problem.sentence.endswith(
        "the next `lifeboat sync stripe` or `lifeboat doctor` rebuilds it from the live copy"
    )


def test_the_next_sync_rebuilds_a_truncated_manifest_and_keeps_the_damaged_one(
    copied: Path, server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = manifest_path(copied).read_bytes()[:100]
    manifest_path(copied).write_bytes(damaged)
    caplog.set_level(logging.INFO, logger="lifeboat")

    copy_stripe(server, copied)  # no longer fails at the snapshot step

    kept = list(snapshot_dir(copied, "stripe").glob("manifest.damaged-*.json"))
    assert [path.read_bytes() for path in kept] == [damaged]  # evidence, never deleted
    assert warnings(caplog) == [
        "stripe: the snapshot manifest was damaged (truncated or not valid JSON; kept as "
        f"{kept[0].name}), so the snapshots of charges, customers, invoices, subscriptions "
        "were rebuilt from the live copy"
    ]
    manifest = read_manifest(snapshot_dir(copied, "stripe"))
    # Each table is one fresh base part; the old parts went once the new manifest was in place.
    assert all(len(entry["parts"]) == 1 for entry in manifest["tables"].values())
    assert part_files(copied) == listed(copied)
    assert drill(copied, "stripe").ok

    caplog.clear()
    EmulatorControl(server.url).advance(seconds=3600, changes={"stripe.charges": {"updated": 5}})
    copy_stripe(server, copied)
    assert warnings(caplog) == []  # repaired once, then back to ordinary parts
    assert len(read_manifest(snapshot_dir(copied, "stripe"))["tables"]["charges"]["parts"]) == 2
    assert drill(copied, "stripe").ok


def test_the_next_sync_rebuilds_a_deleted_manifest(
    copied: Path, server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    manifest_path(copied).unlink()
    caplog.set_level(logging.INFO, logger="lifeboat")
    copy_stripe(server, copied)
    assert warnings(caplog) == [
        "stripe: the snapshot manifest was missing (deleted, or a run stopped before its "
        "first), so the snapshots of charges, customers, invoices, subscriptions were rebuilt "
        "from the live copy"
    ]
    assert part_files(copied) == listed(copied)
    assert drill(copied, "stripe").ok


def test_the_next_sync_puts_back_a_table_the_manifest_lost(
    copied: Path, server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    edit_manifest(copied, lambda m: m["tables"].pop("invoices"))
    caplog.set_level(logging.INFO, logger="lifeboat")
    copy_stripe(server, copied)
    assert warnings(caplog) == [
        "stripe: invoices was missing from the snapshot manifest, so the snapshot of invoices "
        "was rebuilt from the live copy"
    ]
    assert part_files(copied) == listed(copied)
    assert drill(copied, "stripe").ok


def _drop_part(home: Path, part: Path) -> None:
    part.unlink()


def _grow_part(home: Path, part: Path) -> None:
    part.write_bytes(part.read_bytes() + b"\0")


def _flip_bytes(home: Path, part: Path) -> None:
    """Bytes changed in the middle, the size the same (bit rot, an edit in place)."""
    data = bytearray(part.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    part.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "state"),
    [(_drop_part, "missing"), (_grow_part, "changed"), (_flip_bytes, "changed")],
    ids=["missing", "grown", "same-size"],
)
def test_the_next_sync_rebuilds_a_table_whose_part_is_missing_or_changed(
    copied: Path,
    server: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path, Path], None],
    state: str,
) -> None:
    first = read_manifest(snapshot_dir(copied, "stripe"))["tables"]["charges"]["parts"][0]["file"]
    damage(copied, snapshot_dir(copied, "stripe") / first)
    [problem] = check_parts(snapshot_dir(copied, "stripe"))  # the cheap check sees it
    assert problem.table == "charges" and first in problem.text
    caplog.set_level(logging.INFO, logger="lifeboat")

    copy_stripe(server, copied)

    assert warnings(caplog) == [
        f"stripe: snapshot part {first} was {state}, so the snapshot of charges was rebuilt "
        "from the live copy"
    ]
    tables = read_manifest(snapshot_dir(copied, "stripe"))["tables"]
    assert len(tables["charges"]["parts"]) == 1
    assert len(tables["invoices"]["parts"]) >= 1  # the other tables keep their parts
    assert part_files(copied) == listed(copied)
    assert drill(copied, "stripe").ok


def test_a_part_copied_back_unchanged_is_kept_and_its_new_time_recorded(
    copied: Path, server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A part restored from a backup keeps its content but not its time: no rebuild."""
    directory = snapshot_dir(copied, "stripe")
    first = read_manifest(directory)["tables"]["charges"]["parts"][0]
    part = directory / first["file"]
    shutil.copyfile(part, part.with_suffix(".bak"))
    os.replace(part.with_suffix(".bak"), part)
    moved = part.stat().st_mtime_ns
    assert moved != first["mtime_ns"] and part.stat().st_size == first["bytes"]
    assert check_parts(directory) == []  # its checksum was read, and matches
    caplog.set_level(logging.INFO, logger="lifeboat")

    copy_stripe(server, copied)

    assert warnings(caplog) == []
    [kept] = [
        p
        for p in read_manifest(directory)["tables"]["charges"]["parts"]
        if p["file"] == first["file"]
    ]
    assert kept["sha256"] == first["sha256"] and kept["mtime_ns"] == moved


def test_a_load_whose_snapshot_was_never_written_is_taken_by_the_next_sync(
    server: EmulatorServer, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The state a run killed after its load, before its manifest, leaves behind."""
    copy_stripe(server, home)
    before = manifest_path(home).read_text()
    EmulatorControl(server.url).advance(seconds=3600, changes={"stripe.charges": {"updated": 9}})
    copy_stripe(server, home)
    manifest_path(home).write_text(before)  # parts of the second load written, not listed
    with pytest.raises(RestoreError, match=r"not listed in the manifest"):
        restore_vendor(home, "stripe", home.parent / "early")
    caplog.set_level(logging.INFO, logger="lifeboat")

    copy_stripe(server, home)  # nothing new at the vendor

    assert warnings(caplog) == []  # routine bookkeeping, nothing to tell
    assert len(read_manifest(snapshot_dir(home, "stripe"))["tables"]["charges"]["parts"]) == 2
    assert part_files(home) == listed(home)
    assert drill(home, "stripe").ok


def test_a_first_snapshot_never_written_is_taken_silently_by_the_next_sync(
    server: EmulatorServer, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A first sync stopped after its load, before any snapshot file: nothing was lost."""
    copy_stripe(server, home)
    shutil.rmtree(snapshot_dir(home, "stripe"))
    caplog.set_level(logging.INFO, logger="lifeboat")
    copy_stripe(server, home)
    assert warnings(caplog) == []
    assert drill(home, "stripe").ok


@pytest.mark.parametrize("folder_too", [False, True], ids=["entry", "entry-and-folder"])
def test_restore_refuses_a_snapshot_that_lacks_a_table(
    copied: Path,
    server: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    folder_too: bool,
) -> None:
    edit_manifest(copied, lambda m: m["tables"].pop("invoices"))
    if folder_too:
        shutil.rmtree(snapshot_dir(copied, "stripe") / "invoices")
    with pytest.raises(
        RestoreError, match=r"^stripe: the snapshot cannot be trusted for invoices:"
    ):
        restore_vendor(copied, "stripe", tmp_path / "refused")
    assert not (tmp_path / "refused" / "stripe.duckdb").exists()

    assert (
        run_cli(["restore", "stripe", "--to", str(tmp_path / "cli")], copied, server, monkeypatch)
        == LifeboatError.exit_code
    )
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("lifeboat: stripe: the snapshot cannot be")
    assert "invoices" in err and "--allow-partial" in err and "Traceback" not in out + err

    argv = ["restore", "stripe", "--to", str(tmp_path / "partial"), "--allow-partial"]
    assert run_cli(argv, copied, server, monkeypatch) == 0
    out, err = capsys.readouterr()
    assert err.startswith("lifeboat: stripe/invoices was NOT restored: ")
    assert err.count("\n") == 1
    assert "PARTLY restored stripe" in out and "stripe/charges:" in out
    with duckdb.connect(str(tmp_path / "partial" / "stripe.duckdb"), read_only=True) as con:
        restored = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    assert restored == TABLES - {"invoices"}


def _stray_part(home: Path) -> str:
    charges = snapshot_dir(home, "stripe") / "charges"
    shutil.copy(next(charges.glob("*.parquet")), charges / "part-9999999999.5.parquet")
    return "charges"


def _missing_part(home: Path) -> str:
    part = read_manifest(snapshot_dir(home, "stripe"))["tables"]["invoices"]["parts"][0]
    (snapshot_dir(home, "stripe") / part["file"]).unlink()
    return "invoices"


def _impossible_rows(home: Path) -> str:
    def more(manifest: dict) -> None:
        entry = manifest["tables"]["customers"]
        entry["rows"] = sum(part["rows"] for part in entry["parts"]) + 1

    edit_manifest(home, more)
    return "customers"


@pytest.mark.parametrize("damage", [_stray_part, _missing_part, _impossible_rows])
def test_restore_refuses_when_the_manifest_and_the_parts_disagree(
    copied: Path, tmp_path: Path, damage: Callable[[Path], str]
) -> None:
    table = damage(copied)
    with pytest.raises(RestoreError) as raised:
        restore_vendor(copied, "stripe", tmp_path / "out")
    message = str(raised.value)
    assert message.startswith(f"stripe: the snapshot cannot be trusted for {table}: ")
    assert "\n" not in message
    result = restore_vendor(copied, "stripe", tmp_path / "partial", allow_partial=True)
    assert set(result.left_out) == {table} and set(result.rows) == TABLES - {table}


def test_restore_and_drill_refuse_a_damaged_manifest_naming_it(
    copied: Path,
    server: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    truncate(manifest_path(copied))
    named = f"the snapshot manifest {manifest_path(copied)} is damaged"
    with pytest.raises(RestoreError, match=f"^stripe: cannot restore: {named}"):
        restore_vendor(copied, "stripe", tmp_path / "out", allow_partial=True)
    report = drill(copied, "stripe")
    assert not report.ok and report.problems == [
        f"{named} (truncated or not valid JSON); the next `lifeboat sync stripe` or "
        "`lifeboat doctor` rebuilds it from the live copy"
    ]
    assert (
        run_cli(["restore", "stripe", "--to", str(tmp_path / "cli")], copied, server, monkeypatch)
        == LifeboatError.exit_code
    )
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and named in err and "Traceback" not in out + err


def make_database(path: Path, rows: int = 50_000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE charges AS SELECT i AS id, md5(i::VARCHAR) AS note FROM range(?) t(i)",
            [rows],
        )
    return path


def test_check_database_tells_damaged_from_busy(tmp_path: Path) -> None:
    database = make_database(tmp_path / "warehouse" / "stripe.duckdb")
    assert check_database(database) is None
    assert check_database(tmp_path / "warehouse" / "none.duckdb") is None

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(database)!r}); "
            "print('open', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        busy = check_database(database)
    finally:
        holder.communicate("")
    assert busy is not None and busy.kind == "busy"
    assert (
        busy.text
        == f"the copy {database} is busy (a sync is writing it), so its health was not checked"
    )

    size = database.stat().st_size
    truncate(database)  # DuckDB still opens it: only its length against its header tells
    damaged = check_database(database)
    assert damaged is not None and damaged.kind == "damaged"
    assert damaged.text == (
        f"the copy {database} is damaged or unreadable (cut short: {size // 2:,} of {size:,} bytes)"
    )
    assert damaged.repair == (
        "the next `lifeboat sync stripe` or `lifeboat doctor` sets it aside and rebuilds it "
        "from the snapshots"
    )

    database.write_bytes(b"not a database " * 1000)
    garbled = check_database(database)
    assert garbled is not None and garbled.kind == "damaged"
    assert "not a valid DuckDB database file" in garbled.text and "\n" not in garbled.sentence


def _delete_state_part(home: Path) -> None:
    part = read_manifest(snapshot_dir(home, "stripe"))["tables"]["_dlt_loads"]["parts"][0]
    (snapshot_dir(home, "stripe") / part["file"]).unlink()


def _drop_state_from_manifest(home: Path) -> None:
    """As a snapshot taken before dlt's state was kept, but with its folders on disk."""
    edit_manifest(home, lambda m: [m["tables"].pop(table) for table in DLT_STATE_TABLES])


@pytest.mark.parametrize(
    "damage", [_delete_state_part, _drop_state_from_manifest], ids=["part", "manifest"]
)
def test_dlt_state_out_of_the_snapshot_is_nothing_to_tell_and_is_put_back(
    copied: Path,
    server: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
) -> None:
    damage(copied)
    directory = snapshot_dir(copied, "stripe")
    assert check_parts(directory) == [] and check_parts(directory, full=True) == []
    assert run_cli(["status"], copied, server, monkeypatch) == 0
    shown = capsys.readouterr().out
    assert "_dlt" not in shown and "snapshot" not in shown
    # The tables restore whole; without dlt's cursors the next sync lists everything once.
    restored = restore_vendor(copied, "stripe", tmp_path / "without")
    assert set(restored.rows) == TABLES and not restored.continues
    caplog.set_level(logging.INFO, logger="lifeboat")

    copy_stripe(server, copied)

    assert warnings(caplog) == []
    assert part_files(copied) == listed(copied)
    assert restore_vendor(copied, "stripe", tmp_path / "with").continues
    assert drill(copied, "stripe").ok


def test_history_counts_the_vendor_records_not_dlt_state(copied: Path) -> None:
    history = vendor_history(copied, vendors()["stripe"])
    held = table_counts(warehouse_path(copied, "stripe"), DATASET)
    assert history.rows[-1][1] == sum(held.values())

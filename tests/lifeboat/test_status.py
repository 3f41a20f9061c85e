"""`lifeboat status` says when a vendor's manifest or DuckDB file is damaged, or busy, and
what rebuilds it, instead of crashing or calling a broken copy healthy."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.server import EmulatorServer
from lifeboat import cli
from lifeboat.config import Inventory, inventory, load_inventory
from lifeboat.paths import DataHome
from lifeboat.status import copy_status, format_table, set_aside
from pipelines.base import VendorContext
from pipelines.registry import vendors
from pipelines.runner import sync
from tests.keys import STRIPE_KEY

SCALE = {"stripe.customers": 20, "stripe.charges": 60, "stripe.invoices": 20}


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator(SCALE)


@pytest.fixture
def config(
    server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    path = tmp_path / "lifeboat.yaml"
    path.write_text(
        f"vendors:\n  stripe:\n    base_url: {server.url}/stripe\n"
        "    credentials: {api_key: STATUS_TEST_STRIPE_KEY}\n"
    )
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(path))
    monkeypatch.setenv("STATUS_TEST_STRIPE_KEY", STRIPE_KEY)
    inventory.cache_clear()
    yield path
    inventory.cache_clear()


@pytest.fixture
def copied(server: EmulatorServer, home: Path) -> Path:
    sync(VendorContext("stripe", f"{server.url}/stripe", {"api_key": STRIPE_KEY}), home)
    return home


def bound(config: Path) -> Inventory:
    return load_inventory(config, vendors())


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_status_names_a_damaged_manifest_instead_of_crashing(
    copied: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = DataHome(copied).manifest("stripe")
    truncate(manifest)

    shown = format_table(copy_status(copied, bound(config)))

    assert shown.splitlines()[-1] == (
        f"Stripe: the snapshot manifest {manifest} is damaged (truncated or not valid JSON); "
        "the next `lifeboat sync stripe` or `lifeboat doctor` rebuilds it from the live copy"
    )
    assert "unknown" in shown.splitlines()[2]  # its last copy is not "never"
    assert set_aside(copied, bound(config)) == {}
    assert cli.main(["status"]) == 0
    out, err = capsys.readouterr()
    assert f"Stripe: the snapshot manifest {manifest} is damaged" in out
    assert "Traceback" not in out + err


def test_status_says_a_truncated_duckdb_file_is_damaged_and_what_rebuilds_it(
    copied: Path, config: Path
) -> None:
    healthy = format_table(copy_status(copied, bound(config), check_files=True))
    assert "Stripe:" not in healthy  # a sound copy adds no line
    database = DataHome(copied).warehouse("stripe")
    truncate(database)

    shown = format_table(copy_status(copied, bound(config), check_files=True))

    [line] = [text for text in shown.splitlines() if text.startswith("Stripe: ")]
    assert line.startswith(f"Stripe: the copy {database} is damaged or unreadable (")
    assert line.endswith(
        "; the next `lifeboat sync stripe` or `lifeboat doctor` sets it aside and rebuilds it "
        "from the snapshots"
    )


def test_status_says_a_copy_a_sync_is_writing_is_busy_not_damaged(
    copied: Path, config: Path
) -> None:
    database = DataHome(copied).warehouse("stripe")
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
        shown = format_table(copy_status(copied, bound(config), check_files=True))
    finally:
        holder.communicate("")
    assert shown.splitlines()[-1] == (
        f"Stripe: the copy {database} is busy (a sync is writing it), so its health was not "
        "checked; check again once the sync is done"
    )
    assert "damaged" not in shown


def test_status_names_a_missing_snapshot_part(copied: Path, config: Path) -> None:
    snapshots = DataHome(copied).snapshots("stripe")
    part = next((snapshots / "charges").glob("*.parquet"))
    part.unlink()
    shown = format_table(copy_status(copied, bound(config), check_files=True))
    assert shown.splitlines()[-1] == (
        f"Stripe: snapshot part charges/{part.name} is missing; the next `lifeboat sync "
        "stripe` or `lifeboat doctor` rebuilds it from the live copy"
    )

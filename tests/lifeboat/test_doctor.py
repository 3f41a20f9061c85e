"""`lifeboat doctor` says what a stopped run or a damaged file left, and repairs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lifeboat.config import load_inventory
from lifeboat.doctor import examine
from pipelines.base import VendorContext
from pipelines.recovery import sync_lock
from pipelines.restore import drill
from pipelines.runner import snapshot_dir, sync
from pipelines.snapshot import read_manifest
from tests.keys import STRIPE_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def copied(make_emulator, home: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Stripe copied once; returns the data home and an inventory naming the emulator."""
    server = make_emulator({"stripe.charges": 500})
    sync(VendorContext("stripe", f"{server.url}/stripe", {"api_key": STRIPE_KEY}), home)
    config = tmp_path / "lifeboat.yaml"
    config.write_text(f"vendors:\n  stripe:\n    base_url: {server.url}/stripe\n")
    return home, config


def doctor(home: Path, config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIFEBOAT_HOME": str(home), "LIFEBOAT_CONFIG": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "lifeboat.cli", "doctor"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def _tamper(home: Path, table: str) -> None:
    """Change bytes inside a part, keeping its size: only a full checksum sees it."""
    manifest = read_manifest(snapshot_dir(home, "stripe"))
    part = snapshot_dir(home, "stripe") / manifest["tables"][table]["parts"][-1]["file"]
    data = bytearray(part.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    part.write_bytes(bytes(data))


def test_a_healthy_copy_is_said_healthy(copied: tuple[Path, Path]) -> None:
    done = doctor(*copied)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "Stripe: healthy (copy readable; snapshot parts match their checksums)"
    )


def test_a_changed_part_and_a_damaged_manifest_are_repaired_and_said(
    copied: tuple[Path, Path],
) -> None:
    home, config = copied
    _tamper(home, "charges")
    assert not drill(home, "stripe").ok
    manifest = snapshot_dir(home, "stripe") / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])
    done = doctor(home, config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = done.stdout.strip().splitlines()
    assert line.startswith("Stripe: repaired: ")
    assert "manifest" in line
    assert drill(home, "stripe").ok
    again = doctor(home, config)
    assert again.returncode == 0
    assert "healthy" in again.stdout


def test_a_same_size_change_to_a_part_is_found_only_by_the_full_check(
    copied: tuple[Path, Path],
) -> None:
    home, config = copied
    _tamper(home, "customers")
    found = examine(home, load_inventory(config).bind(_registry()), "stripe")
    assert found.healthy, found.line()
    assert any("customers did not match their checksums" in r for r in found.repaired)
    assert drill(home, "stripe").ok


def test_a_vendor_being_copied_is_left_alone(copied: tuple[Path, Path]) -> None:
    home, config = copied
    with sync_lock(home, "stripe"):
        found = examine(home, load_inventory(config).bind(_registry()), "stripe")
    assert not found.healthy
    assert found.line().startswith("Stripe: not checked: another run is copying it now")


def _registry():
    from pipelines.registry import vendors

    return vendors()


def test_a_dagster_run_killed_mid_copy_is_marked_failed_and_its_pool_slot_freed(
    copied: tuple[Path, Path],
) -> None:
    import dagster as dg

    from lifeboat.instance import RUN_HOST_TAG, RUN_PID_TAG, RUN_PROCESS_START_TAG, dagster_home

    home, config = copied
    dagster_home(home)
    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(
            dg.GraphDefinition(name="copy_stripe").to_job(), status=dg.DagsterRunStatus.STARTED
        )
        instance.add_run_tags(
            run.run_id,
            {
                RUN_PID_TAG: str(os.getpid()),  # this pid, but not the process that started
                RUN_HOST_TAG: __import__("socket").gethostname(),
                RUN_PROCESS_START_TAG: "1",  # at boot: a process the pid no longer names
            },
        )
        storage = instance.event_log_storage
        storage.set_concurrency_slots("vendor_stripe", 1)
        claim = storage.claim_concurrency_slot("vendor_stripe", run.run_id, "copy_stripe")
        assert claim.is_claimed
    done = doctor(home, config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == (
        f"Dagster: 1 run(s) had stopped without a word (killed or crashed): marked failed, "
        f"their pool slots freed ({run.run_id})"
    )
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        info = instance.event_log_storage.get_concurrency_info("vendor_stripe")
        assert info.active_slot_count == 0

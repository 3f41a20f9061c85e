"""Damaged files between two syncs: the DuckDB file, the manifest, the Parquet parts.

A file cut short, deleted or changed is found by the next sync, which repairs it (from the
copy or the snapshots) and goes on, or stops with one sentence; either way the run after it
succeeds with no manual step, and the copy and its snapshots end as a clean run's. A
read-only copy is a fault that ends: the run fails with a sentence and harms nothing, and
once it is writable again the next run finishes the copy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lifeboat.paths import DataHome
from tests.faults.harness import (
    VENDOR,
    Lab,
    ReadOnly,
    Row,
    Scene,
    differences,
    drill_problems,
    shrunk,
    succeeded,
    told_failure,
    told_outcome,
)


def _cut_in_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _first_part(home: Path, table: str) -> Path:
    directory = DataHome(home).snapshots(VENDOR)
    manifest = json.loads((directory / "manifest.json").read_text())
    return directory / manifest["tables"][table]["parts"][0]["file"]


def truncate_database(home: Path) -> None:
    _cut_in_half(DataHome(home).warehouse(VENDOR))


def truncate_manifest(home: Path) -> None:
    _cut_in_half(DataHome(home).manifest(VENDOR))


def delete_manifest(home: Path) -> None:
    DataHome(home).manifest(VENDOR).unlink()


def drop_table_from_manifest(home: Path) -> None:
    """A manifest that no longer lists charges: valid JSON, checksums of what it lists fine."""
    path = DataHome(home).manifest(VENDOR)
    manifest = json.loads(path.read_text())
    del manifest["tables"]["charges"]
    path.write_text(json.dumps(manifest, indent=2))


def delete_part(home: Path) -> None:
    _first_part(home, "charges").unlink()


def change_part(home: Path) -> None:
    """Bytes in the middle of a part changed, its size the same (bit rot, a bad copy)."""
    part = _first_part(home, "charges")
    data = bytearray(part.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    part.write_bytes(bytes(data))


@dataclass(frozen=True)
class DamageCase:
    file: str
    damage: str
    harm: Callable[[Path], None]
    interface: str = "cli"
    phase: str = "between syncs"

    @property
    def id(self) -> str:
        return f"{self.file}/{self.damage}/later/{self.interface}"

    @property
    def fault(self) -> str:
        return f"{self.file} {self.damage}"


CASES = [
    DamageCase("duckdb", "truncated", truncate_database),
    DamageCase("manifest", "truncated", truncate_manifest),
    DamageCase("manifest", "missing", delete_manifest),
    DamageCase("manifest", "tampered", drop_table_from_manifest),
    DamageCase("parquet", "missing", delete_part),
    DamageCase("parquet", "tampered", change_part),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_damaged_file_is_repaired_or_named_and_the_next_run_succeeds(
    case: DamageCase, row: Row, lab: Lab, scenes: Callable[..., Scene]
) -> None:
    scene = scenes("later")
    before = scene.copy()
    case.harm(scene.home)

    found = scene.run(case.interface)
    during = scene.copy()
    after = scene.run(case.interface)

    row.check("told", told_outcome(found, case.interface))
    row.check("next run", succeeded(after, "next run"))
    # A damaged DuckDB file is itself the loss; any other damage must not cost the copy.
    kept = [] if case.file == "duckdb" else shrunk(before, during)
    row.check(
        "copy",
        kept + differences(scene.copy(), lab.reference("later")) + drill_problems(scene.home),
    )
    row.conclude()


@dataclass(frozen=True)
class ReadOnlyCase:
    id: str = "duckdb/read-only/later/cli"
    fault: str = "duckdb read-only"
    phase: str = "between syncs"
    interface: str = "cli"


READ_ONLY = [ReadOnlyCase()]


@pytest.mark.parametrize("case", READ_ONLY, ids=[case.id for case in READ_ONLY])
def test_a_read_only_copy_fails_in_one_sentence_and_the_next_run_succeeds(
    case: ReadOnlyCase, row: Row, lab: Lab, scenes: Callable[..., Scene], read_only: ReadOnly
) -> None:
    scene = scenes("later")
    before = scene.copy()
    read_only.freeze(DataHome(scene.home).warehouse_dir)

    failed = scene.run(case.interface)
    during = scene.copy()
    read_only.thaw()
    after = scene.run(case.interface)

    row.check("told", told_failure(failed, case.interface))
    row.check("next run", succeeded(after, "next run"))
    row.check(
        "copy",
        shrunk(before, during)
        + differences(scene.copy(), lab.reference("later"))
        + drill_problems(scene.home),
    )
    row.conclude()

"""`lifeboat doctor`: what a stopped run, a full disk or a damaged file left, and its repair.

Every sync already recovers its vendor before it writes; the doctor does the same on
demand, for every vendor, without asking any vendor for anything, and goes further than a
sync can afford to: it reads every snapshot part in full for its SHA-256 and every table
of the DuckDB file. What it finds, and what it did about it, is said one line per vendor.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lifeboat.config import Inventory, home, inventory
from lifeboat.errors import EXIT_FOUND_PROBLEM, EXIT_OK, CopyBusy, LifeboatError
from lifeboat.instance import dagster_home, release_stopped_runs
from lifeboat.paths import DataHome
from pipelines.registry import vendors


@dataclass
class Diagnosis:
    """One vendor: what was found wrong, what was repaired, what a person must still do."""

    vendor: str
    title: str
    repaired: list[str] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)
    busy: str | None = None

    @property
    def healthy(self) -> bool:
        return not self.remaining and self.busy is None

    def line(self) -> str:
        if self.busy:
            return f"{self.title}: not checked: {self.busy}"
        if self.remaining:
            done = f" (repaired: {'; '.join(self.repaired)})" if self.repaired else ""
            return f"{self.title}: NEEDS A PERSON: {'; '.join(self.remaining)}{done}"
        if self.repaired:
            return f"{self.title}: repaired: {'; '.join(self.repaired)}"
        return f"{self.title}: healthy (copy readable; snapshot parts match their checksums)"


def _set_aside_parts(directory: Path, files: list[str]) -> Path:
    """Move changed snapshot parts into `damaged-<time>/` (kept), so the next snapshot
    sees them as missing and rebuilds their tables from the live copy."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = directory / f"damaged-{stamp}"
    for name in files:
        source = directory / name
        if source.exists():
            target = aside / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    return aside


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Hold back a logger's warnings: the doctor says what it repaired in its own line."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def examine(data: Path, inv: Inventory, vendor: str) -> Diagnosis:
    """Recover `vendor` as a sync would, then check its files in full and repair them."""
    import duckdb

    from pipelines.integrity import check_copy, check_parts
    from pipelines.recovery import recover, sync_lock
    from pipelines.runner import make_pipeline, snapshot_copy, storage_failure, table_keys
    from pipelines.snapshot import read_manifest

    diagnosis = Diagnosis(vendor, inv.registry.title(vendor))
    layout = DataHome(data)
    try:
        with sync_lock(data, vendor):
            pipeline = make_pipeline(vendor, data)
            repairs = recover(pipeline, data, vendor, lambda: table_keys(inv.registry[vendor]))
            if repairs:
                diagnosis.repaired += [repair.text for repair in repairs]
            if not layout.warehouse(vendor).exists():
                return diagnosis  # never copied: nothing to check
            directory = layout.snapshots(vendor)
            try:
                manifest = read_manifest(directory)
                changed = [
                    p.table for p in check_parts(directory, full=True, manifest=manifest) if p.table
                ]
            except LifeboatError:
                manifest, changed = None, []
            problems = [p for p in check_copy(data, vendor) if p.table not in changed]
            if changed:
                files = [
                    part["file"]
                    for table in set(changed)
                    for part in manifest["tables"].get(table, {}).get("parts", [])
                ]
                aside = _set_aside_parts(directory, files)
                diagnosis.repaired.append(
                    f"snapshot parts of {', '.join(sorted(set(changed)))} did not match their "
                    f"checksums (kept in {aside.name}/) and were rebuilt from the live copy"
                )
            if changed or problems:
                # Rewrites a damaged manifest and rebuilds every table whose parts are
                # missing or changed from the live copy (its own warning is said above).
                with _quiet("lifeboat.sync"):
                    snapshot_copy(data, vendor, [])
                diagnosis.repaired += [f"{p.text}; rebuilt from the live copy" for p in problems]
            diagnosis.remaining += [p.sentence for p in check_copy(data, vendor)]
    except CopyBusy as busy:
        diagnosis.busy = str(busy).removeprefix(f"{vendor}: ")
    except duckdb.Error as exc:  # another program holds the file: said as a sync says it
        if (named := storage_failure(exc, vendor, data)) is None:
            raise
        diagnosis.busy = str(named).removeprefix(f"{vendor}: ")
    return diagnosis


def cmd_doctor(args: argparse.Namespace) -> int:
    inv = inventory().bind(vendors())
    chosen = args.vendors or list(inv.enabled_vendors())
    for vendor in chosen:
        if vendor not in inv.vendors:
            raise LifeboatError(f"{vendor}: not in {inv.source_path}; add it under vendors:")
    stopped = release_dagster_runs(home())
    if stopped:
        print(
            f"Dagster: {len(stopped)} run(s) had stopped without a word (killed or crashed): "
            f"marked failed, their pool slots freed ({', '.join(stopped)})"
        )
    results = [examine(home(), inv, vendor) for vendor in chosen]
    for result in results:
        print(result.line())
    return EXIT_OK if all(r.healthy for r in results) else EXIT_FOUND_PROBLEM


def release_dagster_runs(data: Path) -> list[str]:
    """Runs of the data home's Dagster instance whose process is gone (see
    `lifeboat.instance.release_stopped_runs`); none when Dagster never ran here."""
    if not (DataHome(data).dagster_dir / "dagster.yaml").exists():
        return []
    import dagster as dg

    dagster_home(data)
    with dg.DagsterInstance.get() as instance:
        return release_stopped_runs(instance)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `doctor` to the `lifeboat` command."""
    doctor = subparsers.add_parser(
        "doctor",
        help="find and repair what a stopped run or a damaged file left behind",
        description=(
            "Check each vendor's copy, snapshots and manifest in full, repair what a killed "
            "run, a full disk or a damaged file left, and say what was found and done."
        ),
    )
    doctor.add_argument("vendors", nargs="*", help="vendors to check (default: all enabled)")
    doctor.set_defaults(func=cmd_doctor)

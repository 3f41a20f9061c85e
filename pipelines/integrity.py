"""Checks of a vendor's DuckDB file, manifest and Parquet parts, each said in one sentence.

`lifeboat status`, `lifeboat restore`, the restore drill and `lifeboat doctor` share them,
so a damaged file is named the same way wherever it is found, with what repairs it.

The snapshot of dlt's state tables is checked apart (`state_intact`): they are not datasets,
and when their snapshot is damaged a restore leaves them out, which costs one full listing
and nothing a person needs to hear of.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from lifeboat.paths import DataHome
from pipelines.settings import DLT_STATE_TABLES
from pipelines.snapshot import ManifestDamaged, listed_files, part_state, read_manifest

Kind = Literal["damaged", "busy", "missing", "mismatch"]

# DuckDB's words when another process (a running sync) holds the file's write lock.
_LOCKED = "Could not set lock"
# A DuckDB error can run to several lines; a person needs the first, not a dump.
_DETAIL_CHARS = 120
# A DuckDB file is three 4 KiB headers, then as many blocks as its header counts.
_HEADER_BYTES = 3 * 4096


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a vendor's files: what, and what puts it right."""

    text: str
    repair: str = ""
    kind: Kind = "damaged"
    table: str | None = None
    reason: str = ""  # the cause alone, for a sentence that frames it differently

    @property
    def sentence(self) -> str:
        return f"{self.text}; {self.repair}" if self.repair else self.text


def _rebuild_snapshot(vendor: str) -> str:
    return f"the next `lifeboat sync {vendor}` or `lifeboat doctor` rebuilds it from the live copy"


def _rebuild_copy(vendor: str) -> str:
    return (
        f"the next `lifeboat sync {vendor}` or `lifeboat doctor` sets it aside and rebuilds it "
        "from the snapshots"
    )


def manifest_problem(damaged: ManifestDamaged) -> Problem:
    """The problem a damaged manifest is, for whoever caught ManifestDamaged."""
    return Problem(str(damaged), _rebuild_snapshot(damaged.path.parent.name))


def check_manifest(directory: Path) -> Problem | None:
    """Whether the vendor's manifest (in its snapshot directory) can be read."""
    try:
        read_manifest(directory)
    except ManifestDamaged as damaged:
        return manifest_problem(damaged)
    return None


def _changed(part: dict[str, Any]) -> str:
    # The cheap check too reads a part for its checksum before it calls it changed.
    return (
        f"snapshot part {part['file']} does not match its checksum "
        "(changed or damaged since it was written)"
    )


def _listed_problems(directory: Path, table: str, entry: dict, full: bool) -> list[Problem]:
    repair = _rebuild_snapshot(directory.name)
    found = []
    for part in entry["parts"]:
        state = part_state(directory, part, full=full)
        if state == "missing":
            text = f"snapshot part {part['file']} is missing"
            found.append(Problem(text, repair, "missing", table))
        elif state == "changed":
            found.append(Problem(_changed(part), repair, "mismatch", table))
    recorded = entry.get("rows")
    held = sum(int(part["rows"]) for part in entry["parts"])
    if isinstance(recorded, int) and held < recorded:
        text = (
            f"the snapshot parts of {table} hold {held:,} rows, fewer than the {recorded:,} "
            "the manifest records"
        )
        found.append(Problem(text, repair, "mismatch", table))
    return found


def _unlisted_problems(directory: Path, manifest: dict) -> list[Problem]:
    """Part files on disk that the manifest does not list: it lost them, or a run stopped."""
    repair = _rebuild_snapshot(directory.name)
    listed = listed_files(manifest)
    tables = manifest["tables"]
    found = []
    folders = (p for p in directory.iterdir() if p.is_dir() and p.name not in DLT_STATE_TABLES)
    for folder in sorted(folders):
        stray = sorted(
            path.relative_to(directory).as_posix()
            for path in folder.glob("*.parquet")
            if path.relative_to(directory).as_posix() not in listed
        )
        if not stray:
            continue
        if folder.name not in tables:
            text = f"{folder.name} has snapshot parts on disk but is missing from the manifest"
        else:
            text = f"snapshot part {stray[0]} is not listed in the manifest" + (
                f" (nor are {len(stray) - 1} more)" if len(stray) > 1 else ""
            )
        found.append(Problem(text, repair, "mismatch", folder.name))
    return found


def check_parts(directory: Path, full: bool = False, manifest: dict | None = None) -> list[Problem]:
    """Where the manifest and the Parquet parts of the vendor's tables disagree.

    Cheap by default (existence, sizes and times: what every sync checks too); `full` reads
    every part for its SHA-256, as restore, the drill and `lifeboat doctor` do. dlt's state
    tables are left to `state_intact`.
    """
    if manifest is None:
        try:
            manifest = read_manifest(directory)
        except ManifestDamaged as damaged:
            return [manifest_problem(damaged)]
    if not directory.is_dir():
        return []
    found = []
    for table, entry in sorted(manifest["tables"].items()):
        if table not in DLT_STATE_TABLES:
            found += _listed_problems(directory, table, entry, full)
    return found + _unlisted_problems(directory, manifest)


def state_intact(directory: Path, manifest: dict) -> bool:
    """Whether the snapshot holds each of dlt's state tables whole (SHA-256 checked)."""
    for table in DLT_STATE_TABLES:
        entry = manifest["tables"].get(table)
        if not entry or not entry["parts"] or _listed_problems(directory, table, entry, True):
            return False
    return True


def missing_from_manifest(
    directory: Path, manifest: dict, declared: Iterable[str], live: Iterable[str]
) -> list[Problem]:
    """Datasets the vendor declares and the live copy holds, but the manifest lacks."""
    absent = (set(declared) & set(live)) - set(manifest["tables"])
    return [
        Problem(
            f"{table} is held in the live copy but missing from the snapshot manifest",
            _rebuild_snapshot(directory.name),
            "missing",
            table,
        )
        for table in sorted(absent)
    ]


def _detail(error: Exception, path: Path) -> str:
    """DuckDB's first line, with the file's name for the path the sentence already gave."""
    line = (str(error).splitlines() or [type(error).__name__])[0]
    line = line.removeprefix("IO Error: ").replace(str(path), path.name).strip()
    return line if len(line) <= _DETAIL_CHARS else line[: _DETAIL_CHARS - 3] + "..."


def _read_database(path: Path) -> str | None:
    """Open the file read-only, count each table, and compare its length with its header's.

    Returns why it is damaged, or None; DuckDB's own error escapes when it cannot open it.
    """
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()
        _, _, block_size, total_blocks, *_ = con.execute("PRAGMA database_size").fetchone()
    expected = _HEADER_BYTES + int(block_size) * int(total_blocks)
    size = path.stat().st_size
    return f"cut short: {size:,} of {expected:,} bytes" if size < expected else None


def check_database(path: Path) -> Problem | None:
    """Whether a vendor's DuckDB file opens, its tables count and its length is whole.

    Cheap on purpose (about 20 ms, read-only): it finds a file truncated, garbled or
    unreadable, not every damaged block. A file a running sync holds is busy, not
    damaged. A file that does not exist is not checked.
    """
    if not path.exists():
        return None
    try:
        reason = _read_database(path)
    except duckdb.Error as error:
        if _LOCKED in str(error):
            return Problem(
                f"the copy {path} is busy (a sync is writing it), so its health was not checked",
                "check again once the sync is done",
                "busy",
            )
        reason = _detail(error, path)
    except OSError as error:
        reason = _detail(error, path)
    if reason is None:
        return None
    return Problem(
        f"the copy {path} is damaged or unreadable ({reason})",
        _rebuild_copy(path.stem),
        reason=reason,
    )


def check_copy(home: Path, vendor: str, parts: bool = True) -> list[Problem]:
    """A vendor's DuckDB file, manifest and (cheaply) parts: what `lifeboat status` shows."""
    data = DataHome(home)
    directory = data.snapshots(vendor)
    try:
        manifest = read_manifest(directory)
    except ManifestDamaged as damaged:
        found = [manifest_problem(damaged)]
        manifest = None
    else:
        found = check_parts(directory, manifest=manifest) if parts else []
    database = data.warehouse(vendor)
    if (problem := check_database(database)) is not None:
        found.insert(0, problem)
    elif not database.exists() and manifest and manifest["tables"]:
        found.insert(
            0, Problem(f"the copy {database} is missing", _rebuild_copy(vendor), "missing")
        )
    return found

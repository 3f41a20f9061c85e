"""Schema drift: a field the vendor adds becomes a new column; a value that no longer fits
its column is quarantined with the whole record, never dropped and never truncated.

Each connector declares the columns it copies (`COLUMNS` in its settings). While a sync
runs, the records of every dataset are read through a `Shape`:

- A top-level field none of the declared columns reads (and not seen before) is added as
  a column of its own, typed from its values (text, whole number, number, true/false, or
  JSON text for objects and lists). It is announced when the dataset had already been
  copied: on a dataset's first copy every field is simply kept. A field sent only empty so
  far becomes a column when its first value comes, without an announcement.
- A value that does not fit its column (text where a whole number was, a number with a
  fraction in a whole-number column, an object where text was, a missing key) sets the
  record aside: the record goes, whole and as the vendor sent it, to the `_quarantine`
  table of the vendor's DuckDB file; the copy keeps its earlier version of that record.

What a dataset's shape has become is kept in the dlt resource state, so it is committed
with the load that brought it, and a run that never loads leaves it as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import orjson
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.extract.state import get_current_pipe_name

from lifeboat.columns import Column, value_at
from lifeboat.settings import QUARANTINE_TABLE
from pipelines.settings import DUCKDB_CONFIG

log = logging.getLogger("lifeboat.drift")

# How much of an offending value a quarantine row and an announcement quote.
QUOTE_CHARS = 120
_STATE_KEY = "shape"
_NAMING = NamingConvention()


def quote_value(value: Any) -> str:
    """A short, readable rendering of a vendor value (JSON), for messages and the quarantine."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


def infer_kind(values: Sequence[Any]) -> str | None:
    """The column kind for a new field from its values; None when every value is null."""
    seen = {type(v) for v in values if v is not None}
    if not seen:
        return None
    if seen & {dict, list}:
        return "json"
    if str in seen:
        return "string"
    if float in seen:
        return "float"
    if seen == {bool}:
        return "bool"
    if seen <= {int}:
        return "int"
    return "string"  # e.g. true/false mixed with numbers: kept as text


@dataclass(frozen=True)
class Problem:
    """One value of a record that does not fit its column."""

    column: str
    expected: str
    received: str  # the value as the vendor sent it, quoted


@dataclass
class Misfit:
    """A record set aside: its dataset, key, what did not fit, and the record itself."""

    dataset: str
    key: dict[str, Any]
    problems: list[Problem]
    record: dict[str, Any]
    seen_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class DatasetDrift:
    """What changed in one dataset's shape during one run."""

    dataset: str
    added: dict[str, str] = field(default_factory=dict)  # new column -> kind (announced)
    kept_silently: dict[str, str] = field(default_factory=dict)  # first copy's extra fields
    quarantined: int = 0
    misfit_columns: dict[str, Problem] = field(default_factory=dict)  # column -> an example
    newly_misfit: list[str] = field(default_factory=list)  # columns that began to misfit

    @property
    def announce(self) -> bool:
        return bool(self.added or self.newly_misfit)


class Shape:
    """The columns one dataset's records are read into during one run."""

    def __init__(
        self,
        dataset: str,
        declared: Sequence[Column],
        state: dict[str, Any],
        misfits: list[Misfit] | None = None,
    ) -> None:
        self.dataset = dataset
        self._misfits = misfits if misfits is not None else []
        self.declared = tuple(declared)
        self._resource_state = state
        saved = state.setdefault(_STATE_KEY, {"extra": {}, "misfit": [], "seen": False})
        self.established = bool(saved.get("seen"))  # an earlier run loaded records of it
        self._state = saved
        self._fresh = True  # no record of this run read yet
        self._extra: dict[str, list[str]] = saved.setdefault("extra", {})  # raw -> [name, kind]
        self._misfit_before = set(saved.get("misfit", []))
        self._names = {c.name for c in self.declared} | {v[0] for v in self._extra.values()}
        self._known = {c.keys[0] for c in self.declared} | set(self._extra)
        self._unusable: set[str] = set()
        self._null_only = set(saved.get("null_only", []))  # sent, but never with a value
        self.keys = tuple(c for c in self.declared if c.key)
        self.drift = DatasetDrift(dataset)
        self._columns = self._build()

    def _build(self) -> tuple[Column, ...]:
        extras = tuple(Column(name, kind, path=raw) for raw, (name, kind) in self._extra.items())
        return self.declared + extras

    def columns(self, records: Sequence[dict[str, Any]]) -> tuple[Column, ...]:
        """The columns to read `records` into: declared, plus every field the vendor added."""
        if not records:
            return self._columns
        if self._fresh:
            # What this run reads starts the record of which columns misfit afresh.
            self._fresh = False
            self._state["seen"] = True
            self._state["misfit"] = []
        fields = set().union(*records)
        new = fields - self._known - self._unusable
        if new:
            self._add(sorted(new), records)
        return self._columns

    def _add(self, raws: list[str], records: Sequence[dict[str, Any]]) -> None:
        for raw in raws:
            if "." in raw:
                # Columns read dotted paths into the record, so such a name cannot be one.
                self._unusable.add(raw)
                log.warning("%s: field %r has a dot in its name; not copied", self.dataset, raw)
                continue
            kind = infer_kind([r.get(raw) for r in records])
            if kind is None:
                # Only nulls so far: typed when a value arrives, and not news then (the
                # vendor sent the field all along).
                if raw not in self._null_only:
                    self._null_only.add(raw)
                    self._state["null_only"] = sorted(self._null_only)
                continue
            name = _NAMING.normalize_identifier(raw)
            while name in self._names:
                name += "_vendor"
            self._names.add(name)
            self._known.add(raw)
            self._extra[raw] = [name, kind]
            news = self.established and raw not in self._null_only
            (self.drift.added if news else self.drift.kept_silently)[name] = kind
            if raw in self._null_only:
                self._null_only.discard(raw)
                self._state["null_only"] = sorted(self._null_only)
        self._columns = self._build()

    def reject(self, record: dict[str, Any], found: list[tuple[str, str, Any]]) -> None:
        """Set a record aside; `found` lists (column, expected kind, value) that misfit."""
        key = {c.name: value_at(record, c.keys) for c in self.keys}
        problems = [Problem(column, kind, quote_value(value)) for column, kind, value in found]
        self.drift.quarantined += 1
        for problem in problems:
            self.drift.misfit_columns.setdefault(problem.column, problem)
            if problem.column not in self._state["misfit"]:
                self._state["misfit"].append(problem.column)
        self._misfits.append(Misfit(self.dataset, key, problems, record))

    def hold_cursor(self, typed: Callable[[list[dict[str, Any]], Column], list[Any]]) -> None:
        """Keep the dataset's cursor from passing the records set aside in this run.

        A record set aside is not in the copy (or only in its earlier version); if the
        cursor moved past it, no later run would ask for it again. Held at the earliest
        set-aside record, the next run lists from there: once the vendor sends those
        records in a shape that fits, they are copied (records listed again merge into
        the copy unchanged). `typed` reads a column's values as the cursor compares them.
        Called when a batch of the dataset's pages ends, after dlt's incremental saw it.
        """
        rejected = [m.record for m in self._misfits if m.dataset == self.dataset]
        if not rejected:
            return
        for path, cursor in self._resource_state.get("incremental", {}).items():
            column = next((c for c in self.declared if c.name == path), None)
            last = cursor.get("last_value") if isinstance(cursor, dict) else None
            if column is None or last is None:
                continue
            try:
                earliest = min(v for v in typed(rejected, column) if v is not None)
                if earliest < last:
                    cursor["last_value"] = earliest
                    cursor["unique_hashes"] = []
            except (ValueError, TypeError):
                continue  # no usable cursor value: the weekly reconciliation brings it

    def finish(self) -> DatasetDrift:
        """What this run found: including the columns that began to misfit (to announce)."""
        self.drift.newly_misfit = sorted(set(self.drift.misfit_columns) - self._misfit_before)
        return self.drift


class DriftCollector:
    """Everything one sync learns about drift: one `Shape` per dataset, and the misfits."""

    def __init__(self) -> None:
        self.shapes: dict[str, Shape] = {}
        self.misfits: list[Misfit] = []

    def shape(self, dataset: str, declared: Sequence[Column]) -> Shape:
        shape = self.shapes.get(dataset)
        if shape is None:
            shape = self.shapes[dataset] = Shape(
                dataset, declared, dlt.current.resource_state(dataset), self.misfits
            )
        return shape

    def finish(self) -> dict[str, DatasetDrift]:
        return {name: shape.finish() for name, shape in self.shapes.items()}

    def quarantined(self) -> dict[str, int]:
        return {name: s.drift.quarantined for name, s in self.shapes.items() if s.drift.quarantined}


_ACTIVE: ContextVar[DriftCollector | None] = ContextVar("lifeboat_drift", default=None)


@contextmanager
def collecting() -> Iterator[DriftCollector]:
    """Collect drift for the extract run inside the block (the runner wraps each extract)."""
    collector = DriftCollector()
    token = _ACTIVE.set(collector)
    try:
        yield collector
    finally:
        _ACTIVE.reset(token)


def current_shape(declared: Sequence[Column]) -> Shape | None:
    """The shape of the dlt resource running now, or None outside a collected extract."""
    collector = _ACTIVE.get()
    if collector is None:
        return None
    try:
        dataset = get_current_pipe_name()
    except Exception:  # not inside a dlt resource (a connector's helper called directly)
        return None
    return collector.shape(dataset, declared)


def write_quarantine(database: Path, dataset: str, misfits: Sequence[Misfit], load_id: str) -> int:
    """Append the run's set-aside records to `_quarantine` (each once); returns the rows
    written."""
    if not misfits:
        return 0
    rows = [
        (
            m.dataset,
            orjson.dumps(m.key, default=str).decode(),
            ", ".join(p.column for p in m.problems),
            orjson.dumps(
                [
                    {"column": p.column, "expected": p.expected, "received": p.received}
                    for p in m.problems
                ]
            ).decode(),
            orjson.dumps(m.record, default=str).decode(),
            m.seen_at,
            load_id,
        )
        for m in misfits
    ]
    table = f'"{dataset}"."{QUARANTINE_TABLE}"'
    with duckdb.connect(str(database), config=DUCKDB_CONFIG) as con:
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (dataset VARCHAR, record_key VARCHAR, "
            "columns VARCHAR, problems VARCHAR, record VARCHAR, seen_at TIMESTAMPTZ, "
            "_dlt_load_id VARCHAR)"
        )
        # A record set aside again (its cursor is held until it fits) is kept once.
        before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        con.executemany(
            f"INSERT INTO {table} SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM "
            f"{table} WHERE dataset = ? AND record_key = ? AND record = ?)",
            [(*row, row[0], row[1], row[4]) for row in rows],
        )
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - before


def quarantine_rows(database: Path, dataset: str) -> int:
    """Rows in the vendor file's quarantine (0 when nothing was ever set aside)."""
    if not database.exists():
        return 0
    with duckdb.connect(str(database), read_only=True) as con:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [dataset, QUARANTINE_TABLE],
        ).fetchone()[0]
        if not found:
            return 0
        return con.execute(f'SELECT count(*) FROM "{dataset}"."{QUARANTINE_TABLE}"').fetchone()[0]

"""Turn pages of vendor JSON into Arrow tables from a declared column list."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.settings import BATCH_ROWS

_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
}


@dataclass(frozen=True)
class Column:
    """A column of the copy: its name, where it sits in the vendor's record, and its type.

    `path` is a dotted path into the record ("billing_details.email"); `kind` is one of
    string, int, float, bool, timestamp (epoch seconds or ISO 8601), json (kept as text).
    `key` marks primary-key columns, declared non-null as dlt declares them.
    """

    name: str
    kind: str = "string"
    path: str | None = None
    key: bool = False  # part of the primary key: never null

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple((self.path or self.name).split("."))


def _get(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = record
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _timestamp(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _convert(kind: str, values: list[Any]) -> list[Any]:
    if kind == "timestamp":
        return [_timestamp(v) for v in values]
    if kind == "json":
        return [None if v is None else orjson.dumps(v).decode() for v in values]
    if kind == "string":
        return [None if v is None or isinstance(v, str) else str(v) for v in values]
    if kind == "float":
        return [None if v is None or v == "" else float(v) for v in values]
    if kind == "int":
        return [None if v is None or v == "" else int(v) for v in values]
    if kind == "bool":
        return [None if v is None else v in (True, "true", "True", 1, "1") for v in values]
    return values


def _array(kind: str, values: list[Any]) -> pa.Array:
    if kind == "timestamp":
        try:
            # Epoch seconds are the common case: convert in Arrow, not row by row.
            return (
                pa.array(values, type=pa.int64())
                .cast(pa.timestamp("s", tz="UTC"))
                .cast(_TYPES["timestamp"])
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    elif kind in ("int", "float", "bool"):
        try:
            return pa.array(values, type=_TYPES[kind])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    elif kind == "string" and all(v is None or isinstance(v, str) for v in values):
        return pa.array(values, type=pa.string())
    return pa.array(_convert(kind, values), type=_TYPES[kind])


def schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, _TYPES[c.kind], nullable=not c.key) for c in columns])


def to_table(records: Sequence[dict[str, Any]], columns: Sequence[Column]) -> pa.Table:
    """One Arrow table with exactly the declared columns, in order, typed.

    The fields Arrow can read straight from the dicts are converted in one pass in C++
    (a struct array, then its children); the rest (JSON text, odd types) row by row.
    """
    plan = _plan(tuple(columns), records)
    fast: dict[str, pa.Array] = {}
    if plan.struct_type.num_fields:
        try:
            struct = pa.array(records, type=plan.struct_type)
            for column in columns:
                if column.name in plan.fast:
                    fast[column.name] = _finish(column, _child(struct, column.keys))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            fast = {}  # an unexpected value somewhere: this batch goes the careful way
    arrays = [
        fast[column.name] if column.name in fast else _array(column.kind, _values(records, column))
        for column in columns
    ]
    return pa.Table.from_arrays(arrays, schema=schema(columns))


@dataclass(frozen=True)
class _Plan:
    struct_type: pa.StructType
    fast: frozenset[str]


_PLANS: dict[tuple[Column, ...], _Plan] = {}


def _plan(columns: tuple[Column, ...], records: Sequence[dict[str, Any]]) -> _Plan:
    """Which columns to read in the C++ pass, with the Arrow type to read each as."""
    plan = _PLANS.get(columns)
    if plan is not None:
        return plan
    tree: dict[str, Any] = {}
    fast = set()
    for column in columns:
        read_as = _read_type(column, records)
        if read_as is None:
            continue
        node = tree
        for key in column.keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            if column.keys[-1] not in node:
                node[column.keys[-1]] = read_as
                fast.add(column.name)
    plan = _PLANS[columns] = _Plan(_struct(tree), frozenset(fast))
    return plan


def _read_type(column: Column, records: Sequence[dict[str, Any]]) -> pa.DataType | None:
    if column.kind == "json":
        return None
    if column.kind != "timestamp":
        return _TYPES[column.kind]
    sample = next((v for r in records[:50] if (v := _get(r, column.keys)) is not None), None)
    if isinstance(sample, str):
        return None if sample.isdigit() else pa.string()
    return pa.int64()


def _struct(tree: dict[str, Any]) -> pa.StructType:
    return pa.struct(
        [
            pa.field(key, _struct(value) if isinstance(value, dict) else value)
            for key, value in tree.items()
        ]
    )


def _child(struct: pa.Array, keys: tuple[str, ...]) -> pa.Array:
    for key in keys:
        struct = pc.struct_field(struct, key)
    return struct


def _finish(column: Column, array: pa.Array) -> pa.Array:
    if column.kind != "timestamp":
        return array
    if pa.types.is_integer(array.type):
        return array.cast(pa.timestamp("s", tz="UTC")).cast(_TYPES["timestamp"])
    return array.cast(_TYPES["timestamp"])


def _values(records: Sequence[dict[str, Any]], column: Column) -> list[Any]:
    keys = column.keys
    if len(keys) == 1:
        key = keys[0]
        return [r.get(key) for r in records]
    return [_get(r, keys) for r in records]


def batched_tables(
    pages: Iterable[Sequence[dict[str, Any]]], columns: Sequence[Column], rows: int = BATCH_ROWS
) -> Iterator[pa.Table]:
    """Gather pages into tables of about `rows` rows, so memory stays flat and batches big."""
    pending: list[dict[str, Any]] = []
    for page in pages:
        pending.extend(page)
        if len(pending) >= rows:
            yield to_table(pending, columns)
            pending = []
    if pending:
        yield to_table(pending, columns)

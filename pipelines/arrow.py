"""Turn pages of vendor JSON into Arrow tables from a declared column list."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from lifeboat.columns import Column, value_at
from pipelines.drift import current_shape
from pipelines.settings import BATCH_ROWS

__all__ = ["Column", "batched_tables", "schema", "to_table", "value_at"]

_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "json": pa.string(),
}


def _timestamp(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError("true/false is not a time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise TypeError("not a time")
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _date(value: Any) -> date | None:
    """A calendar day: ISO 8601 (2026-01-31) or compact (20260131, as GA4 writes dates)."""
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError("not a date")
    if len(value) == 8 and value.isdigit():
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    return date.fromisoformat(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        raise TypeError("an object is not text")
    return str(value)


def _whole(value: Any) -> int | None:
    # true/false reads as 1/0, as it does in Arrow's own pass (and in Python).
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("has a fraction")
        return int(value)
    if isinstance(value, str):
        return None if value == "" else int(value)
    raise TypeError("not a number")


def _number(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return None if value == "" else float(value)
    raise TypeError("not a number")


# True and False also match 1 and 0 (equal in Python).
_TRUTH = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}


def _truth(value: Any) -> bool:
    if isinstance(value, str):
        value = value.lower()
    if isinstance(value, dict | list) or value not in _TRUTH:
        raise ValueError("not true/false")
    return _TRUTH[value]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


# How each kind reads one vendor value; a value that does not fit raises.
_CONVERTERS = {
    "string": _text,
    "int": _whole,
    "float": _number,
    "bool": _truth,
    "timestamp": _timestamp,
    "date": _date,
    "json": _json,
}
_MISFITS = (ValueError, TypeError, OverflowError, OSError)


def _convert(kind: str, values: list[Any]) -> tuple[list[Any], list[int]]:
    """Each value read as `kind`, and the positions of the values that do not fit (as None)."""
    read = _CONVERTERS[kind]
    out: list[Any] = []
    misfits: list[int] = []
    for index, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(read(value))
        except _MISFITS:
            out.append(None)
            misfits.append(index)
    return out, misfits


def _array(kind: str, values: list[Any]) -> tuple[pa.Array, list[int]]:
    """An Arrow array of `values` read as `kind`, and the positions that do not fit."""
    if kind == "timestamp":
        try:
            # Epoch seconds are the common case: convert in Arrow, not row by row.
            return (
                pa.array(values, type=pa.int64())
                .cast(pa.timestamp("s", tz="UTC"))
                .cast(_TYPES["timestamp"]),
                [],
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    elif kind == "int":
        # Arrow would truncate 12.5 to 12 if asked for int64: let it infer, accept only ints.
        try:
            inferred = pa.array(values)
            if pa.types.is_integer(inferred.type) or pa.types.is_null(inferred.type):
                return inferred.cast(pa.int64()), []
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    elif kind in ("float", "bool"):
        try:
            return pa.array(values, type=_TYPES[kind]), []
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    elif kind == "string" and all(v is None or isinstance(v, str) for v in values):
        return pa.array(values, type=pa.string()), []
    converted, misfits = _convert(kind, values)
    return pa.array(converted, type=_TYPES[kind]), misfits


def schema(columns: Sequence[Column], nullable_keys: bool = False) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, _TYPES[c.kind], nullable=nullable_keys or not c.key) for c in columns]
    )


class Misfit(ValueError):
    """A vendor value that does not fit its column, outside a sync that can set it aside."""


# Called with a record set aside and what in it did not fit (see pipelines.drift).
Reject = Callable[[dict[str, Any], list[tuple[str, str, Any]]], None]


def to_table(
    records: Sequence[dict[str, Any]], columns: Sequence[Column], reject: Reject | None = None
) -> pa.Table:
    """One Arrow table with exactly the declared columns, in order, typed.

    The fields Arrow can read straight from the dicts are converted in one pass in C++
    (a struct array, then its children); the rest (JSON text, odd types) row by row.
    A record with a value that does not fit its column (text in a number column, a
    fraction in a whole-number column, a missing key) is left out of the table and handed
    to `reject` with (column, expected kind, value) for each such value; with no `reject`
    it raises `Misfit`. Nothing is ever truncated or coerced to fit.
    """
    plan = _plan(tuple(columns), records)
    fast: dict[str, pa.Array] = {}
    if plan.struct_type.num_fields:
        try:
            struct = pa.array(records, type=plan.struct_type)
            for column in columns:
                if column.name in plan.fast:
                    array = _finish(column, _child(struct, column.keys))
                    if array is not None:
                        fast[column.name] = array
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            fast = {}  # an unexpected value somewhere: this batch goes the careful way
    arrays = []
    problems: dict[int, list[tuple[str, str, Any]]] = {}
    for column in columns:
        array = fast.get(column.name)
        values = None
        if array is None:
            values = _values(records, column)
            array, misfits = _array(column.kind, values)
            for index in misfits:
                problems.setdefault(index, []).append((column.name, column.kind, values[index]))
        if column.key and array.null_count:
            values = values if values is not None else _values(records, column)
            for index, value in enumerate(values):
                if value is None:
                    problems.setdefault(index, []).append((column.name, column.kind, None))
        arrays.append(array)
    table = pa.Table.from_arrays(arrays, schema=schema(columns, nullable_keys=bool(problems)))
    if not problems:
        return table
    if reject is None:
        index = min(problems)
        name, kind, value = problems[index][0]
        found = "nothing" if value is None else repr(value)
        raise Misfit(f"{name}: expected {kind}, got {found} (record {index + 1} of the batch)")
    for index in sorted(problems):
        reject(records[index], problems[index])
    keep = pa.array([i not in problems for i in range(len(records))])
    return table.filter(keep).cast(schema(columns))


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
    if column.kind == "int":
        # Read as a double, so a fraction shows instead of Arrow truncating it (see _finish).
        return pa.float64()
    if column.kind != "timestamp":
        return _TYPES[column.kind]
    sample = next((v for r in records[:50] if (v := value_at(r, column.keys)) is not None), None)
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


_EXACT_DOUBLE = 2**53  # whole numbers up to this size survive a double unchanged


def _finish(column: Column, array: pa.Array) -> pa.Array | None:
    """The struct child as the column's type; None when it must be read the careful way."""
    if column.kind == "int":
        values = array.drop_null()
        if len(values) and (
            not pc.all(pc.equal(values, pc.floor(values))).as_py()
            or pc.max(pc.abs(values)).as_py() >= _EXACT_DOUBLE
        ):
            return None  # a fraction, or too large to have come through a double exactly
        return array.cast(pa.int64())
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
    return [value_at(r, keys) for r in records]


def batched_tables(
    pages: Iterable[Sequence[dict[str, Any]]], columns: Sequence[Column], rows: int = BATCH_ROWS
) -> Iterator[pa.Table]:
    """Gather pages into tables of about `rows` rows, so memory stays flat and batches big.

    Inside a sync, the tables follow the dataset's shape (pipelines.drift): fields the
    vendor added become columns, and records with values that no longer fit are set aside.
    """
    shape = current_shape(columns)

    def table(records: list[dict[str, Any]]) -> pa.Table:
        if shape is None:
            return to_table(records, columns)
        return to_table(records, shape.columns(records), shape.reject)

    pending: list[dict[str, Any]] = []
    for page in pages:
        pending.extend(page)
        if len(pending) >= rows:
            yield table(pending)
            pending = []
    if pending:
        yield table(pending)
    if shape is not None:
        shape.hold_cursor(lambda records, column: to_table(records, [column]).column(0).to_pylist())

"""What the business still has, per vendor and dataset: age of the copy, RPO, current failure."""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from lifeboat.config import Inventory
from lifeboat.secrets import mask, secret_values
from lifeboat.status import copy_status

# The kind of a failure that recorded no outcome (a bug, a missing credential).
FAILED = "failed"
LOCKED_OUT = "locked out"
HEALTHY = "healthy"
STALE = "stale"
NEVER = "never copied"
DOWN = "failing"
# What each failure kind means for the copy, as the summary counts it.
STATE_OF_KIND = {
    "lockout": LOCKED_OUT,
    "suspected lockout or partial outage": LOCKED_OUT,
    "outage": "vendor down",
    "rate limited": "rate limited",
}


@dataclass(frozen=True)
class Failure:
    """The latest failure of a vendor's copy, as Dagster (or later the alerts) knows it."""

    kind: str
    message: str
    at: datetime | None = None


@dataclass(frozen=True)
class VendorStatus:
    vendor: str
    title: str
    dataset: str
    state: str
    rows_held: int | None
    last_copy: datetime | None
    age_minutes: float | None
    rpo_minutes: int
    rpo_met: bool
    failure_kind: str | None
    failure: str | None
    failed_at: datetime | None
    depends_on: str
    last_materialized: datetime | None


def redact(text: str, inventory: Inventory) -> str:
    """Mask the value of every credential variable: an error may echo what it was sent."""
    envs = [env for vendor in inventory.vendors.values() for env in vendor.credentials.values()]
    return mask(text, secret_values(envs))


def _state(copied: datetime | None, age: float | None, rpo: int, failure: Failure | None) -> str:
    if failure is not None:
        return STATE_OF_KIND.get(failure.kind, DOWN)
    if copied is None:
        return NEVER
    return HEALTHY if age is not None and age <= rpo else STALE


def vendor_status(
    home: Path,
    inventory: Inventory,
    failures: dict[str, Failure] | None = None,
    materialized: dict[tuple[str, str], datetime] | None = None,
    now: datetime | None = None,
) -> list[VendorStatus]:
    """One row per enabled vendor dataset: the snapshot manifests plus what failed last."""
    failures = failures or {}
    materialized = materialized or {}
    now = now or datetime.now(UTC)
    rows = []
    for status in copy_status(home, inventory):
        failure = failures.get(status.vendor)
        age = (now - status.copied_at).total_seconds() / 60 if status.copied_at else None
        rows.append(
            VendorStatus(
                vendor=status.vendor,
                title=inventory.registry.title(status.vendor),
                dataset=status.dataset,
                state=_state(status.copied_at, age, status.rpo_minutes, failure),
                rows_held=status.rows_held,
                last_copy=status.copied_at,
                age_minutes=round(age, 1) if age is not None else None,
                rpo_minutes=status.rpo_minutes,
                rpo_met=age is not None and age <= status.rpo_minutes,
                failure_kind=failure.kind if failure else None,
                failure=redact(failure.message, inventory) if failure else None,
                failed_at=failure.at if failure else None,
                depends_on="; ".join(inventory.vendors[status.vendor].depends_on),
                last_materialized=materialized.get((status.vendor, status.dataset)),
            )
        )
    return rows


def write_csv(rows: list[VendorStatus], path: Path) -> Path:
    """vendor_status.csv: small, so written directly; replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [f.name for f in fields(VendorStatus)])
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(row).items()}
            )
    os.replace(tmp, path)
    return path


def read_csv(path: Path) -> list[VendorStatus]:
    """Read vendor_status.csv back (the report is built from the exported files)."""
    out = []
    with path.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            out.append(
                VendorStatus(
                    vendor=raw["vendor"],
                    title=raw["title"],
                    dataset=raw["dataset"],
                    state=raw["state"],
                    rows_held=int(raw["rows_held"]) if raw["rows_held"] else None,
                    last_copy=_when(raw["last_copy"]),
                    age_minutes=float(raw["age_minutes"]) if raw["age_minutes"] else None,
                    rpo_minutes=int(raw["rpo_minutes"]),
                    rpo_met=raw["rpo_met"] == "True",
                    failure_kind=raw["failure_kind"] or None,
                    failure=raw["failure"] or None,
                    failed_at=_when(raw["failed_at"]),
                    depends_on=raw["depends_on"],
                    last_materialized=_when(raw["last_materialized"]),
                )
            )
    return out


def _when(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def summary(rows: list[VendorStatus]) -> dict[str, list[str]]:
    """Vendors by their worst state: locked out, then other failures, stale, healthy."""
    order = [LOCKED_OUT, "vendor down", "rate limited", DOWN, NEVER, STALE, HEALTHY]
    worst: dict[str, str] = {}
    for row in rows:
        current = worst.get(row.title)
        if current is None or order.index(row.state) < order.index(current):
            worst[row.title] = row.state
    grouped: dict[str, list[str]] = {state: [] for state in order}
    for title, state in worst.items():
        grouped[state].append(title)
    return {state: titles for state, titles in grouped.items() if titles}


def headline(grouped: dict[str, list[str]]) -> list[str]:
    """The states the summary always shows (healthy, stale, locked out), then any others."""
    always = [HEALTHY, STALE, LOCKED_OUT]
    return always + [state for state in grouped if state not in always]

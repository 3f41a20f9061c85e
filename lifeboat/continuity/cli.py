"""`lifeboat report`: write the continuity report from the existing copies, print its path."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from lifeboat.config import home, inventory
from lifeboat.continuity.report import build_all
from pipelines.registry import vendors


def _as_of(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-01-05T00:00Z")
    return value


def cmd_report(args: argparse.Namespace) -> int:
    """Build contacts, open work, vendor status and the report from the copies on disk."""
    outputs = build_all(
        home(), inventory().bind(vendors()), as_of=args.as_of, probe_topology=not args.no_probe
    )
    print(
        f"{outputs.contacts:,} contacts, {outputs.open_work:,} open items, "
        f"{outputs.vendors} vendors"
    )
    print(f"report: {outputs.html}")
    print(f"markdown: {outputs.markdown}")
    return 0


def register(subparsers: Any) -> None:
    """Add `report` to the `lifeboat` command."""
    report = subparsers.add_parser(
        "report",
        help="write the continuity report (contacts, open work, runbooks) from the copies",
    )
    report.add_argument(
        "--as-of",
        type=_as_of,
        default=None,
        help="judge overdue and renewing work at this time (default: newest change copied)",
    )
    report.add_argument("--no-probe", action="store_true", help="do not probe the MySQL topology")
    report.set_defaults(func=cmd_report)

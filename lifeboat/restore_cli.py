"""`lifeboat restore VENDOR --to DIR`: rebuild a vendor's DuckDB file from its snapshots."""

from __future__ import annotations

import argparse
from pathlib import Path

from lifeboat.config import home


def cmd_restore(args: argparse.Namespace) -> int:
    # Imported here so that `lifeboat --help` does not load dlt.
    from pipelines.restore import restore_vendor

    result = restore_vendor(home(), args.vendor, Path(args.to).resolve())
    for table, rows in sorted(result.rows.items()):
        print(f"{args.vendor}/{table}: {rows:,} rows restored")
    print(f"restored {args.vendor} into {result.path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `restore` to the `lifeboat` command."""
    restore = subparsers.add_parser(
        "restore", help="rebuild a vendor's DuckDB file from its Parquet snapshots"
    )
    restore.add_argument("vendor", help="the vendor to restore, e.g. stripe")
    restore.add_argument(
        "--to", required=True, metavar="DIR", help="an empty directory for <vendor>.duckdb"
    )
    restore.set_defaults(func=cmd_restore)

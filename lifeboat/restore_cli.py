"""`lifeboat restore VENDOR --to DIR`: rebuild a vendor's DuckDB file from its snapshots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lifeboat.config import home
from lifeboat.errors import LifeboatError, StorageError


def cmd_restore(args: argparse.Namespace) -> int:
    # Imported here so that `lifeboat --help` does not load dlt.
    from pipelines.restore import restore_vendor

    target = Path(args.to).resolve()
    if target.exists() and not target.is_dir():
        raise LifeboatError(
            f"{target} is a file, not a directory; name an empty directory for "
            f"{args.vendor}.duckdb (it is created if it does not exist)"
        )
    try:
        result = restore_vendor(home(), args.vendor, target, allow_partial=args.allow_partial)
    except OSError as exc:
        culprit = Path(exc.filename or "/").resolve()
        if not exc.filename or not (
            target.is_relative_to(culprit) or culprit.is_relative_to(target)
        ):
            raise
        raise StorageError(
            f"cannot restore into {target}: {(exc.strerror or str(exc)).lower()}; nothing was "
            f"restored and the copy is unchanged; name a directory you can write"
        ) from exc
    for table, rows in sorted(result.rows.items()):
        print(f"{args.vendor}/{table}: {rows:,} rows restored")
    # Loud, on stderr and in capitals: a partial restore must never pass for a whole one.
    for table, reason in sorted(result.left_out.items()):
        print(f"lifeboat: {args.vendor}/{table} was NOT restored: {reason}", file=sys.stderr)
    done = "PARTLY restored" if result.left_out else "restored"
    print(f"{done} {args.vendor} into {result.path}")
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
    restore.add_argument(
        "--allow-partial",
        action="store_true",
        help="when some tables' snapshots cannot be trusted, restore the others and name "
        "the ones left out (without it, restore refuses)",
    )
    restore.set_defaults(func=cmd_restore)

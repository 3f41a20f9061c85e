"""The `lifeboat` command: demo, ui, emulate, sync and status."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from emulators import server as emulator_server
from lifeboat import demo as demo_cli
from lifeboat import doctor, restore_cli
from lifeboat.config import home, inventory, load_inventory
from lifeboat.continuity import cli as continuity_cli
from lifeboat.errors import LifeboatError
from lifeboat.status import copy_status, format_set_aside, format_table, set_aside
from pipelines.registry import vendors
from replication import cli as replication_cli


def cmd_emulate(args: argparse.Namespace) -> int:
    return emulator_server.serve(args)


def cmd_sync(args: argparse.Namespace) -> int:
    from pipelines.base import VendorContext
    from pipelines.runner import sync

    inv = inventory().bind(vendors())
    for vendor in args.vendors or list(inv.enabled_vendors()):
        if vendor not in inv.vendors:
            raise LifeboatError(f"{vendor}: not in {inv.source_path}; add it under vendors:")
        config = inv.vendors[vendor]
        credentials = {}
        for name, env in inv.credential_envs(vendor).items():
            value = os.environ.get(env)
            if not value:
                raise LifeboatError(
                    f"{vendor}: environment variable {env} is not set "
                    f"(credentials.{name} in {inv.source_path})"
                )
            credentials[name] = value
        ctx = VendorContext(
            vendor,
            inv.base_url(vendor),
            credentials,
            config.options,
            tuple(inv.enabled_datasets(vendor)),
            entry=inv.registry[vendor],
        )
        result = sync(ctx, home())
        for table, figures in sorted(result.tables.items()):
            print(f"{vendor}/{table}: {figures.rows_loaded:,} loaded, {figures.rows_held:,} held")
        for table, found in sorted(result.drift.items()):
            if found.added:
                print(f"{vendor}/{table}: new columns {', '.join(found.added)}")
            if found.quarantined:
                print(
                    f"{vendor}/{table}: {found.quarantined:,} records set aside in _quarantine "
                    f"({', '.join(found.misfit_columns)} no longer fit)"
                )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    inv = inventory().bind(vendors())
    print(format_table(copy_status(home(), inv, check_files=True)))
    if counts := set_aside(home(), inv):
        print()
        print(format_set_aside(counts))
    return 0


def cmd_asof(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.history import as_of
    from pipelines.runner import DATASET, warehouse_path

    database = warehouse_path(home(), args.vendor)
    if not database.exists():
        raise LifeboatError(f"{args.vendor}: no copy at {database}; run `lifeboat sync` first")
    try:
        when = datetime.fromisoformat(args.time)
    except ValueError:
        raise LifeboatError(
            f"{args.time!r} is not a time; use ISO 8601, e.g. 2026-11-20T14:00 (UTC)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    with duckdb.connect(str(database), read_only=True) as con:
        try:
            rows = as_of(con, DATASET, args.table, when, include_deleted=args.deleted)
        except duckdb.CatalogException:
            raise LifeboatError(
                f"{args.vendor} has no history of {args.table!r}; "
                f"see `lifeboat status` for its datasets"
            ) from None
        if args.csv:
            folder = Path(args.csv).resolve().parent
            if not folder.is_dir():
                raise LifeboatError(
                    f"cannot write {args.csv}: the directory {folder} does not exist; "
                    "create it or name another file"
                )
            try:
                rows.write_csv(args.csv)
            except duckdb.IOException:
                raise LifeboatError(
                    f"cannot write {args.csv} (not permitted, or the disk is full); "
                    "name another file"
                ) from None
            print(f"{len(rows.fetchall()):,} rows as of {when.isoformat()} written to {args.csv}")
        else:
            rows.limit(args.limit).show(max_width=200)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    inv = load_inventory(args.file, vendors())
    enabled = ", ".join(inv.enabled_vendors()) or "none"
    print(f"{inv.source_path}: valid; vendors enabled: {enabled}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lifeboat",
        description="Keep your business's data safe from a vendor, a cloud or a database failing.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="copy every vendor from the local emulators through Dagster")
    demo.add_argument(
        "--scenario",
        choices=["outage"],
        help="replay a bad day instead: a lockout, an outage and the backfill that follows",
    )
    demo.set_defaults(func=demo_cli.cmd_demo)
    ui = sub.add_parser("ui", help="start the Dagster UI (and the emulators) on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=demo_cli.cmd_ui)
    emulate = sub.add_parser(
        "emulate",
        help="run the vendor emulators alone",
        description="Serve every emulated vendor's API over HTTP, for the demo and tests.",
    )
    emulator_server.add_arguments(emulate)
    emulate.set_defaults(func=cmd_emulate)
    sync = sub.add_parser("sync", help="copy vendors now, without Dagster")
    sync.add_argument("vendors", nargs="*")
    sync.set_defaults(func=cmd_sync)
    sub.add_parser("status", help="what is held, per vendor and dataset").set_defaults(
        func=cmd_status
    )
    asof = sub.add_parser("asof", help="a dataset as the copy held it at a past time")
    asof.add_argument("vendor")
    asof.add_argument("table")
    asof.add_argument("time", help="ISO 8601, UTC unless it says otherwise")
    asof.add_argument("--deleted", action="store_true", help="include records deleted upstream")
    asof.add_argument("--csv", metavar="FILE", help="write every row to a CSV file")
    asof.add_argument("--limit", type=int, default=20)
    asof.set_defaults(func=cmd_asof)
    check = sub.add_parser("check-config", help="validate lifeboat.yaml")
    check.add_argument("file", nargs="?")
    check.set_defaults(func=cmd_check_config)
    restore_cli.register(sub)
    doctor.register(sub)
    replication_cli.register(sub)
    continuity_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Under Dagster (demo, ui), its own log shows progress.
    if args.func not in (demo_cli.cmd_demo, demo_cli.cmd_ui):
        # dlt logs a failed load job with its traceback before raising; lifeboat says what
        # happened in one sentence, so dlt's own log says only what is critical (a filter:
        # dlt resets its logger's level whenever a pipeline starts).
        logging.getLogger("dlt").addFilter(lambda record: record.levelno >= logging.CRITICAL)
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger = logging.getLogger("lifeboat")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        return args.func(args)
    except LifeboatError as exc:
        print(f"lifeboat: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""The `lifeboat` command: its subcommands, and the one path a failure takes to a person."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from emulators import server as emulator_server
from emulators.credentials import demo_credentials
from lifeboat import demo as demo_cli
from lifeboat import doctor, messages, restore_cli
from lifeboat.config import Inventory, home, inventory, load_inventory
from lifeboat.continuity import cli as continuity_cli
from lifeboat.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_OK,
    CopyBusy,
    EmulatorsDown,
    LifeboatError,
    MissingCredential,
    VendorError,
)
from lifeboat.instance import DEMO_ENV, PROJECT_ROOT
from lifeboat.status import copy_status, format_set_aside, format_table, set_aside
from lifeboat.telling import exit_code_help, log_to_terminal, tell
from pipelines.registry import vendors
from replication import cli as replication_cli

if TYPE_CHECKING:
    from pipelines.base import VendorContext

# LIFEBOAT_DEBUG=1 does what --debug does: a failure prints its traceback too.
DEBUG_ENV = "LIFEBOAT_DEBUG"
# How long a look at the local emulators' port waits: they answer in milliseconds.
EMULATOR_PROBE_SECONDS = 3.0
# Names one machine calls itself by; an emulator address in lifeboat.yaml may use any.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def cmd_emulate(args: argparse.Namespace) -> int:
    return emulator_server.serve(args)


def cmd_sync(args: argparse.Namespace) -> int:
    """Copy each vendor in turn; one vendor's failure is said and the others still copy."""
    from pipelines.runner import sync

    inv = inventory().bind(vendors())
    chosen = args.vendors or list(inv.enabled_vendors())
    for vendor in chosen:
        if vendor not in inv.vendors:
            raise LifeboatError(f"{vendor}: not in {inv.source_path}; add it under vendors:")
    failed = EXIT_OK
    for vendor in chosen:
        ctx = None
        try:
            ctx = vendor_context(inv, vendor)
            result = sync(ctx, home())
        except (VendorError, CopyBusy, MissingCredential) as exc:
            code = tell(exc, args, secrets=tuple(ctx.credentials.values()) if ctx else ())
            failed = failed or code
            continue
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
    return failed


def at_emulators(inv: Inventory, base_url: str) -> bool:
    """Whether `base_url` is the address of the local emulators lifeboat.yaml configures."""
    url = urlsplit(base_url)
    host, emulator = url.hostname or "", inv.emulator
    same_host = host == emulator.host or {host, emulator.host} <= LOOPBACK
    return same_host and url.port == emulator.port


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=EMULATOR_PROBE_SECONDS):
            return True
    except OSError:
        return False


def vendor_context(inv: Inventory, vendor: str) -> VendorContext:
    """What `sync` needs for `vendor`; a vendor pointed at the local emulators may copy with
    their demo keys (emulators/demo.env) when its variables are not set, and says so."""
    from pipelines.base import VendorContext

    base_url = inv.base_url(vendor)
    emulated = at_emulators(inv, base_url)
    where = f"{inv.emulator.host}:{inv.emulator.port}"
    if emulated and not _answers(inv.emulator.host, inv.emulator.port):
        raise EmulatorsDown(
            f"{vendor}: {inv.source_path.name} points {inv.registry.title(vendor)} at the local "
            f"emulators ({where}) and nothing answers there, so nothing was copied or changed; "
            f"start them (`make ui` in another terminal, or `lifeboat emulate --port "
            f"{inv.emulator.port} --start {datetime.now(UTC):%Y-%m-%d}`), then run again"
        )
    demo = demo_credentials([vendor], DEMO_ENV)[vendor] if emulated else {}
    credentials, borrowed = {}, []
    for name, env in inv.credential_envs(vendor).items():
        value = os.environ.get(env) or demo.get(name)
        if not value:
            raise MissingCredential(
                f"{vendor}: environment variable {env} is not set "
                f"(credentials.{name} in {inv.source_path}); export it, then run again"
            )
        if not os.environ.get(env):
            borrowed.append(env)
        credentials[name] = value
    if borrowed:
        names = " and ".join(borrowed)
        print(
            f"{vendor}: {names} {'is' if len(borrowed) == 1 else 'are'} not set and "
            f"{vendor} points at the local emulators ({where}): using their demo "
            f"{'key' if len(borrowed) == 1 else 'keys'} from {DEMO_ENV.relative_to(PROJECT_ROOT)}"
        )
    config = inv.vendors[vendor]
    return VendorContext(
        vendor,
        base_url,
        credentials,
        config.options,
        tuple(inv.enabled_datasets(vendor)),
        entry=inv.registry[vendor],
    )


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
    from pipelines.runner import DATASET, storage_failure, warehouse_path

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
    try:
        connection = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:  # held by another program, or damaged: named as a sync names it
        if (named := storage_failure(exc, args.vendor, home())) is None:
            raise
        raise named from exc
    with connection as con:
        try:
            rows = as_of(con, DATASET, args.table, when, include_deleted=args.deleted)
        except duckdb.CatalogException:
            raise LifeboatError(
                f"{args.vendor} has no history of {args.table!r}; "
                f"see `lifeboat status` for its datasets"
            ) from None
        count = _count(rows)
        hint = None if count else _nothing_held(con, args, when)
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
            done = f"{count:,} rows as of {when.isoformat()} written to {args.csv}"
            print(f"{done}; {hint}" if hint else done)
        elif hint:
            print(hint)
        else:
            rows.limit(args.limit).show(max_width=200)
    return 0


def _count(rows: Any) -> int:
    return rows.aggregate("count(*)").fetchall()[0][0]


def _nothing_held(con: Any, args: argparse.Namespace, when: datetime) -> str:
    """Why `asof` found no rows at `when`, and a time to ask for instead: one sentence."""
    from pipelines.history import VERSIONS_SUFFIX, as_of
    from pipelines.runner import DATASET

    view = '"' + (args.table + VERSIONS_SUFFIX).replace('"', '""') + '"'
    start = con.execute(f"SELECT min(valid_from) FROM {DATASET}.{view}").fetchall()[0][0]
    then = messages.when(when)
    what = f"{args.vendor} {args.table}"
    if start is None:
        return f"the copy holds no {what} yet; run `lifeboat sync {args.vendor}` first"
    start = start.astimezone(UTC)
    if when < start:
        later = (start + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
        return (
            f"nothing was held at {then}: the copy's history of {what} starts "
            f"{messages.when(start)} (its first copy); ask for a later time, e.g. "
            f"`lifeboat asof {args.vendor} {args.table} {later}`"
        )
    deleted = as_of(con, DATASET, args.table, when, include_deleted=True)
    if not args.deleted and _count(deleted):
        return (
            f"every record of {what} held at {then} was deleted upstream; add --deleted to see them"
        )
    return f"the copy held no {what} at {then} (its history starts {messages.when(start)})"


def cmd_check_config(args: argparse.Namespace) -> int:
    inv = load_inventory(args.file, vendors())
    enabled = ", ".join(inv.enabled_vendors()) or "none"
    print(f"{inv.source_path}: valid; vendors enabled: {enabled}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lifeboat",
        description="Keep your business's data safe from a vendor, a cloud or a database failing.",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=_truthy(os.environ.get(DEBUG_ENV)),
        help=f"print a failure's traceback too (also {DEBUG_ENV}=1)",
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


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Under Dagster (demo, ui), its own log shows progress.
    if args.func not in (demo_cli.cmd_demo, demo_cli.cmd_ui):
        log_to_terminal(args.debug)
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, where a reader that went away is caught
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing more, and let exit flush nowhere.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (Exception, KeyboardInterrupt, SystemExit) as exc:
        if isinstance(exc, SystemExit) and not isinstance(exc.code, str):
            raise
        return tell(exc, args)


if __name__ == "__main__":
    raise SystemExit(main())

"""Subcommands `sandbox up|down|status`, `ls`, `switch` and `failover` for the lifeboat CLI."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from lifeboat.config import home, load_inventory
from lifeboat.errors import EXIT_FOUND_PROBLEM, EXIT_OK, ConfigError
from lifeboat.paths import DataHome
from lifeboat.settings import CONFIG_ENV, DEFAULT_CONFIG_FILE
from replication.connector.control import ConnectorSessions, stop_registered
from replication.connector.service import Connector
from replication.errors import (
    FailoverFailed,
    ReplicationError,
    RollbackFailed,
    SandboxError,
    SwitchFailed,
    SwitchRefused,
    TopologyConfigError,
)
from replication.failover import failover
from replication.history import History, history_path
from replication.probe import ERROR, Health, probe
from replication.sandbox import Sandbox
from replication.switch import switch
from replication.topology import Topology, from_config, load_sandbox

# The exit code of each replication failure and what it means (the `lifeboat` command reads
# this table: lifeboat.errors, the ground, cannot import this package's errors).
EXIT_CODES: dict[type[ReplicationError], tuple[int, str]] = {
    ReplicationError: (20, "MySQL: a server did not answer or refused what was asked"),
    TopologyConfigError: (ConfigError.exit_code, ConfigError.exit_meaning),
    SwitchRefused: (21, "switch or failover refused before changing anything (the reason is said)"),
    SwitchFailed: (22, "switch failed midway and was rolled back to the old primary"),
    RollbackFailed: (23, "switch failed and so did its rollback: a person must act now"),
    FailoverFailed: (24, "failover stopped midway: the message says the servers' state"),
    SandboxError: (25, "the MySQL sandbox could not be started, stopped or read"),
}


def register(subparsers: Any) -> None:
    """Add the replication subcommands; each sets `func(args) -> exit code`."""
    sandbox = subparsers.add_parser(
        "sandbox", help="start, stop or show a local MariaDB primary with two replicas"
    )
    actions = sandbox.add_subparsers(dest="sandbox_action", metavar="up|down|status")
    actions.required = True
    actions.add_parser("up", help="start the sandbox (creates it on first use)").set_defaults(
        func=cmd_sandbox_up
    )
    down = actions.add_parser("down", help="stop the sandbox's servers")
    down.add_argument("--purge", action="store_true", help="also delete its data")
    down.set_defaults(func=cmd_sandbox_down)
    actions.add_parser("status", help="show whether each server runs").set_defaults(
        func=cmd_sandbox_status
    )

    ls = subparsers.add_parser("ls", help="show the MySQL topology and its health")
    _topology_flag(ls)
    ls.set_defaults(func=cmd_ls)

    sw = subparsers.add_parser("switch", help="switch the MySQL primary without losing writes")
    sw.add_argument("--to", metavar="SERVER", help="the replica to promote (default: the best)")
    _topology_flag(sw)
    sw.set_defaults(func=cmd_switch)

    co = subparsers.add_parser(
        "connector",
        help="serve applications on a writer and a reader port; they keep their sessions "
        "across a switch",
    )
    co.add_argument(
        "action",
        nargs="?",
        choices=("serve", "status"),
        default="serve",
        help="serve (the default) or show the running connectors and their sessions",
    )
    co.add_argument("--host", help="address to listen on (default mysql.connector.host)")
    co.add_argument("--writer-port", type=int, help="default mysql.connector.writer_port")
    co.add_argument("--reader-port", type=int, help="default mysql.connector.reader_port")
    _topology_flag(co)
    co.set_defaults(func=cmd_connector)

    fo = subparsers.add_parser("failover", help="promote a replica when the primary is dead")
    fo.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _topology_flag(fo)
    fo.set_defaults(func=cmd_failover)


def _topology_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="use the local sandbox even when lifeboat.yaml describes a topology",
    )


def _sandbox() -> Sandbox:
    return Sandbox(DataHome(home()).sandbox_dir, out=print)


def resolve_topology(use_sandbox: bool = False, config_path: Path | None = None) -> Topology:
    """lifeboat.yaml's `mysql:` topology, or the sandbox's when asked or when there is none."""
    if use_sandbox:
        return load_sandbox(home())
    source = Path(config_path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)
    # A broken lifeboat.yaml is reported, never silently replaced by the sandbox.
    inventory = load_inventory(source) if source.is_file() else None
    if inventory is not None and inventory.mysql is not None:
        return from_config(inventory.mysql)
    try:
        return load_sandbox(home())
    except TopologyConfigError:
        raise TopologyConfigError(
            "no MySQL topology: add a `mysql:` section to lifeboat.yaml "
            "or start the sandbox with `lifeboat sandbox up`"
        ) from None


def cmd_sandbox_up(args: argparse.Namespace) -> int:
    """Start the sandbox and print where its topology description is."""
    sandbox = _sandbox()
    sandbox.up()
    print(
        f"sandbox is up; topology: {sandbox.topology_file} (secrets in {sandbox.credentials_file})"
    )
    return EXIT_OK


def cmd_sandbox_down(args: argparse.Namespace) -> int:
    connectors = stop_registered(home())
    sandbox = _sandbox()
    if getattr(args, "purge", False):
        sandbox.destroy()
        print(f"sandbox stopped and {sandbox.root} deleted")
    else:
        sandbox.down()
        print("sandbox stopped; its data stays for the next `lifeboat sandbox up`")
    if connectors:
        print("the lifeboat connector in front of it stopped too")
    return EXIT_OK


def cmd_sandbox_status(args: argparse.Namespace) -> int:
    statuses = _sandbox().status()
    if not statuses:
        print("no sandbox; start one with `lifeboat sandbox up`")
        return EXIT_FOUND_PROBLEM
    for s in statuses:
        state = f"running (pid {s.pid})" if s.running else "stopped"
        print(f"{s.name:<8} 127.0.0.1:{s.port:<6} {state}")
    return EXIT_OK if all(s.running for s in statuses) else EXIT_FOUND_PROBLEM


def format_health(health: Health) -> str:
    """The topology as a table, then every finding, for a terminal."""
    headers = ["SERVER", "ROLE", "ADDRESS", "SOURCE", "IO/SQL", "LAG", "SBM", "GTID", "STATUS"]
    rows = []
    for row in health.rows():
        threads = f"{row['io_running']}/{row['sql_running']}" if row["io_running"] else "-"
        if row["io_running"] and "No" in (row["io_running"], row["sql_running"]):
            # A stopped replica's heartbeat only ages: its lag is not a figure to read.
            lag = "stopped"
        else:
            lag = "-" if row["heartbeat_lag_s"] is None else f"{row['heartbeat_lag_s']:.3f}s"
        sbm = "-" if row["seconds_behind_master"] is None else str(row["seconds_behind_master"])
        rows.append(
            [
                row["server"],
                row["role"],
                row["address"],
                row["source"] or "-",
                threads,
                lag,
                sbm,
                row["gtid_executed"] or "-",
                row["worst"],
            ]
        )
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [headers, *rows]
    ]
    if health.findings:
        lines.append("")
        lines += [str(f) for f in health.findings]
    else:
        lines.append("")
        lines.append(
            f"healthy: primary {health.primary}, every replica within "
            f"{health.lag_threshold:g} s (probe took {health.duration_ms:.0f} ms)"
        )
    return "\n".join(lines)


def cmd_ls(args: argparse.Namespace) -> int:
    """Probe the topology and print it; exit 1 when anything is ERROR."""
    health = probe(resolve_topology(args.sandbox))
    print(format_health(health))
    return EXIT_FOUND_PROBLEM if any(f.severity == ERROR for f in health.findings) else EXIT_OK


def cmd_switch(args: argparse.Namespace) -> int:
    topology = resolve_topology(args.sandbox)
    switch(
        topology,
        to=args.to,
        out=_flush_print,
        history=History(history_path(home())),
        sessions=ConnectorSessions(home()),
    )
    return EXIT_OK


def cmd_connector(args: argparse.Namespace) -> int:
    """Serve the connector in the foreground until Ctrl-C, or show the running ones."""
    if args.action == "status":
        return _connector_status()
    topology = resolve_topology(args.sandbox)
    connector = Connector(
        topology,
        home=home(),
        host=args.host,
        writer_port=args.writer_port,
        reader_port=args.reader_port,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("lifeboat.connector")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    connector.run()
    return EXIT_OK


def _connector_status() -> int:
    statuses = ConnectorSessions(home()).status()
    if not statuses:
        print("no connector is running for this data home; start one with `lifeboat connector`")
        return EXIT_FOUND_PROBLEM
    for s in statuses:
        if "error" in s:
            print(f"connector {s['writer']}: {s['error']}")
            continue
        print(
            f"connector pid {s['pid']}: writer {s['writer']} -> {s['primary'] or 'no primary'} "
            f"({s['writer_sessions']} sessions), reader {s['reader']} -> "
            f"{', '.join(s['replicas']) or '-'} ({s['reader_sessions']} sessions); "
            f"moved so far: {s['kept']} kept, {s['ended']} ended"
        )
    return EXIT_OK


def cmd_failover(args: argparse.Namespace) -> int:
    topology = resolve_topology(args.sandbox)
    failover(
        topology,
        yes=args.yes,
        confirm=_ask,
        out=_flush_print,
        history=History(history_path(home())),
        sessions=ConnectorSessions(home()),
    )
    return EXIT_OK


def _flush_print(line: str) -> None:
    print(line, flush=True)


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        print(question + " (not confirmed: no terminal; pass --yes)", file=sys.stderr)
        return False
    return input(question + " [y/N] ").strip().lower() in {"y", "yes"}

"""Helpers of the replication tests: thresholds, replication waits, a writing application."""

from __future__ import annotations

import dataclasses
import time

from bench.writer import Writer
from replication.probe import probe
from replication.sandbox import Sandbox
from replication.settings import SANDBOX_APP_SCHEMA
from replication.topology import Topology


def tuned(topology: Topology, **changes: float) -> Topology:
    """The same topology with other thresholds (lag, timeouts, long-write limit)."""
    return dataclasses.replace(topology, config=topology.config.model_copy(update=changes))


def primary_position(sandbox: Sandbox, primary: str) -> str:
    return str(sandbox.sql(primary, "SELECT @@global.gtid_binlog_pos")[0][0])


def wait_replicated(
    sandbox: Sandbox, primary: str, replicas: tuple[str, ...] = (), timeout: float = 30.0
) -> None:
    """Block until the replicas (default: every other server) have all the primary has."""
    position = primary_position(sandbox, primary)
    names = replicas or tuple(s.name for s in sandbox.servers() if s.name != primary)
    for name in names:
        result = sandbox.sql(name, "SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout))
        assert result[0][0] == 0, f"{name} did not reach {position}"


def wait_replicating(sandbox: Sandbox, name: str, timeout: float = 30.0) -> None:
    """Block until both replication threads of `name` run (after a START SLAVE, say)."""
    deadline = time.monotonic() + timeout
    while True:
        replica = probe(sandbox.topology(), heartbeat=False).servers[name].replica
        if replica is not None and replica.running:
            return
        assert time.monotonic() < deadline, f"{name} is not replicating after {timeout:.0f} s"
        time.sleep(0.05)


def rows_on(sandbox: Sandbox, name: str) -> set[int]:
    return {r[0] for r in sandbox.sql(name, f"SELECT n FROM `{SANDBOX_APP_SCHEMA}`.writes")}


def wait_for_acks(writer: Writer, count: int, timeout: float = 60.0, on: str = "") -> None:
    """Block until the writer has `count` acknowledged writes (on server `on`, if named)."""
    deadline = time.monotonic() + timeout
    while (writer.acked_on.get(on, 0) if on else len(writer.acked)) < count:
        assert writer.is_alive(), "the writer stopped"
        assert time.monotonic() < deadline, f"only {len(writer.acked)} writes acknowledged"
        time.sleep(0.005)


def writable_servers(sandbox: Sandbox) -> list[str]:
    """Running servers with read_only=OFF."""
    return [
        s.name
        for s in sandbox.status()
        if s.running and sandbox.sql(s.name, "SELECT @@global.read_only")[0][0] == 0
    ]


def missing_writes(sandbox: Sandbox, primary: str, acked: list[int]) -> dict[str, list[int]]:
    """Acknowledged writes each server lacks once it has everything `primary` has."""
    wait_replicated(sandbox, primary)
    missing = {name: sorted(set(acked) - rows_on(sandbox, name)) for name in sandbox.names}
    return {name: rows for name, rows in missing.items() if rows}

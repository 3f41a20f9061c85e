"""sysbench direct, through HAProxy and through the lifeboat connector, side by side in one run."""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import sysbench
from bench.haproxy import HAProxy, HAProxyMissing
from bench.results import record
from replication.errors import ReplicationError
from replication.sandbox import Sandbox
from replication.settings import SANDBOX_HOST, SANDBOX_SERVERS
from replication.switch import switch

STEADY_SECONDS = 15
SWITCHES = 10
# sysbench runs this long under switches; it must outlast them all (checked before each).
SWITCHING_SECONDS = 60
WRITES_BETWEEN = 50
# The targets.
THROUGHPUT_TARGET, THROUGHPUT_GOAL = 0.5, 0.8
P95_ADDED_TARGET_MS = 2.0
STALL_TARGET_MS, STALL_GOAL_MS = 1000.0, 200.0
DESCRIPTION = (
    "Start alpha, beta and gamma, then run sysbench oltp_read_write against the primary "
    "directly, through HAProxy (TCP mode) and through the lifeboat connector; then switch the "
    "primary 10 times under sysbench and a side writer behind HAProxy and behind the connector. "
    "Prints throughput, p95 latency, the stall each client saw per switch and the sessions kept."
)


@dataclass
class Switching:
    """What the clients behind one endpoint saw across the switches."""

    route: str
    result: sysbench.Result | None = None
    stalls: list[float] = field(default_factory=list)
    acked: int = 0
    lost: int = 0
    writer_errors: int = 0
    writer_reconnects: int = 0
    kept: list[Any] = field(default_factory=list)
    note: str = ""
    error_samples: list[str] = field(default_factory=list)


def _steady(host: str, port: int, sandbox: Sandbox, seconds: int) -> sysbench.Result:
    return sysbench.Run(host, port, sandbox.account("app"), seconds).result()


def _switch_under_load(
    sandbox: Sandbox,
    route: str,
    port: int,
    do_switch: Callable[[str], Any],
    switches: int,
) -> Switching:
    """sysbench and a side writer through `port` while the primary moves `switches` times."""
    seen = Switching(route)
    app = sandbox.account("app")
    # Each route's side writer numbers its rows from 1 again.
    sandbox.sql(_primary(sandbox), f"TRUNCATE TABLE {sysbench.SIDE_TABLE}")
    writer = sysbench.SideWriter(SANDBOX_HOST, port, app)
    writer.start()
    run = sysbench.Run(SANDBOX_HOST, port, app, SWITCHING_SECONDS)
    primary = _primary(sandbox)
    try:
        writer.wait_for(WRITES_BETWEEN)
        for i in range(switches):
            if not run.running():
                seen.note = f"sysbench ended after {i} switches"
                break
            target = SANDBOX_SERVERS[(SANDBOX_SERVERS.index(primary) + 1) % 3]
            begin = time.perf_counter()
            report = do_switch(target)
            end = time.perf_counter()
            if report.outcome != "success":
                seen.note = f"switch {i + 1} to {target}: {report.outcome} {report.reason}"
                break
            primary = target
            seen.kept.append(getattr(report, "kept", None))
            writer.wait_for(len(writer.acked) + WRITES_BETWEEN)
            seen.stalls.append(writer.longest_pause(begin, end))
        seen.result = run.result()
    finally:
        run.kill()
        writer.stop()
    found = {r[0] for r in sandbox.sql(primary, f"SELECT n FROM {sysbench.SIDE_TABLE}")}
    seen.acked, seen.lost = len(writer.acked), len(set(writer.acked) - found)
    seen.writer_errors, seen.writer_reconnects = len(writer.errors), writer.connects - 1
    seen.error_samples = sorted(set(writer.errors))[:3]
    return seen


def _primary(sandbox: Sandbox) -> str:
    for server in sandbox.servers():
        if sandbox.sql(server.name, "SELECT @@global.read_only")[0][0] == 0:
            return server.name
    raise RuntimeError("no writable server")


def _through_haproxy(sandbox: Sandbox, switches: int) -> tuple[sysbench.Result, Switching]:
    proxy = HAProxy({s.name: s.port for s in sandbox.servers()}, _primary(sandbox))
    proxy.start()
    try:
        steady = _steady(SANDBOX_HOST, proxy.port, sandbox, STEADY_SECONDS)

        def do_switch(target: str) -> Any:
            report = switch(sandbox.topology(), to=target, out=lambda _: None)
            proxy.point_at(target)
            return report

        return steady, _switch_under_load(sandbox, "haproxy", proxy.port, do_switch, switches)
    finally:
        proxy.stop()


def _through_connector(
    sandbox: Sandbox, home: Path, switches: int
) -> tuple[sysbench.Result, Switching]:
    # Imported here: the connector is optional for the other benchmarks.
    from replication.connector.control import ConnectorSessions
    from replication.connector.service import Connector

    connector = Connector(
        sandbox.topology(), home=home, host=SANDBOX_HOST, writer_port=0, reader_port=0
    )
    connector.start()
    try:
        steady = _steady(connector.host, connector.writer_port, sandbox, STEADY_SECONDS)

        def do_switch(target: str) -> Any:
            return switch(
                sandbox.topology(), to=target, out=lambda _: None, sessions=ConnectorSessions(home)
            )

        moved = _switch_under_load(sandbox, "connector", connector.writer_port, do_switch, switches)
        return steady, moved
    finally:
        connector.stop()


def _ms(values: Sequence[float]) -> str:
    if not values:
        return "no switch completed"
    return f"median {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms"


def _print_steady(results: dict[str, sysbench.Result]) -> None:
    direct = results["direct"]
    print(f"{'route':<10} {'tps':>9} {'p95 ms':>8} {'vs direct':>10} {'p95 added':>10}")
    for route, r in results.items():
        ratio = r.tps / direct.tps if direct.tps else 0.0
        added = r.p95_ms - direct.p95_ms
        print(f"{route:<10} {r.tps:9.1f} {r.p95_ms:8.2f} {ratio:9.2f}x {added:9.2f}ms")
    if "connector" in results:
        c = results["connector"]
        ratio = c.tps / direct.tps if direct.tps else 0.0
        print(
            f"  connector throughput / direct: {ratio:.2f}x (target >= {THROUGHPUT_TARGET:.2f}, "
            f"goal {THROUGHPUT_GOAL:.2f}): {'met' if ratio >= THROUGHPUT_TARGET else 'MISSED'}"
        )
        added = c.p95_ms - direct.p95_ms
        print(
            f"  connector p95 added: {added:.2f} ms (target <= {P95_ADDED_TARGET_MS} ms): "
            f"{'met' if added <= P95_ADDED_TARGET_MS else 'MISSED'}"
        )


def _print_switching(seen: Switching) -> None:
    r = seen.result
    print(f"{seen.route}: {len(seen.stalls)} switches under load {seen.note}")
    print(f"  stall per switch (side writer):  {_ms(seen.stalls)}")
    if r is not None:
        print(
            f"  sysbench: {r.tps:.1f} tps, errors {r.ignored_errors}, reconnects {r.reconnects}"
            f", seconds with no transaction {r.zero_seconds}, fatal {len(r.fatal)}"
        )
    print(
        f"  side writer: {seen.acked:,} acknowledged, {seen.lost} lost, errors "
        f"{seen.writer_errors}, reconnects {seen.writer_reconnects}"
    )
    for sample in seen.error_samples:
        print(f"    side writer error: {sample}")
    if r is not None and (r.returncode != 0 or r.fatal or not r.tps):
        tail = " | ".join(r.output.strip().splitlines()[-4:])
        print(f"  sysbench exited {r.returncode}: {tail}")
    if seen.route == "connector" and seen.stalls:
        worst = max(seen.stalls)
        print(
            f"  worst stall {worst:.0f} ms / 1 s target: {worst / STALL_TARGET_MS:.2f}x, "
            f"/ 200 ms goal: {worst / STALL_GOAL_MS:.2f}x; sessions kept per switch: {seen.kept}"
        )
        dropped = (r.reconnects if r else 0) + seen.writer_reconnects
        print(f"  sessions dropped: {dropped} (target 0): {'met' if dropped == 0 else 'MISSED'}")


def _figures(steady: dict[str, sysbench.Result], moved: list[Switching]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for route, r in steady.items():
        figures[f"connector_bench_{route}_tps"] = round(r.tps, 1)
        figures[f"connector_bench_{route}_p95_ms"] = r.p95_ms
    for seen in moved:
        prefix = f"connector_bench_{seen.route}_switching"
        figures[f"{prefix}_stall_max_ms"] = round(max(seen.stalls), 1) if seen.stalls else None
        figures[f"{prefix}_switches"] = len(seen.stalls)
        figures[f"{prefix}_lost"] = seen.lost
        figures[f"{prefix}_reconnects"] = (
            seen.result.reconnects if seen.result else 0
        ) + seen.writer_reconnects
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.connector", description=DESCRIPTION)
    parser.add_argument("--switches", type=int, default=SWITCHES)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="lb-bench-conn-"))
    sandbox = Sandbox(root / "sandbox")
    try:
        sandbox.up()
        app = sandbox.account("app")
        primary = sandbox.server(_primary(sandbox))
        sysbench.prepare(SANDBOX_HOST, primary.port, app)
        sandbox.sql(primary.name, f"CREATE TABLE {sysbench.SIDE_TABLE} (n INT PRIMARY KEY)")
        steady = {"direct": _steady(SANDBOX_HOST, primary.port, sandbox, STEADY_SECONDS)}
        moved: list[Switching] = []
        steady["haproxy"], seen = _through_haproxy(sandbox, args.switches)
        moved.append(seen)
        try:
            steady["connector"], seen = _through_connector(sandbox, root, args.switches)
            moved.append(seen)
        except (ImportError, ReplicationError, RuntimeError) as exc:
            print(f"connector: could not be measured: {exc!r}")
        _print_steady(steady)
        for seen in moved:
            _print_switching(seen)
        print(f"figures written to {record(_figures(steady, moved))}")
        lost = sum(seen.lost for seen in moved if seen.route == "connector")
        return 0 if lost == 0 and "connector" in steady else 1
    except (sysbench.SysbenchMissing, HAProxyMissing) as exc:
        print(f"connector bench not run: {exc}")
        return 1
    finally:
        sandbox.destroy()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

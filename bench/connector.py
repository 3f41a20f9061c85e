"""sysbench direct, through HAProxy and through the lifeboat connector, side by side in one run."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import sysbench
from bench.connector_process import ConnectorProcess
from bench.haproxy import HAProxy, HAProxyMissing
from bench.passthrough import Passthrough
from bench.results import record
from replication.connector.control import ConnectorSessions
from replication.errors import ReplicationError
from replication.report import PHASES, SwitchReport
from replication.sandbox import Sandbox
from replication.settings import SANDBOX_HOST, SANDBOX_SERVERS
from replication.switch import switch

# Steady throughput: ROUNDS rounds of ROUND_SECONDS per route, short enough to keep the
# whole bench near 3 minutes on a 2-core machine.
ROUNDS, ROUND_SECONDS = 4, 4
SWITCHES = 10
# sysbench runs this long under switches; it must outlast them all (checked before each).
# 10 switches took 2-4 s in December 2026; the margin is for a loaded machine.
SWITCHING_SECONDS = 20
WRITES_BETWEEN = 50
THREADS, MANY_THREADS = 2, 8
# sysbench's threads and the side writer: the sessions each switch should keep.
EXPECTED_KEPT = THREADS + 1
CONNECTOR_SOURCE = Path(__file__).resolve().parent.parent / "replication" / "connector"
# The targets.
THROUGHPUT_TARGET, THROUGHPUT_GOAL = 0.5, 0.8
P95_ADDED_TARGET_MS = 2.0
STALL_TARGET_MS, STALL_GOAL_MS = 1000.0, 200.0
SYSBENCH_DIED = (
    "sysbench died when its connection was dropped: Debian's sysbench is built on libmariadb "
    "and crashes when it reconnects (akopytov/sysbench#527); the side writer went on alone"
)
DESCRIPTION = (
    "Start alpha, beta and gamma, then run sysbench oltp_read_write against the primary "
    "directly, through HAProxy (TCP mode) and through the lifeboat connector (its own process, "
    "`lifeboat connector --sandbox`); then switch the primary 10 times under sysbench and a side "
    "writer behind HAProxy and behind the connector. Prints throughput, p95 latency, the stall "
    "each client saw per switch and the sessions kept, beside the issue's targets."
)


@dataclass
class Switching:
    """What the clients behind one endpoint saw across the switches."""

    route: str
    result: sysbench.Result | None = None
    stalls: list[float] = field(default_factory=list)
    reports: list[SwitchReport] = field(default_factory=list)
    acked: int = 0
    lost: int = 0
    writer_errors: int = 0
    writer_reconnects: int = 0
    note: str = ""
    error_samples: list[str] = field(default_factory=list)
    # The switch after which sysbench was found dead (Debian's sysbench crashes when it
    # reconnects: it is built on libmariadb, akopytov/sysbench#527).
    sysbench_died_at: int | None = None
    seconds: float = 0.0

    @property
    def sysbench_errors(self) -> int:
        return self.result.ignored_errors if self.result else 0

    @property
    def reconnects(self) -> int:
        """Sessions the clients lost and opened again: sysbench's and the side writer's."""
        return (self.result.reconnects if self.result else 0) + self.writer_reconnects

    def phase_medians(self) -> dict[str, float]:
        return {
            phase: statistics.median(values)
            for phase in PHASES
            if (values := [r.phases_ms[phase] for r in self.reports if phase in r.phases_ms])
        }


@dataclass
class Measured:
    """Every figure of one run: steady throughput per thread count and route, and switching."""

    steady: dict[int, dict[str, sysbench.Result]] = field(default_factory=dict)
    moved: dict[str, Switching] = field(default_factory=dict)


def _steady(ports: dict[str, int], sandbox: Sandbox, threads: int) -> dict[str, sysbench.Result]:
    """Each route in turn, round after round: load from others on the machine hits all alike."""
    app = sandbox.account("app")
    runs: dict[str, list[sysbench.Result]] = {route: [] for route in ports}
    for _ in range(ROUNDS):
        for route, port in ports.items():
            run = sysbench.Run(SANDBOX_HOST, port, app, ROUND_SECONDS, threads)
            runs[route].append(run.result())
    return {route: sysbench.combined(results) for route, results in runs.items()}


def _switch_under_load(
    sandbox: Sandbox, route: str, port: int, do_switch: Callable[[str], SwitchReport], switches: int
) -> Switching:
    """sysbench and a side writer through `port` while the primary moves `switches` times."""
    seen = Switching(route)
    app = sandbox.account("app")
    primary = _primary(sandbox)
    # Each route's side writer numbers its rows from 1 again.
    sandbox.sql(primary, f"TRUNCATE TABLE {sysbench.SIDE_TABLE}")
    writer = sysbench.SideWriter(SANDBOX_HOST, port, app)
    writer.start()
    run = sysbench.Run(SANDBOX_HOST, port, app, SWITCHING_SECONDS, THREADS)
    try:
        writer.wait_for(WRITES_BETWEEN)
        started = time.perf_counter()
        for i in range(switches):
            if run.proc.poll() == 0:
                seen.note = f"sysbench ended after {i} switches: raise SWITCHING_SECONDS"
                break
            target = SANDBOX_SERVERS[(SANDBOX_SERVERS.index(primary) + 1) % 3]
            begin = time.perf_counter()
            try:
                report = do_switch(target)
            except ReplicationError as exc:
                seen.note = f"switch {i + 1} to {target}: {exc}"
                break
            end = time.perf_counter()
            primary = target
            seen.reports.append(report)
            writer.wait_for(len(writer.acked) + WRITES_BETWEEN)
            seen.stalls.append(writer.longest_pause(begin, end))
            # A client that loses its connection may die of it: the side writer goes on alone.
            if seen.sysbench_died_at is None and run.proc.poll() not in (None, 0):
                seen.sysbench_died_at = i + 1
        seen.seconds = time.perf_counter() - started
        seen.result = run.result()
    finally:
        run.kill()
        writer.stop()
    found = {r[0] for r in sandbox.sql(_primary(sandbox), f"SELECT n FROM {sysbench.SIDE_TABLE}")}
    seen.acked, seen.lost = len(writer.acked), len(set(writer.acked) - found)
    seen.writer_errors, seen.writer_reconnects = len(writer.errors), writer.connects - 1
    seen.error_samples = sorted(set(writer.errors))[:3]
    return seen


def _primary(sandbox: Sandbox) -> str:
    for server in sandbox.servers():
        if sandbox.sql(server.name, "SELECT @@global.read_only")[0][0] == 0:
            return server.name
    raise RuntimeError("no writable server")


def _haproxy_switching(sandbox: Sandbox, proxy: HAProxy, switches: int) -> Switching:
    def do_switch(target: str) -> SwitchReport:
        report = switch(sandbox.topology(), to=target, out=lambda _: None)
        proxy.point_at(target)
        return report

    return _switch_under_load(sandbox, "haproxy", proxy.port, do_switch, switches)


def _connector_switching(sandbox: Sandbox, connector: ConnectorProcess, switches: int) -> Switching:
    def do_switch(target: str) -> SwitchReport:
        sessions = ConnectorSessions(connector.home)
        return switch(sandbox.topology(), to=target, out=lambda _: None, sessions=sessions)

    return _switch_under_load(sandbox, "connector", connector.writer_port, do_switch, switches)


def _measure_steady(sandbox: Sandbox, proxy: HAProxy, connector: ConnectorProcess) -> Measured:
    measured = Measured()
    primary = sandbox.server(_primary(sandbox)).port
    # The bare relay: what any Python proxy costs here, so the connector's own share shows.
    relay = Passthrough(primary)
    relay.start()
    try:
        routes = {
            "direct": primary,
            "haproxy": proxy.port,
            "bare relay": relay.port,
            "connector": connector.writer_port,
        }
        measured.steady[THREADS] = _steady(routes, sandbox, THREADS)
        many = {"direct": primary, "bare relay": relay.port, "connector": connector.writer_port}
        measured.steady[MANY_THREADS] = _steady(many, sandbox, MANY_THREADS)
    finally:
        relay.stop()
    return measured


def _measure(sandbox: Sandbox, root: Path, switches: int) -> Measured:
    app = sandbox.account("app")
    primary = sandbox.server(_primary(sandbox))
    sysbench.prepare(SANDBOX_HOST, primary.port, app)
    sandbox.sql(primary.name, f"CREATE TABLE {sysbench.SIDE_TABLE} (n INT PRIMARY KEY)")
    proxy = HAProxy({s.name: s.port for s in sandbox.servers()}, primary.name)
    connector = ConnectorProcess(root)
    try:
        proxy.start()
        connector.start()
        measured = _measure_steady(sandbox, proxy, connector)
        # HAProxy's switches run as they would without a connector: none is running then.
        connector.stop()
        measured.moved["haproxy"] = _haproxy_switching(sandbox, proxy, switches)
        proxy.stop()
        connector.start()
        measured.moved["connector"] = _connector_switching(sandbox, connector, switches)
    finally:
        connector.stop()
        proxy.stop()
    return measured


def _verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def _print_steady(threads: int, results: dict[str, sysbench.Result]) -> None:
    direct = results["direct"]
    print(
        f"\nsteady, sysbench oltp_read_write --threads={threads}, {ROUNDS} rounds of "
        f"{ROUND_SECONDS} s per route in turn (tps: mean of rounds, p95: median of rounds)"
    )
    print(
        f"  {'route':<10} {'tps':>8} {'p95 ms':>7} {'errors':>6} {'vs direct':>9} {'p95 added':>10}"
        + ("   vs bare relay" if "bare relay" in results else "")
    )
    for route, r in results.items():
        ratio = r.tps / direct.tps if direct.tps else 0.0
        added = r.p95_ms - direct.p95_ms
        line = (
            f"  {route:<10} {r.tps:8.1f} {r.p95_ms:7.2f} {r.ignored_errors:6d} "
            f"{ratio:8.2f}x {added:7.2f} ms"
        )
        if route == "connector" and "bare relay" in results and results["bare relay"].tps:
            line += f"   {r.tps / results['bare relay'].tps:.2f}x of the bare relay;"
        if route == "connector" and "direct" in results:
            line += (
                f"   tps target >= {THROUGHPUT_TARGET:.0%} of direct: "
                f"{_verdict(ratio >= THROUGHPUT_TARGET)}, goal {THROUGHPUT_GOAL:.0%}: "
                f"{_verdict(ratio >= THROUGHPUT_GOAL)}; p95 added target <= "
                f"{P95_ADDED_TARGET_MS:g} ms: {_verdict(added <= P95_ADDED_TARGET_MS)}"
            )
        print(line)


def _ms(values: Sequence[float], pick: Callable[[Sequence[float]], float]) -> str:
    return f"{pick(values):.0f} ms" if values else "-"


def _kept(seen: Switching) -> str:
    if seen.route == "haproxy":
        return "none moved (reconnects)"
    pairs = " ".join(f"{r.sessions_kept}/{r.sessions_ended}" for r in seen.reports)
    return pairs or "-"


def _switching_rows(h: Switching, c: Switching) -> list[tuple[str, str, str, str]]:
    """(figure, HAProxy, connector, the connector's target and verdict) per row."""
    worst = max(c.stalls) if c.stalls else float("inf")
    kept_ok = all(r.sessions_kept >= EXPECTED_KEPT and not r.sessions_ended for r in c.reports)
    median = statistics.median
    alive = c.sysbench_died_at is None and bool(c.result and c.result.tps)
    deadlocks = f"0: {_verdict(c.sysbench_errors == 0)} (its own deadlocks count too)"
    stall_max = (
        f"<= {STALL_TARGET_MS:.0f} ms: {_verdict(worst <= STALL_TARGET_MS)}, "
        f"goal <= {STALL_GOAL_MS:.0f} ms: {_verdict(worst <= STALL_GOAL_MS)}"
    )
    kept = f"{EXPECTED_KEPT}/0 each, none dropped: {_verdict(kept_ok and c.reconnects == 0)}"
    return [
        ("switches done", str(len(h.reports)), str(len(c.reports)), f"{SWITCHES}"),
        ("sysbench survived the switches", _survived(h), _survived(c), f"yes: {_verdict(alive)}"),
        ("sysbench errors", str(h.sysbench_errors), str(c.sysbench_errors), deadlocks),
        ("side writer errors", str(h.writer_errors), str(c.writer_errors), _zero(c.writer_errors)),
        ("reconnects", str(h.reconnects), str(c.reconnects), _zero(c.reconnects)),
        ("lost acknowledged writes", str(h.lost), str(c.lost), _zero(c.lost)),
        ("stall per switch, median", _ms(h.stalls, median), _ms(c.stalls, median), ""),
        ("stall per switch, max", _ms(h.stalls, max), _ms(c.stalls, max), stall_max),
        ("sessions kept/ended per switch", _kept(h), _kept(c), kept),
    ]


def _survived(seen: Switching) -> str:
    if seen.sysbench_died_at is not None:
        code = seen.result.returncode if seen.result else "?"
        return f"died at switch {seen.sysbench_died_at} (exit {code})"
    return "yes" if seen.result and seen.result.tps else "-"


def _zero(count: int) -> str:
    return f"0: {_verdict(count == 0)}"


def _print_switching(moved: dict[str, Switching]) -> None:
    haproxy, conn = moved["haproxy"], moved["connector"]
    print(
        f"\nunder {SWITCHES} switches, sysbench --threads={THREADS} + a side writer, per route "
        "(reconnects: sysbench's plus the side writer's)"
    )
    print(f"  {'':<32} {'haproxy':>24} {'connector':>40}   target (connector)")
    for label, h, c, target in _switching_rows(haproxy, conn):
        print(f"  {label:<32} {h:>24} {c:>40}   {target}")
    for seen in (haproxy, conn):
        medians = seen.phase_medians()
        phases = ", ".join(f"{k} {v:.1f}" for k, v in medians.items())
        print(f"  {seen.route}: writes blocked per switch, median ms: {phases or '-'}")
        if seen.result is not None:
            r = seen.result
            print(
                f"  {seen.route}: {len(seen.reports)} switches in {seen.seconds:.0f} s; sysbench "
                f"{r.tps:.1f} tps, seconds with no transaction {r.zero_seconds}; side writer "
                f"{seen.acked:,} acknowledged"
            )
            if r.returncode != 0 or r.fatal or not r.tps:
                tail = " | ".join(r.output.strip().splitlines()[-4:])
                print(f"  {seen.route}: sysbench exited {r.returncode}: {tail}")
        died = "" if seen.sysbench_died_at is None else SYSBENCH_DIED
        for line in [died, seen.note, *seen.error_samples]:
            if line:
                print(f"  {seen.route}: {line}")


def _figures(measured: Measured, at: str, code: str) -> dict[str, Any]:
    figures: dict[str, Any] = {"connector_bench_at": at, "connector_bench_code": code}
    for threads, results in measured.steady.items():
        suffix = "" if threads == THREADS else f"_{threads}_threads"
        for route, r in results.items():
            figures[f"connector_bench_{route}_tps{suffix}"] = round(r.tps, 1)
            figures[f"connector_bench_{route}_p95_ms{suffix}"] = r.p95_ms
    for seen in measured.moved.values():
        prefix = f"connector_bench_{seen.route}_switching"
        figures[f"{prefix}_stall_max_ms"] = round(max(seen.stalls), 1) if seen.stalls else None
        figures[f"{prefix}_stall_median_ms"] = (
            round(statistics.median(seen.stalls), 1) if seen.stalls else None
        )
        figures[f"{prefix}_switches"] = len(seen.reports)
        figures[f"{prefix}_lost"] = seen.lost
        figures[f"{prefix}_sysbench_errors"] = seen.sysbench_errors
        figures[f"{prefix}_writer_errors"] = seen.writer_errors
        figures[f"{prefix}_sysbench_died_at"] = seen.sysbench_died_at
        figures[f"{prefix}_reconnects"] = seen.reconnects
        figures[f"{prefix}_sessions_kept"] = [r.sessions_kept for r in seen.reports]
        figures[f"{prefix}_sessions_ended"] = [r.sessions_ended for r in seen.reports]
        figures[f"{prefix}_blocked_median_ms"] = {
            k: round(v, 1) for k, v in seen.phase_medians().items()
        }
    return figures


def _code_digest() -> str:
    """Which connector was measured: its source changes under this bench, so name it."""
    digest = hashlib.sha256()
    for path in sorted(CONNECTOR_SOURCE.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.connector", description=DESCRIPTION)
    parser.add_argument("--switches", type=int, default=SWITCHES)
    args = parser.parse_args(argv)
    at, code = datetime.now(UTC).isoformat(timespec="seconds"), _code_digest()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"connector bench: measured {at} (load average {load}), connector source {code}")
    root = Path(tempfile.mkdtemp(prefix="lb-bench-conn-"))
    sandbox = Sandbox(root / "sandbox")
    started = time.monotonic()
    try:
        sandbox.up()
        measured = _measure(sandbox, root, args.switches)
    except (sysbench.SysbenchMissing, HAProxyMissing) as exc:
        print(f"connector bench not run: {exc}")
        return 1
    except (ReplicationError, RuntimeError) as exc:
        print(f"connector bench failed: {exc}")
        return 1
    finally:
        sandbox.destroy()
        shutil.rmtree(root, ignore_errors=True)
    for threads, results in measured.steady.items():
        _print_steady(threads, results)
    _print_switching(measured.moved)
    print(f"\nconnector bench took {time.monotonic() - started:.0f} s")
    print(f"figures written to {record(_figures(measured, at, code))}")
    conn = measured.moved["connector"]
    return 0 if conn.reports and conn.lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

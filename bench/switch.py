"""MySQL switch under write load and the health probe, measured on a real local topology."""

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.results import record
from bench.writer import Writer
from replication.errors import ReplicationError
from replication.probe import probe
from replication.report import PHASES
from replication.sandbox import Sandbox
from replication.settings import SANDBOX_APP_SCHEMA, SANDBOX_SERVERS
from replication.switch import switch
from replication.topology import Topology

SWITCHES = 10
PROBES = 20
# What the issue asks: writes blocked under a second (aiming at 200 ms), a probe under 100 ms.
BLOCKED_TARGET_MS = 1000.0
BLOCKED_GOAL_MS = 200.0
PROBE_BUDGET_MS = 100.0
# Writes the application makes between two switches, so each one runs under real load.
WRITES_BETWEEN = 200
TABLE = f"`{SANDBOX_APP_SCHEMA}`.bench_writes"
DESCRIPTION = (
    "Start alpha, beta and gamma on free ports under a temporary directory, probe them idle and "
    "under writes, then switch the primary back and forth while an application inserts without "
    "pause. Prints how long writes were blocked (by the switch's clock and as the application "
    "saw it) and how many acknowledged writes went missing."
)


def probe_times(topology: Topology, count: int) -> list[float]:
    return [probe(topology).duration_ms for _ in range(count)]


def lost_writes(sandbox: Sandbox, primary: str, acked: Sequence[int]) -> int:
    """Acknowledged writes missing from any server once every replica has caught up."""
    position = sandbox.sql(primary, "SELECT @@global.gtid_binlog_pos")[0][0]
    missing: set[int] = set()
    for server in sandbox.servers():
        if server.name != primary:
            sandbox.sql(server.name, "SELECT MASTER_GTID_WAIT(%s, 60)", (position,))
        held = {row[0] for row in sandbox.sql(server.name, f"SELECT n FROM {TABLE}")}
        missing |= set(acked) - held
    return len(missing)


def _ms(values: Sequence[float]) -> str:
    return f"median {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.switch", description=DESCRIPTION)
    parser.add_argument("--switches", type=int, default=SWITCHES)
    parser.add_argument("--probes", type=int, default=PROBES)
    args = parser.parse_args(argv)

    # A short directory: unix socket paths of the servers must stay under ~100 characters.
    root = Path(tempfile.mkdtemp(prefix="lifeboat-bench-"))
    sandbox = Sandbox(root / "sandbox")
    writer: Writer | None = None
    try:
        started = time.perf_counter()
        topology = sandbox.up()
        print(
            f"started {', '.join(SANDBOX_SERVERS)} under {root} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        idle = probe_times(topology, args.probes)

        writer = Writer(sandbox, TABLE)
        writer.start()
        writer.wait_for(WRITES_BETWEEN)
        loaded = probe_times(topology, args.probes)

        blocked: list[float] = []
        phases: dict[str, list[float]] = {phase: [] for phase in PHASES}
        paused: list[float] = []
        took: list[float] = []
        primary = "alpha"
        for i in range(args.switches):
            target = "beta" if primary == "alpha" else "alpha"
            begin = time.perf_counter()
            try:
                report = switch(topology, to=target, out=lambda _line: None)
            except ReplicationError as exc:
                print(f"switch {i + 1}: {primary} -> {target} FAILED: {exc}")
                return 1
            end = time.perf_counter()
            writer.wait_for(len(writer.acked) + WRITES_BETWEEN)
            blocked.append(report.blocked_ms or 0.0)
            for phase in PHASES:
                phases[phase].append(report.phases_ms.get(phase, 0.0))
            paused.append(writer.longest_pause(begin, end))
            took.append((end - begin) * 1000)
            print(
                f"switch {i + 1:2d}: {primary:>5} -> {target:<5} writes blocked "
                f"{blocked[-1]:6.1f} ms, application paused {paused[-1]:6.1f} ms, "
                f"switch took {took[-1]:6.1f} ms"
            )
            primary = target
        writer.stop()
        lost = lost_writes(sandbox, primary, writer.acked)

        median_blocked = statistics.median(blocked)
        median_probe = statistics.median(idle)
        print()
        print(f"writes blocked, switch's clock ({len(blocked)} switches): {_ms(blocked)}")
        for phase, values in phases.items():
            print(f"  of which {phase + ':':<14}                {_ms(values)}")
        print(f"writes blocked, application's view:        {_ms(paused)}")
        print(f"whole switch, check to verify:             {_ms(took)}")
        print(
            f"  median blocked / 1 s target: {median_blocked / BLOCKED_TARGET_MS:.2f}x   "
            f"/ 200 ms goal: {median_blocked / BLOCKED_GOAL_MS:.2f}x"
        )
        print(
            f"acknowledged writes: {len(writer.acked):,}; lost: {lost} (must be 0); "
            f"write errors retried: {writer.errors}"
        )
        print(f"health probe of 3 servers, idle ({len(idle)}):   {_ms(idle)}")
        print(f"health probe of 3 servers, under writes:   {_ms(loaded)}")
        print(f"  median probe / 100 ms budget: {median_probe / PROBE_BUDGET_MS:.2f}x")
        path = record(
            {
                "switch_count": len(blocked),
                "switch_blocked_median_ms": round(median_blocked, 1),
                "switch_blocked_max_ms": round(max(blocked), 1),
                **{
                    f"switch_phase_{phase.replace(' ', '_').replace('-', '_')}_median_ms": round(
                        statistics.median(values), 1
                    )
                    for phase, values in phases.items()
                },
                "switch_app_pause_median_ms": round(statistics.median(paused), 1),
                "switch_app_pause_max_ms": round(max(paused), 1),
                "switch_duration_median_ms": round(statistics.median(took), 1),
                "switch_acked_writes": len(writer.acked),
                "switch_lost_writes": lost,
                "probe_servers": len(topology.servers),
                "probe_median_ms": round(median_probe, 1),
                "probe_max_ms": round(max(idle), 1),
                "probe_under_writes_median_ms": round(statistics.median(loaded), 1),
            }
        )
        print(f"figures written to {path}")
        return 0 if lost == 0 else 1
    finally:
        if writer is not None:
            writer.stop()
        sandbox.destroy()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""sysbench oltp_read_write through the connector's writer port, across 10 switches."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from bench import sysbench
from replication.settings import SANDBOX_SERVERS
from tests.replication.connector.clients import targets

if TYPE_CHECKING:
    from tests.replication.connector.conftest import Connected

# Long enough for 10 switches with load flowing between them on a busy 2-core machine.
SECONDS = 45
WRITES_BETWEEN = 30
# Lost connections are reopened and counted; any other error but a deadlock stops sysbench.
RECONNECTABLE = "2013,2006,2055"
STALL_LIMIT_MS = 5000.0


def test_sysbench_sees_no_error_no_reconnect_and_loses_no_write(connected: Connected) -> None:
    try:
        sysbench.program()
    except sysbench.SysbenchMissing as exc:
        pytest.fail(str(exc))
    app, host = connected.app, connected.host
    primary = SANDBOX_SERVERS[0]
    sysbench.prepare(host, connected.sandbox.server(primary).port, app)
    connected.sandbox.sql(primary, f"CREATE TABLE {sysbench.SIDE_TABLE} (n INT PRIMARY KEY)")
    writer = sysbench.SideWriter(host, connected.writer_port, app)
    writer.start()
    # One thread: oltp_read_write deadlocks against itself with more, and those are not ours.
    run = sysbench.Run(host, connected.writer_port, app, SECONDS, threads=1, ignore=RECONNECTABLE)
    stalls: list[float] = []
    try:
        writer.wait_for(WRITES_BETWEEN)
        for i, target in enumerate(targets()):
            assert run.running(), f"sysbench ended before switch {i + 1}: raise SECONDS"
            begin = time.perf_counter()
            report = connected.switch(target)
            end = time.perf_counter()
            assert report.outcome == "success", f"switch {i + 1} to {target}: {report.lines}"
            primary = target
            writer.wait_for(len(writer.acked) + WRITES_BETWEEN)
            stalls.append(writer.longest_pause(begin, end))
        assert run.running(), "sysbench ended during the switches: raise SECONDS"
        result = run.result()
    finally:
        run.kill()
        writer.stop()

    found = {
        row[0] for row in connected.sandbox.sql(primary, f"SELECT n FROM {sysbench.SIDE_TABLE}")
    }
    lost = sorted(set(writer.acked) - found)
    print(
        f"sysbench: {result.tps:.0f} tps, p95 {result.p95_ms} ms, errors {result.ignored_errors}, "
        f"reconnects {result.reconnects}, seconds without a transaction {result.zero_seconds}; "
        f"side writer: {len(writer.acked)} acknowledged, {len(lost)} lost, "
        f"longest stall per switch {max(stalls):.0f} ms"
    )
    assert result.returncode == 0 and not result.fatal, result.output[-2000:]
    assert result.ignored_errors == 0, result.output[-2000:]
    assert result.reconnects == 0, result.output[-2000:]
    assert result.tps > 0
    assert writer.errors == [] and writer.connects == 1, writer.errors
    assert lost == [], f"acknowledged writes missing on {primary}: {lost[:20]}"
    assert max(stalls) < STALL_LIMIT_MS, stalls

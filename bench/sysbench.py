"""Debian's sysbench oltp_read_write, started and read back, plus a side writer on one port."""

from __future__ import annotations

import contextlib
import itertools
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field

import pymysql

from bench.writer import AckedWrites
from replication.settings import SANDBOX_APP_SCHEMA
from replication.topology import Account

TABLES = 2
TABLE_SIZE = 2000
SIDE_TABLE = f"`{SANDBOX_APP_SCHEMA}`.side_writes"
INTERVAL = re.compile(
    r"\[ *(\d+)s \] thds: \d+ tps: ([\d.]+) qps: [\d.]+ .*lat \(ms,95%\): ([\d.]+) "
    r"err/s: ([\d.]+) reconn/s: ([\d.]+)"
)


class SysbenchMissing(RuntimeError):
    """sysbench is not installed."""


def program() -> str:
    path = shutil.which("sysbench")
    if path is None:
        raise SysbenchMissing("sysbench is not installed: run `apt-get install sysbench`")
    return path


def _options(host: str, port: int, account: Account) -> list[str]:
    return [
        "oltp_read_write",
        "--db-driver=mysql",
        f"--mysql-host={host}",
        f"--mysql-port={port}",
        f"--mysql-user={account.user}",
        f"--mysql-password={account.password}",
        f"--mysql-db={SANDBOX_APP_SCHEMA}",
        "--mysql-ssl=off",
        f"--tables={TABLES}",
        f"--table-size={TABLE_SIZE}",
    ]


def prepare(host: str, port: int, account: Account) -> None:
    """Create and fill sysbench's tables (on the primary itself, not through a proxy)."""
    done = subprocess.run(
        [program(), *_options(host, port, account), "prepare"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sysbench prepare failed: {done.stdout[-500:]} {done.stderr[-500:]}")


@dataclass
class Result:
    """sysbench's own account of a run."""

    output: str
    returncode: int
    tps: float = 0.0
    p95_ms: float = 0.0
    ignored_errors: int = 0
    reconnects: int = 0
    fatal: list[str] = field(default_factory=list)
    # (second, tps) per report interval
    intervals: list[tuple[int, float]] = field(default_factory=list)

    @property
    def zero_seconds(self) -> int:
        """Report intervals in which no transaction finished: stalls of a second or more."""
        return sum(1 for _, tps in self.intervals if tps == 0)


def _figure(pattern: str, output: str) -> float:
    found = re.search(pattern, output)
    return float(found.group(1)) if found else 0.0


def parse(output: str, returncode: int) -> Result:
    return Result(
        output=output,
        returncode=returncode,
        tps=_figure(r"transactions:\s+\d+\s+\(([\d.]+) per sec", output),
        p95_ms=_figure(r"95th percentile:\s+([\d.]+)", output),
        ignored_errors=int(_figure(r"ignored errors:\s+(\d+)", output)),
        reconnects=int(_figure(r"reconnects:\s+(\d+)", output)),
        fatal=[line for line in output.splitlines() if "FATAL" in line],
        intervals=[(int(m[0]), float(m[1])) for m in INTERVAL.findall(output)],
    )


def combined(results: list[Result]) -> Result:
    """Runs of equal length as one: mean tps, median p95 (percentiles do not add), summed counts."""
    return Result(
        output="\n".join(r.output for r in results),
        returncode=max((r.returncode for r in results), key=abs),
        tps=statistics.mean(r.tps for r in results),
        p95_ms=statistics.median(r.p95_ms for r in results),
        ignored_errors=sum(r.ignored_errors for r in results),
        reconnects=sum(r.reconnects for r in results),
        fatal=[line for r in results for line in r.fatal],
    )


class Run:
    """One sysbench run in the background."""

    def __init__(
        self,
        host: str,
        port: int,
        account: Account,
        seconds: int,
        threads: int = 2,
        ignore: str = "all",
    ) -> None:
        self.proc = subprocess.Popen(
            [
                program(),
                *_options(host, port, account),
                f"--threads={threads}",
                f"--time={seconds}",
                "--report-interval=1",
                # Errors named here are counted (and a lost connection reopened), not fatal.
                f"--mysql-ignore-errors={ignore}",
                "run",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.seconds = seconds

    def running(self) -> bool:
        return self.proc.poll() is None

    def result(self) -> Result:
        output, _ = self.proc.communicate(timeout=self.seconds + 60)
        return parse(output, self.proc.returncode)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class SideWriter(AckedWrites):
    """One connection inserting numbered rows through a port; counts errors and reconnects.

    A row is acknowledged when its autocommit INSERT returned. After an error the writer opens
    a new connection (a reconnect) and never reuses a number whose outcome it does not know.
    """

    def __init__(self, host: str, port: int, account: Account) -> None:
        super().__init__()
        self.address = (host, port)
        self.account = account
        self.errors: list[str] = []
        self.connects = 0

    def _connect(self) -> pymysql.connections.Connection:
        self.connects += 1
        return pymysql.connect(
            host=self.address[0],
            port=self.address[1],
            user=self.account.user,
            password=self.account.password,
            autocommit=True,
            connect_timeout=5,
            read_timeout=30,
        )

    def run(self) -> None:
        conn = None
        for n in itertools.count(1):
            if self.stopping.is_set():
                break
            try:
                if conn is None:
                    conn = self._connect()
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {SIDE_TABLE} VALUES (%s)", (n,))
                self.acked.append(n)
                self.acked_at.append(time.perf_counter())
            except pymysql.MySQLError as exc:
                self.errors.append(str(exc))
                if conn is not None:
                    with contextlib.suppress(pymysql.MySQLError):
                        conn.close()
                conn = None
                self.stopping.wait(0.01)
        if conn is not None:
            conn.close()

"""Health probe: reads every server in parallel and names what is wrong with the topology."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymysql
import pymysql.cursors

from replication.dialect import Dialect, ReplicaStatus, Statement, detect
from replication.errors import ServerUnreachable
from replication.gtid import GtidState
from replication.settings import ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE, ER_OPTION_PREVENTS_STATEMENT
from replication.topology import Account, Server, Topology, describe_error

ERROR = "ERROR"
WARN = "WARN"


class Kind:
    """What a finding is about; asset checks and alerts key on these names."""

    UNREACHABLE = "unreachable"
    NO_WRITABLE_PRIMARY = "no_writable_primary"
    SPLIT_BRAIN = "split_brain"
    WRONG_SOURCE = "wrong_source"
    REPLICATION_BROKEN = "replication_broken"
    REPLICATION_STOPPED = "replication_stopped"
    LAG = "lag"
    ERRANT = "errant_transactions"
    HEARTBEAT = "heartbeat"
    NOT_PROMOTABLE = "not_promotable"

    ALL = (
        UNREACHABLE,
        NO_WRITABLE_PRIMARY,
        SPLIT_BRAIN,
        WRONG_SOURCE,
        REPLICATION_BROKEN,
        REPLICATION_STOPPED,
        LAG,
        ERRANT,
        HEARTBEAT,
        NOT_PROMOTABLE,
    )


@dataclass(frozen=True)
class Finding:
    """One thing wrong, ranked as a person would: ERROR needs action now, WARN soon."""

    kind: str
    severity: str
    server: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.severity} {self.kind}: {self.message}"


@dataclass
class ServerHealth:
    """What the probe saw on one server."""

    name: str
    address: str
    reachable: bool = False
    error: str = ""
    version: str = ""
    dialect: Dialect | None = None
    server_id: int | None = None
    read_only: bool | None = None
    log_bin: bool = False
    log_replica_updates: bool = False
    gtid: GtidState | None = None
    replica: ReplicaStatus | None = None
    source: str | None = None
    heartbeat_lag: float | None = None
    heartbeat_applied: bool | None = None
    errant: str = ""
    probe_ms: float = 0.0

    @property
    def writable(self) -> bool:
        return self.reachable and self.read_only is False


@dataclass
class Health:
    """Every server's state and the findings about the whole topology at one moment."""

    probed_at: datetime
    servers: dict[str, ServerHealth]
    primary: str | None
    expected_primary: str | None
    findings: list[Finding] = field(default_factory=list)
    duration_ms: float = 0.0
    lag_threshold: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def for_server(self, name: str) -> list[Finding]:
        return [f for f in self.findings if f.server == name]

    def role(self, name: str) -> str:
        server = self.servers[name]
        if not server.reachable:
            return "unreachable"
        if server.writable:
            return "primary" if name == self.primary else "writable"
        return "replica" if server.replica else "read-only"

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per server, for tables and the health history."""
        rows = []
        for name, s in self.servers.items():
            replica = s.replica
            rows.append(
                {
                    "probed_at": self.probed_at,
                    "server": name,
                    "address": s.address,
                    "role": self.role(name),
                    "reachable": s.reachable,
                    "version": s.version,
                    "read_only": s.read_only,
                    "source": s.source,
                    "io_running": replica.io_running if replica else None,
                    "sql_running": replica.sql_running if replica else None,
                    "last_io_error": replica.last_io_error if replica else None,
                    "last_sql_error": replica.last_sql_error if replica else None,
                    "seconds_behind_master": replica.seconds_behind if replica else None,
                    "heartbeat_lag_s": s.heartbeat_lag,
                    "gtid_executed": s.gtid.executed if s.gtid else None,
                    "errant_gtids": s.errant or None,
                    "findings": "; ".join(str(f) for f in self.for_server(name)) or None,
                    "worst": _worst(self.for_server(name)),
                    "probe_ms": round(s.probe_ms, 1),
                    "error": s.error or None,
                }
            )
        return rows


def _worst(findings: list[Finding]) -> str:
    severities = {f.severity for f in findings}
    return ERROR if ERROR in severities else WARN if WARN in severities else "OK"


def _query_one(cursor: Any, statement: Statement) -> Any:
    cursor.execute(statement.sql, statement.params or None)
    return cursor.fetchone()


def _read_server(
    topology: Topology, server: Server, account: Account, read_timeout: float
) -> tuple[ServerHealth, Any]:
    health = ServerHealth(name=server.name, address=server.address)
    started = time.perf_counter()
    try:
        conn = topology.connect(server, account, read_timeout=read_timeout)
    except ServerUnreachable as exc:
        health.error = str(exc)
        health.probe_ms = (time.perf_counter() - started) * 1000
        return health, None
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT VERSION(), @@server_id, @@global.log_bin, @@global.log_slave_updates"
            )
            version, server_id, log_bin, log_updates = cur.fetchone()
            dialect = detect(version)
            read_only, super_read_only = _query_one(cur, dialect.read_only)
            state = dialect.parse_gtid_state(_query_one(cur, dialect.gtid_state()))
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(dialect.replica_status.sql)
            replica = dialect.parse_replica_status(cur.fetchone())
    except (pymysql.MySQLError, ValueError) as exc:
        health.error = f"{server.name}: probe query failed: {describe_error(exc)}"
        conn.close()
        health.probe_ms = (time.perf_counter() - started) * 1000
        return health, None
    health.reachable = True
    health.version = version
    health.dialect = dialect
    health.server_id = int(server_id)
    health.read_only = bool(int(read_only)) or bool(int(super_read_only or 0))
    health.log_bin = bool(int(log_bin))
    health.log_replica_updates = bool(int(log_updates))
    health.gtid = state
    health.replica = replica
    health.probe_ms = (time.perf_counter() - started) * 1000
    return health, conn


def write_heartbeat(conn: Any, dialect: Dialect) -> str:
    """Write the heartbeat row on the primary; return the position that carries it."""
    with conn.cursor() as cur:
        try:
            cur.execute(dialect.write_heartbeat.sql)
        except pymysql.MySQLError as exc:
            if exc.args[0] not in (ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR):
                raise
            for statement in dialect.create_heartbeat:
                cur.execute(statement.sql)
            cur.execute(dialect.write_heartbeat.sql)
        return str(_query_one(cur, dialect.last_gtid())[0] or "")


def read_heartbeat(
    conn: Any, dialect: Dialect, position: str, primary_server_id: int, wait: float
) -> tuple[bool | None, float | None]:
    """Wait up to `wait` s for the heartbeat at `position`; return (arrived, lag seconds)."""
    arrived: bool | None = None
    with conn.cursor() as cur:
        if position and wait > 0:
            arrived = dialect.wait_succeeded(
                _query_one(cur, dialect.wait_for_gtid(position, wait))[0]
            )
        try:
            row = _query_one(cur, dialect.heartbeat_age(primary_server_id))
        except pymysql.MySQLError as exc:
            if exc.args[0] in (ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR):
                return arrived, None
            raise
    return arrived, (None if row is None or row[0] is None else max(0.0, row[0] / 1e6))


def probe(topology: Topology, account: Account | None = None, heartbeat: bool = True) -> Health:
    """Read every server at once, write a heartbeat on the primary, and list the findings."""
    config = topology.config
    account = account or topology.monitor
    timeout = config.probe_timeout
    wait = config.lag_threshold
    started = time.perf_counter()
    probed_at = datetime.now(UTC)
    conns: dict[str, Any] = {}
    servers: dict[str, ServerHealth] = {}
    findings: list[Finding] = []
    with ThreadPoolExecutor(max_workers=len(topology.servers)) as pool:
        results = pool.map(
            lambda s: _read_server(topology, s, account, timeout + wait), topology.servers
        )
        for health, conn in results:
            servers[health.name] = health
            if conn is not None:
                conns[health.name] = conn
        try:
            for s in servers.values():
                if s.replica:
                    source = topology.by_address(s.replica.source_host, s.replica.source_port)
                    s.source = (
                        source.name
                        if source
                        else f"{s.replica.source_host}:{s.replica.source_port}"
                    )
            writable = [n for n, s in servers.items() if s.writable]
            primary = writable[0] if len(writable) == 1 else None
            expected = primary or _pointed_to(servers, topology)
            if primary and heartbeat:
                findings += _heartbeats(pool, servers, conns, primary, timeout, wait)
            if expected in conns:
                _errant(servers, conns, servers[expected], writable)
        finally:
            for conn in conns.values():
                conn.close()
    findings = _find(topology, servers, writable, primary, expected) + findings
    return Health(
        probed_at=probed_at,
        servers=servers,
        primary=primary,
        expected_primary=expected,
        findings=findings,
        duration_ms=(time.perf_counter() - started) * 1000,
        lag_threshold=wait,
    )


def _pointed_to(servers: dict[str, ServerHealth], topology: Topology) -> str | None:
    """The server most replicas replicate from: the primary when none is writable."""
    votes = Counter(s.source for s in servers.values() if s.source in topology.names)
    return votes.most_common(1)[0][0] if votes else None


def _heartbeats(
    pool: ThreadPoolExecutor,
    servers: dict[str, ServerHealth],
    conns: dict[str, Any],
    primary: str,
    timeout: float,
    wait: float,
) -> list[Finding]:
    p = servers[primary]
    assert p.dialect is not None and p.server_id is not None
    try:
        position = write_heartbeat(conns[primary], p.dialect)
    except pymysql.MySQLError as exc:
        if exc.args[0] == ER_OPTION_PREVENTS_STATEMENT:
            message = f"{primary} turned read-only while probed; no heartbeat written"
        else:
            message = f"could not write the heartbeat on {primary}: {describe_error(exc)}"
        return [Finding(Kind.HEARTBEAT, WARN, primary, message)]
    replicas = [n for n in conns if n != primary and servers[n].replica]

    def measure(name: str) -> tuple[str, Any]:
        s = servers[name]
        assert s.dialect is not None and s.replica is not None
        # Waiting only makes sense while the replica receives and applies; the wait is bounded
        # by the lag threshold, so a heartbeat that does not arrive means lag beyond it.
        this_wait = wait if s.replica.running else 0.0
        try:
            return name, read_heartbeat(conns[name], s.dialect, position, p.server_id, this_wait)
        except pymysql.MySQLError as exc:
            return name, exc

    problems = []
    for name, result in pool.map(measure, replicas):
        if isinstance(result, Exception):
            problems.append(
                Finding(
                    Kind.HEARTBEAT,
                    WARN,
                    name,
                    f"could not read the heartbeat on {name}: {describe_error(result)}",
                )
            )
            continue
        servers[name].heartbeat_applied, servers[name].heartbeat_lag = result
    return problems


def _find(
    topology: Topology,
    servers: dict[str, ServerHealth],
    writable: list[str],
    primary: str | None,
    expected: str | None,
) -> list[Finding]:
    threshold = topology.config.lag_threshold
    found: list[Finding] = []
    for name, s in servers.items():
        if not s.reachable:
            found.append(Finding(Kind.UNREACHABLE, ERROR, name, s.error))
    if len(writable) > 1:
        found.append(
            Finding(
                Kind.SPLIT_BRAIN,
                ERROR,
                None,
                f"split brain: {', '.join(writable)} all accept writes. Set read_only=ON on "
                "every server but the real primary now, then check them for errant transactions.",
            )
        )
    elif not writable:
        hint = f" (replicas point to {expected})" if expected else ""
        found.append(
            Finding(
                Kind.NO_WRITABLE_PRIMARY,
                ERROR,
                expected,
                f"no writable primary{hint}: applications cannot write. "
                "Run `lifeboat failover` if the primary is dead, or set read_only=OFF on it.",
            )
        )
    for name, s in servers.items():
        if s.reachable and name not in writable:
            found += _replica_findings(name, s, primary or expected, threshold)
    return found


def _errant(
    servers: dict[str, ServerHealth],
    conns: dict[str, Any],
    reference: ServerHealth,
    writable: list[str],
) -> None:
    """Set `errant` on every read-only server: GTIDs it has that the reference never had."""
    assert reference.dialect is not None
    # Read the reference again now, after the replicas: they cannot be legitimately ahead.
    try:
        with conns[reference.name].cursor() as cur:
            position = reference.dialect.parse_gtid_state(
                _query_one(cur, reference.dialect.gtid_state())
            )
    except pymysql.MySQLError as exc:
        reference.error = f"{reference.name}: could not read GTIDs again: {describe_error(exc)}"
        return
    for name, s in servers.items():
        if name == reference.name or name in writable or not s.reachable:
            continue
        assert s.dialect is not None and s.gtid is not None
        statement = s.dialect.errant_statement(s.gtid, position)
        if statement is None:
            s.errant = s.dialect.errant_local(s.gtid, position, s.server_id or 0)
            continue
        try:
            with conns[name].cursor() as cur:
                s.errant = str(_query_one(cur, statement)[0] or "")
        except pymysql.MySQLError as exc:
            s.error = (
                f"{name}: could not compare GTIDs with {reference.name}: {describe_error(exc)}"
            )


def _replica_findings(
    name: str, s: ServerHealth, primary: str | None, threshold: float
) -> list[Finding]:
    found: list[Finding] = []
    r = s.replica
    if r is None:
        # Errant transactions matter most here: pointing such a server at the primary
        # breaks its replication (error 1950), so they are listed below, never hidden.
        first = "deal with its errant transactions (below), then " if s.errant else ""
        found.append(
            Finding(
                Kind.REPLICATION_STOPPED,
                ERROR,
                name,
                f"{name} is read-only but replicates from no one; {first}point it at "
                f"{primary or 'the primary'} (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos).",
            )
        )
    else:
        found += _replication_findings(name, s, r, primary, threshold)
    if s.errant:
        found.append(
            Finding(
                Kind.ERRANT,
                ERROR,
                name,
                f"{name} has transactions the primary {primary} never had ({s.errant}); "
                "they would be lost or collide in a switch. Inspect them with mariadb-binlog "
                f"on {name} and re-apply or discard them by hand.",
            )
        )
    if not (s.log_bin and s.log_replica_updates):
        found.append(
            Finding(
                Kind.NOT_PROMOTABLE,
                WARN,
                name,
                f"{name} cannot become primary: it needs log_bin and log_slave_updates ON "
                "so the other replicas can follow it.",
            )
        )
    return found


def _replication_findings(
    name: str, s: ServerHealth, r: ReplicaStatus, primary: str | None, threshold: float
) -> list[Finding]:
    """What is wrong with how a replica receives and applies its source's transactions."""
    found: list[Finding] = []
    if primary and s.source != primary:
        found.append(
            Finding(
                Kind.WRONG_SOURCE,
                ERROR,
                name,
                f"{name} replicates from {s.source}, not from the primary {primary}; "
                f"repoint it to {primary}.",
            )
        )
    if r.last_io_error or r.last_sql_error or r.io_running == "Connecting":
        errors = "; ".join(
            e
            for e in (
                f"IO thread: {r.last_io_error}" if r.last_io_error else "",
                f"SQL thread: {r.last_sql_error}" if r.last_sql_error else "",
                "IO thread cannot connect to its source"
                if r.io_running == "Connecting" and not r.last_io_error
                else "",
            )
            if e
        )
        found.append(
            Finding(
                Kind.REPLICATION_BROKEN, ERROR, name, f"replication on {name} is broken: {errors}"
            )
        )
    elif not r.running:
        found.append(
            Finding(
                Kind.REPLICATION_STOPPED,
                WARN,
                name,
                f"replication on {name} is stopped (IO thread {r.io_running}, SQL thread "
                f"{r.sql_running}) with no error; run START SLAVE on {name} if nobody is "
                "working on it.",
            )
        )
    if s.heartbeat_applied is False or (
        s.heartbeat_lag is not None and s.heartbeat_lag > threshold
    ):
        found.append(
            Finding(
                Kind.LAG,
                WARN,
                name,
                f"{name} lags beyond {threshold:g} s ({_lag_evidence(s, r, threshold)}; "
                f"Seconds_Behind_Master: {r.seconds_behind}).",
            )
        )
    return found


def _lag_evidence(s: ServerHealth, r: ReplicaStatus, threshold: float) -> str:
    """What the heartbeat shows: its age is the lag only while the replica applies."""
    last = (
        f"the last heartbeat it applied was written {s.heartbeat_lag:.1f} s ago"
        if s.heartbeat_lag is not None
        else "it has applied no heartbeat yet"
    )
    if s.heartbeat_applied is False:
        return f"the heartbeat written now did not arrive within {threshold:g} s; {last}"
    if not r.running:
        return f"replication is stopped; {last}"
    return f"heartbeat lag {s.heartbeat_lag:.1f} s"

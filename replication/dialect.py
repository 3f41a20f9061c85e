"""MariaDB 10.11 and MySQL 8 replication statements behind one interface, picked by version."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from replication import gtid
from replication.gtid import GtidState
from replication.settings import CONNECT_RETRY, HEARTBEAT_SCHEMA, HEARTBEAT_TABLE, SWITCH_LOCK

HEARTBEAT = f"`{HEARTBEAT_SCHEMA}`.`{HEARTBEAT_TABLE}`"
REDACTED = "'********'"


@dataclass(frozen=True)
class Statement:
    """SQL with its parameters; parameters listed in `secret` never appear when printed."""

    sql: str
    params: tuple[Any, ...] = ()
    secret: frozenset[int] = field(default_factory=frozenset)

    def redacted(self) -> str:
        """The statement as a person may see it: secret parameters replaced by stars."""
        if not self.params:
            return self.sql
        shown = tuple(
            REDACTED if i in self.secret else repr(value) for i, value in enumerate(self.params)
        )
        return self.sql % shown

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"Statement({self.redacted()!r})"


@dataclass(frozen=True)
class ReplicaStatus:
    """One server's replication from its source, in words common to both servers."""

    source_host: str
    source_port: int
    io_running: str
    sql_running: str
    last_io_error: str
    last_sql_error: str
    seconds_behind: int | None
    using_gtid: str
    sql_delay: int
    relay_applied: bool

    @property
    def running(self) -> bool:
        return self.io_running == "Yes" and self.sql_running == "Yes"


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


class Dialect(ABC):
    """Statements one server family needs for probing, switching and failing over."""

    name: str
    replica_status: Statement
    read_only: Statement
    stop_replica: Statement
    stop_io_thread: Statement
    start_replica: Statement
    reset_replica: Statement
    write_heartbeat: Statement = Statement(
        f"INSERT INTO {HEARTBEAT} (server_id, ts) VALUES (@@server_id, UTC_TIMESTAMP(6)) "
        "ON DUPLICATE KEY UPDATE ts = VALUES(ts)"
    )
    create_heartbeat: tuple[Statement, ...] = (
        Statement(f"CREATE DATABASE IF NOT EXISTS `{HEARTBEAT_SCHEMA}`"),
        Statement(
            f"CREATE TABLE IF NOT EXISTS {HEARTBEAT} ("
            "server_id INT UNSIGNED NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL"
            ") ENGINE=InnoDB"
        ),
    )
    sessions: Statement = Statement(
        "SELECT id, user, command, time, state FROM information_schema.processlist "
        "WHERE id <> CONNECTION_ID()"
    )

    running_statements: Statement = Statement(
        "SELECT id, user, time_ms, LEFT(info, 200) FROM information_schema.processlist "
        "WHERE id <> CONNECTION_ID() AND command = 'Query' AND info IS NOT NULL"
    )

    def lock_wait(self, seconds: int) -> Statement:
        """Bound how long this session waits for a lock (read_only=ON waits for writes)."""
        return Statement("SET SESSION lock_wait_timeout = %s", (int(seconds),))

    def heartbeat_age(self, primary_server_id: int) -> Statement:
        """Microseconds since the primary's last heartbeat that this server has applied."""
        return Statement(
            f"SELECT TIMESTAMPDIFF(MICROSECOND, ts, UTC_TIMESTAMP(6)) FROM {HEARTBEAT} "
            "WHERE server_id = %s",
            (primary_server_id,),
        )

    def long_writes(self, limit_seconds: float) -> Statement:
        """Transactions that have changed or locked rows and stayed open longer than the limit."""
        return Statement(
            "SELECT trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, trx_started, NOW()), "
            "LEFT(COALESCE(trx_query, ''), 200) FROM information_schema.innodb_trx "
            "WHERE trx_mysql_thread_id <> CONNECTION_ID() "
            "AND (trx_rows_modified > 0 OR trx_rows_locked > 0) "
            "AND trx_started < NOW() - INTERVAL %s SECOND",
            (int(limit_seconds),),
        )

    def switch_lock(self) -> Statement:
        """Take the switch lock without waiting; 1 when taken, 0 when someone else has it."""
        return Statement("SELECT GET_LOCK(%s, 0)", (SWITCH_LOCK,))

    def kill(self, session_id: int) -> Statement:
        return Statement("KILL CONNECTION %s", (int(session_id),))

    @abstractmethod
    def block_writes(self) -> list[Statement]: ...

    @abstractmethod
    def allow_writes(self) -> list[Statement]: ...

    @abstractmethod
    def change_source(self, host: str, port: int, user: str, password: str) -> Statement: ...

    @abstractmethod
    def prepare_replica(self) -> list[Statement]:
        """Statements that make a server's own history its replication start point."""

    @abstractmethod
    def gtid_state(self) -> Statement: ...

    @abstractmethod
    def parse_gtid_state(self, row: tuple[Any, ...]) -> GtidState: ...

    @abstractmethod
    def last_gtid(self) -> Statement:
        """After a write in this session: the position a replica must reach to have it."""

    @abstractmethod
    def wait_for_gtid(self, position: str, timeout: float) -> Statement: ...

    @abstractmethod
    def wait_succeeded(self, value: Any) -> bool: ...

    @abstractmethod
    def parse_replica_status(self, row: Mapping[str, Any] | None) -> ReplicaStatus | None: ...

    @abstractmethod
    def errant_statement(self, replica: GtidState, primary: GtidState) -> Statement | None:
        """A query that computes errant GTIDs on the server, or None if computed locally."""

    @abstractmethod
    def errant_local(self, replica: GtidState, primary: GtidState, replica_server_id: int) -> str:
        """Errant GTIDs computed without a server (only where errant_statement is None)."""

    @abstractmethod
    def contains(self, have: GtidState, want: GtidState) -> bool:
        """True when `have` has every transaction `want` executed (by sequence, per domain)."""

    @abstractmethod
    def progress(self, state: GtidState) -> int:
        """A number that orders servers by how many transactions they hold."""


class MariaDB(Dialect):
    """MariaDB 10.5+ (tested on 10.11): GTID with slave_pos, MASTER_GTID_WAIT, read_only."""

    name = "mariadb"
    replica_status = Statement("SHOW SLAVE STATUS")
    read_only = Statement("SELECT @@global.read_only, 0")
    stop_replica = Statement("STOP SLAVE")
    stop_io_thread = Statement("STOP SLAVE IO_THREAD")
    start_replica = Statement("START SLAVE")
    reset_replica = Statement("RESET SLAVE ALL")

    def block_writes(self) -> list[Statement]:
        return [Statement("SET GLOBAL read_only = ON")]

    def allow_writes(self) -> list[Statement]:
        return [Statement("SET GLOBAL read_only = OFF")]

    def change_source(self, host: str, port: int, user: str, password: str) -> Statement:
        return Statement(
            "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, "
            "MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos, "
            f"MASTER_CONNECT_RETRY = {CONNECT_RETRY}",
            (host, int(port), user, password),
            frozenset({3}),
        )

    def prepare_replica(self) -> list[Statement]:
        return [Statement("SET GLOBAL gtid_slave_pos = @@global.gtid_binlog_pos")]

    def gtid_state(self) -> Statement:
        return Statement(
            "SELECT @@global.gtid_binlog_pos, @@global.gtid_slave_pos, @@global.gtid_current_pos"
        )

    def parse_gtid_state(self, row: tuple[Any, ...]) -> GtidState:
        return GtidState(executed=row[0] or "", applied=row[1] or "", current=row[2] or "")

    def last_gtid(self) -> Statement:
        return Statement("SELECT @@last_gtid")

    def wait_for_gtid(self, position: str, timeout: float) -> Statement:
        return Statement("SELECT MASTER_GTID_WAIT(%s, %s)", (position, float(timeout)))

    def wait_succeeded(self, value: Any) -> bool:
        return value is not None and int(value) == 0

    def parse_replica_status(self, row: Mapping[str, Any] | None) -> ReplicaStatus | None:
        if not row or not row.get("Master_Host"):
            return None
        return ReplicaStatus(
            source_host=row["Master_Host"],
            source_port=int(row["Master_Port"]),
            io_running=row["Slave_IO_Running"],
            sql_running=row["Slave_SQL_Running"],
            last_io_error=row.get("Last_IO_Error") or "",
            last_sql_error=row.get("Last_SQL_Error") or "",
            seconds_behind=_int(row.get("Seconds_Behind_Master")),
            using_gtid=row.get("Using_Gtid") or "No",
            sql_delay=_int(row.get("SQL_Delay")) or 0,
            relay_applied=(
                row.get("Relay_Master_Log_File") == row.get("Master_Log_File")
                and row.get("Exec_Master_Log_Pos") == row.get("Read_Master_Log_Pos")
            ),
        )

    def errant_statement(self, replica: GtidState, primary: GtidState) -> Statement | None:
        return None

    def errant_local(self, replica: GtidState, primary: GtidState, replica_server_id: int) -> str:
        return gtid.mariadb_errant(replica, primary, replica_server_id)

    def contains(self, have: GtidState, want: GtidState) -> bool:
        return gtid.mariadb_contains(have.executed, want.executed)

    def progress(self, state: GtidState) -> int:
        return gtid.mariadb_progress(state.executed)


class MySQL8(Dialect):
    """MySQL 8.0.23+: REPLICA/SOURCE syntax, auto-positioning, super_read_only, GTID sets."""

    name = "mysql"
    replica_status = Statement("SHOW REPLICA STATUS")
    read_only = Statement("SELECT @@global.read_only, @@global.super_read_only")
    stop_replica = Statement("STOP REPLICA")
    stop_io_thread = Statement("STOP REPLICA IO_THREAD")
    start_replica = Statement("START REPLICA")
    reset_replica = Statement("RESET REPLICA ALL")
    running_statements = Statement(
        "SELECT id, user, time * 1000, LEFT(info, 200) FROM information_schema.processlist "
        "WHERE id <> CONNECTION_ID() AND command = 'Query' AND info IS NOT NULL"
    )

    def block_writes(self) -> list[Statement]:
        return [Statement("SET GLOBAL super_read_only = ON")]

    def allow_writes(self) -> list[Statement]:
        return [
            Statement("SET GLOBAL super_read_only = OFF"),
            Statement("SET GLOBAL read_only = OFF"),
        ]

    def change_source(self, host: str, port: int, user: str, password: str) -> Statement:
        return Statement(
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST = %s, SOURCE_PORT = %s, SOURCE_USER = %s, "
            "SOURCE_PASSWORD = %s, SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1, "
            f"SOURCE_CONNECT_RETRY = {CONNECT_RETRY}",
            (host, int(port), user, password),
            frozenset({3}),
        )

    def prepare_replica(self) -> list[Statement]:
        return []

    def gtid_state(self) -> Statement:
        return Statement("SELECT @@global.gtid_executed, @@global.gtid_executed, ''")

    def parse_gtid_state(self, row: tuple[Any, ...]) -> GtidState:
        executed = (row[0] or "").replace("\n", "")
        return GtidState(executed=executed, applied=executed, current=executed)

    def last_gtid(self) -> Statement:
        return Statement("SELECT @@global.gtid_executed")

    def wait_for_gtid(self, position: str, timeout: float) -> Statement:
        return Statement("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)", (position, float(timeout)))

    def wait_succeeded(self, value: Any) -> bool:
        return value is not None and int(value) == 0

    def parse_replica_status(self, row: Mapping[str, Any] | None) -> ReplicaStatus | None:
        if not row or not row.get("Source_Host"):
            return None
        return ReplicaStatus(
            source_host=row["Source_Host"],
            source_port=int(row["Source_Port"]),
            io_running=row["Replica_IO_Running"],
            sql_running=row["Replica_SQL_Running"],
            last_io_error=row.get("Last_IO_Error") or "",
            last_sql_error=row.get("Last_SQL_Error") or "",
            seconds_behind=_int(row.get("Seconds_Behind_Source")),
            using_gtid="Auto_Position" if str(row.get("Auto_Position")) == "1" else "No",
            sql_delay=_int(row.get("SQL_Delay")) or 0,
            relay_applied=(
                row.get("Relay_Source_Log_File") == row.get("Source_Log_File")
                and row.get("Exec_Source_Log_Pos") == row.get("Read_Source_Log_Pos")
            ),
        )

    def errant_statement(self, replica: GtidState, primary: GtidState) -> Statement | None:
        return Statement("SELECT GTID_SUBTRACT(%s, %s)", (replica.executed, primary.executed))

    def errant_local(self, replica: GtidState, primary: GtidState, replica_server_id: int) -> str:
        raise NotImplementedError("MySQL computes errant GTIDs on the server (GTID_SUBTRACT)")

    def contains(self, have: GtidState, want: GtidState) -> bool:
        # Exact containment needs GTID_SUBSET on a server; by count is the offline estimate.
        return gtid.mysql_transaction_count(have.executed) >= gtid.mysql_transaction_count(
            want.executed
        )

    def progress(self, state: GtidState) -> int:
        return gtid.mysql_transaction_count(state.executed)


def detect(version: str) -> Dialect:
    """The dialect of a server from its `SELECT VERSION()`: MariaDB says so, MySQL does not."""
    if "mariadb" in version.lower():
        return MariaDB()
    major = version.split(".", 1)[0]
    if major.isdigit() and int(major) >= 8:
        return MySQL8()
    raise ValueError(f"unsupported server version {version!r}: lifeboat needs MariaDB or MySQL 8")

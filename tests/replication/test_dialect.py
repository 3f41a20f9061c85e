"""The statements each server family gets, and how its answers are read."""

from __future__ import annotations

import pytest

from replication.dialect import MariaDB, MySQL8, Statement, detect
from replication.gtid import GtidState


def test_detects_the_family_from_the_version() -> None:
    assert isinstance(detect("10.11.19-MariaDB-0+deb12u1-log"), MariaDB)
    assert isinstance(detect("5.5.5-10.6.12-MariaDB"), MariaDB)
    assert isinstance(detect("8.0.36"), MySQL8)
    assert isinstance(detect("8.4.0-commercial"), MySQL8)
    with pytest.raises(ValueError, match="needs MariaDB or MySQL 8"):
        detect("5.7.44-log")


def test_mariadb_statements() -> None:
    d = MariaDB()
    assert d.replica_status.sql == "SHOW SLAVE STATUS"
    assert [s.sql for s in d.block_writes()] == ["SET GLOBAL read_only = ON"]
    assert [s.sql for s in d.allow_writes()] == ["SET GLOBAL read_only = OFF"]
    assert (d.stop_replica.sql, d.start_replica.sql, d.reset_replica.sql) == (
        "STOP SLAVE",
        "START SLAVE",
        "RESET SLAVE ALL",
    )
    assert d.stop_io_thread.sql == "STOP SLAVE IO_THREAD"
    assert [s.sql for s in d.prepare_replica()] == [
        "SET GLOBAL gtid_slave_pos = @@global.gtid_binlog_pos"
    ]
    wait = d.wait_for_gtid("0-1-42", 2.5)
    assert (wait.sql, wait.params) == ("SELECT MASTER_GTID_WAIT(%s, %s)", ("0-1-42", 2.5))
    assert d.wait_succeeded(0) and not d.wait_succeeded(-1) and not d.wait_succeeded(None)
    assert d.last_gtid().sql == "SELECT @@last_gtid"
    assert "@@global.gtid_slave_pos" in d.gtid_state().sql
    assert d.errant_statement(GtidState("0-1-1", "0-1-1"), GtidState("0-1-1", "")) is None


def test_mysql8_statements() -> None:
    d = MySQL8()
    assert d.replica_status.sql == "SHOW REPLICA STATUS"
    assert [s.sql for s in d.block_writes()] == ["SET GLOBAL super_read_only = ON"]
    assert [s.sql for s in d.allow_writes()] == [
        "SET GLOBAL super_read_only = OFF",
        "SET GLOBAL read_only = OFF",
    ]
    assert (d.stop_replica.sql, d.start_replica.sql, d.reset_replica.sql) == (
        "STOP REPLICA",
        "START REPLICA",
        "RESET REPLICA ALL",
    )
    assert d.prepare_replica() == []
    wait = d.wait_for_gtid("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5", 1.0)
    assert wait.sql == "SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)"
    assert d.wait_succeeded(0) and not d.wait_succeeded(1)
    assert d.read_only.sql == "SELECT @@global.read_only, @@global.super_read_only"
    errant = d.errant_statement(GtidState("u:1-10", "u:1-10"), GtidState("u:1-9", "u:1-9"))
    assert errant is not None
    assert (errant.sql, errant.params) == ("SELECT GTID_SUBTRACT(%s, %s)", ("u:1-10", "u:1-9"))


def test_change_source_per_family_hides_the_password() -> None:
    maria = MariaDB().change_source("10.0.0.2", 3307, "repl", "s3cret-pw")
    assert maria.sql.startswith("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s")
    assert "MASTER_USE_GTID = slave_pos" in maria.sql
    assert maria.params == ("10.0.0.2", 3307, "repl", "s3cret-pw")
    mysql = MySQL8().change_source("10.0.0.2", 3307, "repl", "s3cret-pw")
    assert mysql.sql.startswith("CHANGE REPLICATION SOURCE TO SOURCE_HOST = %s")
    assert "SOURCE_AUTO_POSITION = 1" in mysql.sql
    for statement in (maria, mysql):
        shown = statement.redacted()
        assert "s3cret-pw" not in shown and "s3cret-pw" not in str(statement)
        assert "s3cret-pw" not in repr(statement)
        assert "'10.0.0.2'" in shown and "'repl'" in shown and "'********'" in shown


def test_replica_status_rows_read_alike() -> None:
    maria = MariaDB().parse_replica_status(
        {
            "Master_Host": "127.0.0.1",
            "Master_Port": 3306,
            "Slave_IO_Running": "Yes",
            "Slave_SQL_Running": "No",
            "Last_IO_Error": "",
            "Last_SQL_Error": "Duplicate entry '1'",
            "Seconds_Behind_Master": None,
            "Using_Gtid": "Slave_Pos",
            "SQL_Delay": 0,
            "Master_Log_File": "binlog.000002",
            "Relay_Master_Log_File": "binlog.000002",
            "Read_Master_Log_Pos": 900,
            "Exec_Master_Log_Pos": 800,
        }
    )
    mysql = MySQL8().parse_replica_status(
        {
            "Source_Host": "127.0.0.1",
            "Source_Port": 3306,
            "Replica_IO_Running": "Yes",
            "Replica_SQL_Running": "No",
            "Last_IO_Error": "",
            "Last_SQL_Error": "Duplicate entry '1'",
            "Seconds_Behind_Source": None,
            "Auto_Position": 1,
            "SQL_Delay": 0,
            "Source_Log_File": "binlog.000002",
            "Relay_Source_Log_File": "binlog.000002",
            "Read_Source_Log_Pos": 900,
            "Exec_Source_Log_Pos": 800,
        }
    )
    assert maria is not None and mysql is not None
    for status in (maria, mysql):
        assert (status.source_host, status.source_port) == ("127.0.0.1", 3306)
        assert not status.running
        assert status.last_sql_error == "Duplicate entry '1'"
        assert status.seconds_behind is None
        assert status.relay_applied is False
    assert MariaDB().parse_replica_status(None) is None
    assert MySQL8().parse_replica_status({}) is None


def test_long_writes_and_kill_are_parameterised() -> None:
    statement = MariaDB().long_writes(10.7)
    assert "information_schema.innodb_trx" in statement.sql
    assert statement.params == (10,)
    assert MySQL8().kill(17) == Statement("KILL CONNECTION %s", (17,))
    for dialect in (MariaDB(), MySQL8()):
        lock = dialect.switch_lock()
        assert (lock.sql, lock.params) == ("SELECT GET_LOCK(%s, 0)", ("lifeboat.switch",))

"""GTID arithmetic: containment, progress and errant transactions."""

from __future__ import annotations

import pytest

from replication.gtid import (
    GtidState,
    mariadb_contains,
    mariadb_errant,
    mariadb_progress,
    mysql_transaction_count,
    parse_mariadb,
)


def test_parse_keeps_the_highest_sequence_per_domain() -> None:
    assert parse_mariadb("0-1-100,1-2-7") == {0: (1, 100), 1: (2, 7)}
    assert parse_mariadb("0-1-100,0-2-90") == {0: (1, 100)}
    assert parse_mariadb("") == {}
    with pytest.raises(ValueError, match="not a MariaDB GTID"):
        parse_mariadb("0-1")


def test_contains_and_progress() -> None:
    assert mariadb_contains("0-2-101", "0-1-100")
    assert not mariadb_contains("0-1-99", "0-1-100")
    assert not mariadb_contains("0-1-100", "0-1-100,1-1-5")
    assert mariadb_contains("", "")
    assert mariadb_progress("0-1-100,1-2-7") == 107


def test_a_caught_up_replica_has_nothing_errant() -> None:
    replica = GtidState(executed="0-1-100", applied="0-1-100")
    assert mariadb_errant(replica, GtidState("0-1-100", ""), replica_server_id=2) == ""
    # Read after the primary while it was writing: ahead, but with the primary's own id.
    ahead = GtidState(executed="0-1-105", applied="0-1-105")
    assert mariadb_errant(ahead, GtidState("0-1-100", ""), replica_server_id=2) == ""


def test_a_local_write_on_the_replica_is_errant() -> None:
    replica = GtidState(executed="0-2-101", applied="0-1-100")
    assert mariadb_errant(replica, GtidState("0-1-100", ""), 2) == "0-2-101"
    # Still errant once the primary has moved past the same sequence number.
    assert mariadb_errant(replica, GtidState("0-1-150", ""), 2) == "0-2-101"


def test_a_domain_the_primary_never_had_is_errant() -> None:
    replica = GtidState(executed="0-1-100,5-2-3", applied="0-1-100,5-2-3")
    assert mariadb_errant(replica, GtidState("0-1-100", ""), 2) == "5-2-3"


def test_a_former_primary_history_is_not_errant() -> None:
    # beta was primary (server 2) up to 0-2-200; alpha took over and went on from there.
    demoted = GtidState(executed="0-2-200", applied="0-2-200")
    assert mariadb_errant(demoted, GtidState("0-1-230", ""), 2) == ""


def test_same_sequence_from_another_server_is_divergence() -> None:
    replica = GtidState(executed="0-3-100", applied="0-3-100")
    assert mariadb_errant(replica, GtidState("0-1-100", ""), 2) == "0-3-100"


def test_mysql_transaction_count() -> None:
    uuid = "3E11FA47-71CA-11E1-9E33-C80AA9429562"
    assert mysql_transaction_count(f"{uuid}:1-5:7,\n{uuid.lower()}:10") == 7
    assert mysql_transaction_count("") == 0

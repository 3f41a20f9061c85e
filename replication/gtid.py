"""GTID positions of MariaDB (domain-server-seq) and MySQL (uuid:intervals) as plain values."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MARIADB_GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")
_MYSQL_INTERVAL = re.compile(r"^(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class GtidState:
    """What a server has: `executed` is in its binlog, `applied` came through replication."""

    executed: str
    applied: str
    current: str = ""


MariaDBPos = dict[int, tuple[int, int]]


def parse_mariadb(text: str) -> MariaDBPos:
    """'0-1-100,1-2-7' -> {domain: (server_id, seq)}; the highest seq wins within a domain."""
    position: MariaDBPos = {}
    for part in (text or "").replace("\n", "").split(","):
        part = part.strip()
        if not part:
            continue
        match = _MARIADB_GTID.match(part)
        if not match:
            raise ValueError(f"not a MariaDB GTID: {part!r}")
        domain, server_id, seq = (int(g) for g in match.groups())
        if domain not in position or seq > position[domain][1]:
            position[domain] = (server_id, seq)
    return position


def format_mariadb(position: MariaDBPos) -> str:
    return ",".join(f"{d}-{s}-{n}" for d, (s, n) in sorted(position.items()))


def mariadb_contains(have: str, want: str) -> bool:
    """True when a server at `have` has reached every domain's sequence number in `want`."""
    mine = parse_mariadb(have)
    return all(d in mine and mine[d][1] >= n for d, (_, n) in parse_mariadb(want).items())


def mariadb_errant(replica: GtidState, primary: GtidState, replica_server_id: int) -> str:
    """GTIDs in the replica's binlog that the primary never had, as a MariaDB position string.

    A GTID is errant when its domain is unknown to the primary; when the replica wrote it
    itself after the last transaction it received (binlog position ahead of slave position);
    or when it comes from a server other than the primary's at or past the primary's
    sequence number. A replica ahead of the primary with the primary's own server id has
    merely been read later than the primary, which is not errant.
    """
    theirs = parse_mariadb(primary.executed)
    applied = parse_mariadb(replica.applied)
    errant: MariaDBPos = {}
    for domain, (server_id, seq) in parse_mariadb(replica.executed).items():
        if domain not in theirs:
            errant[domain] = (server_id, seq)
            continue
        their_server, their_seq = theirs[domain]
        local = server_id == replica_server_id and applied.get(domain) != (server_id, seq)
        foreign = server_id != their_server and seq >= their_seq
        if local or foreign:
            errant[domain] = (server_id, seq)
    return format_mariadb(errant)


def mariadb_progress(executed: str) -> int:
    """A number that grows with every transaction: the sum of sequence numbers."""
    return sum(seq for _, seq in parse_mariadb(executed).values())


def mysql_transaction_count(gtid_set: str) -> int:
    """How many transactions a MySQL GTID set such as 'uuid:1-5:7,uuid2:1-3' holds."""
    total = 0
    for member in (gtid_set or "").replace("\n", "").split(","):
        member = member.strip()
        if not member:
            continue
        _, _, intervals = member.partition(":")
        for interval in intervals.split(":"):
            if not interval:
                continue
            match = _MYSQL_INTERVAL.match(interval)
            if not match:
                raise ValueError(f"not a MySQL GTID interval: {interval!r}")
            start = int(match.group(1))
            end = int(match.group(2) or start)
            total += end - start + 1
    return total

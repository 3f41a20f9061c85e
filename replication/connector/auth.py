"""mysql_native_password without the password: verify a client, then log in as it elsewhere.

The server stores SHA1(SHA1(password)). A client proves it knows the password by sending
SHA1(password) XOR SHA1(scramble + stored). Knowing `stored`, the connector recovers
SHA1(password) from that answer, checks it against `stored`, and can answer any other
server's scramble for the same account: the way ProxySQL and MaxScale do it. The password
itself is never seen, and SHA1(password) lives only in the session's memory.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import pymysql

from replication.errors import ServerUnreachable
from replication.topology import Topology


def _sha1(*parts: bytes) -> bytes:
    digest = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        digest.update(part)
    return digest.digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def recover_stage1(scramble: bytes, answer: bytes, stored: bytes) -> bytes | None:
    """SHA1(password) when `answer` proves knowledge of the password `stored` hashes, else None."""
    if not stored:
        return b"" if not answer else None
    if len(answer) != 20 or len(stored) != 20:
        return None
    stage1 = _xor(answer, _sha1(scramble[:20], stored))
    return stage1 if _sha1(stage1) == stored else None


def answer(scramble: bytes, stage1: bytes) -> bytes:
    """The answer to a server's scramble, from SHA1(password)."""
    if not stage1:
        return b""
    return _xor(stage1, _sha1(scramble[:20], _sha1(stage1)))


@dataclass(frozen=True)
class StoredAccount:
    user: str
    host: str
    plugin: str
    stored: bytes | None  # SHA1(SHA1(password)); None when the plugin is not native


# MariaDB 10.4+ keeps accounts in mysql.global_priv; MySQL in mysql.user.
_MARIADB = (
    "SELECT User, Host, JSON_VALUE(Priv, '$.plugin'), JSON_VALUE(Priv, '$.authentication_string')"
    " FROM mysql.global_priv WHERE User = %s"
)
_MYSQL = "SELECT User, Host, plugin, authentication_string FROM mysql.user WHERE User = %s"
# At most one look-up of an unknown user per this many seconds (a client guessing names
# must not hammer the primary).
REFRESH_EVERY = 1.0


class Accounts:
    """The servers' stored password hashes, read with the connector's account and cached."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._cache: dict[str, tuple[float, list[StoredAccount]]] = {}
        self._lock = threading.Lock()

    def lookup(self, user: str, fresh: bool = False) -> list[StoredAccount]:
        """Every account of that name (any host); `fresh` re-reads unless read just now."""
        with self._lock:
            cached = self._cache.get(user)
            if cached and (not fresh or time.monotonic() - cached[0] < REFRESH_EVERY):
                return cached[1]
        rows = self._read(user)
        with self._lock:
            self._cache[user] = (time.monotonic(), rows)
        return rows

    def _read(self, user: str) -> list[StoredAccount]:
        account = self.topology.connector_account
        last: Exception | None = None
        for server in self.topology.servers:
            try:
                conn = self.topology.connect(server, account)
            except ServerUnreachable as exc:
                last = exc
                continue
            try:
                with conn.cursor() as cur:
                    try:
                        cur.execute(_MARIADB, (user,))
                    except pymysql.MySQLError:
                        cur.execute(_MYSQL, (user,))
                    return [_stored(*row) for row in cur.fetchall()]
            except pymysql.MySQLError as exc:
                last = exc
            finally:
                conn.close()
        raise ServerUnreachable(f"could not read the accounts from any server: {last}")


def _stored(user: str, host: str, plugin: str | None, hashed: str | None) -> StoredAccount:
    plugin = plugin or "mysql_native_password"
    stored: bytes | None = None
    if plugin == "mysql_native_password":
        text = (hashed or "").strip()
        stored = bytes.fromhex(text[1:]) if text.startswith("*") and len(text) == 41 else b""
    return StoredAccount(user, host, plugin, stored)

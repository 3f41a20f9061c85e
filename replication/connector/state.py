"""What a session carries to another server: variables, schema, user variables, statements."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from replication.connector.packets import Tracked
from replication.connector.settings import NOT_REPLAYED

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
# A user variable in a statement (`@x`, not `@@x`): such a statement may have set one.
USER_VARIABLE = re.compile(rb"(?<![@\w])@(?!@)[`'\"\w$]")
# A statement that may have set the connection's collation (SET NAMES, SET collation_...).
COLLATION = re.compile(rb"(?i)\b(names|collation_connection|collate)\b")
# SQL-level prepared statements (PREPARE name FROM ...): the server has no tracker for them.
SQL_PREPARE = re.compile(rb"(?is)^\s*prepare\s+(`[^`]+`|\w+)\s+from\s+.+$")
SQL_DEALLOCATE = re.compile(rb"(?is)^\s*(?:deallocate|drop)\s+prepare\s+(`[^`]+`|\w+)")
USER_VARIABLES_SQL = (
    "SELECT VARIABLE_NAME, VARIABLE_VALUE, VARIABLE_TYPE, CHARACTER_SET_NAME "
    "FROM information_schema.USER_VARIABLES"
)


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def name(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


@dataclass
class Prepared:
    """A statement the application prepared, and its id on the server it runs on now."""

    sql: bytes
    backend_id: int
    params: int
    types: bytes | None = None  # the parameter types of the last execution that sent them
    rebind: bool = False  # prepared again elsewhere: the next execution must send its types

    def execute_payload(self, payload: bytes) -> bytes:
        """A COM_STMT_EXECUTE for the server: its statement id, and the types when needed."""
        head = payload[:1] + struct.pack("<I", self.backend_id)
        if not self.params:
            return head + payload[5:]
        at = 10 + (self.params + 7) // 8  # command, id, flags, iterations, null bitmap
        if at >= len(payload):
            return head + payload[5:]
        if payload[at] == 1:
            self.types = bytes(payload[at + 1 : at + 1 + 2 * self.params])
            self.rebind = False
        elif self.rebind and self.types is not None:
            self.rebind = False
            return head + payload[5:at] + b"\x01" + self.types + payload[at + 1 :]
        return head + payload[5:]


@dataclass
class SessionState:
    """The state a server holds for one application session, as far as it can be replayed."""

    tracked: Tracked = field(default_factory=Tracked)
    database: str | None = None
    user_variables: list[tuple[str, str | None, str, str | None]] = field(default_factory=list)
    multi_statements: bool | None = None
    statements: dict[int, Prepared] = field(default_factory=dict)
    next_statement: int = 1
    # Statements prepared with SQL: name (lower case, unquoted) -> the PREPARE statement.
    sql_prepared: dict[bytes, bytes] = field(default_factory=dict)

    def reset(self, keep_database: bool = True) -> None:
        """After COM_RESET_CONNECTION or COM_CHANGE_USER: the server forgot it all."""
        self.tracked = Tracked(schema=self.database if keep_database else None)
        if not keep_database:
            self.database = None
        self.user_variables = []
        self.statements = {}
        self.sql_prepared = {}
        self.multi_statements = None

    def absorb(self) -> None:
        """Fold what the server just reported into the state."""
        if self.tracked.schema is not None:
            self.database = self.tracked.schema

    def note_sql(self, sql: bytes) -> None:
        """Remember a PREPARE that succeeded, forget a DEALLOCATE PREPARE."""
        if match := SQL_PREPARE.match(sql):
            self.sql_prepared[match.group(1).strip(b"`").lower()] = sql
        elif match := SQL_DEALLOCATE.match(sql):
            self.sql_prepared.pop(match.group(1).strip(b"`").lower(), None)

    def add_statement(self, sql: bytes, backend_id: int, params: int) -> int:
        client_id = self.next_statement
        self.next_statement += 1
        self.statements[client_id] = Prepared(sql, backend_id, params)
        return client_id

    def _replayed(self) -> list[tuple[str, str]]:
        # A character set resets its collation: character sets first, collations after.
        return sorted(
            (
                (var, value)
                for var, value in self.tracked.variables.items()
                if var not in NOT_REPLAYED
            ),
            key=lambda item: (
                not item[0].startswith("character_set"),
                not item[0].startswith("collation"),
            ),
        )

    def variables_sql(self) -> str | None:
        """One SET of every session variable the application changed."""
        parts = [f"{name(var)} = {literal(value)}" for var, value in self._replayed()]
        return "SET SESSION " + ", ".join(parts) if parts else None

    def each_variable_sql(self) -> list[str]:
        return [f"SET SESSION {name(var)} = {literal(value)}" for var, value in self._replayed()]

    def user_variables_sql(self) -> str | None:
        if not self.user_variables:
            return None
        parts = [
            f"@{name(var)} = {user_literal(value, kind, charset)}"
            for var, value, kind, charset in self.user_variables
        ]
        return "SET " + ", ".join(parts)


def literal(value: str) -> str:
    """A session variable's value as the tracker reported it, as SQL."""
    if value == "":
        return "''"
    if _NUMBER.match(value):
        return value
    return quote(value)


def user_literal(value: str | None, kind: str, charset: str | None) -> str:
    """A user variable's value with its type kept (INT, DECIMAL, DOUBLE or a string)."""
    if value is None:
        return "NULL"
    if kind == "INT":
        return str(int(value))
    if kind == "DECIMAL":
        return value if _NUMBER.match(value) else quote(value)
    if kind == "DOUBLE":
        return f"CAST({quote(value)} AS DOUBLE)"
    hex_value = value.encode("utf-8", "surrogateescape").hex()
    if not charset or charset == "binary":
        return f"X'{hex_value}'"
    return f"CONVERT(X'{hex_value}' USING {charset})"

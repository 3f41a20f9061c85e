"""Constants of the connector: protocol numbers, limits and where it registers itself."""

from __future__ import annotations

# Capability flags of the client/server protocol.
CLIENT_LONG_PASSWORD = 1  # MariaDB: CLIENT_MYSQL; unset by a MariaDB server
CLIENT_FOUND_ROWS = 1 << 1
CLIENT_LONG_FLAG = 1 << 2
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_NO_SCHEMA = 1 << 4
CLIENT_COMPRESS = 1 << 5
CLIENT_ODBC = 1 << 6
CLIENT_LOCAL_FILES = 1 << 7
CLIENT_IGNORE_SPACE = 1 << 8
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_INTERACTIVE = 1 << 10
CLIENT_SSL = 1 << 11
CLIENT_IGNORE_SIGPIPE = 1 << 12
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_RESERVED = 1 << 14
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PS_MULTI_RESULTS = 1 << 18
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21
CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1 << 22
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24

# What the connector offers applications: the server's own set, less what it cannot carry
# across a move (compression, LOAD DATA LOCAL, MariaDB's extended capabilities such as bulk
# execution and metadata caching, which are simply not offered).
OFFERED = (
    CLIENT_FOUND_ROWS
    | CLIENT_LONG_FLAG
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_NO_SCHEMA
    | CLIENT_ODBC
    | CLIENT_IGNORE_SPACE
    | CLIENT_PROTOCOL_41
    | CLIENT_INTERACTIVE
    | CLIENT_IGNORE_SIGPIPE
    | CLIENT_TRANSACTIONS
    | CLIENT_RESERVED
    | CLIENT_SECURE_CONNECTION
    | CLIENT_MULTI_STATEMENTS
    | CLIENT_MULTI_RESULTS
    | CLIENT_PS_MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH
    | CLIENT_CONNECT_ATTRS
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
    | CLIENT_SESSION_TRACK
    | CLIENT_DEPRECATE_EOF
)

# Server status flags.
SERVER_STATUS_IN_TRANS = 0x0001
SERVER_STATUS_AUTOCOMMIT = 0x0002
SERVER_MORE_RESULTS_EXISTS = 0x0008
SERVER_STATUS_CURSOR_EXISTS = 0x0040
SERVER_SESSION_STATE_CHANGED = 0x4000

# Session state tracker entry types (OK packet).
SESSION_TRACK_SYSTEM_VARIABLES = 0
SESSION_TRACK_SCHEMA = 1
SESSION_TRACK_STATE_CHANGE = 2

# Commands.
COM_QUIT = 0x01
COM_INIT_DB = 0x02
COM_QUERY = 0x03
COM_FIELD_LIST = 0x04
COM_STATISTICS = 0x09
COM_PROCESS_INFO = 0x0A
COM_PROCESS_KILL = 0x0C
COM_DEBUG = 0x0D
COM_PING = 0x0E
COM_CHANGE_USER = 0x11
COM_STMT_PREPARE = 0x16
COM_STMT_EXECUTE = 0x17
COM_STMT_SEND_LONG_DATA = 0x18
COM_STMT_CLOSE = 0x19
COM_STMT_RESET = 0x1A
COM_SET_OPTION = 0x1B
COM_STMT_FETCH = 0x1C
COM_RESET_CONNECTION = 0x1F

MAX_PAYLOAD = 0xFFFFFF
NATIVE_PASSWORD = "mysql_native_password"

# Errors the connector answers with (codes and SQLSTATEs drivers know).
ER_ACCESS_DENIED = (1045, b"28000")
ER_UNKNOWN_COM = (1047, b"08S01")
ER_NOT_SUPPORTED = (1235, b"42000")
ER_UNKNOWN_STMT = (1243, b"HY000")
# A transaction ended by a switch: 1213 with SQLSTATE 40001 is what drivers and ORMs treat as
# "rolled back, run it again", and it never makes a driver drop the connection.
ER_ROLLED_BACK = (1213, b"40001")
# No primary to run the statement on (yet): the connection stays, the statement did not run.
ER_NO_PRIMARY = (1290, b"HY000")

# Variables the connector sets itself or that cannot be set per session; never replayed.
NOT_REPLAYED = frozenset(
    {
        "session_track_system_variables",
        "session_track_schema",
        "session_track_state_change",
        "session_track_transaction_info",
        "in_transaction",
        "last_insert_id",
        "insert_id",
        "identity",
        "timestamp",
        "rand_seed1",
        "rand_seed2",
        "warning_count",
        "error_count",
        "gtid_seq_no",
        "pseudo_thread_id",
        "server_id",
        "last_gtid",
    }
)

REGISTRY_DIR = "connectors"
# Seconds between two looks for a new primary after the primary was lost.
RECOVERY_POLL = 0.2
# Seconds a control request may take to connect to a connector.
CONTROL_CONNECT_TIMEOUT = 2.0
# Seconds between two health probes of the replicas behind the reader port.
READER_PROBE_INTERVAL = 2.0
# Bytes read from a socket at once.
CHUNK = 256 * 1024

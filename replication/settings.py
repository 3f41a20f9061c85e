"""Constants of the replication package: paths, names, timeouts and thread kinds."""

from __future__ import annotations

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"

HEARTBEAT_SCHEMA = "lifeboat"
HEARTBEAT_TABLE = "heartbeat"
# Named lock a switch holds on the primary so that two switches never run at once.
SWITCH_LOCK = "lifeboat.switch"

SANDBOX_SERVERS = ("alpha", "beta", "gamma")
SANDBOX_TOPOLOGY_FILE = "topology.yaml"
SANDBOX_CREDENTIALS_FILE = "credentials.env"
SANDBOX_HOST = "127.0.0.1"
SANDBOX_START_TIMEOUT = 30.0
SANDBOX_STOP_TIMEOUT = 30.0
SANDBOX_APP_SCHEMA = "app"
# Accounts the sandbox creates; the topology file names the env vars that hold them.
SANDBOX_ACCOUNTS = {
    "monitor": ("lifeboat_monitor", "LIFEBOAT_SANDBOX_MONITOR"),
    "switch": ("lifeboat_switch", "LIFEBOAT_SANDBOX_SWITCH"),
    "replication": ("lifeboat_repl", "LIFEBOAT_SANDBOX_REPLICATION"),
    "connector": ("lifeboat_connector", "LIFEBOAT_SANDBOX_CONNECTOR"),
    "app": ("lifeboat_app", "LIFEBOAT_SANDBOX_APP"),
    "root": ("root", "LIFEBOAT_SANDBOX_ROOT"),
}
# Longest unix socket path the kernel accepts, less a margin.
MAX_SOCKET_PATH = 100

HISTORY_DIR = "mysql"
HISTORY_FILE = "history.jsonl"

# Seconds a replica retries a lost connection to its source.
CONNECT_RETRY = 1
# Extra seconds a client socket waits beyond a server-side wait such as MASTER_GTID_WAIT.
READ_MARGIN = 5.0
# How long a switch or failover waits for a heartbeat to reach every replica.
VERIFY_TIMEOUT = 10.0
# How long a failover waits for a replica to apply what it already received.
RELAY_APPLY_TIMEOUT = 30.0

# Processlist commands and users of threads a switch must never kill.
PROTECTED_COMMANDS = frozenset(
    {
        "Binlog Dump",
        "Binlog Dump GTID",
        "Slave_IO",
        "Slave_SQL",
        "Slave_worker",
        "Daemon",
        "Connect",
        "Register Slave",
    }
)
PROTECTED_USERS = frozenset({"system user", "event_scheduler", "DELAYED", "unauthenticated user"})

# Server error codes.
ER_OPTION_PREVENTS_STATEMENT = 1290
ER_NO_SUCH_TABLE = 1146
ER_BAD_DB_ERROR = 1049
# Client error: could not open a TCP connection.
CR_CONN_HOST_ERROR = 2003

"""The MySQL topology's health as assets: a probe history in DuckDB, checks, failover readiness."""

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from replication.connector.control import ConnectorSessions
from replication.failover import automatic_failover_due
from replication.probe import ERROR, WARN, Health, Kind, probe
from replication.readiness import Readiness, readiness
from resources.mysql import MySQLResource
from resources.warehouse import WarehouseResource

GROUP = "mysql"
HEALTH_KEY = dg.AssetKey(["mysql", "replica_health"])
READINESS_KEY = dg.AssetKey(["mysql", "failover_readiness"])
WAREHOUSE_NAME = "mysql"
HEALTH_TABLE = "replica_health"
READINESS_TABLE = "failover_readiness"

# How a person ranks each kind of finding when its check fails. The probe may rank one
# finding lower (a replica that merely has its threads stopped is WARN, one that replicates
# from no one is ERROR); a check fails with the worst severity of its findings.
CHECK_SEVERITY: dict[str, str] = {
    Kind.UNREACHABLE: ERROR,
    Kind.NO_WRITABLE_PRIMARY: ERROR,
    Kind.SPLIT_BRAIN: ERROR,
    Kind.WRONG_SOURCE: ERROR,
    Kind.REPLICATION_BROKEN: ERROR,
    Kind.ERRANT: ERROR,
    Kind.REPLICATION_STOPPED: WARN,
    Kind.LAG: WARN,
    Kind.HEARTBEAT: WARN,
    Kind.NOT_PROMOTABLE: WARN,
}
CONNECTOR_CHECK = "connector_follows_primary"
CHECK_DESCRIPTION: dict[str, str] = {
    Kind.UNREACHABLE: "Every server answers.",
    Kind.NO_WRITABLE_PRIMARY: "One server accepts the applications' writes.",
    Kind.SPLIT_BRAIN: "No more than one server accepts writes.",
    Kind.WRONG_SOURCE: "Every replica copies from the primary, not from another server.",
    Kind.REPLICATION_BROKEN: "No replica has stopped copying on an error.",
    Kind.ERRANT: "No replica holds transactions the primary never had.",
    Kind.REPLICATION_STOPPED: "Every replica is copying (its replication threads run).",
    Kind.LAG: "Every replica is within the lag threshold, measured by heartbeat.",
    Kind.HEARTBEAT: "The heartbeat could be written on the primary and read on each replica.",
    Kind.NOT_PROMOTABLE: "Every replica could become primary (binlog and log_slave_updates).",
}
_SEVERITY = {ERROR: dg.AssetCheckSeverity.ERROR, WARN: dg.AssetCheckSeverity.WARN}

HEALTH_COLUMNS: dict[str, str] = {
    "probed_at": "TIMESTAMPTZ",
    "run_id": "VARCHAR",
    "server": "VARCHAR",
    "address": "VARCHAR",
    "role": "VARCHAR",
    "reachable": "BOOLEAN",
    "version": "VARCHAR",
    "read_only": "BOOLEAN",
    "source": "VARCHAR",
    "io_running": "VARCHAR",
    "sql_running": "VARCHAR",
    "last_io_error": "VARCHAR",
    "last_sql_error": "VARCHAR",
    "seconds_behind_master": "BIGINT",
    "heartbeat_lag_s": "DOUBLE",
    "gtid_executed": "VARCHAR",
    "errant_gtids": "VARCHAR",
    "findings": "VARCHAR",
    "worst": "VARCHAR",
    "probe_ms": "DOUBLE",
    "error": "VARCHAR",
}
READINESS_COLUMNS: dict[str, str] = {
    "checked_at": "TIMESTAMPTZ",
    "run_id": "VARCHAR",
    "action": "VARCHAR",
    "primary_server": "VARCHAR",
    "candidate": "VARCHAR",
    "ready": "BOOLEAN",
    "why": "VARCHAR",
    "blockers": "VARCHAR",
    "automatic_failover": "VARCHAR",
}


def database_path(warehouse: WarehouseResource) -> Path:
    """`<home>/warehouse/mysql.duckdb`: the health history beside the vendors' copies."""
    return warehouse.database(WAREHOUSE_NAME)


def append_rows(
    database: Path, table: str, columns: dict[str, str], rows: Iterable[dict[str, Any]]
) -> int:
    """Append rows to a history table (created on first use); return how many it holds."""
    database.parent.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    with duckdb.connect(str(database)) as con:
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            + ", ".join(f"{name} {kind}" for name, kind in columns.items())
            + ")"
        )
        values = [[row.get(name) for name in names] for row in rows]
        if values:
            con.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                values,
            )
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]


def check_results(health: Health) -> list[dg.AssetCheckResult]:
    """One result per finding kind: passed when the probe found nothing of that kind."""
    results = []
    for kind in Kind.ALL:
        found = health.of_kind(kind)
        worst = ERROR if any(f.severity == ERROR for f in found) else CHECK_SEVERITY[kind]
        results.append(
            dg.AssetCheckResult(
                check_name=kind,
                asset_key=HEALTH_KEY,
                passed=not found,
                severity=_SEVERITY[worst],
                description="; ".join(f.message for f in found) or None,
                metadata={
                    "servers": dg.MetadataValue.text(
                        ", ".join(sorted({f.server for f in found if f.server})) or "-"
                    ),
                },
            )
        )
    return results


def worst_lag(health: Health) -> float | None:
    lags = [s.heartbeat_lag for s in health.servers.values() if s.heartbeat_lag is not None]
    return max(lags) if lags else None


def _health_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| server | role | source | lag (s) | status |", "|---|---|---|---|---|"]
    for row in rows:
        lag = "-" if row["heartbeat_lag_s"] is None else f"{row['heartbeat_lag_s']:.3f}"
        lines.append(
            f"| {row['server']} | {row['role']} | {row['source'] or '-'} | {lag} | {row['worst']} |"
        )
    return "\n".join(lines)


@dg.asset(
    key=HEALTH_KEY,
    group_name=GROUP,
    kinds={"mysql", "duckdb"},
    description="Whether your own MySQL servers are up, copying from the primary and in step.",
    check_specs=[
        *(
            dg.AssetCheckSpec(name=kind, asset=HEALTH_KEY, description=CHECK_DESCRIPTION[kind])
            for kind in Kind.ALL
        ),
        dg.AssetCheckSpec(
            name=CONNECTOR_CHECK,
            asset=HEALTH_KEY,
            description="Every running lifeboat connector sends the applications' writes to "
            "the primary.",
        ),
    ],
)
def replica_health(
    context: dg.AssetExecutionContext, mysql: MySQLResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Probe every server once and append one row per server to the health history."""
    health = probe(mysql.topology())
    rows = [{**row, "run_id": context.run.run_id} for row in health.rows()]
    held = append_rows(database_path(warehouse), HEALTH_TABLE, HEALTH_COLUMNS, rows)
    for finding in health.findings:
        log = context.log.error if finding.severity == ERROR else context.log.warning
        log(str(finding))
    if health.ok:
        context.log.info(
            f"healthy: primary {health.primary}, {len(rows)} servers, "
            f"probe took {health.duration_ms:.0f} ms"
        )
    metadata: dict[str, Any] = {
        "servers": dg.MetadataValue.int(len(health.servers)),
        "primary": dg.MetadataValue.text(health.primary or "none"),
        "findings": dg.MetadataValue.int(len(health.findings)),
        "probe_ms": dg.MetadataValue.float(round(health.duration_ms, 1)),
        "topology": dg.MetadataValue.md(_health_table(rows)),
        "history_rows": dg.MetadataValue.int(held),
        "dagster/row_count": dg.MetadataValue.int(held),
    }
    lag = worst_lag(health)
    if lag is not None:
        metadata["worst_lag_s"] = dg.MetadataValue.float(round(lag, 3))
    connectors = ConnectorSessions(mysql.home_path).status()
    metadata["connectors"] = dg.MetadataValue.md(_connector_table(connectors))
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[*check_results(health), connector_check(health, connectors)],
        data_version=health_state(health),
    )


def _connector_table(connectors: list[dict[str, Any]]) -> str:
    if not connectors:
        return "no connector is running (start one with `lifeboat connector`)"
    lines = [
        "| writer port | sends writes to | writer sessions | reader port | reader sessions "
        "| moved by switches: kept / ended |"
    ]
    lines.append("|---|---|---|---|---|---|")
    for c in connectors:
        if "error" in c:
            lines.append(f"| {c['writer']} | unreachable | - | - | - | - |")
            continue
        lines.append(
            f"| {c['writer']} | {c['primary'] or 'no primary'} | {c['writer_sessions']} "
            f"| {c['reader']} | {c['reader_sessions']} | {c['kept']} / {c['ended']} |"
        )
    return "\n".join(lines)


def connector_check(health: Health, connectors: list[dict[str, Any]]) -> dg.AssetCheckResult:
    """Passed when every running connector routes writes to the server the probe found."""
    wrong = []
    for c in connectors:
        if "error" in c:
            wrong.append(f"the connector at {c['writer']} does not answer its control port")
        elif c["primary"] != health.primary:
            wrong.append(
                f"the connector at {c['writer']} sends writes to {c['primary'] or 'no server'}"
                f", but the primary is {health.primary or 'none'}"
            )
    return dg.AssetCheckResult(
        check_name=CONNECTOR_CHECK,
        asset_key=HEALTH_KEY,
        passed=not wrong,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(wrong)
        or (f"{len(connectors)} connector(s) follow {health.primary}" if connectors else None),
        metadata={"connectors": dg.MetadataValue.int(len(connectors))},
    )


def state_version(*parts: object) -> dg.DataVersion:
    """A data version that changes when the state a person acts on changes, not with every
    probe: what the report shows rebuilds on a new primary or a replica going wrong, not on
    a lag of 0.002 s becoming 0.003 s."""
    return dg.DataVersion(hashlib.sha256(repr(parts).encode()).hexdigest()[:16])


def health_state(health: Health) -> dg.DataVersion:
    findings = sorted((f.server or "", f.kind, f.severity) for f in health.findings)
    servers = [
        (row["server"], row["role"], row["reachable"], row["read_only"], row["source"])
        for row in health.rows()
    ]
    return state_version(health.primary, servers, findings)


def _readiness_row(report: Readiness, automatic: str, run_id: str) -> dict[str, Any]:
    return {
        "checked_at": datetime.now(UTC),
        "run_id": run_id,
        "action": report.action,
        "primary_server": report.primary,
        "candidate": report.candidate,
        "ready": report.ready,
        "why": report.why or None,
        "blockers": "; ".join(report.blockers) or None,
        "automatic_failover": automatic,
    }


@dg.asset(
    key=READINESS_KEY,
    group_name=GROUP,
    kinds={"mysql", "duckdb"},
    deps=[HEALTH_KEY],
    description="Which MySQL replica would take over if the primary went now, and what blocks it.",
)
def failover_readiness(
    context: dg.AssetExecutionContext, mysql: MySQLResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Probe again and say what a switch (primary alive) or failover (primary dead) would do."""
    topology = mysql.topology()
    health = probe(topology)
    report = readiness(topology, health)
    due, automatic = automatic_failover_due(topology.config, health, mysql.history())
    context.log.info(str(report))
    held = append_rows(
        database_path(warehouse),
        READINESS_TABLE,
        READINESS_COLUMNS,
        [_readiness_row(report, automatic, context.run.run_id)],
    )
    return dg.MaterializeResult(
        metadata={
            "action": dg.MetadataValue.text(report.action),
            "ready": dg.MetadataValue.bool(report.ready),
            "primary": dg.MetadataValue.text(report.primary or "none"),
            "candidate": dg.MetadataValue.text(report.candidate or "none"),
            "why": dg.MetadataValue.text(report.why or "-"),
            "blockers": dg.MetadataValue.text("; ".join(report.blockers) or "none"),
            "automatic_failover": dg.MetadataValue.text(
                ("due: " if due else "not now: ") + automatic
            ),
            "history_rows": dg.MetadataValue.int(held),
        },
        data_version=state_version(
            report.action, report.ready, report.primary, report.candidate, report.blockers
        ),
    )


def mysql_assets() -> list[dg.AssetsDefinition]:
    return [replica_health, failover_readiness]

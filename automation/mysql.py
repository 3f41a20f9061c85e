"""Jobs and the sensor that watch the MySQL topology, check failover readiness and switch it."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import dagster as dg
from pydantic import Field

from assets.mysql import HEALTH_KEY, READINESS_KEY, mysql_assets
from lifeboat.alerts import Alert
from lifeboat.config import Inventory
from lifeboat.errors import LifeboatError
from lifeboat.topology_config import MySQLConfig
from replication.errors import (
    FailoverFailed,
    FailoverRefused,
    RollbackFailed,
    SwitchFailed,
    SwitchRefused,
)
from replication.failover import automatic_failover_due, failover
from replication.history import Event, History
from replication.probe import Health, probe
from replication.switch import SwitchReport, switch
from resources.alerts import AlertsResource
from resources.mysql import MySQLResource, mysql_resource, sensor_interval

FAILOVER_CHECK_JOB = "failover_check"
SWITCH_JOB = "mysql_switch"
FAILOVER_JOB = "mysql_failover"
SENSOR = "topology_health_sensor"
HEALTHY = "healthy"
STATE_TAG = "lifeboat/topology_state"
PREVIOUS_TAG = "lifeboat/previous_state"
# Run tags are for people scanning the runs list; a long state is cut, the cursor keeps it all.
TAG_LIMIT = 200

failover_check_job = dg.define_asset_job(
    FAILOVER_CHECK_JOB,
    selection=dg.AssetSelection.assets(HEALTH_KEY, READINESS_KEY),
    description="Probe the MySQL topology, record its health and say whether a failover could run.",
)


class RunHistory(History):
    """The switch history, recording this Dagster run as who acted."""

    def __init__(self, path: Path, who: str) -> None:
        super().__init__(path)
        self.who = who

    def record(self, event: Event) -> None:
        event.who = self.who
        super().record(event)


def _run_history(context: dg.OpExecutionContext, mysql: MySQLResource) -> RunHistory:
    return RunHistory(mysql.history().path, who=f"dagster run {context.run_id}")


def _report_metadata(report: SwitchReport) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "outcome": dg.MetadataValue.text(report.outcome),
        "from": dg.MetadataValue.text(report.source or "-"),
        "to": dg.MetadataValue.text(report.target or "-"),
        "steps": dg.MetadataValue.md("\n".join(f"1. {line}" for line in report.lines) or "-"),
    }
    if report.blocked_ms is not None:
        metadata["writes_blocked_ms"] = dg.MetadataValue.float(round(report.blocked_ms, 1))
    if report.lost:
        metadata["could_be_lost"] = dg.MetadataValue.text(report.lost)
    return metadata


class SwitchConfig(dg.Config):
    """Which replica becomes the primary; empty picks the most advanced healthy one."""

    to: str | None = Field(
        default=None, description="Server to promote (as named in lifeboat.yaml); empty: best."
    )


@dg.op(name="switch_primary", description="Switch the MySQL primary like `lifeboat switch`.")
def switch_primary(
    context: dg.OpExecutionContext, config: SwitchConfig, mysql: MySQLResource
) -> dg.Output[None]:
    """Run the same switch as `lifeboat switch [--to]`, each step in the run's log."""
    try:
        report = switch(
            mysql.topology(),
            to=config.to or None,
            out=context.log.info,
            history=_run_history(context, mysql),
        )
    except SwitchRefused as exc:
        raise dg.Failure(
            description=f"Nothing was changed. {exc}",
            metadata={"outcome": "refused"},
            allow_retries=False,
        ) from None
    except SwitchFailed as exc:
        raise dg.Failure(
            description=str(exc), metadata={"outcome": "rolled_back"}, allow_retries=False
        ) from None
    except RollbackFailed as exc:
        raise dg.Failure(
            description=f"A person must act: {exc}",
            metadata={"outcome": "failed"},
            allow_retries=False,
        ) from None
    except LifeboatError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    return dg.Output(None, metadata=_report_metadata(report))


@dg.job(
    name=SWITCH_JOB,
    description="Switch the MySQL primary to a replica without losing a write (or roll back).",
    tags={"lifeboat/area": "mysql"},
)
def mysql_switch() -> None:
    switch_primary()


class FailoverConfig(dg.Config):
    """A failover may lose the dead primary's last writes, so a person (or the sensor) says yes."""

    yes: bool = Field(
        default=False,
        description="Promote without asking. Set true to confirm that the primary is dead.",
    )


@dg.op(name="failover_primary", description="Promote a replica like `lifeboat failover --yes`.")
def failover_primary(
    context: dg.OpExecutionContext, config: FailoverConfig, mysql: MySQLResource
) -> dg.Output[None]:
    """Promote the most advanced healthy replica of a dead primary."""
    try:
        report = failover(
            mysql.topology(),
            yes=config.yes,
            out=context.log.info,
            history=_run_history(context, mysql),
        )
    except FailoverRefused as exc:
        hint = "" if config.yes else " Launch again with `yes: true` to confirm."
        raise dg.Failure(
            description=f"{exc}{hint}", metadata={"outcome": "refused"}, allow_retries=False
        ) from None
    except (FailoverFailed, LifeboatError) as exc:
        raise dg.Failure(
            description=str(exc), metadata={"outcome": "failed"}, allow_retries=False
        ) from None
    return dg.Output(None, metadata=_report_metadata(report))


def failover_job(mysql: MySQLResource) -> dg.JobDefinition:
    """The failover job, its `mysql` resource bound here rather than by Definitions.

    Definitions binds the resources of an op job a sensor targets by copying the sensor,
    and in dagster 1.13 that copy warns of the beta `owners` parameter (BetaWarning) in
    every process that loads the definitions.
    """

    @dg.job(
        name=FAILOVER_JOB,
        description="Promote the most advanced healthy MySQL replica when the primary is dead.",
        tags={"lifeboat/area": "mysql"},
        resource_defs={"mysql": mysql},
    )
    def mysql_failover() -> None:
        failover_primary()

    return mysql_failover


@dataclass(frozen=True)
class SensorState:
    """What the sensor saw last (kept in its cursor) and when it last launched a failover."""

    state: str = HEALTHY
    failover_launched_at: datetime | None = None
    # The writable server: a switch changes it without changing what is wrong.
    primary: str | None = None

    @classmethod
    def parse(cls, cursor: str | None) -> Self:
        if not cursor:
            return cls()
        raw = json.loads(cursor)
        launched = raw.get("failover_launched_at")
        return cls(
            state=raw.get("state", HEALTHY),
            failover_launched_at=datetime.fromisoformat(launched) if launched else None,
            primary=raw.get("primary"),
        )

    def cursor(self) -> str:
        launched = self.failover_launched_at
        return json.dumps(
            {
                "state": self.state,
                "failover_launched_at": launched.isoformat() if launched else None,
                "primary": self.primary,
            }
        )


def state_of(health: Health) -> str:
    """The topology's state as what is wrong where; numbers such as lag do not change it."""
    if health.ok:
        return HEALTHY
    return ", ".join(sorted({f"{f.kind}:{f.server or '*'}" for f in health.findings}))


def decide(
    previous: SensorState, health: Health, config: MySQLConfig, history: History, now: datetime
) -> tuple[list[dg.RunRequest], SensorState, str]:
    """Run requests for this probe: a check per change of state, a failover when one is due."""
    state = state_of(health)
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    moved = previous.primary is not None and health.primary not in (None, previous.primary)
    if state != previous.state or moved:
        requests.append(
            dg.RunRequest(
                job_name=FAILOVER_CHECK_JOB,
                tags={STATE_TAG: state[:TAG_LIMIT], PREVIOUS_TAG: previous.state[:TAG_LIMIT]},
            )
        )
        if state != previous.state:
            notes.append(
                f"topology {'recovered' if state == HEALTHY else 'changed'}: "
                f"{previous.state} -> {state}"
            )
        if moved:
            notes.append(f"the primary moved: {previous.primary} -> {health.primary}")
    else:
        notes.append(f"topology unchanged: {state}")
    launched_at = previous.failover_launched_at
    due, why = automatic_failover_due(config, health, history, now)
    if due:
        quiet = timedelta(seconds=config.failover_quiet_period)
        if launched_at is not None and now - launched_at < quiet:
            notes.append(
                f"automatic failover due ({why}) but one was launched at "
                f"{launched_at.isoformat()}, within the quiet period; a person must decide"
            )
        else:
            requests.append(
                dg.RunRequest(
                    job_name=FAILOVER_JOB,
                    run_config={"ops": {"failover_primary": {"config": {"yes": True}}}},
                    tags={STATE_TAG: state[:TAG_LIMIT], "lifeboat/automatic": "true"},
                )
            )
            launched_at = now
            notes.append(f"automatic failover launched: {why}")
    primary = health.primary or previous.primary
    return requests, SensorState(state, launched_at, primary), "; ".join(notes)


def topology_alert(previous: str, health: Health) -> Alert:
    """What a person is told when the topology's health changes (once per change)."""
    if health.ok:
        return Alert("recovered", "mysql", None, f"MySQL topology healthy again (was: {previous}).")
    findings = "\n".join(
        f"- {f.severity} {f.kind} on {f.server or 'the topology'}: {f.message}"
        for f in health.findings
    )
    return Alert(
        "topology",
        "mysql",
        None,
        f"MySQL topology: {state_of(health)}\n{findings}\n"
        "Run `lifeboat ls` for the details; failover_check has been launched.",
    )


def health_sensor(interval: float, failover: dg.JobDefinition) -> dg.SensorDefinition:
    """Probe every `interval` seconds; launch `failover_check` once per change of state."""

    @dg.sensor(
        name=SENSOR,
        minimum_interval_seconds=max(1, round(interval)),
        jobs=[failover_check_job, failover],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Probes the MySQL topology and runs failover_check whenever its health changes "
            "(and mysql_failover when automatic failover is on and the primary is dead)."
        ),
    )
    def topology_health_sensor(
        context: dg.SensorEvaluationContext, mysql: MySQLResource, alerts: AlertsResource
    ) -> dg.SensorResult:
        previous = SensorState.parse(context.cursor)
        try:
            topology = mysql.topology()
        except LifeboatError as exc:
            return dg.SensorResult(skip_reason=str(exc), cursor=previous.cursor())
        health = probe(topology)
        requests, current, note = decide(
            previous, health, topology.config, mysql.history(), datetime.now(UTC)
        )
        context.log.info(note)
        if current.state != previous.state:
            alerts.alerter().send(topology_alert(previous.state, health))
        if not requests:
            return dg.SensorResult(skip_reason=note, cursor=current.cursor())
        return dg.SensorResult(run_requests=requests, cursor=current.cursor())

    return topology_health_sensor


def replication_definitions(inventory: Inventory, data_dir: Path) -> dg.Definitions:
    """The MySQL area: health and readiness assets with their checks, jobs and the sensor."""
    failover = failover_job(mysql_resource(inventory, data_dir))
    return dg.Definitions(
        assets=mysql_assets(),
        jobs=[failover_check_job, mysql_switch, failover],
        sensors=[health_sensor(sensor_interval(inventory), failover)],
    )


def replication_resources(inventory: Inventory, data_dir: Path) -> dict[str, Any]:
    """`mysql`: the topology; the assets also use the shared `warehouse` resource."""
    return {"mysql": mysql_resource(inventory, data_dir)}

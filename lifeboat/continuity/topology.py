"""The MySQL topology for the report: its health now and its last switch, or plainly none."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lifeboat.config import Inventory
from lifeboat.errors import LifeboatError

NOT_CONFIGURED = "no topology configured"


@dataclass
class TopologyStatus:
    configured: bool
    healthy: bool | None
    summary: str
    servers: list[dict[str, Any]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    last_switch: dict[str, Any] | None = None


def _last_switch(home: Path) -> dict[str, Any] | None:
    try:
        from replication.history import History, history_path
    except ImportError:
        return None
    event = History(history_path(home)).last()
    if event is None:
        return None
    keys = ("kind", "source", "target", "outcome", "who", "started_at", "blocked_ms", "reason")
    found = {key: event.get(key) for key in keys}
    # A time that does not parse is shown as written.
    with contextlib.suppress(ValueError):
        found["started_at"] = datetime.fromisoformat(str(found["started_at"]))
    return found


def topology_status(home: Path, inventory: Inventory, probe: bool = True) -> TopologyStatus:
    """Probe the `mysql:` topology (or the sandbox) once, read-only; never raise.

    The report is what a person opens on the bad day, so a topology that cannot be read is
    shown as such rather than stopping the report.
    """
    try:
        from replication.errors import TopologyConfigError
        from replication.probe import probe as run_probe
        from replication.topology import from_config, load_sandbox
    except ImportError:
        return TopologyStatus(False, None, NOT_CONFIGURED)
    last = _last_switch(home)
    try:
        if inventory.mysql is not None:
            topology = from_config(inventory.mysql)
        else:
            topology = load_sandbox(home)
    except TopologyConfigError:
        return TopologyStatus(False, None, NOT_CONFIGURED, last_switch=last)
    except LifeboatError as exc:
        return TopologyStatus(True, False, f"cannot probe the topology: {exc}", last_switch=last)
    if not probe:
        return TopologyStatus(True, None, "not probed", last_switch=last)
    try:
        health = run_probe(topology, heartbeat=False)
    except (LifeboatError, OSError) as exc:
        return TopologyStatus(True, False, f"cannot probe the topology: {exc}", last_switch=last)
    servers = [
        {
            "server": row["server"],
            "role": row["role"],
            "address": row["address"],
            "source": row["source"],
            # The report reads without writing a heartbeat, so the replica's own figure
            # stands in when no heartbeat lag was measured.
            "lag_s": row["heartbeat_lag_s"]
            if row["heartbeat_lag_s"] is not None
            else row["seconds_behind_master"],
            "status": row["worst"],
            "detail": row["findings"] or row["error"] or "",
        }
        for row in health.rows()
    ]
    if health.ok:
        text = f"healthy: primary {health.primary}, {len(servers) - 1} replica(s) in step"
    else:
        # One short line for the summary; each server's row carries the full messages.
        kinds: dict[str, list[str]] = {}
        for finding in health.findings:
            named = kinds.setdefault(finding.kind.replace("_", " "), [])
            if finding.server and finding.server not in named:
                named.append(finding.server)
        text = "; ".join(
            f"{kind} ({', '.join(named)})" if named else kind for kind, named in kinds.items()
        )
    return TopologyStatus(
        True,
        health.ok,
        text,
        servers,
        [str(f) for f in health.findings],
        last,
    )

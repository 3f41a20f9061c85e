"""The continuity report: one self-contained HTML page and its Markdown twin, from the exports."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape

from lifeboat.config import Inventory
from lifeboat.continuity import vendor_status as vs
from lifeboat.continuity.catalog import export, open_catalog, output_dir, query
from lifeboat.continuity.charts import freshness_chart, rows_chart
from lifeboat.continuity.contacts import build_contacts
from lifeboat.continuity.history import vendor_history
from lifeboat.continuity.open_work import build_open_work
from lifeboat.continuity.settings import (
    CHART_WINDOW,
    CONTACTS,
    HTML_MAX_ROWS,
    MARKDOWN_ROWS,
    OPEN_WORK,
    RENEWAL_WINDOW,
    REPORT_HTML,
    REPORT_MD,
    VENDOR_STATUS,
)
from lifeboat.continuity.topology import TopologyStatus, topology_status

META = "kit.json"
# What the report advises when lifeboat.yaml gives no runbook steps for a vendor.
DEFAULT_STEPS = {
    vs.LOCKED_OUT: [
        "Call the account owner: a lockout is usually billing, a suspended account or a "
        "revoked key, and only the account owner can lift it.",
        "Open a ticket with the vendor's support and ask what they need to restore access.",
    ],
    "vendor down": [
        "Check the vendor's status page; nothing is lost, lifeboat catches up once it is back.",
    ],
    "rate limited": [
        "Wait: the next run honours the vendor's limit. If it persists, raise the API quota.",
    ],
}
GENERIC_STEPS = [
    "Work from your copy (listed above): it opens with nothing running (CSV, Parquet, DuckDB).",
    "Reach customers from contacts.csv; send marketing only where marketing_ok is true.",
]


@dataclass(frozen=True)
class Outputs:
    html: Path
    markdown: Path
    contacts: int
    open_work: int
    vendors: int


def report_path(home: Path) -> Path:
    """Where the HTML report of this data directory is (written or not yet)."""
    return output_dir(home) / REPORT_HTML


def _write_meta(directory: Path, **values: Any) -> None:
    path = directory / META
    meta = json.loads(path.read_text()) if path.exists() else {}
    meta.update({k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()})
    tmp = path.with_name(f".{META}.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _read_meta(directory: Path) -> dict[str, Any]:
    path = directory / META
    return json.loads(path.read_text()) if path.exists() else {}


def write_contacts(con: duckdb.DuckDBPyConnection, home: Path) -> tuple[int, list[Path]]:
    """contacts.csv and contacts.parquet; `con` must have the vendor copies attached."""
    rows = build_contacts(con)
    return rows, export(con, "contacts", output_dir(home), CONTACTS)


def write_open_work(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    as_of: datetime | None = None,
    unreadable: list[str] | None = None,
) -> tuple[int, datetime, list[Path]]:
    """open_work.csv and .parquet; `con` needs the copies and the `contacts` table."""
    rows, as_of = build_open_work(con, as_of)
    paths = export(con, "open_work", output_dir(home), OPEN_WORK)
    _write_meta(
        output_dir(home),
        as_of=as_of,
        renewal_window_days=RENEWAL_WINDOW.days,
        unreadable=unreadable or [],
    )
    return rows, as_of, paths


def write_vendor_status(
    home: Path,
    inventory: Inventory,
    failures: dict[str, vs.Failure] | None = None,
    materialized: dict[tuple[str, str], datetime] | None = None,
    now: datetime | None = None,
) -> tuple[list[vs.VendorStatus], Path]:
    rows = vs.vendor_status(home, inventory, failures, materialized, now)
    return rows, vs.write_csv(rows, output_dir(home) / f"{VENDOR_STATUS}.csv")


def build_all(
    home: Path,
    inventory: Inventory,
    failures: dict[str, vs.Failure] | None = None,
    materialized: dict[tuple[str, str], datetime] | None = None,
    as_of: datetime | None = None,
    probe_topology: bool = True,
) -> Outputs:
    """Everything from the existing copies, in one go (what `lifeboat report` runs)."""
    unreadable: list[str] = []
    with open_catalog(home, unreadable) as con:
        write_contacts(con, home)
        write_open_work(con, home, as_of, unreadable)
    write_vendor_status(home, inventory, failures, materialized)
    return write_report(home, inventory, topology_status(home, inventory, probe_topology))


# --- reading the exports back -------------------------------------------------------------


def _table(directory: Path, name: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    path = directory / f"{name}.parquet"
    if not path.exists():
        return [], 0
    with duckdb.connect() as con:
        total = query(con, f"SELECT count(*) FROM read_parquet('{path}')")[0][0]
        cursor = con.execute(f"SELECT * FROM read_parquet('{path}') LIMIT {int(limit)}")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return rows, total


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d")


def _round(value: float) -> int:
    # Half up, as the page's script rounds (Math.round), so both say the same age.
    return int(value + 0.5)


def span(minutes: float) -> str:
    """A length of time as a person says it: "12 min", "3 h", "2 days" (the page says the same)."""
    if minutes < 120:
        return f"{_round(minutes)} min"
    if minutes < 24 * 60:
        return f"{_round(minutes / 60)} h"
    days = _round(minutes / 1440)
    return f"{days} day" if days == 1 else f"{days} days"


def age_as_of(value: datetime | None, now: datetime) -> str:
    """A copy's age, anchored to when it was measured: true whenever the page is read.

    The page's script replaces it with the age from the reader's clock ("3 h ago"); this is
    what is left when scripts are off.
    """
    if value is None:
        return "never copied"
    minutes = (now - value).total_seconds() / 60
    old = "under a minute" if minutes < 1 else span(minutes)
    return f"{old} old as of {when(now)}"


def duration(minutes: int | None) -> str:
    """An RPO as configured, in words: "30 min", "4 h", "1 day"."""
    if minutes is None:
        return "—"
    if minutes and minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day" if days == 1 else f"{days} days"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def stamp(value: datetime | None) -> str:
    """ISO time in UTC, one width (so the text sorts in time order) that browsers parse."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _runbooks(inventory: Inventory, status: list[vs.VendorStatus]) -> list[dict[str, Any]]:
    by_vendor: dict[str, list[vs.VendorStatus]] = {}
    for row in status:
        by_vendor.setdefault(row.vendor, []).append(row)
    books = []
    for vendor, config in inventory.enabled_vendors().items():
        rows = by_vendor.get(vendor, [])
        worst = vs.summary(rows)
        state = next(iter(worst), vs.NEVER)
        copied = [r.last_copy for r in rows if r.last_copy]
        failure = next((r.failure for r in rows if r.failure), None)
        steps = list(config.runbook.steps) or DEFAULT_STEPS.get(state, [])
        books.append(
            {
                "vendor": vendor,
                "title": inventory.registry.title(vendor),
                "state": state,
                "failure": failure,
                "account_owner": config.runbook.account_owner,
                "support": config.runbook.support,
                "status_page": config.runbook.status_page,
                "depends_on": config.depends_on,
                "steps": steps + GENERIC_STEPS,
                "last_copy": max(copied) if copied else None,
                "datasets": ", ".join(r.dataset for r in rows),
                "database": f"warehouse/{vendor}.duckdb",
                "snapshots": f"snapshots/{vendor}/",
            }
        )
    return books


def _strictest(status: list[vs.VendorStatus]) -> dict[str, Any] | None:
    """The copy with the shortest RPO: the report is out of date once it is older than that."""
    if not status:
        return None
    row = min(status, key=lambda r: r.rpo_minutes)
    return {
        "minutes": row.rpo_minutes,
        "text": duration(row.rpo_minutes),
        "label": f"{row.title} {row.dataset}",
    }


def _worst(summary: dict[str, list[str]], status: list[vs.VendorStatus]) -> list[list[str]]:
    """[vendor, its worst state] in the order of the status rows, for the page to regroup."""
    state_of = {title: state for state, titles in summary.items() for title in titles}
    return [[title, state_of[title]] for title in dict.fromkeys(r.title for r in status)]


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("lifeboat.continuity", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, day=day, duration=duration, stamp=stamp, md=_markdown_cell)
    return env


def _markdown_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A pipe or a line break would end the cell; angle brackets would become markup.
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(
    home: Path,
    inventory: Inventory,
    topology: TopologyStatus,
    now: datetime | None = None,
) -> Outputs:
    """report.html and report.md from the exported contacts, open work and vendor status."""
    now = now or datetime.now(UTC)
    directory = output_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    status_path = directory / f"{VENDOR_STATUS}.csv"
    status = vs.read_csv(status_path) if status_path.exists() else []
    contacts, contacts_total = _table(directory, CONTACTS, HTML_MAX_ROWS)
    work, work_total = _table(directory, OPEN_WORK, HTML_MAX_ROWS)
    meta = _read_meta(directory)
    as_of = datetime.fromisoformat(meta["as_of"]) if meta.get("as_of") else None
    vendors = list(inventory.enabled_vendors())
    titles = {v: inventory.registry.title(v) for v in vendors}
    histories = [(titles[v], vendor_history(home, inventory.registry[v])) for v in vendors]
    lanes = [
        (
            titles[v],
            history.copies,
            timedelta(minutes=min((r.rpo_minutes for r in status if r.vendor == v), default=60)),
        )
        for v, (_, history) in zip(vendors, histories, strict=True)
    ]
    groups = {
        kind: [w for w in work if w["kind"] == kind] for kind in ("ticket", "invoice", "renewal")
    }
    summary = vs.summary(status)
    context = {
        "now": now,
        "as_of": as_of,
        "renewal_days": meta.get("renewal_window_days", RENEWAL_WINDOW.days),
        "summary": summary,
        "headline": vs.headline(summary),
        "worst": _worst(summary, status),
        "strictest": _strictest(status),
        "status": status,
        "topology": topology,
        "contacts": contacts,
        "contacts_total": contacts_total,
        "reachable": sum(1 for c in contacts if c["email"] or c["phone"]),
        "marketing_ok": sum(1 for c in contacts if c["marketing_ok"]),
        "work": groups,
        "work_total": work_total,
        "overdue": sum(1 for w in work if w["overdue"]),
        "max_rows": HTML_MAX_ROWS,
        "unreadable": [inventory.registry.title(v) for v in meta.get("unreadable", [])],
        "runbooks": _runbooks(inventory, status),
        "home": str(home),
        "rows_chart": rows_chart(histories, now),
        "freshness_chart": freshness_chart(lanes, now, CHART_WINDOW),
        "files": {
            "contacts": f"{CONTACTS}.csv",
            "open_work": f"{OPEN_WORK}.csv",
            "vendor_status": f"{VENDOR_STATUS}.csv",
            "markdown": REPORT_MD,
        },
    }
    env = _environment()
    env.filters["age_as_of"] = lambda value: age_as_of(value, now)
    html = env.get_template("report.html.j2").render(**context)
    md_rows = min(MARKDOWN_ROWS, len(contacts))
    markdown = env.get_template("report.md.j2").render(
        **context,
        md_rows=MARKDOWN_ROWS,
        status_table=markdown_table(
            ["vendor", "dataset", "state", "rows held", "last copy", "RPO", "RPO met", "failure"],
            [
                [
                    r.title,
                    r.dataset,
                    r.state,
                    "—" if r.rows_held is None else f"{r.rows_held:,}",
                    when(r.last_copy),
                    duration(r.rpo_minutes),
                    "yes" if r.rpo_met else "no",
                    r.failure or "",
                ]
                for r in status
            ],
        ),
        work_tables={
            kind: markdown_table(
                ["ref", "what", "status", "amount", "due", "overdue", "contact", "email", "phone"],
                [
                    [
                        w["ref"],
                        w["summary"],
                        w["status"],
                        w["amount"] or "",
                        day(w["due"]),
                        "yes" if w["overdue"] else "",
                        w["contact_name"],
                        w["contact_email"],
                        w["contact_phone"],
                    ]
                    for w in rows[:MARKDOWN_ROWS]
                ],
            )
            for kind, rows in groups.items()
        },
        contacts_table=markdown_table(
            ["name", "email", "phone", "vendors", "marketing", "paid", "open tickets"],
            [
                [
                    c["name"],
                    c["email"],
                    c["phone"],
                    c["vendors"],
                    c["marketing"],
                    c["lifetime_paid"],
                    c["open_tickets"],
                ]
                for c in contacts[:md_rows]
            ],
        ),
        markdown_table=markdown_table,
    )
    html_path = _replace(directory / REPORT_HTML, html)
    md_path = _replace(directory / REPORT_MD, markdown)
    return Outputs(html_path, md_path, contacts_total, work_total, len(vendors))


def _replace(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path

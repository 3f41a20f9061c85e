"""The one place a failure or a stale copy becomes a plain message with the next step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lifeboat import names
from lifeboat.config import Inventory
from lifeboat.errors import (
    SchemaDrift,
    SuspectedShrink,
    VendorBadResponse,
    VendorError,
    VendorLockout,
    VendorOutage,
    VendorRateLimited,
)
from lifeboat.secrets import mask
from lifeboat.settings import QUARANTINE_TABLE
from lifeboat.status import copy_status
from pipelines.registry import vendors

# How each credential is called in a sentence a business owner reads.
_CREDENTIAL_WORDS = {
    "api_key": "API key",
    "access_token": "access token",
    "api_token": "API token",
    "email": "sign-in email",
}


@dataclass(frozen=True)
class Held:
    """What the copy holds of one dataset."""

    dataset: str
    rows: int | None
    copied_at: datetime | None


@dataclass(frozen=True)
class Facts:
    """What a message may state about a vendor: the copy held, and where the keys live."""

    vendor: str
    held: tuple[Held, ...] = ()
    credential_envs: dict[str, str] = field(default_factory=dict)
    job: str = ""
    support: str | None = None
    status_page: str | None = None

    # The vendor's name as people know it, from the inventory's registry (see gather_facts).
    vendor_title: str = ""

    @property
    def title(self) -> str:
        return self.vendor_title or vendors().title(self.vendor)


def gather_facts(vendor: str, home: Path, inventory: Inventory) -> Facts:
    """Facts from the snapshot manifests (rows held, last copy) and the inventory (env names)."""
    held = tuple(
        Held(s.dataset, s.rows_held, s.copied_at)
        for s in copy_status(home, inventory)
        if s.vendor == vendor
    )
    config = inventory.vendors.get(vendor)
    envs = inventory.credential_envs(vendor) if vendor in inventory.registry else {}
    runbook = config.runbook if config else None
    return Facts(
        vendor=vendor,
        held=held,
        credential_envs=envs,
        job=names.copy_job(vendor),
        support=runbook.support if runbook else None,
        status_page=runbook.status_page if runbook else None,
        vendor_title=inventory.registry.title(vendor),
    )


def when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def age(delta: timedelta) -> str:
    """'2d 3h', '3h 10m', '25m': coarse enough to read at a glance."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"


def _copy_clause(facts: Facts, dataset: str | None) -> str:
    """'your copy of 2,000 charges from 2026-11-20 14:02 UTC is intact', or why there is none."""
    held = [
        h for h in facts.held if h.rows is not None and (dataset is None or h.dataset == dataset)
    ]
    if not held:
        what = f"{facts.title} {dataset}" if dataset else facts.title
        return f"there is no copy of {what} yet, as no copy has succeeded so far"
    counts = ", ".join(f"{h.rows:,} {h.dataset}" for h in held)
    latest = max((h.copied_at for h in held if h.copied_at), default=None)
    return f"your copy of {counts} from {when(latest)} is intact"


def _credential_words(facts: Facts) -> tuple[str, str]:
    """('API key', 'STRIPE_API_KEY') or ('sign-in email and API token', 'A and B')."""
    names = list(facts.credential_envs) or ["api_key"]
    words = " and ".join(_CREDENTIAL_WORDS.get(n, n.replace("_", " ")) for n in names)
    envs = " and ".join(facts.credential_envs.values()) or "the variables in lifeboat.yaml"
    return words, envs


def _status(error: VendorError) -> str:
    return f" ({error.status})" if error.status else ""


def _rerun(facts: Facts) -> str:
    return f"run the copy again (job {facts.job} in the Dagster UI)" if facts.job else "copy again"


def _support(facts: Facts) -> str:
    if facts.support:
        return f", and if it stays refused, contact {facts.title} support: {facts.support}"
    return f", and if it stays refused, contact {facts.title} support about the account"


def explain(error: VendorError, facts: Facts, secrets: tuple[str, ...] = ()) -> str:
    """One sentence per kind of failure: what happened, that the copy is safe, what next.

    One sentence, its parts joined by semicolons, so that a person is told once, and an
    alert, the Dagster UI and the log all show the same whole message. The vendor's own
    words close it, quoted ('Stripe answered "503 Service Unavailable"'), or, when the
    vendor gave none (no answer, an unreadable one), what lifeboat saw.
    """
    name = facts.title
    copy = _copy_clause(facts, error.dataset)
    detail = mask(error.detail.strip().rstrip("."), secrets).replace('"', "'")
    if isinstance(error, VendorLockout):
        words, envs = _credential_words(facts)
        text = (
            f"{name} rejected the {words}{_status(error)}: the account may be locked or the "
            f"{words} revoked; {copy}; check the {words} in {envs}, then {_rerun(facts)}"
            f"{_support(facts)}"
        )
    elif isinstance(error, VendorOutage):
        page = f" ({facts.status_page})" if facts.status_page else ""
        text = (
            f"{name} is not answering{_status(error)}: its service looks down; {copy}; there "
            f"is nothing to do now, as lifeboat keeps trying on schedule and catches up what "
            f"was missed when {name} is back, and if it lasts, check {name}'s status "
            f"page{page}"
        )
    elif isinstance(error, VendorRateLimited):
        wait = f" (it asked to wait {error.retry_after:.0f}s)" if error.retry_after else ""
        text = (
            f"{name} kept refusing requests as too many{_status(error)}{wait}, even after "
            f"waiting and retrying; {copy}; the next scheduled copy tries again, and if this "
            f"repeats, raise the rpo of {facts.vendor} in lifeboat.yaml so it is copied less "
            f"often, or ask {name} for a higher limit"
        )
    elif isinstance(error, VendorBadResponse):
        text = (
            f"{name} sent an answer lifeboat could not read{_status(error)}, so nothing was "
            f"changed; {copy}; this is usually brief, so {_rerun(facts)} later, and if it "
            f"fails the same way, send the run's log to whoever maintains lifeboat"
        )
    elif isinstance(error, SchemaDrift):
        text = (
            f"{name} changed the shape of its data: the changed field was set aside, not "
            f"dropped; {copy}; ask whoever maintains lifeboat to review the change, then "
            f"{_rerun(facts)}"
        )
    elif isinstance(error, SuspectedShrink):
        text = (
            f"{name} suddenly lists far fewer records than your copy holds, which looks like "
            f"a lockout or a partial outage, so lifeboat changed nothing; {copy}; sign in to "
            f"{name} and check the account and its data, then {_rerun(facts)}"
        )
    else:
        text = f"{name} failed{_status(error)}; {copy}; {_rerun(facts)}"
    if not detail:
        return f"{text}."
    if error.status and error.status >= 400:
        return f'{text} ({name} answered "{detail}").'
    return f'{text} ({error.kind}: "{detail}").'


def listed(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def explain_catching_up(title: str, missed: Sequence[str]) -> str:
    """The notice that a backfill of the days an outage made a copy miss has started."""
    days = "the day" if len(missed) == 1 else f"the {len(missed)} days"
    return (
        f"{title} answers again, so lifeboat is catching up on {days} its copy missed "
        f"({listed(missed)}) in one backfill run."
    )


# What a stale copy's cause reads as, after "because".
CAUSES = {
    "locked_out": "{title} refused the credentials in the last copy run",
    "outage": "{title} was not answering in the last copy run",
    "rate_limited": "{title} kept refusing requests as too many in the last copy run",
    "bad_response": "{title} sent answers lifeboat could not read in the last copy run",
    "schema_drift": "{title} changed the shape of its data in the last copy run",
    "suspected_shrink": "{title} listed far fewer records than the copy holds",
    "failing_runs": "the copy runs are failing",
    "schedule_off": "the schedule {schedule} is switched off",
    "running": "a copy is running now",
    "not_run": "no copy has run since; check that the Dagster daemon is running",
}
NEXT_STEPS = {
    "locked_out": "Check the credentials in {envs}, then run {job} again.",
    "outage": "lifeboat catches up when {title} answers again.",
    "rate_limited": "The next copy tries again; copy less often if it repeats.",
    "bad_response": "Run {job} again; if it repeats, send its log to your maintainer.",
    "schema_drift": "Ask your maintainer to review the change.",
    "suspected_shrink": "Sign in to {title} and check the account.",
    "failing_runs": "Open the failed run of {job} in the Dagster UI to see why.",
    "schedule_off": "Switch the schedule {schedule} on in the Dagster UI (Automation).",
    "running": "Wait for it to finish.",
    "not_run": "Start `make ui` (or `dagster dev`) so the schedules run.",
}


def explain_stale(
    facts: Facts,
    dataset: str,
    rpo: timedelta,
    cause: str,
    now: datetime | None = None,
) -> str:
    """A stale copy: how old, against which RPO, why, and what to do."""
    now = now or datetime.now(UTC)
    entry = next((h for h in facts.held if h.dataset == dataset), None)
    envs = " and ".join(facts.credential_envs.values()) or "lifeboat.yaml"
    fill = {
        "title": facts.title,
        "envs": envs,
        "job": facts.job or names.copy_job(facts.vendor),
        "schedule": names.copy_schedule(facts.vendor),
    }
    why = CAUSES.get(cause, cause).format(**fill)
    step = NEXT_STEPS.get(cause, "").format(**fill)
    if entry is None or entry.copied_at is None:
        head = f"There is no copy of {facts.title} {dataset} yet (allowed age {age(rpo)})"
    else:
        rows = f"{entry.rows:,} " if entry.rows is not None else ""
        head = (
            f"Your copy of {rows}{facts.title} {dataset} is {age(now - entry.copied_at)} old "
            f"(last copied {when(entry.copied_at)}), past the {age(rpo)} allowed"
        )
    return f"{head}, because {why}. {step}".strip()


def explain_recovered(facts: Facts, dataset: str | None, was: str) -> str:
    """The all-clear after a problem, naming what it was."""
    what = f"{facts.title} {dataset}" if dataset else facts.title
    if dataset:
        entry = next((h for h in facts.held if h.dataset == dataset), None)
        tail = (
            f": {entry.rows:,} held, copied {when(entry.copied_at)}"
            if entry and entry.rows is not None
            else ""
        )
        return f"Your copy of {what} is fresh again{tail} (it was {was.replace('_', ' ')})."
    return f"{what} answers again and the copy succeeded (it was {was.replace('_', ' ')})."


# How a column's kind is called in a sentence.
KIND_WORDS = {
    "string": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true/false",
    "timestamp": "a time",
    "date": "a date",
    "json": "JSON",
}


def explain_new_columns(vendor: str, dataset: str, added: dict[str, str]) -> str:
    """The announcement of fields a vendor added to a dataset, now kept as columns."""
    title = vendors().title(vendor)
    fields = ", ".join(f"{name} ({KIND_WORDS.get(kind, kind)})" for name, kind in added.items())
    several = len(added) > 1
    return (
        f"{title} added {len(added)} field{'s' if several else ''} to {dataset}: {fields}. "
        f"lifeboat keeps {'them as new columns' if several else 'it as a new column'} of "
        f"{dataset} from now on; rows copied earlier have {'them' if several else 'it'} empty. "
        f"Nothing to do, unless your reports should use {'them' if several else 'it'}."
    )


def explain_set_aside(
    vendor: str,
    dataset: str,
    count: int,
    misfits: dict[str, tuple[str, str]],
) -> str:
    """The announcement of records set aside because a field changed type.

    `misfits` maps each column to (the kind expected, an example of what was received).
    """
    title = vendors().title(vendor)
    changes = "; ".join(
        f"{column} should be {KIND_WORDS.get(kind, kind)} but {title} sent {received}"
        for column, (kind, received) in misfits.items()
    )
    records = f"{count:,} record{'s' if count != 1 else ''}"
    return (
        f"{title} changed the type of {', '.join(misfits)} in {dataset}: {changes}. "
        f"lifeboat set {records} aside, whole, in the {QUARANTINE_TABLE} table of "
        f"{vendor}.duckdb and kept your copy's earlier version of "
        f"{'them' if count != 1 else 'it'}; nothing was "
        f"dropped and the rest of {dataset} copied as usual. Ask whoever maintains lifeboat "
        f"to update the column in pipelines/{vendor}/settings.py; {QUARANTINE_TABLE} shows what "
        f"{title} now sends."
    )


def vendor_error_in(exc: BaseException | None) -> VendorError | None:
    """The VendorError behind an exception, however deep dlt or Dagster wrapped it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, VendorError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None

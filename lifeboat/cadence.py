"""How often to copy a vendor so that no dataset's copy gets older than its RPO."""

from __future__ import annotations

from datetime import timedelta

# The shortest RPO a schedule can meet (every minute is half of it) and Dagster's freshness
# policy takes (it warns at half the RPO, and no window may be under a minute).
MIN_RPO = timedelta(minutes=2)
_MINUTE_STEPS = (1, 2, 5, 10, 15, 20, 30)
_HOUR_STEPS = (1, 2, 3, 4, 6, 8, 12)


def cron_for_rpo(rpo: timedelta) -> str:
    """A cron schedule whose interval is at most half the RPO.

    Half, so that one failed or slow run still leaves a second chance before the copy is
    older than allowed. The interval is rounded down to one cron can express evenly.
    """
    if rpo < MIN_RPO:
        raise ValueError(f"an RPO of {rpo} is too short to meet with a schedule; use at least 2m")
    minutes = rpo.total_seconds() / 2 / 60
    if minutes < 60:
        step = max(s for s in _MINUTE_STEPS if s <= minutes)
        return "* * * * *" if step == 1 else f"*/{step} * * * *"
    hours = minutes / 60
    if hours < 24:
        step = max(s for s in _HOUR_STEPS if s <= hours)
        return "0 * * * *" if step == 1 else f"0 */{step} * * *"
    return "0 0 * * *"

"""The names of lifeboat's Dagster jobs, steps, schedules, pools and tags, in one place."""

from __future__ import annotations

from collections.abc import Iterable

ALL_COPIES_JOB = "copy_all_vendors"
RESTORE_DRILL_JOB = "restore_drills"
RESTORE_DRILL_SCHEDULE = "restore_drills_daily"
RECOVERY_SENSOR = "vendor_recovery_sensor"
HISTORY_SENSOR = "copied_history_sensor"
# The run and asset tag naming the vendor a run or an asset copies.
VENDOR_TAG = "lifeboat/vendor"
# A vendor's copy is one step for its datasets copied whole and one for its daily ones.
_COPY_STEP_SUFFIXES = ("_copy", "_daily")


def copy_job(vendor: str) -> str:
    """The job that copies every enabled dataset of one vendor."""
    return f"copy_{vendor}"


def copy_schedule(vendor: str) -> str:
    return f"{vendor}_every_rpo"


def reconcile_job(vendor: str) -> str:
    """The weekly full listing that marks records gone upstream as deleted."""
    return f"reconcile_{vendor}"


def reconcile_op(vendor: str) -> str:
    return f"reconcile_{vendor}_op"


def reconcile_schedule(vendor: str) -> str:
    return f"reconcile_{vendor}_weekly"


def copy_step(vendor: str, daily: bool) -> str:
    """The step (and multi-asset) copying a vendor's daily datasets, or the rest of them."""
    return f"{vendor}{_COPY_STEP_SUFFIXES[1] if daily else _COPY_STEP_SUFFIXES[0]}"


def vendor_of_step(step_key: str | None, vendors: Iterable[str] | None = None) -> str | None:
    """The vendor a copy step (`<vendor>_copy` or `<vendor>_daily`) belongs to, if any.

    With `vendors`, only those names count.
    """
    if not step_key:
        return None
    name = step_key.split(".")[0]
    for suffix in _COPY_STEP_SUFFIXES:
        vendor = name.removesuffix(suffix)
        if vendor != name and (vendors is None or vendor in set(vendors)):
            return vendor
    return None


def vendor_pool(vendor: str) -> str:
    """The Dagster pool that lets one step of a vendor run at a time."""
    return f"vendor_{vendor}"

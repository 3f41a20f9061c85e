"""A storm of 429s over a whole sync of every vendor: ridden out, and the copy is whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from pipelines.base import RetryPolicy, VendorContext
from pipelines.runner import sync, table_counts, warehouse_path
from tests.pipelines.test_ga4 import ga4
from tests.pipelines.test_hubspot import hubspot
from tests.pipelines.test_mailchimp import mailchimp
from tests.pipelines.test_rest import harvest
from tests.pipelines.test_stripe import stripe
from tests.pipelines.test_youtube import youtube
from tests.pipelines.test_zendesk import zendesk

# Enough attempts that one refused request in two never exhausts a request's retries.
STORM_RETRIES = RetryPolicy(max_attempts=4, budget_seconds=30)
CONNECTORS: dict[str, Callable[..., VendorContext]] = {
    "stripe": stripe,
    "hubspot": hubspot,
    "zendesk": zendesk,
    "mailchimp": mailchimp,
    "youtube": youtube,
    "ga4": lambda url, retries: ga4(url, retries, page_size=10),  # pages of ten days
    "harvest": harvest,  # the REST API lifeboat.yaml configures
}
# Bookkeeping that differs between two runs by design (when the copy was taken).
RUN_COLUMNS = {"_dlt_load_id", "_dlt_id"}


def contents(home: Path, vendor: str) -> dict[str, list[tuple]]:
    database = warehouse_path(home, vendor)
    found = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for table in table_counts(database, "main"):
            columns = [
                row[0]
                for row in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = ? ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if row[0] not in RUN_COLUMNS and not (vendor == "ga4" and row[0] == "_changed_at")
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            found[table] = con.execute(f"SELECT {listed} FROM {table} ORDER BY ALL").fetchall()
    return found


@pytest.mark.parametrize("vendor", list(CONNECTORS))
def test_a_429_storm_over_a_whole_sync_is_ridden_out(
    vendor: str, make_emulator, tmp_path: Path
) -> None:
    calm, stormy = make_emulator(), make_emulator()
    context = CONNECTORS[vendor]
    sync(context(calm.url, retries=STORM_RETRIES), tmp_path / "calm")
    control = EmulatorControl(stormy.url)
    # Every second request of the whole sync is refused with 429 and Retry-After: 0.
    control.fault(vendor, "rate_limit", every=2, retry_after=0)

    result = sync(context(stormy.url, retries=STORM_RETRIES), tmp_path / "stormy")

    requests = control.requests(vendor)
    assert requests >= 4  # a storm, not a shower: several pages, each asked for twice
    answered = requests - requests // 2
    assert answered == EmulatorControl(calm.url).requests(vendor)
    assert contents(tmp_path / "stormy", vendor) == contents(tmp_path / "calm", vendor)
    assert sum(t.rows_held for t in result.tables.values()) > 0

"""The report says how old things are without freezing a relative age into the page."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from lifeboat.config import Inventory, load_inventory
from lifeboat.continuity import vendor_status as vs
from lifeboat.continuity.report import (
    build_all,
    duration,
    span,
    stamp,
    when,
    write_report,
)
from lifeboat.continuity.topology import topology_status
from lifeboat.instance import PROJECT_ROOT
from pipelines.registry import vendors


def shipped() -> Inventory:
    return load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())


def without_script(html: str) -> str:
    return re.sub(r"<script>.*?</script>", "", html, flags=re.S)


@pytest.fixture
def built(copied_home: Path) -> tuple[str, list[vs.VendorStatus], Path]:
    """The report written five minutes after the newest copy; its HTML and its status rows."""
    inventory = shipped()
    build_all(copied_home, inventory, probe_topology=False)
    status = vs.read_csv(copied_home / "continuity" / "vendor_status.csv")
    now = max(r.last_copy for r in status if r.last_copy) + timedelta(minutes=5)
    topology = topology_status(copied_home, inventory, probe=False)
    outputs = write_report(copied_home, inventory, topology, now=now)
    return outputs.html.read_text(encoding="utf-8"), status, outputs.markdown


def test_no_relative_age_is_frozen_into_the_page(built) -> None:
    html, status, _ = built
    now = max(r.last_copy for r in status if r.last_copy) + timedelta(minutes=5)
    text = without_script(html)
    assert not re.search(r"\d+ (min|h|days?) ago|just now", text), "wrong by tomorrow"
    # What is left without scripts is anchored to the time it was true.
    assert text.count(f" old as of {when(now)}</td>") == sum(1 for r in status if r.last_copy)
    assert f"Ages and states on this page are as of {when(now)}" in text
    assert "<noscript>" in text


def test_the_page_carries_the_times_its_script_needs(built) -> None:
    html, status, _ = built
    now = max(r.last_copy for r in status if r.last_copy) + timedelta(minutes=5)
    assert f'<body data-built="{stamp(now)}">' in html
    assert stamp(now).endswith("Z") and len(stamp(now)) == len("2026-01-01T00:00:00.000Z")
    for row in status:
        assert f'data-copied="{stamp(row.last_copy)}" data-rpo="{row.rpo_minutes}"' in html


def test_the_banner_names_the_strictest_rpo_and_how_to_rebuild(built) -> None:
    html, _, _ = built
    banner = re.search(r'<p class="stale-banner" id="stale-banner"[^>]*>(.*?)</p>', html, re.S)
    assert banner, "the page holds the stale banner, hidden until its script shows it"
    assert 'data-rpo="30" hidden' in banner.group(0)
    assert "longer ago than the strictest RPO (30 min, Stripe charges)" in banner.group(1)
    assert "<code>lifeboat report</code>" in banner.group(1)
    assert "Dagster UI (continuity/report)" in banner.group(1)


def test_charts_end_at_the_build_time_not_at_a_frozen_now(built) -> None:
    html, status, markdown = built
    now = max(r.last_copy for r in status if r.last_copy) + timedelta(minutes=5)
    assert ">now</text>" not in html
    assert f">{now:%H:%M}</text>" in html
    assert f"States and RPOs as of {when(now)}" in markdown.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("minutes", "said"),
    [
        (0.6, "1 min"),
        (30, "30 min"),
        (119.4, "119 min"),
        (150, "3 h"),
        (23 * 60, "23 h"),
        (24 * 60 + 1, "1 day"),
        (36 * 60, "2 days"),
        (10 * 1440, "10 days"),
    ],
)
def test_spans_are_said_as_people_say_them(minutes: float, said: str) -> None:
    assert span(minutes) == said


def test_rpos_are_said_in_words() -> None:
    assert [duration(m) for m in (30, 60, 240, 1440, 2880, 90)] == [
        "30 min",
        "1 h",
        "4 h",
        "1 day",
        "2 days",
        "90 min",
    ]

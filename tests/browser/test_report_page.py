"""The continuity report opened from disk in Chromium, network off: search, sort, phone, age."""

from __future__ import annotations

import csv
import re
import shutil
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from lifeboat.config import load_inventory
from lifeboat.continuity import vendor_status as vs
from lifeboat.continuity.report import (
    build_all,
    duration,
    span,
    when,
    write_report,
    write_vendor_status,
)
from lifeboat.continuity.topology import topology_status
from lifeboat.instance import PROJECT_ROOT
from pipelines.registry import vendors
from tests.lifeboat.continuity.helpers import build_copies


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = build_copies(tmp_path_factory.mktemp("report"))
    return build_all(home, load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())).html


def plain(text: str) -> str:
    """The text as people type it: lower case, no accents."""
    return "".join(
        c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
    ).lower()


def contacts(report: Path) -> list[dict[str, str]]:
    with (report.parent / "contacts.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_search_finds_a_customer_offline(browser, report: Path, artifacts: Path) -> None:
    rows = contacts(report)
    paying = [r for r in rows if r["lifetime_paid"] and "stripe" in r["vendors"]]
    # A name with an accent, typed without it as people do ("chloe" for "Chloé").
    customer = next((r for r in paying if plain(r["name"]) != r["name"].lower()), paying[0])
    name, typed = customer["name"], plain(customer["name"])
    same_name = [r for r in rows if r["name"] == name]
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    page.screenshot(path=str(artifacts / "report-top.png"))
    table = page.locator("#t-contacts tbody tr")
    assert table.count() == len(rows)
    search = page.locator("#contact-search")
    search.type(typed)
    visible = page.locator("#t-contacts tbody tr:not([hidden])")
    shown = visible.all_inner_texts()
    assert len(same_name) <= len(shown) < len(rows) / 10
    assert any(customer["email"] in text for text in shown)
    assert all(typed in plain(text) for text in shown)
    counter = page.locator('[data-count="t-contacts"]').inner_text()
    assert counter == f"{len(shown)} of {len(rows)} shown"
    page.locator("#contacts").screenshot(path=str(artifacts / "report-search.png"))
    search.fill("")
    assert visible.count() == len(rows)
    assert errors == []
    assert [url for url in requests if not url.startswith("file://")] == []
    context.close()


def test_sorting_by_lifetime_paid_puts_the_best_customer_first(browser, report: Path) -> None:
    best = max(contacts(report), key=lambda row: float(row["lifetime_paid_sort"]))
    page = browser.new_page()
    page.goto(report.as_uri())
    header = page.locator("#t-contacts th", has_text="Lifetime paid")
    header.click()
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    first = page.locator("#t-contacts tbody tr").first.inner_text()
    assert best["email"] in first
    page.close()


# --- the page as read on a phone, and days after it was built ------------------------------


def built_at(report: Path) -> datetime:
    """When the report was built, as the page records it."""
    found = re.search(r'<body data-built="([^"]+)"', report.read_text(encoding="utf-8"))
    assert found, "the page records when it was built"
    return datetime.fromisoformat(found.group(1))


def statuses(report: Path) -> list[vs.VendorStatus]:
    return vs.read_csv(report.parent / "vendor_status.csv")


def open_at(browser, report: Path, when: datetime, width: int = 1280, height: int = 900):
    """The report opened offline on a device whose clock says `when`."""
    context = browser.new_context(offline=True, viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.clock.set_fixed_time(when)
    page.goto(report.as_uri())
    return context, page, errors


def column(page, header: str) -> list[str]:
    """The text of one column of the vendors table, found by its header as a person does."""
    return page.locator("#t-vendors").evaluate(
        """(table, header) => {
            const names = Array.from(table.tHead.rows[0].cells, th => th.textContent.trim());
            const index = names.findIndex(name => name.startsWith(header));
            return Array.from(table.tBodies[0].rows, row => row.cells[index].innerText.trim());
        }""",
        header,
    )


@pytest.fixture(scope="module")
def locked_out(report: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same copies, HubSpot locked out when the report was built."""
    home = shutil.copytree(report.parent.parent, tmp_path_factory.mktemp("locked") / "home")
    inventory = load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())
    failure = vs.Failure("lockout", "HubSpot refused the key (401): access revoked")
    write_vendor_status(home, inventory, {"hubspot": failure})
    return write_report(home, inventory, topology_status(home, inventory, probe=False)).html


def test_on_a_phone_the_page_fits_and_tables_scroll_in_their_cards(
    browser, report: Path, artifacts: Path
) -> None:
    context, page, errors = open_at(browser, report, built_at(report), width=390, height=844)
    page.screenshot(path=str(artifacts / "report-phone-390.png"))
    # No horizontal page scroll: nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("document.body.scrollWidth") <= 390
    # The vendors table is wider than the phone and scrolls inside its own box.
    wrapper = page.locator("#t-vendors").locator("xpath=..")
    assert wrapper.evaluate("w => getComputedStyle(w).overflowX") == "auto"
    assert wrapper.evaluate("w => w.scrollWidth > w.clientWidth")
    assert wrapper.evaluate("w => { w.scrollLeft = 200; return w.scrollLeft; }") > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The summary, the search boxes and the charts sit within the screen.
    for selector in ("#summary .card", "input[type=search]", "svg.panel", ".chart"):
        edges = page.locator(selector).evaluate_all(
            "all => all.map(e => [e.getBoundingClientRect().left, e.getBoundingClientRect().right])"
        )
        assert edges and all(left >= 0 and right <= 390 for left, right in edges), selector
    # The freshness timeline keeps a legible width and scrolls inside its box instead.
    timeline = page.locator(".chart")
    assert timeline.evaluate("c => c.scrollWidth > c.clientWidth")
    assert page.locator("svg.timeline").bounding_box()["width"] >= 640
    # The summary's numbers and names are read at their own size, not shrunk to fit.
    sizes = page.locator("#summary .card .muted").evaluate_all(
        "cards => cards.map(c => parseFloat(getComputedStyle(c).fontSize))"
    )
    assert min(sizes) >= 12
    assert errors == []
    context.close()


def test_opened_right_after_it_was_built_it_reads_fresh(
    browser, report: Path, artifacts: Path
) -> None:
    opened = built_at(report) + timedelta(minutes=2)
    context, page, errors = open_at(browser, report, opened)
    banner = page.locator("#stale-banner")
    assert banner.count() == 1 and banner.is_hidden()
    # The page knows each copy's time to the millisecond.
    copied = [
        r.last_copy.replace(microsecond=r.last_copy.microsecond // 1000 * 1000)
        for r in statuses(report)
        if r.last_copy
    ]
    expected = [
        "just now" if (minutes := (opened - t).total_seconds() / 60) < 1 else f"{span(minutes)} ago"
        for t in copied
    ]
    ages = column(page, "Age")
    # Ages are counted from the reader's clock (built two minutes earlier), in minutes.
    assert ages == expected
    assert all(re.fullmatch(r"just now|\d+ min ago", age) for age in ages)
    assert set(column(page, "State")) == {"healthy"}
    assert all(rpo.endswith(" met") for rpo in column(page, "RPO"))
    assert page.locator('#summary .card[data-state="stale"] .n').inner_text() == "0"
    page.screenshot(path=str(artifacts / "report-right-after.png"))
    assert errors == []
    context.close()


def test_opened_a_day_later_it_says_it_is_stale(browser, report: Path, artifacts: Path) -> None:
    built = built_at(report)
    opened = built + timedelta(days=1, minutes=1)
    context, page, errors = open_at(browser, report, opened)
    page.screenshot(path=str(artifacts / "report-a-day-later.png"))
    banner = page.locator("#stale-banner")
    assert banner.is_visible()
    text = banner.inner_text()
    assert text.startswith(f"This report was built 1 day ago ({when(built)}), longer ago than")
    strictest = min(statuses(report), key=lambda r: r.rpo_minutes)  # Stripe charges, 30 min
    rpo = f"{duration(strictest.rpo_minutes)}, {strictest.title} {strictest.dataset}"
    assert f"longer ago than the strictest RPO ({rpo}): what it says may be out of date" in text
    assert "lifeboat report" in text and "continuity/report" in text
    assert banner.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(214, 69, 69)"
    # The copies, healthy when the report was built, are now older than their RPO (every
    # shipped RPO is a day or less, so all of them).
    expected = [
        "healthy" if (opened - r.last_copy).total_seconds() / 60 <= r.rpo_minutes else "stale"
        for r in statuses(report)
    ]
    states = column(page, "State")
    assert states == expected and "stale" in states
    met = [rpo.rsplit(" ", 1)[1] for rpo in column(page, "RPO")]
    assert met == ["met" if state == "healthy" else "missed" for state in expected]
    assert set(column(page, "Age")) == {"1 day ago"}
    rows = zip(statuses(report), states, strict=True)
    stale = list(dict.fromkeys(r.title for r, state in rows if state == "stale"))
    card = page.locator('#summary .card[data-state="stale"]')
    assert card.locator(".n").inner_text() == str(len(stale))
    assert card.locator(".muted").inner_text() == ", ".join(stale)
    badges = page.locator("#runbooks h3 .badge").all_inner_texts()
    assert badges.count("stale") == len(stale)
    # A search for "stale" finds the copies that turned stale.
    page.locator('input[data-filter="t-vendors"]').fill("stale")
    assert page.locator("#t-vendors tbody tr:not([hidden])").count() == states.count("stale")
    assert errors == []
    context.close()


def test_a_day_later_a_locked_out_vendor_stays_locked_out(browser, locked_out: Path) -> None:
    context, page, errors = open_at(browser, locked_out, built_at(locked_out) + timedelta(days=1))
    states = list(zip(column(page, "Vendor"), column(page, "State"), strict=True))
    assert {state for vendor, state in states if vendor == "HubSpot"} == {"locked out"}
    assert {state for vendor, state in states if vendor != "HubSpot"} == {"stale"}
    locked = page.locator('#summary .card[data-state="locked out"]')
    assert locked.locator(".muted").inner_text() == "HubSpot"
    stale = page.locator('#summary .card[data-state="stale"] .muted').inner_text()
    assert "HubSpot" not in stale and "Stripe" in stale
    assert page.locator("#runbook-hubspot h3 .badge").inner_text() == "locked out"
    assert errors == []
    context.close()

"""The continuity report opened from disk in Chromium with the network off: search and sort."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pytest

from lifeboat.config import load_inventory
from lifeboat.continuity.report import build_all
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

"""`make demo SCENARIO=outage` tells the whole story: lockout, outage, backfill, recovery."""

from __future__ import annotations

from pathlib import Path

from automation.scenarios import DOWN_DAYS, run_outage
from lifeboat.instance import load_demo_credentials


def test_outage_scenario_tells_the_story_and_keeps_the_copy(tmp_path: Path) -> None:
    load_demo_credentials()
    lines: list[str] = []
    facts = run_outage(tmp_path / "outage", out=lines.append)
    story = "\n".join(lines)
    assert facts["zendesk_untouched"]
    assert len(facts["down_days"]) == DOWN_DAYS
    assert facts["backfills"] == 1 and facts["backfill_ok"]
    assert facts["cursor_kept"]
    # One alert per change of state, in order, and no repeats.
    assert facts["alerts"] == [
        ("locked_out", "zendesk"),
        ("outage", "stripe"),
        ("catching_up", "stripe"),
        ("recovered", "stripe"),
        ("recovered", "zendesk"),
    ]
    assert "Zendesk rejected" in story and "is intact" in story
    assert f"one backfill run, {facts['down_days'][0]} to {facts['down_days'][-1]}" in story

"""`make demo SCENARIO=outage` tells the whole story: lockout, outage, backfill, recovery."""

from __future__ import annotations

from pathlib import Path

from automation.scenarios import DOWN_DAYS, run_outage, untouched
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
    # Sentences, not Python: no dicts, booleans or exception class names.
    assert "   copy_zendesk failed: Zendesk rejected the sign-in email" in story
    assert "the Zendesk copy is untouched: " in story and " users, as before" in story
    assert "   the incremental cursor did not move\n" in story
    # The outage's retries are told inside step 3, not printed bare on stderr.
    assert "\n      stripe: outage; retry 1 in " in story
    days = " and ".join(facts["down_days"])
    assert (
        f"Stripe answers again, so lifeboat is catching up on the 2 days its copy missed ({days})"
        in story
    )
    for python in ("{", "}", "True", "False", "dagster._core", "Failure:"):
        assert python not in story, python


def test_the_copy_held_reads_as_counts_in_words() -> None:
    held = {"users": 300, "tickets": 1500}
    assert untouched(held, dict(held), "Zendesk") == (
        "the Zendesk copy is untouched: 1,500 tickets and 300 users, as before"
    )
    assert untouched(held, {"tickets": 1400, "users": 300}, "Zendesk") == (
        "the Zendesk copy changed: it holds 1,400 tickets and 300 users, it held 1,500 tickets "
        "and 300 users"
    )
    assert untouched({"charges": 2}, {"charges": 2}, "Stripe") == (
        "the Stripe copy is untouched: 2 charges, as before"
    )

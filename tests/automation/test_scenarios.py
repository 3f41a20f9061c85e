"""`make demo SCENARIO=outage` tells the whole story: lockout, outage, backfill, recovery."""

from __future__ import annotations

from pathlib import Path

import duckdb

from automation.scenarios import DOWN_DAYS, run_outage, untouched
from lifeboat.instance import load_demo_credentials
from pipelines.runner import cursors, make_pipeline, warehouse_path


def zendesk_rows(home: Path) -> dict[str, list[tuple]]:
    """Every row of every Zendesk table, as the copy holds it."""
    with duckdb.connect(str(warehouse_path(home, "zendesk")), read_only=True) as con:
        tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}


def test_outage_scenario_tells_the_story_and_keeps_the_copy(tmp_path: Path) -> None:
    load_demo_credentials()
    home = tmp_path / "outage"
    lines: list[str] = []
    seen: dict[str, object] = {}

    def out(line: str) -> None:
        # The copy, read by the test itself at the story's turns: the scenario's own
        # booleans would pass whatever it computed.
        turn = line.strip()
        if turn.startswith("2. Zendesk locks"):
            seen["zendesk before"] = zendesk_rows(home)
        elif turn.startswith("3. Stripe goes down"):
            seen["zendesk after"] = zendesk_rows(home)
        elif turn.startswith("4. Stripe answers again"):
            seen["cursor before"] = cursors(make_pipeline("stripe", home))["charges"]
        elif turn.startswith("the incremental cursor"):
            seen["cursor after"] = cursors(make_pipeline("stripe", home))["charges"]
        lines.append(line)

    facts = run_outage(home, out=out)
    story = "\n".join(lines)
    assert seen["zendesk before"] == seen["zendesk after"]
    assert len(facts["down_days"]) == DOWN_DAYS
    assert facts["backfills"] == 1 and facts["backfill_ok"]
    assert seen["cursor before"] == seen["cursor after"]
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

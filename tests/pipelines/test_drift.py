"""Schema drift: a field the vendor adds becomes a column; a value that no longer fits is
set aside whole in `_quarantine`, never truncated, and the copy keeps its earlier version."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from lifeboat.config import load_inventory
from lifeboat.status import format_set_aside, set_aside
from pipelines.arrow import Column, Misfit, to_table
from pipelines.base import RetryPolicy, VendorContext
from pipelines.drift import QUARANTINE_TABLE, infer_kind
from pipelines.reconcile import reconcile
from pipelines.registry import vendors
from pipelines.restore import drill, restore_vendor
from pipelines.runner import sync, warehouse_path
from tests.keys import STRIPE_KEY

KEY = STRIPE_KEY
COLUMNS = [
    Column("id", key=True),
    Column("amount", "int"),
    Column("paid", "bool"),
    Column("created", "timestamp"),
    Column("note"),
]


def stripe(url: str, *datasets: str) -> VendorContext:
    return VendorContext(
        "stripe",
        f"{url}/stripe",
        {"api_key": KEY},
        datasets=datasets,
        retries=RetryPolicy(max_attempts=3, budget_seconds=5),
    )


def query(home: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return con.execute(sql).fetchall()


def columns_of(home: Path, table: str) -> dict[str, str]:
    return dict(
        query(
            home,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_name = '{table}'",
        )
    )


# Reading values: nothing is truncated or coerced to fit.


@pytest.mark.parametrize("note", ["x", 5], ids=["one C++ pass", "value by value"])
def test_a_fraction_in_a_whole_number_column_is_set_aside_not_truncated(note: object) -> None:
    # A number in the text column `note` sends the whole batch the careful way.
    good = [
        {"id": f"c{i}", "amount": 100 + i, "paid": True, "created": 1, "note": note}
        for i in range(300)
    ]
    records = [*good, {"id": "odd", "amount": 12.5, "paid": True, "created": 1}]
    rejected: list = []
    table = to_table(records, COLUMNS, lambda record, found: rejected.append((record, found)))
    assert table.num_rows == 300
    assert 12 not in table.column("amount").to_pylist()
    assert rejected == [(records[-1], [("amount", "int", 12.5)])]
    assert table.schema.field("id").nullable is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "12.50 USD"),
        ("paid", "yes"),
        ("created", "last tuesday"),
        ("note", {"text": "an object where text was"}),
        ("id", None),
    ],
)
def test_values_that_do_not_fit_are_named(field: str, value: object) -> None:
    record = {"id": "c1", "amount": 1, "paid": False, "created": 1, "note": "x", field: value}
    with pytest.raises(Misfit, match=f"^{field}: expected"):
        to_table([record], COLUMNS)


def test_values_that_fit_after_reading_are_kept() -> None:
    record = {"id": 7, "amount": "250", "paid": "true", "created": "2026-01-02T03:04:05Z"}
    row = to_table([record], COLUMNS).to_pylist()[0]
    assert (row["id"], row["amount"], row["paid"]) == ("7", 250, True)
    assert row["created"].isoformat() == "2026-01-02T03:04:05+00:00"


def test_whole_numbers_beyond_a_double_keep_every_digit() -> None:
    big = 2**60 + 1
    records = [{"id": f"c{i}", "amount": big} for i in range(100)]
    assert set(to_table(records, COLUMNS).column("amount").to_pylist()) == {big}


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([None, "a"], "string"),
        ([1, 2], "int"),
        ([1, 2.5], "float"),
        ([True, None], "bool"),
        ([{"a": 1}, "x"], "json"),
        ([[1]], "json"),
        ([None], None),
    ],
)
def test_a_new_fields_kind_comes_from_its_values(values: list, kind: str | None) -> None:
    assert infer_kind(values) == kind


# Over HTTP, through the Stripe emulator, into the real DuckDB file.


def test_a_field_the_vendor_adds_becomes_a_column_and_is_announced_once(
    emulator, home: Path
) -> None:
    control = EmulatorControl(emulator.url)
    first = sync(stripe(emulator.url, "charges"), home)
    assert "risk_level" not in columns_of(home, "charges")
    assert first.drift.get("charges") is None or not first.drift["charges"].added

    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 5}})
    control.fault("stripe", "drift", add={"risk_level": "normal", "risk_score": 12})
    result = sync(stripe(emulator.url, "charges"), home)

    assert result.drift["charges"].added == {"risk_level": "string", "risk_score": "int"}
    assert columns_of(home, "charges")["risk_score"] == "BIGINT"
    with_it = query(home, "SELECT count(*) FROM charges WHERE risk_level = 'normal'")[0][0]
    assert with_it == result.tables["charges"].rows_loaded > 0
    # Earlier rows keep what they had; nothing else about them changed.
    assert query(home, "SELECT count(*) FROM charges WHERE risk_level IS NULL")[0][0] == 2000 - 5
    assert result.tables["charges"].columns["risk_level"] == "text"

    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 3}})
    again = sync(stripe(emulator.url, "charges"), home)
    assert "charges" not in again.drift or not again.drift["charges"].added
    assert drill(home, "stripe").ok


def test_on_a_first_copy_extra_fields_are_kept_without_an_announcement(
    emulator, home: Path
) -> None:
    EmulatorControl(emulator.url).fault("stripe", "drift", add={"risk_level": "normal"})
    result = sync(stripe(emulator.url, "charges"), home)
    found = result.drift["charges"]
    assert found.added == {} and found.kept_silently["risk_level"] == "string"
    assert query(home, "SELECT count(DISTINCT risk_level) FROM charges") == [(1,)]


def test_a_field_sent_empty_until_now_is_kept_when_a_value_comes_but_is_not_news(
    emulator, home: Path
) -> None:
    control = EmulatorControl(emulator.url)
    control.fault("stripe", "drift", add={"shipping_note": None})
    sync(stripe(emulator.url, "charges"), home)
    assert "shipping_note" not in columns_of(home, "charges")  # nothing to type it by yet
    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 5}})
    control.fault("stripe", "drift", add={"shipping_note": "leave at the door"})

    result = sync(stripe(emulator.url, "charges"), home)

    found = result.drift["charges"]
    assert found.added == {} and found.kept_silently == {"shipping_note": "string"}
    assert columns_of(home, "charges")["shipping_note"] == "VARCHAR"


def test_a_changed_type_is_quarantined_and_the_copy_keeps_the_earlier_version(
    emulator, home: Path
) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe(emulator.url, "charges"), home)
    before = dict(query(home, "SELECT id, amount FROM charges"))

    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 6}})
    control.fault("stripe", "drift", change={"amount": "12.50 USD"}, one_in=2)
    result = sync(stripe(emulator.url, "charges"), home)

    found = result.drift["charges"]
    assert found.quarantined > 0 and found.newly_misfit == ["amount"]
    assert found.misfit_columns["amount"].received == '"12.50 USD"'
    rows = query(home, f"SELECT dataset, record_key, columns, record FROM {QUARANTINE_TABLE}")
    assert len(rows) == found.quarantined
    after = dict(query(home, "SELECT id, amount FROM charges"))
    for dataset, key, columns, record in rows:
        assert (dataset, columns) == ("charges", "amount")
        charge = json.loads(record)
        assert charge["amount"] == "12.50 USD"  # the whole record, as the vendor sent it
        charge_id = json.loads(key)["id"]
        assert charge_id == charge["id"]
        # An updated charge keeps its earlier version; a new one waits in quarantine.
        assert after.get(charge_id) == before.get(charge_id)
    # The records that fit were loaded as usual; nothing was lost or truncated.
    assert result.tables["charges"].rows_loaded > 0
    assert set(before) <= set(after)  # no charge the copy held was lost

    # Still misfitting on the next run: set aside again, announced no more.
    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 4}})
    again = sync(stripe(emulator.url, "charges"), home)
    assert again.drift["charges"].quarantined > 0 and again.drift["charges"].newly_misfit == []

    # The quarantine is part of the snapshot: the drill checks it, a restore brings it back.
    assert drill(home, "stripe").ok
    restored = restore_vendor(home, "stripe", home / "restored")
    with duckdb.connect(str(restored.path), read_only=True) as con:
        total = con.execute(f"SELECT count(*) FROM {QUARANTINE_TABLE}").fetchone()[0]
    assert total == found.quarantined + again.drift["charges"].quarantined
    # `lifeboat status` names them and where to read them.
    config = home / "lifeboat.yaml"
    config.write_text(
        f"vendors:\n  stripe:\n    base_url: {emulator.url}/stripe\n"
        "    credentials: {api_key: DRIFT_TEST_STRIPE_KEY}\n"
    )
    counts = set_aside(home, load_inventory(config, vendors()))
    assert counts == {"stripe": total}
    assert format_set_aside(counts) == (
        f"Stripe: {total:,} records set aside because a field changed type; read them in "
        "_quarantine of warehouse/stripe.duckdb"
    )


def test_a_reconciliation_does_not_take_set_aside_records_for_deleted(emulator, home: Path) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe(emulator.url, "customers"), home)
    control.fault("stripe", "drift", change={"balance": "a lot"})  # every record misfits

    result = reconcile(stripe(emulator.url, "customers"), home)

    assert result.marked_deleted.get("customers", 0) == 0
    assert query(home, "SELECT count(*) FROM customers WHERE _deleted") == [(0,)]

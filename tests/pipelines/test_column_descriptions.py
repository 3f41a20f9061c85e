"""Every column of the copy says what it holds, in the vendor's words where the vendor
documents the field: the asset pages in Dagster show these descriptions."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import googleapiclient
import pytest
import stripe
import zenpy

from lifeboat.columns import Column
from lifeboat.config import load_inventory
from lifeboat.errors import ConfigError
from lifeboat.instance import PROJECT_ROOT
from lifeboat.vendors import Vendor
from pipelines.registry import vendors

MAX_CHARS = 200
PLACEHOLDER = re.compile(r"\b(todo|tbd|fixme|xxx|lorem|placeholder|n/a)\b|\.\.\.", re.I)


@cache
def harvest() -> Vendor:
    """The REST vendor the shipped lifeboat.yaml configures."""
    return load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors()).registry["harvest"]


def every_vendor() -> list[str]:
    return [*vendors(), "harvest"]


def vendor(name: str) -> Vendor:
    return harvest() if name == "harvest" else vendors()[name]


def columns(name: str) -> Iterator[tuple[str, Column]]:
    for dataset in vendor(name).datasets:
        for column in dataset.columns:
            yield dataset.name, column


@pytest.mark.parametrize("name", every_vendor())
def test_every_column_says_in_one_line_what_it_holds(name: str) -> None:
    problems = []
    for dataset, column in columns(name):
        said = column.description
        where = f"{name}.{dataset}.{column.name}"
        if not said.strip():
            problems.append(f"{where}: no description")
        elif len(said) > MAX_CHARS or "\n" in said:
            problems.append(f"{where}: not one line of at most {MAX_CHARS} characters")
        elif PLACEHOLDER.search(said) or "](" in said or "http" in said:
            problems.append(f"{where}: placeholder or markup: {said}")
        elif said.strip(" .").lower() in (column.name.lower(), column.name.replace("_", " ")):
            problems.append(f"{where}: only repeats the column's name")
    assert not problems, "\n".join(problems)


def test_a_deleted_record_is_said_to_stay_in_the_copy() -> None:
    for name in every_vendor():
        for dataset, column in columns(name):
            if column.name == "_deleted":
                assert "the copy keeps it" in column.description, f"{name}.{dataset}"


# --- the vendor's own words -------------------------------------------------------------------
#
# Where a vendor publishes its fields' descriptions in a form a test can read (Stripe's
# models in the `stripe` package, Zendesk's objects as generated into zenpy, Google's
# discovery documents), each column's description must be drawn from the vendor's text for
# that field: most of its words are the vendor's.

# Words too common to tell whose text a description is drawn from.
STOP = frozenset(
    re.findall(
        r"[a-z]+",
        "the and for that this with was are has have its not any all from can their them which "
        "when who whom how what into been one there than also only may such else",
    )
)
# Columns whose vendor text is not in the readable schema, and why: each one's description
# was taken from the vendor's web reference (or says what lifeboat derives) instead.
NOT_IN_SCHEMA = {
    # Removed from Stripe's objects in 2025-03-31.basil; the description says so.
    ("stripe", "charges", "invoice"),
    ("stripe", "invoices", "paid"),
    # In Zendesk's current ticket and user objects, newer than zenpy's generated classes.
    ("zendesk", "tickets", "ticket_form_id"),
    ("zendesk", "tickets", "is_public"),
    ("zendesk", "tickets", "generated_timestamp"),
    ("zendesk", "users", "default_group_id"),
    ("zendesk", "users", "iana_time_zone"),
    # Google's discovery document leaves status.madeForKids undescribed.
    ("youtube", "videos", "made_for_kids"),
}
STRIPE_MODELS = {
    "customers": ("_customer.py", "Customer"),
    "charges": ("_charge.py", "Charge"),
    "invoices": ("_invoice.py", "Invoice"),
    "subscriptions": ("_subscription.py", "Subscription"),
}
# Fields the connector reads from elsewhere than the listed object's own path.
STRIPE_ELSEWHERE = {
    # Since 2025-03-31.basil a subscription's billing period is its items'.
    ("subscriptions", "current_period_start"): ("_subscription_item.py", "SubscriptionItem"),
    ("subscriptions", "current_period_end"): ("_subscription_item.py", "SubscriptionItem"),
}
YOUTUBE_RESOURCES = {"videos": "Video", "comments": "CommentThread", "subscribers": "Subscription"}
ZENPY_OBJECTS = {"tickets": "Ticket", "users": "User"}
GA4_METADATA = {"currency_code": "currencyCode", "time_zone": "timeZone"}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> set[str]:
    found = re.findall(r"[a-z0-9]+", text.lower())
    return {_stem(w) for w in found if len(w) > 2 and w not in STOP}


def drawn_from(ours: str, theirs: str, path: str) -> float:
    """The share of our description's words that the vendor uses too, in its text for the
    field or in the field's own names (billing_details.email)."""
    mine = words(ours)
    return len(mine & (words(theirs) | words(path.replace("_", " ")))) / max(len(mine), 1)


@cache
def stripe_docstrings(module: str) -> dict[str, tuple[str, str]]:
    """Attribute -> (annotation, docstring) of a `stripe` model file, nested classes dotted."""
    tree = ast.parse((Path(stripe.__file__).parent / module).read_text())
    found: dict[str, tuple[str, str]] = {}

    def walk(node: ast.ClassDef | ast.Module, prefix: str) -> None:
        body = node.body
        for i, statement in enumerate(body):
            if isinstance(statement, ast.ClassDef):
                walk(statement, f"{prefix}{statement.name}.")
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                nxt = body[i + 1] if i + 1 < len(body) else None
                doc = ""
                if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                    doc = str(nxt.value.value).strip()
                found[prefix + statement.target.id] = (ast.unparse(statement.annotation), doc)

    walk(tree, "")
    return found


def stripe_text(module: str, cls: str, path: str) -> str | None:
    """Stripe's description of a dotted path (address.city), with its parents' descriptions."""
    docs = stripe_docstrings(module)
    scope, said = cls, []
    *steps, last = path.split(".")
    for step in steps:
        annotation, doc = docs.get(f"{scope}.{step}", ("", ""))
        nested = [n for n in re.findall(r"\w+", annotation) if f"{scope}.{n}.{last}" in docs]
        if not nested:
            return None
        scope = f"{scope}.{nested[0]}"
        said.append(doc)
    leaf = docs.get(f"{scope}.{last}", ("", ""))[1]
    return " ".join([*said, leaf]) if leaf else None


def zendesk_text(cls: str, field: str) -> str | None:
    source = (Path(zenpy.__file__).parent / "lib" / "api_objects" / "__init__.py").read_text()
    body = re.search(rf"^class {cls}\(BaseObject\):(.*?)^class ", source, re.S | re.M)
    assert body, f"zenpy has no {cls} object"
    comments = re.findall(r"# Comment: (.*?)\n(?:\s*#.*\n)*\s*self\.(\w+) = ", body.group(1))
    return {attr: text for text, attr in comments}.get(field)


@cache
def discovery(document: str) -> dict:
    folder = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    return json.loads((folder / document).read_text())["schemas"]


def discovery_text(document: str, schema: str, path: str) -> str | None:
    """A discovery document's description of a dotted path, with its parents' descriptions."""
    schemas = discovery(document)
    said = []
    *steps, last = path.split(".")
    for step in steps:
        prop = schemas[schema]["properties"].get(step, {})
        ref = prop.get("$ref") or prop.get("additionalProperties", {}).get("$ref")
        if ref is None:
            return None
        schema = ref
        said.append(prop.get("description", ""))
    leaf = schemas[schema]["properties"].get(last, {}).get("description")
    return " ".join([*said, leaf]) if leaf else None


def vendor_text(name: str, dataset: str, column: Column) -> str | None:
    """The vendor's published description of the field a column holds, where readable."""
    path = column.path or column.name
    if name == "stripe":
        module, cls = STRIPE_ELSEWHERE.get((dataset, column.name), STRIPE_MODELS[dataset])
        if path == "items.data":
            path = "items"  # a list object: Stripe describes the list
        return stripe_text(module, cls, path)
    if name == "zendesk":
        return zendesk_text(ZENPY_OBJECTS[dataset], path.split(".")[0])
    if name == "youtube":
        return discovery_text("youtube.v3.json", YOUTUBE_RESOURCES[dataset], path)
    if name == "ga4" and column.name in GA4_METADATA:
        return discovery_text(
            "analyticsdata.v1beta.json", "ResponseMetaData", GA4_METADATA[column.name]
        )
    return None


@pytest.mark.parametrize("name", ["stripe", "zendesk", "youtube", "ga4"])
def test_descriptions_are_drawn_from_the_vendors_published_schema(name: str) -> None:
    problems, unread = [], set()
    for dataset, column in columns(name):
        if column.name.startswith("_"):
            continue  # lifeboat's own bookkeeping
        theirs = vendor_text(name, dataset, column)
        if theirs is None:
            unread.add((name, dataset, column.name))
            continue
        share = drawn_from(column.description, theirs, column.path or column.name)
        if share < 0.5:
            problems.append(
                f"{name}.{dataset}.{column.name}: {share:.0%} of its words are the vendor's\n"
                f"    ours:   {column.description}\n    theirs: {theirs[:300]}"
            )
    assert not problems, "\n".join(problems)
    # Every column is checked but those known to be missing from the schema (so a broken
    # lookup cannot pass by checking nothing).
    expected = {key for key in NOT_IN_SCHEMA if key[0] == name}
    if name == "ga4":
        expected = {(name, d, c.name) for d, c in columns(name) if not c.name.startswith("_")}
        expected -= {(name, "daily_metrics", c) for c in GA4_METADATA}
    assert unread == expected, f"read no vendor text for {sorted(unread - expected)}; " + (
        f"found text for {sorted(expected - unread)}, listed as missing"
    )


def test_a_field_stripe_no_longer_sends_says_so() -> None:
    stripe_vendor = vendors()["stripe"]
    for dataset, column in (("charges", "invoice"), ("invoices", "paid")):
        assert "2025-03-31.basil" in stripe_vendor.dataset(dataset).column(column).description


def test_harvests_columns_are_described_in_harvests_words() -> None:
    invoices = harvest().dataset("invoices")
    assert invoices.column("amount").description == (
        "The total amount for the invoice, including any discounts and taxes"
    )
    assert invoices.column("amount").kind == "float"
    assert invoices.column("due_amount").kind == "float"
    assert invoices.column("id").key and invoices.column("id").kind == "int"
    assert "updated_at" in invoices.column("_changed_at").description
    assert "Harvest" in invoices.column("_changed_at").description


# --- the REST vendor's two forms ---------------------------------------------------------------

API = """\
vendors:
  bookings:
    kind: rest
    title: Acme Bookings
    base_url: https://api.bookings.example
    credentials: {token: BOOKINGS_TOKEN}
    api:
      auth: {type: bearer, token: token}
      paginator: {type: json_link, next_url_path: links.next}
      ping: /v1/me
      datasets:
        customers:
          description: People who booked with you.
          path: /v1/customers
          COLUMNS
        appointments:
          description: Every appointment booked.
          path: /v1/appointments
"""


def bookings(tmp_path: Path, columns: str) -> Vendor:
    path = tmp_path / "lifeboat.yaml"
    path.write_text(API.replace("COLUMNS", columns))
    return load_inventory(path, vendors()).registry["bookings"]


def test_a_columns_type_alone_still_declares_it(tmp_path: Path) -> None:
    customers = bookings(tmp_path, "columns: {id: int, amount: float}").dataset("customers")
    assert [(c.name, c.kind, c.key) for c in customers.columns] == [
        ("id", "int", True),
        ("amount", "float", False),
        ("_changed_at", "timestamp", False),
        ("_deleted", "bool", False),
    ]
    assert customers.column("amount").description == ""  # nothing said, nothing invented
    # The key and the bookkeeping are lifeboat's, and say what they are.
    assert customers.column("id").description.startswith("Identifies the record at Acme Bookings")
    assert "Acme Bookings's API gives no time of change" in (
        customers.column("_changed_at").description
    )
    assert "the copy keeps it" in customers.column("_deleted").description


def test_a_column_can_say_what_it_means(tmp_path: Path) -> None:
    entry = bookings(
        tmp_path,
        "columns:\n"
        "            id: {kind: int, description: The booking system's customer number}\n"
        "            amount: {kind: float, description: '  What they paid, tax included  '}\n"
        "            note: {kind: string}",
    )
    customers = entry.dataset("customers")
    assert customers.column("id").description == "The booking system's customer number"
    assert customers.column("id").kind == "int"
    assert customers.column("amount").description == "What they paid, tax included"
    assert customers.column("note").description == ""
    # A dataset that declares nothing still has its key and bookkeeping described.
    appointments = entry.dataset("appointments")
    assert [c.name for c in appointments.columns] == ["id", "_changed_at", "_deleted"]
    assert all(c.description for c in appointments.columns)


@pytest.mark.parametrize(
    ("columns", "field", "says"),
    [
        ("columns: {amount: money}", "columns.amount.kind", "unknown kind 'money'"),
        ("columns: {amount: {kind: money}}", "columns.amount.kind", "unknown kind 'money'"),
        ("columns: {amount: {description: Paid}}", "columns.amount", "give its kind"),
        (
            "columns: {amount: {kind: float, descripton: Paid}}",
            "columns.amount",
            "descripton is not a column setting",
        ),
        ("columns: {amount: [float]}", "columns.amount", "give its kind"),
        ("columns: {amount: 3}", "columns.amount", "give its kind"),
        (
            "columns: {amount: {kind: float, description: [Paid]}}",
            "columns.amount.description",
            "valid string",
        ),
        (
            "columns:\n            amount:\n              kind: float\n"
            "              description: |\n                Paid.\n                Tax too.",
            "columns.amount.description",
            "one line",
        ),
        (
            "columns: {amount: {kind: float, description: " + "x" * 201 + "}}",
            "columns.amount.description",
            "201 characters",
        ),
    ],
    ids=[
        "unknown-kind",
        "unknown-kind-long-form",
        "no-kind",
        "misspelt-setting",
        "a-list",
        "a-number",
        "description-not-text",
        "two-lines",
        "too-long",
    ],
)
def test_a_mistaken_column_is_refused_in_one_line_naming_it(
    tmp_path: Path, columns: str, field: str, says: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        bookings(tmp_path, columns)
    lines = [line.strip() for line in str(refused.value).splitlines()]
    named = [line for line in lines if line.startswith("vendors.bookings.api.datasets.customers.")]
    assert len(named) == 1, str(refused.value)
    assert f"customers.{field}: " in named[0] and says in named[0], named[0]

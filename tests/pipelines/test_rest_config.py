"""A REST API described in lifeboat.yaml (`kind: rest`): what is refused, and how it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifeboat.config import load_inventory
from lifeboat.errors import ConfigError
from lifeboat.status import copy_status, format_table
from pipelines.registry import vendors

API = """\
vendors:
  bookings:
    kind: rest
    title: Acme Bookings
    base_url: https://api.bookings.example
    credentials: {token: BOOKINGS_TOKEN, account: BOOKINGS_ACCOUNT}
    api:
      auth: {type: bearer, token: token}
      headers: {Account-Id: "{account}"}
      paginator: {type: json_link, next_url_path: links.next}
      ping: /v1/me
      datasets:
        customers:
          description: People who booked with you.
          path: /v1/customers
          data_selector: customers
          columns: {id: int}
          incremental: {cursor_path: updated_at, start_param: updated_since}
        appointments:
          description: Every appointment booked.
          path: /v1/appointments
          daily: true
          incremental: {cursor_path: meta.changed, start_param: since}
"""


def inventory(tmp_path: Path, text: str = API):
    path = tmp_path / "lifeboat.yaml"
    path.write_text(text)
    return load_inventory(path, vendors())


def test_a_rest_api_becomes_a_vendor_with_its_datasets(tmp_path: Path) -> None:
    bound = inventory(tmp_path)
    entry = bound.registry["bookings"]
    assert entry.title == "Acme Bookings"
    assert entry.dataset_names == ("customers", "appointments")
    assert entry.daily == ("appointments",)
    assert entry.dataset("customers").key == ("id",)
    assert entry.dataset("customers").column("id").kind == "int"
    assert bound.enabled_datasets("bookings") == ["customers", "appointments"]
    assert bound.credential_envs("bookings") == {
        "token": "BOOKINGS_TOKEN",
        "account": "BOOKINGS_ACCOUNT",
    }
    # The built-in vendors are all still there, and none of them is changed.
    assert set(vendors()) < set(bound.registry)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (("type: json_link", "type: no_such_paginator"), "vendors.bookings.api.paginator"),
        (
            ("auth: {type: bearer, token: token}", "auth: {type: oauth2_client_credentials}"),
            "vendors.bookings.api.auth.type",
        ),
        (("path: /v1/customers", "path: v1/customers"), "datasets.customers.path"),
        (("columns: {id: int}", "columns: {id: integer}"), "datasets.customers.columns"),
        (
            (
                "          daily: true\n          incremental: {cursor_path: meta.changed, "
                "start_param: since}\n",
                "          daily: true\n",
            ),
            "datasets.appointments",
        ),
        (("      ping: /v1/me\n", ""), "vendors.bookings.api.ping"),
        (('Account-Id: "{account}"', 'Account-Id: "{acount}"'), "vendors.bookings.api.headers"),
        (("kind: rest", "kind: soap"), "vendors.bookings.kind"),
    ],
)
def test_a_mistake_is_refused_naming_the_field(
    tmp_path: Path, change: tuple[str, str], names: str
) -> None:
    before, after = change
    assert before in API
    with pytest.raises(ConfigError) as refused:
        inventory(tmp_path, API.replace(before, after))
    assert names in str(refused.value)
    assert str(tmp_path / "lifeboat.yaml") in str(refused.value)


def test_a_secret_written_where_a_credential_is_named_is_refused_and_never_echoed(
    tmp_path: Path,
) -> None:
    leaked = API.replace("token: token}", "token: sk_live_51HsecretVALUE}")
    with pytest.raises(ConfigError) as refused:
        inventory(tmp_path, leaked)
    assert "vendors.bookings.api.auth.token: must name one of the vendor's credentials" in str(
        refused.value
    )
    assert "sk_live_51HsecretVALUE" not in str(refused.value)


def test_a_secret_written_into_a_header_is_refused_and_never_echoed(tmp_path: Path) -> None:
    leaked = API.replace('Account-Id: "{account}"', 'Authorization: "Bearer abc123SECRETtoken"')
    with pytest.raises(ConfigError) as refused:
        inventory(tmp_path, leaked)
    assert "headers.Authorization holds what looks like a secret" in str(refused.value)
    assert "abc123SECRETtoken" not in str(refused.value)


def test_a_builtin_vendors_name_cannot_be_taken(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'stripe' is a built-in vendor"):
        inventory(tmp_path, API.replace("  bookings:", "  stripe:"))


def test_api_without_kind_and_kind_without_api_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only a vendor with a `kind`"):
        inventory(tmp_path, API.replace("    kind: rest\n", ""))
    stripped = API[: API.index("    api:")]
    with pytest.raises(ConfigError, match="needs an api section"):
        inventory(tmp_path, stripped)


def test_status_calls_a_configured_vendor_by_its_title(tmp_path: Path) -> None:
    bound = inventory(tmp_path)
    table = format_table(copy_status(tmp_path / "home", bound))
    assert "Acme Bookings  customers" in table
    assert "never" in table  # nothing copied yet, and the table says so

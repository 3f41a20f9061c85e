"""lifeboat.yaml: the shipped inventory parses; every mistake names the file and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lifeboat.cadence import cron_for_rpo
from lifeboat.config import load_inventory
from lifeboat.errors import ConfigError
from lifeboat.instance import PROJECT_ROOT
from pipelines.registry import vendors


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lifeboat.yaml"
    path.write_text(text)
    return path


def test_shipped_inventory_names_every_vendor_and_their_datasets() -> None:
    inventory = load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())
    # The six built-in vendors, and one REST API configured in the file alone.
    assert set(inventory.enabled_vendors()) == {*vendors(), "harvest"}
    assert inventory.registry["harvest"].title == "Harvest"
    assert inventory.rpo("stripe", "charges") == timedelta(minutes=30)
    assert inventory.rpo("stripe", "customers") == timedelta(hours=1)
    assert inventory.enabled_datasets("zendesk") == ["tickets", "users"]


def test_base_url_defaults_to_the_vendors_real_host(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "vendors:\n  stripe: {}\n"), vendors())
    assert inventory.base_url("stripe") == "https://api.stripe.com"


def test_lifeboat_config_env_names_another_file(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "vendors:\n  hubspot: {rpo: 2h}\n")
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(path))
    assert load_inventory(None, vendors()).rpo("hubspot", "deals") == timedelta(hours=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vendors:\n  strype: {}\n", "vendors.strype: unknown vendor; expected one of"),
        (
            "vendors:\n  stripe:\n    datasets:\n      payouts: {}\n",
            "vendors.stripe.datasets.payouts: unknown dataset; expected one of customers",
        ),
        ("vendors:\n  stripe: {rpo: soon}\n", "vendors.stripe.rpo: expected a duration"),
        (
            "vendors:\n  stripe:\n    credentials: {api_key: sk_live_abc123}\n",
            "must name an environment variable",
        ),
        (
            "vendors:\n  stripe: {base_url: api.stripe.com}\n",
            "vendors.stripe.base_url: expected an http",
        ),
        (
            "vendors:\n  stripe: {colour: red}\n",
            "vendors.stripe.colour: Extra inputs are not permitted",
        ),
        ("- just\n- a list\n", "expected a mapping at the top level"),
        ("vendors: [unclosed\n", "not valid YAML"),
    ],
)
def test_mistakes_name_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_inventory(path, vendors())
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_a_secret_pasted_into_credentials_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "vendors:\n  stripe:\n    credentials: {api_key: sk_live_abc123}\n")
    with pytest.raises(ConfigError) as error:
        load_inventory(path, vendors())
    assert "sk_live_abc123" not in str(error.value)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such inventory file.*LIFEBOAT_CONFIG"):
        load_inventory(tmp_path / "nope.yaml", vendors())


@pytest.mark.parametrize(
    ("rpo", "cron"),
    [
        (timedelta(minutes=30), "*/15 * * * *"),
        (timedelta(hours=1), "*/30 * * * *"),
        (timedelta(hours=4), "0 */2 * * *"),
        (timedelta(hours=10), "0 */4 * * *"),
        (timedelta(days=1), "0 */12 * * *"),
        (timedelta(days=3), "0 0 * * *"),
    ],
)
def test_schedule_runs_at_least_twice_per_rpo(rpo: timedelta, cron: str) -> None:
    assert cron_for_rpo(rpo) == cron


def test_rpo_too_short_for_a_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        cron_for_rpo(timedelta(seconds=90))

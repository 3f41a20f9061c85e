"""A hostile or careless lifeboat.yaml: refused in one sentence, never echoed, always loadable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.saas import daily_partitions
from automation.copies import today
from definitions import build_definitions
from lifeboat.cli import main
from lifeboat.config import load_inventory
from lifeboat.errors import ConfigError
from pipelines.registry import vendors


def write(tmp_path: Path, text: str | bytes, name: str = "lifeboat.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load_inventory(path, vendors())
    return str(error.value)


SMTP = "alerts:\n  email: {host: smtp.example.com, from: a@example.com, to: [b@example.com], "


@pytest.mark.parametrize(
    ("text", "field", "secret"),
    [
        (
            "vendors:\n  stripe:\n    credentials: {api_key: SK_LIVE_ABCDEF123456}\n",
            "vendors.stripe.credentials.api_key",
            "ABCDEF123456",
        ),
        (
            "vendors:\n  stripe:\n    credentials: {api_key: sk_live_51Hq7abcDEF}\n",
            "vendors.stripe.credentials.api_key",
            "51Hq7abcDEF",
        ),
        (
            "vendors:\n  hubspot:\n    credentials: {access_token: PAT-NA1-0A1B2C3D-4E5F}\n",
            "vendors.hubspot.credentials.access_token",
            "0A1B2C3D",
        ),
        (
            "vendors:\n  mailchimp:\n    credentials:\n"
            "      api_key: 0123456789ABCDEF0123456789ABCDEF\n",
            "vendors.mailchimp.credentials.api_key",
            "0123456789ABCDEF",
        ),
        (
            "vendors:\n  ga4:\n    credentials: {access_token: QWHXJZKPLMRTVBNCQWHXJZKPLMRT}\n",
            "vendors.ga4.credentials.access_token",
            "QWHXJZKPLMRT",
        ),
        (SMTP + "password_env: HUNTER2SECRETPW99}\n", "alerts.email.password_env", "HUNTER2"),
        (SMTP + "password_env: hunter2SECRETPW99}\n", "alerts.email.password_env", "hunter2"),
        (SMTP + "user_env: AKIAIOSFODNN7EXAMPLE}\n", "alerts.email.user_env", "AKIAIOSF"),
        (
            "alerts:\n  webhook: {url_env: 'https://hooks.slack.com/services/T0/B0/Zq8xW'}\n",
            "alerts.webhook.url_env",
            "Zq8xW",
        ),
        (
            "mysql:\n  servers: {alpha: {host: db1}}\n"
            "  monitor: {user_env: LB_USER, password_env: HUNTER2SECRETPW99}\n",
            "mysql.monitor.password_env",
            "HUNTER2",
        ),
    ],
)
def test_a_secret_where_a_variable_name_belongs_is_refused_without_echo(
    tmp_path: Path, text: str, field: str, secret: str
) -> None:
    message = refusal(write(tmp_path, text))
    assert f"{field}: must name an environment variable" in message
    assert "write the variable's name here" in message
    assert secret not in message


def test_check_config_refuses_a_pasted_key_in_capitals_without_printing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path, "vendors:\n  stripe:\n    credentials: {api_key: SK_LIVE_ABCDEF123456}\n"
    )
    assert main(["check-config", str(path)]) == ConfigError.exit_code
    out, err = capsys.readouterr()
    assert "vendors.stripe.credentials.api_key" in err
    assert "ABCDEF123456" not in out + err


@pytest.mark.parametrize(
    "name",
    ["STRIPE_API_KEY", "SMTP_PASSWORD", "PASSWORD", "GA4_TOKEN", "OAUTH2_CLIENT_SECRET", "S3_KEY"],
)
def test_real_variable_names_are_accepted(tmp_path: Path, name: str) -> None:
    path = write(
        tmp_path,
        f"vendors:\n  stripe:\n    credentials: {{api_key: {name}}}\n"
        f"{SMTP}password_env: {name}}}\n",
    )
    inventory = load_inventory(path, vendors())
    assert inventory.credential_envs("stripe") == {"api_key": name}
    assert inventory.alerts.email is not None and inventory.alerts.email.password_env == name


def test_a_yaml_error_names_line_and_column_never_the_line_itself(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "vendors:\n  stripe:\n    credentials: {api_key: STRIPE_API_KEY}\n"
        "    password: hunter2-Zq8xW: oops\n",
    )
    message = refusal(path)
    assert "not valid YAML at line 4, column 28: mapping values are not allowed here" in message
    assert "hunter2" not in message
    assert "Zq8xW" not in message


def billion_laughs(levels: int = 9) -> str:
    """9 levels of 9 aliases under an RPO: 387 million values once expanded."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = ["vendors:", "  stripe:", "    rpo:", f"      - &a [{', '.join(['lol9q'] * 9)}]"]
    for level in range(1, levels):
        alias = f"*{names[level - 1]}"
        lines.append(f"      - &{names[level]} [{', '.join([alias] * 9)}]")
    return "\n".join(lines) + "\n"


# Without the bounds, validating the expanded document takes minutes and gigabytes.
@pytest.mark.timeout(60)
def test_a_billion_laughs_is_refused_at_once_without_echo(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, billion_laughs()))
    assert "refused at line" in message
    assert "more than 100,000 values once anchors (&) and aliases (*) are expanded" in message
    assert "lol9q" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vendors: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 64 levels deep"),
        ("vendors: &loop\n  stripe: *loop\n", "an alias (*) inside its own anchor (&)"),
        ("vendors: {}\n" + "#" * (1024 * 1024) + "\n", "larger than 1 MiB"),
        (b"vendors: {}\n# caf\xe9\n", "not valid text at byte 17: save it as UTF-8"),
        ("history_start: 2025-13-45\n", "line 1, column 16: a date that does not exist"),
        ("emulator: {port: " + "9" * 5000 + "}\n", "a number too long to read"),
    ],
    ids=["deep", "recursive", "huge", "latin-1", "no-such-date", "long-number"],
)
def test_a_file_no_inventory_could_be_is_refused_in_one_sentence(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    message = refusal(write(tmp_path, text))
    assert expected in message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize(
    ("rpo", "expected"),
    [
        ("30s", "must be at least 2m"),
        ("0s", "must be at least 2m"),
        ("119s", "must be at least 2m"),
        ("99999999999999w", "expected a duration from 0s to 366d"),
        ("367d", "expected a duration from 0s to 366d"),
        (".inf", "expected a duration from 0s to 366d"),
        (".nan", "expected a duration from 0s to 366d"),
        ("-60", "expected a duration from 0s to 366d"),
    ],
)
def test_an_rpo_no_schedule_can_meet_or_no_timedelta_holds_is_refused(
    tmp_path: Path, rpo: str, expected: str
) -> None:
    message = refusal(write(tmp_path, f"vendors:\n  stripe: {{rpo: {rpo}}}\n"))
    assert f"vendors.stripe.rpo: {expected}" in message


def limits(tmp_path: Path, **overrides: str) -> Path:
    """An inventory at every limit check-config sets; `overrides` step one past it."""
    values = {
        "rpo": "2m",
        "longest": "366d",
        "start": today(),
        "name": "acme_" + "x" * 58,  # 63 characters: a Dagster tag value's most
    } | overrides
    return write(
        tmp_path,
        f"history_start: {values['start']}\n"
        "vendors:\n"
        "  stripe:\n"
        "    base_url: http://127.0.0.1:9/stripe\n"
        f"    rpo: {values['rpo']}\n"
        f"    datasets: {{charges: {{rpo: {values['rpo']}}}}}\n"
        f"  hubspot: {{rpo: {values['longest']}}}\n"
        f"  {values['name']}:\n"
        "    kind: rest\n"
        "    base_url: http://127.0.0.1:9/acme\n"
        "    credentials: {token: ACME_TOKEN}\n"
        f"    rpo: {values['longest']}\n"
        "    api:\n"
        "      auth: {type: bearer, token: token}\n"
        "      paginator: single_page\n"
        "      ping: /me\n"
        "      datasets:\n"
        "        things:\n"
        "          description: Things.\n"
        "          path: /things\n"
        "          incremental: {cursor_path: updated_at, start_param: since}\n"
        "          daily: true\n",
    )


def test_an_inventory_at_the_limits_loads_in_dagster(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(limits(tmp_path)))
    inventory = load_inventory(None, vendors())
    defs = build_definitions(inventory, home)
    dg.Definitions.validate_loadable(defs)
    schedules = {schedule.name: schedule for schedule in defs.schedules or []}
    assert schedules["stripe_every_rpo"].cron_schedule == "* * * * *"
    assert schedules["hubspot_every_rpo"].cron_schedule == "0 0 * * *"
    # The regular copy's partition (today's) exists from the first day on.
    assert daily_partitions(inventory).get_partition_keys() == [today()]


@pytest.mark.parametrize(
    ("past", "field"),
    [
        ({"rpo": "119s"}, "vendors.stripe.rpo: must be at least 2m"),
        ({"longest": "366.01d"}, "vendors.hubspot.rpo: expected a duration from 0s to 366d"),
        (
            {"start": (datetime.now(UTC).date() + timedelta(days=1)).isoformat()},
            "history_start: must not be in the future",
        ),
        ({"start": "1999-12-31"}, "history_start: must be 2000-01-01 or later"),
        ({"name": "acme_" + "x" * 59}, "at most 63 characters"),
        ({"name": "acme-bookings"}, "vendors.acme-bookings: a vendor's name is lowercase"),
    ],
    ids=["rpo", "longest-rpo", "future-start", "old-start", "long-name", "dashed-name"],
)
def test_check_config_refuses_just_past_the_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], past: dict[str, str], field: str
) -> None:
    assert main(["check-config", str(limits(tmp_path, **past))]) == ConfigError.exit_code
    assert field in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            ("        things:\n", '        "open things":\n'),
            "vendors.acme_bookings.api.datasets.open things: a dataset is named as its table",
        ),
        (
            (
                "  hubspot: {rpo: 366d}\n",
                "  zendesk:\n    datasets: {tickets: {enabled: false}, users: {enabled: false}}\n",
            ),
            "vendors.zendesk.datasets: every dataset is switched off",
        ),
    ],
    ids=["dataset-name", "all-datasets-off"],
)
def test_check_config_refuses_what_dagster_could_not_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], field: str
) -> None:
    text = limits(tmp_path, name="acme_bookings").read_text()
    assert change[0] in text
    path = write(tmp_path, text.replace(*change))
    assert main(["check-config", str(path)]) == ConfigError.exit_code
    assert field in capsys.readouterr().err


def test_a_key_quoted_by_a_generic_kind_is_masked(tmp_path: Path) -> None:
    path = write(tmp_path, "vendors:\n  acme:\n    kind: sk_live_51Hq7abcDEF\n    api: {x: 1}\n")
    message = refusal(path)
    assert "vendors.acme.kind: unknown kind" in message
    assert "51Hq7abcDEF" not in message

"""The business's inventory (`lifeboat.yaml`), parsed once into typed models."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from lifeboat.alerts_config import AlertsConfig
from lifeboat.cadence import MIN_RPO
from lifeboat.config_yaml import read_yaml
from lifeboat.errors import ConfigError
from lifeboat.secrets import EnvName, env_name_problem, mask
from lifeboat.settings import CONFIG_ENV, DEFAULT_CONFIG_FILE, DEFAULT_HOME, HOME_ENV
from lifeboat.topology_config import MySQLConfig
from lifeboat.vendors import Registry

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Longer than any RPO that means something, and far inside what a timedelta holds.
MAX_DURATION = timedelta(days=366)
# Daily partitions start no earlier: each day is a partition Dagster lists and a backfill
# can ask for, and no vendor's API keeps records from before then.
EARLIEST_PARTITIONS_START = date(2000, 1, 1)
# A vendor's or a dataset's name becomes Dagster names (^[A-Za-z0-9_]+$), a Dagster tag
# value (at most 63 characters), a dlt source or table name (dlt snake-cases anything else,
# and the copy would no longer be found by its name) and file names.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError("expected a duration such as '30m', '1h' or '2d'")


def parse_duration(value: Any) -> timedelta:
    """Read '90s', '30m', '1h', '2d', '1w' (or a number of seconds) as a timedelta.

    Bounded before the timedelta is made: a huge, infinite or NaN number would overflow it
    into a traceback instead of a message naming the field. The message never repeats the
    value: a mistyped field may hold anything, a secret or a megabyte.
    """
    seconds = _seconds(value)
    if not 0 <= seconds <= MAX_DURATION.total_seconds():  # NaN fails both comparisons
        raise ValueError(f"expected a duration from 0s to {MAX_DURATION.days}d, such as '30m'")
    return timedelta(seconds=seconds)


def _rpo(value: timedelta) -> timedelta:
    if value < MIN_RPO:
        raise ValueError(
            "must be at least 2m: the schedule copies at least twice per RPO, and Dagster's "
            "freshness check warns at half of it and takes no window under a minute"
        )
    return value


def _vendor_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            "a vendor's name is lowercase letters, digits and '_', starting with a letter, at "
            "most 63 characters (like 'stripe' or 'acme_bookings')"
        )
    return name


VendorName = Annotated[str, AfterValidator(_vendor_name)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
# How old a copy may get: something a schedule can meet and Dagster accepts, so an inventory
# check-config accepts always loads.
Rpo = Annotated[Duration, AfterValidator(_rpo)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(_Model):
    """One dataset of a vendor: whether it is copied and how old its copy may get."""

    enabled: bool = True
    rpo: Rpo | None = Field(
        default=None, description="How old the copy may get; defaults to the vendor's RPO."
    )


class Runbook(_Model):
    """What a person does when this vendor fails them: whom to call, where to look."""

    account_owner: str | None = Field(default=None, description="Who holds the account.")
    support: str | None = Field(
        default=None, description="The vendor's support: phone, email, URL."
    )
    status_page: str | None = None
    steps: list[str] = Field(default_factory=list, description="What to do, in order.")


class VendorConfig(_Model):
    """One SaaS vendor: where its API is, which env vars hold its credentials, what to copy."""

    enabled: bool = True
    kind: str | None = Field(
        default=None,
        description=(
            "A generic connector that this entry configures (e.g. 'rest'); none for a "
            "built-in vendor, named by its key."
        ),
    )
    title: str | None = Field(default=None, description="The vendor's name, as people know it.")
    base_url: str | None = Field(
        default=None, description="API root; defaults to the vendor's real host."
    )
    credentials: dict[str, EnvName] = Field(
        default_factory=dict,
        description="Credential name -> name of the environment variable that holds it.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Vendor-specific settings (account ids, property ids)."
    )
    rpo: Rpo = timedelta(hours=24)
    datasets: dict[str, DatasetConfig] = Field(default_factory=dict)
    runbook: Runbook = Runbook()
    depends_on: list[str] = Field(
        default_factory=list,
        description="What else this vendor needs to work (e.g. an SMS provider for sign-in).",
    )
    api: dict[str, Any] = Field(
        default_factory=dict,
        description="How a generic connector (`kind`) reads this API: auth, paging, datasets.",
    )

    @model_validator(mode="after")
    def _api_needs_a_kind(self) -> VendorConfig:
        if self.api and not self.kind:
            raise ValueError("api: only a vendor with a `kind` (such as 'rest') takes an api")
        if self.kind and not self.api:
            raise ValueError(f"api: a vendor of kind {self.kind!r} needs an api section")
        return self

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http(s) URL such as 'https://api.example.com'")
        return value.rstrip("/") if value else value


class EmulatorConfig(_Model):
    """The local vendor emulators used by the demo, tests and benchmarks."""

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    seed: int = 42
    scale: dict[str, int] = Field(
        default_factory=dict, description="'vendor.dataset' -> records existing at start."
    )


class Inventory(_Model):
    """Everything lifeboat knows about the business: vendors, datasets, topology."""

    vendors: dict[VendorName, VendorConfig] = Field(default_factory=dict)
    emulator: EmulatorConfig = EmulatorConfig()
    mysql: MySQLConfig | None = None
    alerts: AlertsConfig = AlertsConfig()
    backfill_after_outage: bool = Field(
        default=True,
        description="When a failing vendor answers again, backfill the days it missed.",
    )
    history_start: date | None = Field(
        default=None,
        description=(
            "The first day of the daily partitions (how far back a backfill can go); by "
            "default the earliest day of change the copies hold."
        ),
    )
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("history_start")
    @classmethod
    def _history_start(cls, value: date | None) -> date | None:
        if value is None:
            return value
        if value < EARLIEST_PARTITIONS_START:
            raise ValueError("must be 2000-01-01 or later: each day since is a partition")
        if value > datetime.now(UTC).date():
            raise ValueError(
                "must not be in the future: today's partition is where the regular copies land"
            )
        return value

    _vendors: Registry | None = PrivateAttr(default=None)

    def bind(self, vendors: Registry) -> Inventory:
        """This inventory checked against the vendor registry, which its methods then read.

        Vendors of a generic `kind` are built from their `api` section and join the registry
        the bound inventory reads.
        """
        where = f"{self.source_path}: " if self.source_path else ""
        configured = {name: vendor for name, vendor in self.vendors.items() if vendor.kind}
        try:
            vendors = vendors.with_configured(configured, where)
        except ConfigError as exc:
            # A generic kind's builder may quote what it could not use: mask any key in it.
            raise ConfigError(mask(str(exc))) from None
        for name, vendor in self.vendors.items():
            if name not in vendors:
                known = ", ".join(sorted(vendors))
                raise ConfigError(f"{where}vendors.{name}: unknown vendor; expected one of {known}")
            _check_datasets(name, vendor, vendors[name].dataset_names, where)
        bound = self.model_copy()
        bound._vendors = vendors
        return bound

    @property
    def registry(self) -> Registry:
        """The vendor registry this inventory was checked against (see `bind`)."""
        if self._vendors is None:
            raise ConfigError(
                "the inventory was not checked against the vendor registry: load it with "
                "load_inventory(path, pipelines.registry.vendors())"
            )
        return self._vendors

    def enabled_vendors(self) -> dict[str, VendorConfig]:
        return {name: v for name, v in self.vendors.items() if v.enabled}

    def enabled_datasets(self, vendor: str) -> list[str]:
        """Datasets of a vendor that are copied: all of the vendor's unless switched off."""
        config = self.vendors[vendor]
        return [
            name
            for name in self.registry[vendor].dataset_names
            if config.datasets.get(name, DatasetConfig()).enabled
        ]

    def rpo(self, vendor: str, dataset: str) -> timedelta:
        config = self.vendors[vendor]
        dataset_config = config.datasets.get(dataset)
        if dataset_config is not None and dataset_config.rpo is not None:
            return dataset_config.rpo
        return config.rpo

    def daily_datasets(self, vendor: str) -> list[str]:
        """Enabled time-series datasets of a vendor, copied by day."""
        daily = self.registry[vendor].daily
        return [name for name in self.enabled_datasets(vendor) if name in daily]

    def base_url(self, vendor: str) -> str:
        return self.vendors[vendor].base_url or self.registry[vendor].base_url

    def credential_envs(self, vendor: str) -> dict[str, str]:
        """Each credential of a vendor and the environment variable that holds it."""
        configured = self.vendors[vendor].credentials if vendor in self.vendors else {}
        entry = self.registry[vendor]
        return {name: configured.get(name) or entry.default_env(name) for name in entry.credentials}


def _check_datasets(name: str, vendor: VendorConfig, known: tuple[str, ...], where: str) -> None:
    """The datasets lifeboat.yaml names exist, have names a table can have, and one is on.

    A vendor whose datasets are all switched off would have a schedule with nothing to
    meet: Dagster's definitions would not load.
    """
    for dataset in vendor.datasets:
        if dataset not in known:
            raise ConfigError(
                f"{where}vendors.{name}.datasets.{dataset}: unknown dataset; "
                f"expected one of {', '.join(known)}"
            )
    if vendor.kind:
        for dataset in known:
            if not _NAME.match(dataset):
                raise ConfigError(
                    f"{where}vendors.{name}.api.datasets.{mask(dataset)[:80]}: a dataset is "
                    "named as its table, in lowercase letters, digits and '_', starting with a "
                    "letter, at most 63 characters (like 'invoices')"
                )
    if vendor.enabled and not any(
        vendor.datasets.get(dataset, DatasetConfig()).enabled for dataset in known
    ):
        raise ConfigError(
            f"{where}vendors.{name}.datasets: every dataset is switched off; switch the vendor "
            "off instead (enabled: false)"
        )


def _describe(error: dict[str, Any]) -> str:
    """One problem as `field.path: message`; pydantic's copy of the input is never shown."""
    parts = [str(part) for part in error["loc"] if part != "[key]"]
    location = ".".join(parts) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    return mask(f"{location}: {message}")


def _literal_secrets(raw: Any, path: str = "") -> Iterator[str]:
    """Every `*_env` field, in any section, whose value is a secret rather than a name.

    The models check the fields they define; this also covers sections defined elsewhere
    (mysql accounts) and names the field exactly. Bounded: the document's expanded size is.
    """
    if isinstance(raw, dict):
        for key, value in raw.items():
            where = f"{path}.{key}" if path else str(key)
            if str(key).endswith("_env") and isinstance(value, str):
                problem = env_name_problem(value)
                if problem:
                    yield mask(f"{where}: {problem}")
            else:
                yield from _literal_secrets(value, where)
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            yield from _literal_secrets(value, f"{path}.{index}")


def load_inventory(
    path: str | os.PathLike[str] | None = None, vendors: Registry | None = None
) -> Inventory:
    """Parse an inventory file; every mistake is reported with the file and the field.

    With `vendors` (pipelines.registry.vendors()), it is also checked against the vendor
    registry, as every part of lifeboat that copies vendors needs. No message repeats a
    value of the file: any of them may be a secret pasted where a name belongs.
    """
    source = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)
    if not source.is_file():
        raise ConfigError(
            f"{source}: no such inventory file. Create it (see README 'Configuration') "
            f"or point {CONFIG_ENV} at one."
        )
    raw = read_yaml(source) or {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    problems = list(_literal_secrets(raw))
    try:
        inventory = Inventory.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        named = {problem.split(": ", 1)[0] for problem in problems}
        problems += [text for text in map(_describe, errors) if text.split(": ", 1)[0] not in named]
    if problems:
        listed = "\n  ".join(problems)
        raise ConfigError(f"{source}: invalid inventory:\n  {listed}")
    loaded = inventory.model_copy(update={"source_path": source.resolve()})
    return loaded.bind(vendors) if vendors is not None else loaded


@lru_cache(maxsize=1)
def inventory() -> Inventory:
    """The inventory named by LIFEBOAT_CONFIG (default ./lifeboat.yaml), parsed once."""
    return load_inventory()


def home() -> Path:
    """The data directory: LIFEBOAT_HOME, or ./.lifeboat."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).resolve()

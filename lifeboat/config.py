"""The business's inventory (`lifeboat.yaml`), parsed once into typed models."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
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
from lifeboat.errors import ConfigError
from lifeboat.settings import CONFIG_ENV, DEFAULT_CONFIG_FILE, DEFAULT_HOME, HOME_ENV
from lifeboat.topology_config import MySQLConfig
from lifeboat.vendors import Registry

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Read '90s', '30m', '1h', '2d', '1w' (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"expected a duration such as '30m', '1h' or '2d', got {value!r}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(_Model):
    """One dataset of a vendor: whether it is copied and how old its copy may get."""

    enabled: bool = True
    rpo: Duration | None = Field(
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
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description="Credential name -> name of the environment variable that holds it.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Vendor-specific settings (account ids, property ids)."
    )
    rpo: Duration = timedelta(hours=24)
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
            raise ValueError(
                f"expected an http(s) URL such as 'https://api.example.com', got {value!r}"
            )
        return value.rstrip("/") if value else value

    @field_validator("credentials")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, env in value.items():
            if not re.match(r"^[A-Z_][A-Z0-9_]*$", env):
                raise ValueError(
                    f"credentials.{key} must name an environment variable in capitals (like "
                    "STRIPE_API_KEY), not hold the secret itself; export the secret in that "
                    "variable instead"
                )
        return value


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

    vendors: dict[str, VendorConfig] = Field(default_factory=dict)
    emulator: EmulatorConfig = EmulatorConfig()
    mysql: MySQLConfig | None = None
    alerts: AlertsConfig = AlertsConfig()
    backfill_after_outage: bool = Field(
        default=True,
        description="When a failing vendor answers again, backfill the days it missed.",
    )
    partitions_start: date = Field(
        default=date(2025, 1, 1),
        description="The first day of the daily partitions: how far back a backfill can go.",
    )
    source_path: Path | None = Field(default=None, exclude=True)

    _vendors: Registry | None = PrivateAttr(default=None)

    def bind(self, vendors: Registry) -> Inventory:
        """This inventory checked against the vendor registry, which its methods then read.

        Vendors of a generic `kind` are built from their `api` section and join the registry
        the bound inventory reads.
        """
        where = f"{self.source_path}: " if self.source_path else ""
        vendors = vendors.with_configured(
            {name: vendor for name, vendor in self.vendors.items() if vendor.kind}, where
        )
        for name, vendor in self.vendors.items():
            if name not in vendors:
                known = ", ".join(sorted(vendors))
                raise ConfigError(f"{where}vendors.{name}: unknown vendor; expected one of {known}")
            known_sets = vendors[name].dataset_names
            for dataset in vendor.datasets:
                if dataset not in known_sets:
                    raise ConfigError(
                        f"{where}vendors.{name}.datasets.{dataset}: unknown dataset; "
                        f"expected one of {', '.join(known_sets)}"
                    )
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


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    return f"{location}: {message}"


def load_inventory(
    path: str | os.PathLike[str] | None = None, vendors: Registry | None = None
) -> Inventory:
    """Parse an inventory file; every mistake is reported with the file and the field.

    With `vendors` (pipelines.registry.vendors()), it is also checked against the vendor
    registry, as every part of lifeboat that copies vendors needs.
    """
    source = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)
    if not source.is_file():
        raise ConfigError(
            f"{source}: no such inventory file. Create it (see README 'Configuration') "
            f"or point {CONFIG_ENV} at one."
        )
    try:
        raw = yaml.safe_load(source.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    try:
        inventory = Inventory.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"{source}: invalid inventory:\n  {problems}") from None
    loaded = inventory.model_copy(update={"source_path": source.resolve()})
    return loaded.bind(vendors) if vendors is not None else loaded


@lru_cache(maxsize=1)
def inventory() -> Inventory:
    """The inventory named by LIFEBOAT_CONFIG (default ./lifeboat.yaml), parsed once."""
    return load_inventory()


def home() -> Path:
    """The data directory: LIFEBOAT_HOME, or ./.lifeboat."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).resolve()

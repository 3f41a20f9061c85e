"""What a vendor is to lifeboat (one typed object per vendor) and the registry that holds them.

Each vendor is one `Vendor`, defined in its folder under `pipelines/` (see
`pipelines/README.md`) and found there by `pipelines.registry`. Everything else reads it:
the inventory's checks, the Dagster assets and resources, the messages, the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lifeboat.columns import Column
from lifeboat.errors import ConfigError

# The incremental cursor every connector keeps unless a dataset names another.
CHANGED_AT = "_changed_at"


@dataclass(frozen=True)
class Dataset:
    """One dataset of a vendor: a table of the copy and a Dagster asset."""

    name: str
    description: str  # one line a business owner understands
    columns: tuple[Column, ...]
    # The column dlt's incremental cursor follows; None for a dataset read whole each time.
    cursor: str | None = CHANGED_AT
    # A time series, partitioned by day: a missed window can be backfilled.
    daily: bool = False

    @property
    def key(self) -> tuple[str, ...]:
        """The primary key's columns."""
        return tuple(column.name for column in self.columns if column.key)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


# (method, path, request arguments) of the cheapest authenticated read a vendor offers.
PingRequest = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class Vendor:
    """A vendor as one plugin: its datasets, credentials, options, connector and ping.

    `source(ctx)` builds the dlt source, `client(ctx)` the REST client its requests go
    through and `ping(ctx)` the request that tells whether the vendor answers again; each
    takes a `pipelines.base.VendorContext`.
    """

    name: str
    title: str
    base_url: str  # the vendor's real API root; `{placeholders}` come from options
    credentials: tuple[str, ...]
    credentials_help: str  # what the credentials are and the least access that is enough
    datasets: tuple[Dataset, ...]
    source: Callable[[Any], Any] = field(repr=False, compare=False)
    client: Callable[[Any], Any] = field(repr=False, compare=False)
    ping: Callable[[Any], PingRequest] = field(repr=False, compare=False)
    options: tuple[str, ...] = ()

    def dataset(self, name: str) -> Dataset:
        for dataset in self.datasets:
            if dataset.name == name:
                return dataset
        known = ", ".join(self.dataset_names)
        raise ConfigError(f"{self.name}: no dataset {name!r}; expected one of {known}")

    @property
    def dataset_names(self) -> tuple[str, ...]:
        return tuple(dataset.name for dataset in self.datasets)

    @property
    def daily(self) -> tuple[str, ...]:
        return tuple(dataset.name for dataset in self.datasets if dataset.daily)

    def default_env(self, credential: str) -> str:
        """The environment variable a credential is read from when lifeboat.yaml names none."""
        return f"{self.name.upper()}_{credential.upper()}"


@dataclass(frozen=True)
class VendorKind:
    """A generic connector (e.g. `rest`): it builds a Vendor from an entry of lifeboat.yaml.

    `build(name, config, where)` takes the entry's name and its
    `lifeboat.config.VendorConfig` (kind, title, base_url, credentials, options, api) and
    raises ConfigError naming the field, after `where` (the file), for anything it cannot use.
    """

    name: str
    build: Callable[[str, Any, str], Vendor] = field(repr=False, compare=False)


class Registry(Mapping[str, Vendor]):
    """Every vendor lifeboat can copy, by name, and the generic kinds that configure more."""

    def __init__(self, vendors: list[Vendor], kinds: list[VendorKind] | None = None) -> None:
        self._vendors = {vendor.name: vendor for vendor in vendors}
        self.kinds = {kind.name: kind for kind in kinds or []}

    def with_configured(self, configs: Mapping[str, Any], where: str = "") -> Registry:
        """This registry plus the vendors that entries of a generic kind configure."""
        built = []
        for name, config in configs.items():
            if name in self._vendors:
                raise ConfigError(
                    f"{where}vendors.{name}: {name!r} is a built-in vendor; give the "
                    f"{config.kind} API another name"
                )
            kind = self.kinds.get(config.kind)
            if kind is None:
                known = ", ".join(sorted(self.kinds)) or "none"
                raise ConfigError(
                    f"{where}vendors.{name}.kind: unknown kind {config.kind!r}; expected one "
                    f"of {known}"
                )
            built.append(kind.build(name, config, where))
        if not built:
            return self
        return Registry([*self._vendors.values(), *built], list(self.kinds.values()))

    def __getitem__(self, name: str) -> Vendor:
        try:
            return self._vendors[name]
        except KeyError:
            known = ", ".join(sorted(self._vendors))
            raise ConfigError(f"unknown vendor {name!r}; expected one of {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._vendors

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._vendors.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._vendors)

    def __len__(self) -> int:
        return len(self._vendors)

    def title(self, name: str) -> str:
        """The vendor's name as people know it; the key itself for a vendor not registered."""
        vendor = self._vendors.get(name)
        return vendor.title if vendor else name.replace("_", " ").title()

"""Any REST API, configured in lifeboat.yaml (`kind: rest`): dlt's rest_api vocabulary.

The generic connector reads `auth`, `paginator` and `incremental` as dlt's rest_api source
does, and builds them with dlt's own factories. It does not hand the API to
`rest_api_source` itself: every lifeboat copy gathers pages into Arrow batches through
`pipelines.arrow.batched_tables` (new fields, misfits), stamps each record's change time
for the merge and the history, and flags full listings for the shrink guard, and a
rest_api resource yields records one page at a time to steps that see one record each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.rest_api.config_setup import create_auth, create_paginator
from pydantic import ValidationError

from lifeboat.columns import DELETED_DESCRIPTION, Column, value_at
from lifeboat.errors import ConfigError
from lifeboat.vendors import CHANGED_AT, Dataset, PingRequest, Vendor, VendorKind
from pipelines.arrow import batched_tables
from pipelines.base import VendorContext, rest_client
from pipelines.progress import track
from pipelines.rest.settings import SECRET_FIELDS, RestApi, RestColumn, RestDataset
from pipelines.settings import MERGE_HINTS

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# What lifeboat says of a key field the inventory does not describe ({title}: the vendor's).
KEY_DESCRIPTION = "Identifies the record at {title}; each record is in the copy once"


def _fill(text: str, ctx: VendorContext) -> str:
    """A header value with each `{credential}` replaced by that credential's value."""
    return _PLACEHOLDER.sub(lambda m: ctx.credential(m.group(1)), text)


def _auth(api: RestApi, ctx: VendorContext) -> Any:
    if api.auth is None:
        return None
    kind = api.auth.get("type", "bearer")
    filled = {
        field: ctx.credential(value) if field in SECRET_FIELDS[kind] else value
        for field, value in api.auth.items()
    }
    return create_auth(filled)


def _client(api: RestApi, ctx: VendorContext) -> RESTClient:
    headers = {name: _fill(value, ctx) for name, value in api.headers.items()}
    return rest_client(
        ctx, headers=headers, auth=_auth(api, ctx), paginator=create_paginator(api.paginator)
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamped(
    pages: Iterable[list[dict[str, Any]]], cursor: tuple[str, ...] | None, listed_at: datetime
) -> Iterator[list[dict[str, Any]]]:
    """Each record marked with when it changed (the API's field, else the listing's time)."""
    for page in pages:
        for record in page:
            record[CHANGED_AT] = value_at(record, cursor) if cursor else listed_at
            record["_deleted"] = False
        yield page


def _initial(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _params(api: RestApi, dataset: RestDataset, since: Any, until: Any) -> dict[str, Any]:
    params = {**api.params, **dataset.params}
    incremental = dataset.incremental
    if incremental is not None and since is not None and incremental.start_param:
        params[incremental.start_param] = _iso(since)
    if incremental is not None and until is not None and incremental.end_param:
        params[incremental.end_param] = _iso(until)
    return params


def _resource(
    api: RestApi, name: str, dataset: RestDataset, columns: tuple[Column, ...], ctx: VendorContext
) -> DltResource:
    incremental = dataset.incremental
    start = _initial(incremental.initial_value) if incremental else None

    @dlt.resource(name=name, primary_key=list(dataset.keys), **MERGE_HINTS)
    def records(
        changed_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(
            CHANGED_AT, initial_value=start, range_start="closed"
        ),
    ) -> Iterator[pa.Table]:
        since = changed_at.last_value if incremental is not None else None
        until = changed_at.end_value
        # Tells the runner this run lists everything, so it checks the listing's size.
        dlt.current.resource_state()["full_listing"] = since is None or since == start
        pages = _client(api, ctx).paginate(
            dataset.path,
            params=_params(api, dataset, since, until),
            data_selector=dataset.data_selector or api.data_selector,
        )
        cursor = tuple(incremental.cursor_path.split(".")) if incremental else None
        stamped = _stamped(track(pages, ctx.vendor, name), cursor, datetime.now(UTC))
        yield from batched_tables(stamped, columns)

    return records


def _changed_at(dataset: RestDataset, title: str) -> Column:
    if dataset.incremental is None:
        said = f"When lifeboat listed the record: {title}'s API gives no time of change"
    else:
        field = dataset.incremental.cursor_path
        said = f"When the record last changed at {title} (its {field})"
    return Column(CHANGED_AT, "timestamp", description=said)


def _columns(dataset: RestDataset, title: str) -> tuple[Column, ...]:
    """The declared columns: the key, the typed fields, the bookkeeping; drift adds the rest.

    A column the inventory does not describe says nothing, but the key and the bookkeeping
    columns, which lifeboat gives meaning to, always say what they are.
    """
    keys = []
    for field in dataset.keys:
        declared = dataset.columns.get(field) or RestColumn(kind="string")
        description = declared.description or KEY_DESCRIPTION.format(title=title)
        keys.append(Column(field, declared.kind, key=True, description=description))
    fields = [
        Column(field, declared.kind, description=declared.description)
        for field, declared in dataset.columns.items()
        if field not in dataset.keys
    ]
    deleted = Column("_deleted", "bool", description=DELETED_DESCRIPTION)
    return (*keys, *fields, _changed_at(dataset, title), deleted)


def _where(name: str, error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"])
    return f"vendors.{name}.api.{location}: {error['msg'].removeprefix('Value error, ')}"


def _parse(name: str, config: Any, where: str) -> RestApi:
    try:
        api = RestApi.model_validate(config.api)
    except ValidationError as exc:
        problems = "\n  ".join(_where(name, error) for error in exc.errors())
        raise ConfigError(f"{where}invalid api of vendor {name}:\n  {problems}") from None
    _check_auth(name, api, config, where)
    try:
        create_paginator(api.paginator)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}vendors.{name}.api.paginator: {exc}") from None
    missing = {p for v in api.headers.values() for p in _PLACEHOLDER.findall(v)}
    if unknown := sorted(missing - set(config.credentials)):
        raise ConfigError(
            f"{where}vendors.{name}.api.headers: {', '.join(unknown)} named but not among the "
            f"vendor's credentials; add it under vendors.{name}.credentials"
        )
    return api


def _check_auth(name: str, api: RestApi, config: Any, where: str) -> None:
    if api.auth is None:
        return
    kind = api.auth.get("type", "bearer")
    if kind not in SECRET_FIELDS:
        raise ConfigError(
            f"{where}vendors.{name}.api.auth.type: {kind!r} is not supported; expected one of "
            f"{', '.join(SECRET_FIELDS)}"
        )
    for field in SECRET_FIELDS[kind]:
        credential = api.auth.get(field)
        if credential is not None and credential not in config.credentials:
            # The value is not repeated: it may be the secret itself, written here by mistake.
            raise ConfigError(
                f"{where}vendors.{name}.api.auth.{field}: must name one of the vendor's "
                f"credentials ({', '.join(config.credentials) or 'none yet'}); list the "
                f"credential under vendors.{name}.credentials with the environment variable "
                "that holds the secret, never the secret itself"
            )


def build(name: str, config: Any, where: str = "") -> Vendor:
    """The Vendor an entry of `kind: rest` in lifeboat.yaml describes."""
    api = _parse(name, config, where)
    if not config.base_url:
        raise ConfigError(f"{where}vendors.{name}.base_url: a REST API needs its base_url")
    title = config.title or name
    columns = {key: _columns(dataset, title) for key, dataset in api.datasets.items()}

    @dlt.source(name=name, max_table_nesting=0)
    def source(ctx: VendorContext) -> list[DltResource]:
        return [
            _resource(api, key, dataset, columns[key], ctx)
            for key, dataset in api.datasets.items()
            if ctx.wants(key)
        ]

    def ping(ctx: VendorContext) -> PingRequest:
        return "GET", api.ping, {}

    return Vendor(
        name=name,
        title=title,
        base_url=config.base_url,
        credentials=tuple(config.credentials),
        credentials_help=f"the credentials named under vendors.{name}.credentials",
        datasets=tuple(
            Dataset(key, dataset.description, columns[key], daily=dataset.daily)
            for key, dataset in api.datasets.items()
        ),
        source=source,
        client=lambda ctx: _client(api, ctx),
        ping=ping,
    )


KIND = VendorKind(name="rest", build=build)

"""Mailchimp's partial responses: `fields` and `exclude_fields`, comma-separated dot paths.

https://mailchimp.com/developer/marketing/docs/fundamentals/#partial-responses
"""

from __future__ import annotations

from typing import Any


def select_fields(body: dict[str, Any], fields: str | None, exclude: str | None) -> dict[str, Any]:
    """Apply Mailchimp's `fields` / `exclude_fields` (comma-separated, dot paths)."""
    if fields:
        body = _keep(body, [f.strip().split(".") for f in fields.split(",") if f.strip()])
    if exclude:
        for path in (f.strip().split(".") for f in exclude.split(",") if f.strip()):
            _drop(body, path)
    return body


def _keep(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_keep(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for key, item in value.items():
        sub = [path[1:] for path in paths if path[0] == key]
        if not sub:
            continue
        kept[key] = item if any(not s for s in sub) else _keep(item, [s for s in sub if s])
    return kept


def _drop(value: Any, path: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _drop(item, path)
    elif isinstance(value, dict) and path and path[0] in value:
        if len(path) == 1:
            del value[path[0]]
        else:
            _drop(value[path[0]], path[1:])

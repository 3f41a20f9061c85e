"""Google's partial responses: the `fields` parameter's selector syntax, e.g.
`items(id,snippet/title),nextPageToken`."""

from __future__ import annotations

from typing import Any

from emulators.core import BadRequest

Tree = dict[str, "Tree | None"]


def _invalid(text: str) -> BadRequest:
    return BadRequest(
        400,
        f"Invalid field selection {text}",
        reason="invalidParameter",
        location="fields",
        locationType="parameter",
    )


def _merge(into: Tree, path: list[str], sub: Tree | None) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        old = into.get(head, {})
        # A bare name selects the whole field, whatever else names parts of it.
        into[head] = None if sub is None or old is None else {**old, **sub}
        return
    node = into.setdefault(head, {})
    if node is not None:
        _merge(node, rest, sub)


def _parse(text: str, pos: int, nested: bool) -> tuple[Tree, int]:
    tree: Tree = {}
    while True:
        start = pos
        while pos < len(text) and text[pos] not in ",()":
            pos += 1
        path = text[start:pos].strip().split("/")
        if not all(path):
            raise _invalid(text)
        sub = None
        if pos < len(text) and text[pos] == "(":
            sub, pos = _parse(text, pos + 1, True)
            if pos >= len(text) or text[pos] != ")":
                raise _invalid(text)
            pos += 1
        _merge(tree, path, sub)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if nested == (pos < len(text) and text[pos] == ")"):
            return tree, pos
        raise _invalid(text)


def parse(text: str) -> Tree:
    tree, _ = _parse(text, 0, False)
    return tree


def select(value: Any, tree: Tree | None) -> Any:
    """Keep only the selected fields of `value` (lists are selected item by item)."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [select(item, tree) for item in value]
    if isinstance(value, dict):
        return {k: select(value[k], sub) for k, sub in tree.items() if k in value}
    return value

"""Reading lifeboat.yaml safely: bounded in size and alias expansion, errors by position.

A config file is input a person (or an attacker) wrote: it is read with PyYAML's safe
loader, refused past a few bounds no inventory comes near, and no error quotes its text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from lifeboat.errors import ConfigError
from lifeboat.secrets import mask

# A lifeboat.yaml is a few kilobytes: a larger file is the wrong file, or an attack.
MAX_CONFIG_BYTES = 1024 * 1024
# Values once anchors (&) and aliases (*) are expanded: the shipped inventory has about 400;
# a "billion laughs" of 9 levels of 9 aliases has 387 million.
MAX_CONFIG_VALUES = 100_000
# Nesting: the shipped inventory goes 6 deep; PyYAML composes recursively, and Python's stack
# gives out near a thousand levels.
MAX_CONFIG_DEPTH = 64


class _Unbounded(yaml.MarkedYAMLError):
    """The document grows past the bounds of an inventory once its aliases are expanded."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing documents too large or too deep once aliases expand.

    PyYAML shares an aliased node instead of copying it, so a "billion laughs" loads in a
    millisecond; the blow-up comes later, in whatever walks the result as a tree (pydantic,
    our own checks). So each node's expanded size is counted as it is composed (an alias
    counts its anchor's whole size again), and the first node past the cap stops the load.
    """

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark
        alias = self.check_event(yaml.AliasEvent)
        self._depth += 1
        if self._depth > MAX_CONFIG_DEPTH:
            raise _Unbounded(
                problem=(
                    f"values nested more than {MAX_CONFIG_DEPTH} levels deep, far deeper than "
                    "an inventory goes"
                ),
                problem_mark=mark,
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if id(node) not in self._sizes:
            if alias:
                raise _Unbounded(
                    problem="an alias (*) inside its own anchor (&) repeats without end",
                    problem_mark=mark,
                )
            self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in _children(node))
        if self._sizes[id(node)] > MAX_CONFIG_VALUES:
            raise _Unbounded(
                problem=(
                    f"more than {MAX_CONFIG_VALUES:,} values once anchors (&) and aliases (*) "
                    "are expanded, far more than an inventory holds; write the values out "
                    "instead of repeating them"
                ),
                problem_mark=mark,
            )
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except ValueError as exc:
            # A date that does not exist, an integer of thousands of digits: Python's
            # ValueError carries no line; give it the node's.
            problem = {
                "tag:yaml.org,2002:timestamp": f"a date that does not exist ({exc})",
                "tag:yaml.org,2002:int": "a number too long to read",
            }.get(node.tag, "a value that cannot be read")
            raise yaml.constructor.ConstructorError(
                problem=problem, problem_mark=node.start_mark
            ) from None


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def read_yaml(source: Path) -> Any:
    """The file's YAML, bounded in size and expansion; errors never quote the file's text.

    PyYAML's own message quotes the offending line, which may hold a secret: a problem is
    reported by line, column and what is wrong only.
    """
    with source.open("rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{source}: larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB, which no inventory "
            "is; check that this is your lifeboat.yaml"
        )
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(data)  # reads the first bytes: may raise a ReaderError
        return loader.get_single_data()
    except _Unbounded as exc:
        raise ConfigError(f"{source}: refused at {_where(exc)}: {exc.problem}") from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(
            mask(f"{source}: not valid YAML at {_where(exc)}: {exc.problem}")
        ) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            f"{source}: not valid text at byte {exc.position}: save it as UTF-8"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({type(exc).__name__})") from None
    finally:
        if loader is not None:
            loader.dispose()


def _where(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    if mark is None:
        return "an unknown place"
    return f"line {mark.line + 1}, column {mark.column + 1}"

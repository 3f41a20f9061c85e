"""Every YouTube emulator response validates against YouTube's discovery document.

The document shipped inside google-api-python-client is Google's machine-readable contract:
response schemas (types, formats, `$ref`s, fixed `kind`s) and each method's parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import googleapiclient
import pytest
import requests

from emulators.credentials import demo_credentials
from emulators.server import Emulator, EmulatorServer
from emulators.youtube import params

DISCOVERY = json.loads(
    (
        Path(googleapiclient.__file__).parent / "discovery_cache/documents/youtube.v3.json"
    ).read_text()
)
SCHEMAS: dict[str, Any] = DISCOVERY["schemas"]
TOKEN = demo_credentials(["youtube"])["youtube"]["access_token"]
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1)}


def method(name: str) -> dict[str, Any]:
    return DISCOVERY["resources"][name]["methods"]["list"]


def _check_string(value: Any, schema: dict[str, Any], at: str) -> Iterator[str]:
    if not isinstance(value, str):
        yield f"{at}: {value!r} is not a string"
        return
    fmt = schema.get("format")
    if fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
        yield f"{at}: {value!r} is not a {fmt} string"
    if fmt == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            yield f"{at}: {value!r} is not an RFC 3339 date-time"
    if "enum" in schema and value not in schema["enum"]:
        yield f"{at}: {value!r} is not one of {schema['enum']}"


def _check_object(value: Any, schema: dict[str, Any], at: str, method_id: str) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{at}: {type(value).__name__} where an object belongs"
        return
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    for name, item in value.items():
        if properties is not None and name in properties:
            yield from errors(item, properties[name], f"{at}.{name}", method_id)
        elif extra is not None:
            yield from errors(item, extra, f"{at}.{name}", method_id)
        else:
            yield f"{at}.{name}: not in the schema"
    for name, prop in (properties or {}).items():
        # The document marks required fields per method; resources always carry their kind.
        needed = method_id in prop.get("annotations", {}).get("required", [])
        if (needed or (name == "kind" and "default" in prop)) and name not in value:
            yield f"{at}.{name}: required but missing"
        if (
            name == "kind"
            and "default" in prop
            and value.get(name, prop["default"]) != prop["default"]
        ):
            yield f"{at}.kind: {value[name]!r} is not {prop['default']!r}"


def errors(value: Any, schema: dict[str, Any], at: str = "$", method_id: str = "") -> Iterator[str]:
    """Every way `value` departs from a discovery-document schema."""
    if "$ref" in schema:
        yield from errors(value, SCHEMAS[schema["$ref"]], at, method_id)
        return
    kind = schema.get("type")
    if kind == "object":
        yield from _check_object(value, schema, at, method_id)
    elif kind == "array":
        if not isinstance(value, list):
            yield f"{at}: {type(value).__name__} where an array belongs"
            return
        for n, item in enumerate(value):
            yield from errors(item, schema["items"], f"{at}[{n}]", method_id)
    elif kind == "string":
        yield from _check_string(value, schema, at)
    elif kind == "integer":
        low, high = INT_RANGES.get(schema.get("format", "int32"), INT_RANGES["int32"])
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            yield f"{at}: {value!r} is not a {schema.get('format')} integer"
    elif kind == "boolean" and not isinstance(value, bool):
        yield f"{at}: {value!r} is not a boolean"
    elif kind == "number" and (not isinstance(value, int | float) or isinstance(value, bool)):
        yield f"{at}: {value!r} is not a number"
    elif kind not in (None, "any", "object", "array", "string", "integer", "boolean", "number"):
        yield f"{at}: unknown schema type {kind!r}"


def assert_valid(name: str, body: dict[str, Any]) -> None:
    listing = method(name)
    found = list(errors(body, listing["response"], "$", listing["id"]))
    assert not found, "\n".join(found[:20])


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    running = EmulatorServer(
        Emulator(seed=3, scale={"youtube.videos": 60, "youtube.comments": 90})
    ).start()
    yield running
    running.stop()


def get(server: EmulatorServer, name: str, **query: Any) -> dict[str, Any]:
    response = requests.get(
        f"{server.url}/youtube/youtube/v3/{name}",
        params=query,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def every_part(name: str) -> str:
    return ",".join(sorted(params.PARTS[name]))


def test_every_response_of_every_method_validates(server: EmulatorServer) -> None:
    channel = get(server, "channels", mine="true", part=every_part("channels"))
    uploads = channel["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
    items = get(
        server, "playlistItems", playlistId=uploads, part=every_part("playlistItems"), maxResults=50
    )
    ids = ",".join(item["contentDetails"]["videoId"] for item in items["items"])
    responses = {
        "channels": [channel],
        "playlistItems": [items],
        "videos": [
            get(server, "videos", id=ids, part=every_part("videos")),
            get(server, "videos", chart="mostPopular", part="snippet", maxResults=3),
        ],
        "commentThreads": [
            get(
                server,
                "commentThreads",
                allThreadsRelatedToChannelId=channel["items"][0]["id"],
                part=every_part("commentThreads"),
                maxResults=100,
            )
        ],
        "subscriptions": [
            get(server, "subscriptions", mySubscribers="true", part=every_part("subscriptions")),
            get(server, "subscriptions", myRecentSubscribers="true", part="snippet"),
        ],
    }

    for name, bodies in responses.items():
        for body in bodies:
            assert body["items"]
            assert_valid(name, body)


def test_the_validator_catches_a_wrong_type_an_unknown_field_and_a_wrong_kind(
    server: EmulatorServer,
) -> None:
    body = get(server, "channels", mine="true", part="statistics,snippet")

    counted = json.loads(json.dumps(body))
    counted["items"][0]["statistics"]["viewCount"] = 12  # YouTube sends int64 as a string
    unknown = json.loads(json.dumps(body))
    unknown["items"][0]["snippet"]["subscriberTotal"] = "3"
    wrong_kind = json.loads(json.dumps(body))
    wrong_kind["items"][0]["kind"] = "youtube#video"

    assert_valid("channels", body)
    for broken, words in [
        (counted, "viewCount: 12 is not a string"),
        (unknown, "subscriberTotal: not in the schema"),
        (wrong_kind, "kind: 'youtube#video' is not"),
    ]:
        with pytest.raises(AssertionError, match=re.escape(words)):
            assert_valid("channels", broken)


@pytest.mark.parametrize("name", sorted(params.METHODS))
def test_the_emulator_knows_exactly_the_documented_parameters(name: str) -> None:
    documented = method(name)["parameters"]
    ours = params.METHODS[name]

    assert set(ours) == set(documented)
    for key, spec in documented.items():
        param = ours[key]
        kind = spec.get("format") if spec["type"] == "integer" else spec["type"]
        assert param.kind == kind, key
        assert param.enum == tuple(spec.get("enum", ())), key
        assert (param.low, param.high) == (
            int(spec["minimum"]) if "minimum" in spec else None,
            int(spec["maximum"]) if "maximum" in spec else None,
        ), key
        assert param.repeated == spec.get("repeated", False), key
        assert param.required == spec.get("required", False), key
    assert set(params.STANDARD) == set(DISCOVERY["parameters"])
    for key, spec in DISCOVERY["parameters"].items():
        assert params.STANDARD[key].enum == tuple(spec.get("enum", ())), key


@pytest.mark.parametrize("name", sorted(params.PARTS))
def test_every_part_the_emulator_accepts_is_a_property_of_the_resource(name: str) -> None:
    item = method(name)["response"]["$ref"]
    resource = SCHEMAS[SCHEMAS[item]["properties"]["items"]["items"]["$ref"]]

    assert params.PARTS[name] <= set(resource["properties"])

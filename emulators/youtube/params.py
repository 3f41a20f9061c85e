"""The documented parameters of each method served, checked the way Google checks them.

The table mirrors the methods' parameters in YouTube's discovery document (a test holds it
to googleapiclient's copy); anything else in a query is refused, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulators.core import BadRequest, Request


@dataclass(frozen=True)
class Param:
    kind: str = "string"  # string, boolean, uint32, int32
    enum: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    repeated: bool = False
    required: bool = False


TEXT = Param()
FLAG = Param("boolean")
IDS = Param(repeated=True)
PART = Param(repeated=True, required=True)
# Parameters every Google API method takes (the discovery document's top-level list).
STANDARD: dict[str, Param] = {
    "$.xgafv": Param(enum=("1", "2")),
    "access_token": TEXT,
    "alt": Param(enum=("json", "media", "proto")),
    "callback": TEXT,
    "fields": TEXT,
    "key": TEXT,
    "oauth_token": TEXT,
    "prettyPrint": FLAG,
    "quotaUser": TEXT,
    "uploadType": TEXT,
    "upload_protocol": TEXT,
}
METHODS: dict[str, dict[str, Param]] = {
    "channels": {
        "categoryId": TEXT,
        "forHandle": TEXT,
        "forUsername": TEXT,
        "hl": TEXT,
        "id": IDS,
        "managedByMe": FLAG,
        "maxResults": Param("uint32", low=0, high=50),
        "mine": FLAG,
        "mySubscribers": FLAG,
        "onBehalfOfContentOwner": TEXT,
        "pageToken": TEXT,
        "part": PART,
    },
    "playlistItems": {
        "id": IDS,
        "maxResults": Param("uint32", low=0, high=50),
        "onBehalfOfContentOwner": TEXT,
        "pageToken": TEXT,
        "part": PART,
        "playlistId": TEXT,
        "videoId": TEXT,
    },
    "videos": {
        "chart": Param(enum=("chartUnspecified", "mostPopular")),
        "hl": TEXT,
        "id": IDS,
        "locale": TEXT,
        "maxHeight": Param("int32", low=72, high=8192),
        "maxResults": Param("uint32", low=1, high=50),
        "maxWidth": Param("int32", low=72, high=8192),
        "myRating": Param(enum=("none", "like", "dislike")),
        "onBehalfOfContentOwner": TEXT,
        "pageToken": TEXT,
        "part": PART,
        "regionCode": TEXT,
        "videoCategoryId": TEXT,
    },
    "commentThreads": {
        "allThreadsRelatedToChannelId": TEXT,
        "channelId": TEXT,
        "id": IDS,
        "maxResults": Param("uint32", low=1, high=100),
        "moderationStatus": Param(enum=("published", "heldForReview", "likelySpam", "rejected")),
        "order": Param(enum=("orderUnspecified", "time", "relevance")),
        "pageToken": TEXT,
        "part": PART,
        "searchTerms": TEXT,
        "textFormat": Param(enum=("textFormatUnspecified", "html", "plainText")),
        "videoId": TEXT,
    },
    "subscriptions": {
        "channelId": TEXT,
        "forChannelId": TEXT,
        "id": IDS,
        "maxResults": Param("uint32", low=0, high=50),
        "mine": FLAG,
        "myRecentSubscribers": FLAG,
        "mySubscribers": FLAG,
        "onBehalfOfContentOwner": TEXT,
        "onBehalfOfContentOwnerChannel": TEXT,
        "order": Param(
            enum=("subscriptionOrderUnspecified", "relevance", "unread", "alphabetical")
        ),
        "pageToken": TEXT,
        "part": PART,
    },
}
# The part names each method's documentation lists.
PARTS: dict[str, frozenset[str]] = {
    "channels": frozenset(
        [
            "auditDetails",
            "brandingSettings",
            "contentDetails",
            "contentOwnerDetails",
            "id",
            "localizations",
            "snippet",
            "statistics",
            "status",
            "topicDetails",
        ]
    ),
    "playlistItems": frozenset({"contentDetails", "id", "snippet", "status"}),
    "videos": frozenset(
        [
            "contentDetails",
            "fileDetails",
            "id",
            "liveStreamingDetails",
            "localizations",
            "paidProductPlacementDetails",
            "player",
            "processingDetails",
            "recordingDetails",
            "snippet",
            "statistics",
            "status",
            "suggestions",
            "topicDetails",
        ]
    ),
    "commentThreads": frozenset({"id", "replies", "snippet"}),
    "subscriptions": frozenset({"contentDetails", "id", "snippet", "subscriberSnippet"}),
}
PROTO_TYPES = {"boolean": "TYPE_BOOL", "uint32": "TYPE_UINT32", "int32": "TYPE_INT32"}


def bad_value(name: str, param: Param, raw: str) -> BadRequest:
    """Google's refusal of a value that does not parse as the parameter's type or enum."""
    kind = PROTO_TYPES.get(param.kind, "TYPE_ENUM")
    return BadRequest(
        400,
        f"Invalid value at '{name}' ({kind}), \"{raw}\"",
        reason="invalid",
        location=name,
        locationType="parameter",
    )


def out_of_range(name: str, param: Param, raw: str) -> BadRequest:
    return BadRequest(
        400,
        f"Invalid value '{raw}'. Values must be within the range: [{param.low}, {param.high}]",
        reason="invalidParameter",
        location=name,
        locationType="parameter",
    )


def check_value(name: str, param: Param, raw: str) -> None:
    if param.enum and raw not in param.enum:
        raise bad_value(name, param, raw)
    if param.kind == "boolean" and raw not in ("true", "false"):
        raise bad_value(name, param, raw)
    if param.kind in ("uint32", "int32"):
        if not raw.lstrip("-").isdigit():
            raise bad_value(name, param, raw)
        if param.low is not None and not param.low <= int(raw) <= (param.high or 0):
            raise out_of_range(name, param, raw)


def check(request: Request, method: str) -> None:
    """Refuse unknown parameters, values of the wrong type, and a missing required one."""
    documented = METHODS[method]
    for name, values in request.query.items():
        param = documented.get(name) or STANDARD.get(name)
        if param is None:
            raise BadRequest(
                400,
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message.",
                reason="badRequest",
            )
        for raw in values:
            check_value(name, param, raw)
    for name, param in documented.items():
        if param.required and not any(v.strip() for v in request.args(name)):
            raise BadRequest(
                400,
                f"Required parameter: {name}",
                reason="required",
                location=name,
                locationType="parameter",
            )


def parts(request: Request, method: str) -> set[str]:
    """The parts asked for (comma-separated and/or repeated); an unknown one is refused."""
    asked = {p.strip() for raw in request.args("part") for p in raw.split(",") if p.strip()}
    for name in sorted(asked - PARTS[method]):
        raise BadRequest(
            400,
            f"'{name}'",
            reason="unknownPart",
            domain="youtube.part",
            location="part",
            locationType="parameter",
        )
    return asked


def listed(request: Request, name: str) -> list[str]:
    """A comma-separated (or repeated) list parameter such as `id`."""
    return [v for raw in request.args(name) for v in raw.split(",") if v]


def flag(request: Request, name: str) -> bool:
    return request.arg(name) == "true"

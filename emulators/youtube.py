"""YouTube Data API v3 (channel uploads, videos, comment threads, subscribers), list contract."""

from __future__ import annotations

import base64
import bisect
import time
from collections.abc import Callable
from typing import Any

from emulators.core import (
    BadRequest,
    Clock,
    Dataset,
    Request,
    Response,
    VendorApp,
    json_response,
    mix,
    name_code,
)
from emulators.names import person

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The channel's id and title: one channel per emulator, the one the OAuth token belongs to.
CHANNEL_TITLE = "Lifeboat Coffee Roasters"
# Stripe's default number of customers (emulators/stripe.py); commenters and subscribers are
# drawn partly from them so continuity work can match people across vendors by name.
STRIPE_CUSTOMERS_DEFAULT = 200
# Page-size ranges of each list method, as documented per method.
MAX_RESULTS = {
    "playlistItems": (0, 50, 5),
    "commentThreads": (1, 100, 20),
    "subscriptions": (0, 50, 5),
    "channels": (0, 50, 5),
}
MAX_VIDEO_IDS = 50
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
LOGIN_REQUIRED = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
QUOTA_EXCEEDED = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.'
)
LOCKOUTS = {
    "authenticatedUserAccountSuspended": "The YouTube account of the authenticated user is "
    "suspended.",
    "authenticatedUserAccountClosed": "The YouTube account of the authenticated user is closed.",
    "accountSuspended": "The YouTube account used to authorize the API request has been suspended.",
    "accountClosed": "The YouTube account used to authorize the API request has been closed.",
}
TOPICS = [
    "Espresso",
    "Pour-over",
    "Cold brew",
    "Latte art",
    "Roasting",
    "Grinder",
    "Decaf",
    "Origin trip",
    "Cupping",
    "Milk steaming",
]
FORMATS = ["basics", "deep dive", "mistakes to avoid", "in 60 seconds", "Q&A", "live tasting"]
HANDLES = ["beanfan", "crema", "moka", "aeropress", "kettle", "barista", "filter", "roastery"]
REMARKS = [
    "Great tip, thank you!",
    "What grinder do you use?",
    "Tried this today and loved it.",
    "Can you do a video on decaf?",
    "The music is too loud.",
    "Ordered a bag, arrives Friday!",
    "This changed my mornings.",
    "Which beans are in the thumbnail?",
]


def b64(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 64)
        chars.append(B64[digit])
    return "".join(reversed(chars))


def un_b64(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + B64.index(char)
    return value


def chars(seed: int, width: int) -> str:
    """`width` base64url characters drawn deterministically from `seed`."""
    out = []
    block = 0
    while len(out) * 10 < width:
        out.append(b64(mix(seed, block), 10))
        block += 1
    return "".join(out)[:width]


# Index fields of ids are scrambled (an invertible affine map) so ids do not look sequential.
SCRAMBLE_MUL = 0x9E3779B1
SCRAMBLE_BITS = 36
SCRAMBLE_INV = pow(SCRAMBLE_MUL, -1, 1 << SCRAMBLE_BITS)


def scramble(index: int) -> str:
    return b64((index * SCRAMBLE_MUL + 0x5BD1E995) % (1 << SCRAMBLE_BITS), 6)


def unscramble(text: str) -> int:
    return ((un_b64(text) - 0x5BD1E995) * SCRAMBLE_INV) % (1 << SCRAMBLE_BITS)


def rfc3339(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def thumbnails(url: str) -> dict[str, Any]:
    return {
        "default": {"url": f"{url}/default.jpg", "width": 120, "height": 90},
        "medium": {"url": f"{url}/mqdefault.jpg", "width": 320, "height": 180},
        "high": {"url": f"{url}/hqdefault.jpg", "width": 480, "height": 360},
    }


class App(VendorApp):
    name = "youtube"

    def __init__(self, clock: Clock, seed: int, scale: dict[str, int], credentials=None) -> None:
        super().__init__(clock, seed, scale, credentials)
        self.videos = self.dataset(
            "videos", 300, created_per_day=0.5, updated_per_day=0.02, deleted_per_day=0.0005
        )
        self.comments = self.dataset(
            "comments", 3000, created_per_day=40, updated_per_day=0.002, deleted_per_day=0.001
        )
        self.subscribers = self.dataset(
            "subscribers", 1500, created_per_day=8, updated_per_day=0.001, deleted_per_day=0.002
        )
        # Stripe's customers under the same seed, only to name people consistently.
        self.customers = Dataset("customers", seed, clock.start, 0)
        self.customer_count = scale.get("stripe.customers", STRIPE_CUSTOMERS_DEFAULT)
        h = mix(seed, name_code("channel"))
        self.channel_id = "UC" + chars(h, 22)
        self.uploads_id = "UU" + self.channel_id[2:]
        self._deleted_sorted: dict[str, tuple[int, list[int]]] = {}

    # --- ids ------------------------------------------------------------------------------

    def video_id(self, index: int) -> str:
        return b64(self.videos.hash(index, 2), 5) + scramble(index)

    def video_index(self, value: str) -> int | None:
        if len(value) != 11 or any(c not in B64 for c in value):
            return None
        index = unscramble(value[5:])
        if index >= self.videos.count_at(self.clock.now()) or value != self.video_id(index):
            return None
        return index

    def playlist_item_id(self, index: int) -> str:
        raw = f"{self.uploads_id}.{self.video_id(index)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def thread_id(self, index: int) -> str:
        return "Ugz" + chars(self.comments.hash(index, 2), 12) + scramble(index) + "4AaABAg"

    def subscription_id(self, index: int) -> str:
        return chars(self.subscribers.hash(index, 2), 37) + scramble(index)

    def person_channel(self, dataset: Dataset, index: int) -> tuple[str, str]:
        """(display name, channel id) of a commenter or subscriber; some are Stripe customers."""
        h = dataset.hash(index, 6)
        if self.customer_count and h % 3 == 0:
            customer = (h >> 8) % self.customer_count
            name, _, _ = person(self.customers, customer)
            key = self.customers.hash(customer, 9)
        else:
            name = f"@{HANDLES[(h >> 4) % len(HANDLES)]}{(h >> 12) % 10_000}"
            key = h >> 2
        return name, "UC" + chars(key, 22)

    def etag(self, dataset: Dataset, index: int) -> str:
        return chars(dataset.hash(index, 50 + dataset.record_version(index)), 27)

    # --- resources ------------------------------------------------------------------------

    def video_title(self, index: int) -> str:
        h = self.videos.hash(index, 4)
        title = f"{TOPICS[h % len(TOPICS)]} {FORMATS[(h >> 8) % len(FORMATS)]} #{index + 1}"
        version = self.videos.record_version(index)
        return f"{title} (v{version + 1})" if version else title

    def playlist_item(self, index: int, parts: set[str], position: int) -> dict[str, Any]:
        ds = self.videos
        video_id = self.video_id(index)
        published = rfc3339(ds.created_at(index))
        item: dict[str, Any] = {
            "kind": "youtube#playlistItem",
            "etag": self.etag(ds, index),
            "id": self.playlist_item_id(index),
        }
        if "snippet" in parts:
            item["snippet"] = {
                "publishedAt": published,
                "channelId": self.channel_id,
                "title": self.video_title(index),
                "description": f"Episode {index + 1} of {CHANNEL_TITLE}.",
                "thumbnails": thumbnails(f"https://i.ytimg.com/vi/{video_id}"),
                "channelTitle": CHANNEL_TITLE,
                "playlistId": self.uploads_id,
                "position": position,
                "resourceId": {"kind": "youtube#video", "videoId": video_id},
                "videoOwnerChannelTitle": CHANNEL_TITLE,
                "videoOwnerChannelId": self.channel_id,
            }
        if "contentDetails" in parts:
            item["contentDetails"] = {"videoId": video_id, "videoPublishedAt": published}
        if "status" in parts:
            item["status"] = {"privacyStatus": "public"}
        return item

    def video(self, index: int, parts: set[str]) -> dict[str, Any]:
        ds = self.videos
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        video_id = self.video_id(index)
        views = 50 + h % 20_000 + version * (h % 3_000 + 100)
        item: dict[str, Any] = {
            "kind": "youtube#video",
            "etag": self.etag(ds, index),
            "id": video_id,
        }
        if "snippet" in parts:
            title = self.video_title(index)
            description = f"Episode {index + 1} of {CHANNEL_TITLE}."
            item["snippet"] = {
                "publishedAt": rfc3339(ds.created_at(index)),
                "channelId": self.channel_id,
                "title": title,
                "description": description,
                "thumbnails": thumbnails(f"https://i.ytimg.com/vi/{video_id}"),
                "channelTitle": CHANNEL_TITLE,
                "tags": ["coffee", TOPICS[h % len(TOPICS)].lower()],
                "categoryId": "26",
                "liveBroadcastContent": "none",
                "defaultAudioLanguage": "en",
                "localized": {"title": title, "description": description},
            }
        if "contentDetails" in parts:
            seconds = 60 + h % 1_800
            item["contentDetails"] = {
                "duration": f"PT{seconds // 60}M{seconds % 60}S",
                "dimension": "2d",
                "definition": "hd",
                "caption": "false",
                "licensedContent": False,
                "projection": "rectangular",
            }
        if "statistics" in parts:
            # The API sends these unsigned 64-bit counts as JSON strings.
            item["statistics"] = {
                "viewCount": str(views),
                "likeCount": str(views // 25),
                "favoriteCount": "0",
                "commentCount": str(views // 200),
            }
        if "status" in parts:
            item["status"] = {
                "uploadStatus": "processed",
                "privacyStatus": "public",
                "license": "youtube",
                "embeddable": True,
                "publicStatsViewable": True,
                "madeForKids": False,
            }
        return item

    def comment_thread(self, index: int, parts: set[str]) -> dict[str, Any]:
        ds = self.comments
        h = ds.hash(index, 4)
        created = ds.created_at(index)
        version = ds.record_version(index)
        author, author_channel = self.person_channel(ds, index)
        existing_videos = self.videos.count_at(created)
        video_id = self.video_id(h % existing_videos) if existing_videos else None
        text = REMARKS[h % len(REMARKS)] + (" (edited)" if version else "")
        comment_snippet: dict[str, Any] = {
            "channelId": self.channel_id,
            "textDisplay": text,
            "textOriginal": text,
            "authorDisplayName": author,
            "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/{author_channel}=s48",
            "authorChannelUrl": f"http://www.youtube.com/channel/{author_channel}",
            "authorChannelId": {"value": author_channel},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": (h >> 6) % 40 + version,
            "publishedAt": rfc3339(created),
            "updatedAt": rfc3339(ds.updated_at(index)),
        }
        snippet: dict[str, Any] = {"channelId": self.channel_id}
        if video_id:
            comment_snippet["videoId"] = video_id
            snippet["videoId"] = video_id
        thread_id = self.thread_id(index)
        snippet.update(
            {
                "topLevelComment": {
                    "kind": "youtube#comment",
                    "etag": self.etag(ds, index),
                    "id": thread_id,
                    "snippet": comment_snippet,
                },
                "canReply": True,
                "totalReplyCount": (h >> 10) % 4,
                "isPublic": True,
            }
        )
        item: dict[str, Any] = {
            "kind": "youtube#commentThread",
            "etag": self.etag(ds, index),
            "id": thread_id,
        }
        if "snippet" in parts:
            item["snippet"] = snippet
        return item

    def is_public_subscriber(self, index: int) -> bool:
        # Only subscribers who made their subscriptions public are listed by the API.
        return self.subscribers.hash(index, 5) % 10 < 8

    def subscription(self, index: int, parts: set[str]) -> dict[str, Any]:
        ds = self.subscribers
        name, channel = self.person_channel(ds, index)
        version = ds.record_version(index)
        if version:
            name = f"{name} {['Studio', 'Vlogs', 'Official'][version % 3]}"
        item: dict[str, Any] = {
            "kind": "youtube#subscription",
            "etag": self.etag(ds, index),
            "id": self.subscription_id(index),
        }
        if "snippet" in parts:
            item["snippet"] = {
                "publishedAt": rfc3339(ds.created_at(index)),
                "title": CHANNEL_TITLE,
                "description": "Coffee, brewed slowly.",
                "resourceId": {"kind": "youtube#channel", "channelId": self.channel_id},
                "channelId": channel,
                "thumbnails": thumbnails(f"https://yt3.ggpht.com/{self.channel_id}"),
            }
        if "subscriberSnippet" in parts:
            item["subscriberSnippet"] = {
                "title": name,
                "description": "",
                "channelId": channel,
                "thumbnails": thumbnails(f"https://yt3.ggpht.com/{channel}"),
            }
        if "contentDetails" in parts:
            item["contentDetails"] = {"totalItemCount": 0, "newItemCount": 0, "activityType": "all"}
        return item

    # --- errors in Google's format ---------------------------------------------------------

    def google_error(
        self, status: int, message: str, reason: str, domain: str = "global", **extra: Any
    ) -> Response:
        # The first entry of `errors` may carry a shorter message than the top level.
        short = extra.pop("short", message)
        detail: dict[str, Any] = {"message": short, "domain": domain, "reason": reason, **extra}
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [detail],
                "status": GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        }
        return json_response(body, status)

    def authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and bool(auth[7:].strip())

    def error(self, status: int, message: str, **extra: Any) -> Response:
        if status == 401 and message.startswith("missing"):
            return self.google_error(
                401,
                LOGIN_REQUIRED,
                "required",
                short="Login Required.",
                location="Authorization",
                locationType="header",
            )
        reason = extra.pop(
            "reason",
            {
                400: "badRequest",
                401: "authError",
                403: "forbidden",
                404: "notFound",
                405: "methodNotAllowed",
            }.get(status, "backendError"),
        )
        domain = extra.pop("domain", "global")
        return self.google_error(status, message, reason, domain, **extra)

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 403))
        if status == 401:
            # What Google answers once a refresh token or access token has been revoked.
            body = {
                "error": {
                    "code": 401,
                    "message": INVALID_CREDENTIALS,
                    "errors": [
                        {
                            "message": "Invalid Credentials",
                            "domain": "global",
                            "reason": "authError",
                            "location": "Authorization",
                            "locationType": "header",
                        }
                    ],
                    "status": "UNAUTHENTICATED",
                }
            }
            return json_response(body, 401)
        reason = fault.get("reason", "authenticatedUserAccountSuspended")
        return self.google_error(
            403,
            LOCKOUTS.get(reason, "Access forbidden."),
            reason,
            "youtube.header" if reason in LOCKOUTS else "global",
        )

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        if fault.get("reason") == "quotaExceeded":
            # The daily quota: a 403 that no retry fixes before midnight Pacific time.
            return self.google_error(403, QUOTA_EXCEEDED, "quotaExceeded", "youtube.quota")
        response = self.google_error(
            429, "Resource has been exhausted (e.g. check quota).", "rateLimitExceeded"
        )
        response.headers["Retry-After"] = str(fault.get("retry_after", 1))
        return response

    def outage(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 503))
        if status == 503:
            return self.google_error(503, "The service is currently unavailable.", "backendError")
        return self.google_error(status, "Internal error encountered.", "backendError")

    # --- requests -------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        try:
            parts = request.path.strip("/").split("/")
            if len(parts) != 3 or parts[:2] != ["youtube", "v3"]:
                raise BadRequest(404, f"Method not found: {request.path}", reason="notFound")
            if request.method != "GET":
                raise BadRequest(405, f"Method {request.method} not allowed here.")
            handler: Callable[[Request], Response] | None = {
                "channels": self.list_channels,
                "playlistItems": self.list_playlist_items,
                "videos": self.list_videos,
                "commentThreads": self.list_comment_threads,
                "subscriptions": self.list_subscriptions,
            }.get(parts[2])
            if handler is None:
                raise BadRequest(404, f"Method not found: {request.path}", reason="notFound")
            return handler(request)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)

    def _parts(self, request: Request) -> set[str]:
        raw = request.arg("part")
        if not raw:
            raise BadRequest(
                400,
                "Required parameter: part",
                reason="required",
                location="part",
                locationType="parameter",
            )
        return {p.strip() for p in raw.split(",") if p.strip()}

    def _max_results(self, request: Request, method: str) -> int:
        low, high, default = MAX_RESULTS[method]
        raw = request.arg("maxResults")
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise BadRequest(
                400,
                f"Invalid value '{raw}'. Values must be within the range: [{low}, {high}]",
                reason="invalidParameter",
                location="maxResults",
                locationType="parameter",
            )
        return int(raw)

    def _token(self, kind: str, index: int) -> str:
        return base64.urlsafe_b64encode(f"{kind}:{index}".encode()).decode().rstrip("=")

    def _from_token(self, request: Request, kind: str) -> int | None:
        raw = request.arg("pageToken")
        if not raw:
            return None
        try:
            decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            prefix, _, number = decoded.partition(":")
            if prefix != kind or not number.isdigit():
                raise ValueError(raw)
            return int(number)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(
                400,
                "The request specifies an invalid page token.",
                reason="invalidPageToken",
                location="pageToken",
                locationType="parameter",
            ) from None

    def _scan(
        self, start: int, stop: int, step: int, limit: int, visible: Callable[[int], bool]
    ) -> tuple[list[int], int | None]:
        """Up to `limit` visible indices from `start` toward `stop`, and the next page's start."""
        picked: list[int] = []
        i = start
        while i != stop:
            if visible(i):
                if len(picked) == limit:
                    return picked, i
                picked.append(i)
            i += step
        return picked, None

    def _envelope(
        self,
        kind: str,
        items: list[dict[str, Any]],
        total: int,
        per_page: int,
        next_token: str | None,
    ) -> Response:
        etag = chars(mix(self.seed, self.clock.now(), len(items)), 27)
        body: dict[str, Any] = {"kind": kind, "etag": etag}
        if next_token:
            body["nextPageToken"] = next_token
        body["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
        body["items"] = items
        return json_response(body)

    def live_count(self, ds: Dataset) -> int:
        return ds.count_at(self.clock.now()) - len(ds.deleted)

    def list_channels(self, request: Request) -> Response:
        parts = self._parts(request)
        if request.arg("mine") != "true" and request.arg("id") != self.channel_id:
            raise BadRequest(
                400,
                "No filter selected. Expected one of: forHandle, forUsername, "
                "managedByMe, id, mine, mySubscribers, categoryId",
                reason="missingRequiredParameter",
                domain="youtube.parameter",
            )
        self._max_results(request, "channels")
        item: dict[str, Any] = {
            "kind": "youtube#channel",
            "etag": chars(self.seed, 27),
            "id": self.channel_id,
        }
        if "snippet" in parts:
            item["snippet"] = {
                "title": CHANNEL_TITLE,
                "description": "Coffee, brewed slowly.",
                "customUrl": "@lifeboatcoffee",
                "publishedAt": rfc3339(self.clock.start - 3 * 365 * 86_400),
                "thumbnails": thumbnails(f"https://yt3.ggpht.com/{self.channel_id}"),
                "country": "US",
            }
        if "contentDetails" in parts:
            item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": self.uploads_id}}
        if "statistics" in parts:
            item["statistics"] = {
                "viewCount": str(self.live_count(self.videos) * 4_000),
                "subscriberCount": str(self.live_count(self.subscribers)),
                "hiddenSubscriberCount": False,
                "videoCount": str(self.live_count(self.videos)),
            }
        return self._envelope("youtube#channelListResponse", [item], 1, 5, None)

    def _deleted_before(self, ds: Dataset) -> list[int]:
        cached = self._deleted_sorted.get(ds.name)
        if cached is None or cached[0] != len(ds.deleted):
            cached = (len(ds.deleted), sorted(ds.deleted))
            self._deleted_sorted[ds.name] = cached
        return cached[1]

    def list_playlist_items(self, request: Request) -> Response:
        parts = self._parts(request)
        playlist = request.arg("playlistId")
        if not playlist:
            raise BadRequest(
                400,
                "No filter selected. Expected one of: id, playlistId",
                reason="missingRequiredParameter",
                domain="youtube.parameter",
            )
        if playlist != self.uploads_id:
            raise BadRequest(
                404,
                "The playlist identified with the request's <code>playlistId"
                "</code> parameter cannot be found.",
                reason="playlistNotFound",
                domain="youtube.playlistItem",
                location="playlistId",
                locationType="parameter",
            )
        limit = self._max_results(request, "playlistItems")
        ds = self.videos
        count = ds.count_at(self.clock.now())
        start = self._from_token(request, "playlistItems")
        start = count - 1 if start is None else min(start, count - 1)

        def visible(i: int) -> bool:
            return not ds.is_deleted(i) and request.keeps(ds, i)

        indices, following = self._scan(start, -1, -1, limit, visible) if limit else ([], None)
        deleted = self._deleted_before(ds)
        # The uploads playlist is newest first: position 0 is the latest live upload.
        items = [
            self.playlist_item(
                i, parts, count - 1 - i - (len(deleted) - bisect.bisect_right(deleted, i))
            )
            for i in indices
        ]
        self.count_served("playlist_items", len(items))
        token = self._token("playlistItems", following) if following is not None else None
        return self._envelope(
            "youtube#playlistItemListResponse", items, self.live_count(ds), limit, token
        )

    def list_videos(self, request: Request) -> Response:
        parts = self._parts(request)
        raw = request.arg("id")
        if raw is None:
            raise BadRequest(
                400,
                "No filter selected. Expected one of: chart, id, myRating",
                reason="missingRequiredParameter",
                domain="youtube.parameter",
            )
        ids = [v for v in raw.split(",") if v]
        if len(ids) > MAX_VIDEO_IDS:
            raise BadRequest(
                400,
                f"Invalid value '{len(ids)}' for id: at most {MAX_VIDEO_IDS} "
                "video ids are allowed per request.",
                reason="invalidParameter",
                location="id",
                locationType="parameter",
            )
        items = []
        for video_id in ids:
            # Unknown and deleted videos are left out of the answer, not reported as errors.
            index = self.video_index(video_id)
            if index is not None and not self.videos.is_deleted(index):
                items.append(self.video(index, parts))
        self.count_served("videos", len(items))
        return self._envelope("youtube#videoListResponse", items, len(items), len(items), None)

    def list_comment_threads(self, request: Request) -> Response:
        parts = self._parts(request)
        channel = request.arg("allThreadsRelatedToChannelId")
        if channel is None:
            raise BadRequest(
                400,
                "No filter selected. Expected one of: "
                "allThreadsRelatedToChannelId, id, videoId (this emulator serves "
                "allThreadsRelatedToChannelId)",
                reason="missingRequiredParameter",
                domain="youtube.parameter",
            )
        if channel != self.channel_id:
            raise BadRequest(
                404,
                "The channel identified by the <code>"
                "allThreadsRelatedToChannelId</code> parameter could not be found.",
                reason="channelNotFound",
                domain="youtube.commentThread",
                location="allThreadsRelatedToChannelId",
                locationType="parameter",
            )
        order = request.arg("order", "time")
        if order not in ("time", "relevance"):
            raise BadRequest(
                400,
                f"Invalid value '{order}'. Values must be one of: relevance, time",
                reason="invalidParameter",
                location="order",
                locationType="parameter",
            )
        limit = self._max_results(request, "commentThreads")
        ds = self.comments
        count = ds.count_at(self.clock.now())
        start = self._from_token(request, "commentThreads")
        start = count - 1 if start is None else min(start, count - 1)

        def visible(i: int) -> bool:
            return not ds.is_deleted(i) and request.keeps(ds, i)

        # Newest thread first, by the time its top-level comment was posted.
        indices, following = self._scan(start, -1, -1, limit, visible)
        items = [self.comment_thread(i, parts) for i in indices]
        self.count_served("comments", len(items))
        token = self._token("commentThreads", following) if following is not None else None
        return self._envelope(
            "youtube#commentThreadListResponse", items, self.live_count(ds), limit, token
        )

    def list_subscriptions(self, request: Request) -> Response:
        parts = self._parts(request)
        recent = request.arg("myRecentSubscribers") == "true"
        if request.arg("mySubscribers") != "true" and not recent:
            raise BadRequest(
                400,
                "No filter selected. Expected one of: channelId, id, mine, "
                "myRecentSubscribers, mySubscribers (this emulator serves "
                "mySubscribers and myRecentSubscribers)",
                reason="missingRequiredParameter",
                domain="youtube.parameter",
            )
        limit = self._max_results(request, "subscriptions")
        ds = self.subscribers
        count = ds.count_at(self.clock.now())
        kind = "recent" if recent else "subscribers"
        start = self._from_token(request, kind)

        def visible(i: int) -> bool:
            return not ds.is_deleted(i) and self.is_public_subscriber(i) and request.keeps(ds, i)

        if recent:
            # myRecentSubscribers: newest first.
            start = count - 1 if start is None else min(start, count - 1)
            indices, following = self._scan(start, -1, -1, limit, visible) if limit else ([], None)
        else:
            # mySubscribers promises no order; this emulator answers oldest first.
            start = 0 if start is None else start
            indices, following = (
                self._scan(start, count, 1, limit, visible)
                if limit and start < count
                else ([], None)
            )
        items = [self.subscription(i, parts) for i in indices]
        self.count_served("subscribers", len(items))
        token = self._token(kind, following) if following is not None else None
        # totalResults is documented as approximate; a share of subscribers is private.
        total = self.live_count(ds) * 8 // 10
        return self._envelope("youtube#subscriptionListResponse", items, total, limit, token)

"""The seeded channel: ids, videos, playlist items, comment threads and subscriptions.

Every record is built on demand from a seeded hash of its index, so a listing at any scale
costs only the records on the page.
"""

from __future__ import annotations

import html
import time
from typing import Any

from emulators.core import Clock, Dataset, mix, name_code
from emulators.names import person
from emulators.youtube.ids import Ids, chars

# One channel per emulator: the one the OAuth token belongs to.
CHANNEL_TITLE = "Lifeboat Coffee Roasters"
CHANNEL_HANDLE = "@lifeboatcoffee"
CHANNEL_DESCRIPTION = "Coffee, brewed slowly."
CATEGORY_ID = "26"  # Howto & Style
# Stripe's default number of customers (emulators/stripe.py); commenters and subscribers are
# drawn partly from them so continuity work can match people across vendors by name.
STRIPE_CUSTOMERS_DEFAULT = 200
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
# Some remarks carry characters that textFormat=html escapes, as YouTube does.
REMARKS = [
    "Great tip, thank you!",
    "What grinder do you use?",
    "Tried this today and loved it.",
    "Can you do a video on decaf?",
    "The music is too loud.",
    "Ordered a bag, arrives Friday!",
    "This changed my mornings & my afternoons.",
    "Which beans are in the thumbnail? Can't tell.",
]
REPLIES = ["Thanks!", "Agreed.", "Same here.", "A Baratza Encore."]


def rfc3339(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def thumbnails(url: str) -> dict[str, Any]:
    return {
        "default": {"url": f"{url}/default.jpg", "width": 120, "height": 90},
        "medium": {"url": f"{url}/mqdefault.jpg", "width": 320, "height": 180},
        "high": {"url": f"{url}/hqdefault.jpg", "width": 480, "height": 360},
    }


class Records(Ids):
    """The resources of the channel, each built from its record's seeded hash."""

    customers: Dataset
    customer_count: int
    seed: int

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

    def channel(self, parts: set[str], live_videos: int, live_subscribers: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            "kind": "youtube#channel",
            "etag": chars(self.seed, 27),
            "id": self.channel_id,
        }
        if "snippet" in parts:
            item["snippet"] = {
                "title": CHANNEL_TITLE,
                "description": CHANNEL_DESCRIPTION,
                "customUrl": CHANNEL_HANDLE,
                "publishedAt": rfc3339(self.clock.start - 3 * 365 * 86_400),
                "thumbnails": thumbnails(f"https://yt3.ggpht.com/{self.channel_id}"),
                "localized": {"title": CHANNEL_TITLE, "description": CHANNEL_DESCRIPTION},
                "country": "US",
            }
        if "contentDetails" in parts:
            item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": self.uploads_id}}
        if "statistics" in parts:
            item["statistics"] = {
                "viewCount": str(live_videos * 4_000),
                "subscriberCount": str(live_subscribers),
                "hiddenSubscriberCount": False,
                "videoCount": str(live_videos),
            }
        if "status" in parts:
            item["status"] = {
                "privacyStatus": "public",
                "isLinked": True,
                "longUploadsStatus": "allowed",
                "madeForKids": False,
            }
        if "brandingSettings" in parts:
            item["brandingSettings"] = {
                "channel": {"title": CHANNEL_TITLE, "description": CHANNEL_DESCRIPTION}
            }
        if "contentOwnerDetails" in parts:
            item["contentOwnerDetails"] = {}  # the channel is not linked to a content owner
        return item

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

    def video(self, index: int, parts: set[str], embed: tuple[int, int] = (480, 270)) -> dict:
        ds = self.videos
        h = ds.hash(index, 4)
        video_id = self.video_id(index)
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
                "categoryId": CATEGORY_ID,
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
            views = 50 + h % 20_000 + ds.record_version(index) * (h % 3_000 + 100)
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
        item.update(self.video_extras(index, parts, embed))
        return item

    def video_extras(self, index: int, parts: set[str], embed: tuple[int, int]) -> dict:
        """The rarer video parts; the ones a video has nothing for are left out, as YouTube does."""
        extras: dict[str, Any] = {}
        video_id = self.video_id(index)
        if "player" in parts:
            width, height = embed
            extras["player"] = {
                "embedHtml": f'<iframe width="{width}" height="{height}" src="//www.youtube.com/'
                f'embed/{video_id}" frameborder="0" allowfullscreen></iframe>',
            }
        if "recordingDetails" in parts:
            extras["recordingDetails"] = {}
        if "paidProductPlacementDetails" in parts:
            extras["paidProductPlacementDetails"] = {"hasPaidProductPlacement": False}
        if "processingDetails" in parts:
            extras["processingDetails"] = {"processingStatus": "succeeded"}
        if "fileDetails" in parts:
            extras["fileDetails"] = {"fileName": f"{video_id}.mp4", "fileType": "video"}
        return extras

    def comment(
        self, index: int, reply: int | None, html_text: bool, video_id: str | None
    ) -> dict[str, Any]:
        """A thread's top-level comment (reply=None) or one of its replies."""
        ds = self.comments
        h = ds.hash(index, 4 if reply is None else 20 + reply)
        version = ds.record_version(index) if reply is None else 0
        author, author_channel = self.person_channel(ds, index if reply is None else h)
        lines = REPLIES if reply is not None else REMARKS
        text = lines[h % len(lines)] + (" (edited)" if version else "")
        snippet: dict[str, Any] = {
            "channelId": self.channel_id,
            "textDisplay": as_html(text) if html_text else text,
            "textOriginal": text,
            "authorDisplayName": author,
            "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/{author_channel}=s48",
            "authorChannelUrl": f"http://www.youtube.com/channel/{author_channel}",
            "authorChannelId": {"value": author_channel},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": (h >> 6) % 40 + version,
            "publishedAt": rfc3339(ds.created_at(index) + (0 if reply is None else reply + 60)),
            "updatedAt": rfc3339(ds.updated_at(index) + (0 if reply is None else reply + 60)),
        }
        if video_id:
            snippet["videoId"] = video_id
        thread_id = self.thread_id(index)
        if reply is not None:
            snippet["parentId"] = thread_id
        return {
            "kind": "youtube#comment",
            "etag": self.etag(ds, index),
            "id": thread_id if reply is None else f"{thread_id}.{chars(h, 22)}",
            "snippet": snippet,
        }

    def thread_video(self, index: int) -> str | None:
        """The video a thread is about; threads from before the first upload are on the channel."""
        existing = self.videos.count_at(self.comments.created_at(index))
        return self.video_id(self.comments.hash(index, 4) % existing) if existing else None

    def comment_thread(self, index: int, parts: set[str], html_text: bool) -> dict[str, Any]:
        ds = self.comments
        h = ds.hash(index, 4)
        video_id = self.thread_video(index)
        replies = (h >> 10) % 4
        item: dict[str, Any] = {
            "kind": "youtube#commentThread",
            "etag": self.etag(ds, index),
            "id": self.thread_id(index),
        }
        if "snippet" in parts:
            snippet: dict[str, Any] = {"channelId": self.channel_id}
            if video_id:
                snippet["videoId"] = video_id
            snippet["topLevelComment"] = self.comment(index, None, html_text, video_id)
            snippet.update({"canReply": True, "totalReplyCount": replies, "isPublic": True})
            item["snippet"] = snippet
        if "replies" in parts and replies:
            item["replies"] = {
                "comments": [self.comment(index, n, html_text, video_id) for n in range(replies)]
            }
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
                "description": CHANNEL_DESCRIPTION,
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


def customers(seed: int, clock: Clock) -> Dataset:
    """Stripe's customers under the same seed, only to name people consistently."""
    return Dataset("customers", seed, clock.start, 0)


def channel_id(seed: int) -> str:
    return "UC" + chars(mix(seed, name_code("channel")), 22)


def as_html(text: str) -> str:
    """A comment as textFormat=html shows it: escaped the way YouTube escapes (&#39;)."""
    return html.escape(text).replace("&#x27;", "&#39;")

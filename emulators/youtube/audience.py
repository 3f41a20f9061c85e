"""The audience's list methods: comment threads and subscriptions, with every filter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulators.core import BadRequest, Dataset, Request
from emulators.youtube import params
from emulators.youtube.data import REMARKS
from emulators.youtube.params import listed

Body = dict[str, Any]
SUBSCRIPTION_FORBIDDEN = "The requester is not allowed to access the requested subscriptions."


class Audience:
    """commentThreads.list and subscriptions.list."""

    channel_id: str
    comments: Dataset
    subscribers: Dataset
    one_filter: Callable[..., str]
    no_paging_with_ids: Callable[..., None]
    max_results: Callable[..., int]
    newest_first: Callable[..., tuple[list[int], str | None]]
    envelope: Callable[..., Body]
    count_served: Callable[[str, int], None]

    def thread_filter(self, request: Request, how: str) -> Callable[[int], bool]:
        """Which threads the filter, moderationStatus and searchTerms leave in the listing."""
        ds = self.comments
        value = request.arg(how) or ""
        if how == "allThreadsRelatedToChannelId" or how == "channelId":
            if value != self.channel_id:
                raise BadRequest(
                    404,
                    f"The channel identified by the <code>{how}</code> parameter could not be "
                    "found.",
                    reason="channelNotFound",
                    domain="youtube.commentThread",
                    location=how,
                    locationType="parameter",
                )
        elif self.video_index(value) is None:
            raise BadRequest(
                404,
                "The video identified by the <code>videoId</code> parameter could not be found.",
                reason="videoNotFound",
                domain="youtube.commentThread",
                location="videoId",
                locationType="parameter",
            )
        # Every comment on the emulated channel is published: none is held for review.
        published = request.arg("moderationStatus", "published") == "published"
        terms = (request.arg("searchTerms") or "").lower()

        def visible(i: int) -> bool:
            if not published or ds.is_deleted(i) or not request.keeps(ds, i):
                return False
            if how == "channelId" and self.thread_video(i) is not None:
                return False  # channelId: comments about the channel, not its videos
            if how == "videoId" and self.thread_video(i) != value:
                return False
            return not terms or terms in REMARKS[ds.hash(i, 4) % len(REMARKS)].lower()

        return visible

    def list_comment_threads(self, request: Request) -> Body:
        parts = params.parts(request, "commentThreads")
        how = self.one_filter(request, "commentThreads")
        html_text = request.arg("textFormat", "html") != "plainText"
        ds = self.comments
        if how == "id":
            self.no_paging_with_ids(request, ("order", "searchTerms", "moderationStatus"))
            found = (self.thread_index(v) for v in listed(request, "id"))
            indices, token = [i for i in found if i is not None], None
            limit = len(indices)
        else:
            limit = self.max_results(request, "commentThreads")
            visible = self.thread_filter(request, how)
            # order=time (the default) is newest first. order=relevance is documented only as
            # "by relevance": the emulator has no signal for it and keeps time order.
            indices, token = self.newest_first(request, "commentThreads", ds, limit, visible)
        items = [self.comment_thread(i, parts, html_text) for i in indices]
        self.count_served("comments", len(items))
        total = self.live_count(ds) if how == "allThreadsRelatedToChannelId" else len(items)
        return self.envelope("youtube#commentThreadListResponse", items, total, limit, token)

    def list_subscriptions(self, request: Request) -> Body:
        parts = params.parts(request, "subscriptions")
        how = self.one_filter(request, "subscriptions")
        limit = self.max_results(request, "subscriptions")
        ds = self.subscribers
        wanted = listed(request, "forChannelId")
        ours = not wanted or self.channel_id in wanted

        def visible(i: int) -> bool:
            return (
                ours
                and not ds.is_deleted(i)
                and self.is_public_subscriber(i)
                and request.keeps(ds, i)
            )

        if how == "id":
            self.no_paging_with_ids(request)
            found = (self.subscription_index(v) for v in listed(request, "id"))
            indices, token = [i for i in found if i is not None and visible(i)], None
        elif how == "myRecentSubscribers":
            indices, token = self.newest_first(request, "recent", ds, limit, visible)
        elif how == "mySubscribers":
            # Documented as in no particular order; this emulator answers oldest first.
            indices, token = self.oldest_first(request, ds, limit, visible)
        elif how == "channelId" and request.arg("channelId") != self.channel_id:
            raise BadRequest(
                403,
                SUBSCRIPTION_FORBIDDEN,
                reason="subscriptionForbidden",
                domain="youtube.subscription",
            )
        else:
            indices, token = [], None  # mine / own channelId: the channel subscribes to no one
        items = [self.subscription(i, parts) for i in indices]
        self.count_served("subscribers", len(items))
        # totalResults is documented as approximate; a share of subscribers is private.
        total = (
            self.live_count(ds) * 8 // 10 if how.startswith("my") and how != "mine" else len(items)
        )
        return self.envelope("youtube#subscriptionListResponse", items, total, limit, token)

    def oldest_first(
        self, request: Request, ds: Dataset, limit: int, visible: Callable[[int], bool]
    ) -> tuple[list[int], str | None]:
        count = ds.count_at(self.clock.now())
        start = self.from_token(request, "subscribers")
        start = 0 if start is None else start
        if not limit or start >= count:
            return [], None
        indices, following = self.scan(start, count, 1, limit, visible)
        return indices, self.token("subscribers", following) if following is not None else None

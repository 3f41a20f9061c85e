"""The handlers of the five list methods served, each honouring every documented filter."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from emulators.core import BadRequest, Clock, Dataset, Request
from emulators.youtube import params
from emulators.youtube.data import CATEGORY_ID, CHANNEL_HANDLE
from emulators.youtube.params import listed

Body = dict[str, Any]


class Listings:
    """channels, playlistItems, videos, commentThreads and subscriptions `list`."""

    clock: Clock
    channel_id: str
    uploads_id: str
    videos: Dataset
    comments: Dataset
    subscribers: Dataset
    _deleted_sorted: dict[str, tuple[int, list[int]]]
    # From Routes, Records and VendorApp (the App class combines them).
    one_filter: Callable[..., str]
    no_paging_with_ids: Callable[..., None]
    max_results: Callable[..., int]
    newest_first: Callable[..., tuple[list[int], str | None]]
    envelope: Callable[..., Body]
    scan: Callable[..., tuple[list[int], int | None]]
    from_token: Callable[..., int | None]
    token: Callable[..., str]
    count_served: Callable[[str, int], None]

    def live_count(self, ds: Dataset) -> int:
        return ds.count_at(self.clock.now()) - len(ds.deleted)

    def list_channels(self, request: Request) -> Body:
        parts = params.parts(request, "channels")
        how = self.one_filter(request, "channels")
        limit = self.max_results(request, "channels")
        if request.arg("pageToken"):
            self.from_token(request, "channels")  # the listing is one page: no token is valid
        if how == "mine":
            mine = True
        elif how == "id":
            mine = self.channel_id in listed(request, "id")
        elif how == "forHandle":
            handle = (request.arg("forHandle") or "").lower()
            mine = handle in (CHANNEL_HANDLE, CHANNEL_HANDLE[1:])
        elif how == "managedByMe":
            raise BadRequest(403, "managedByMe needs onBehalfOfContentOwner.", reason="forbidden")
        else:
            # forUsername (the channel has no legacy username), categoryId and mySubscribers
            # (both deprecated) match no channel.
            mine = False
        items = [
            self.channel(parts, self.live_count(self.videos), self.live_count(self.subscribers))
        ]
        items = items[:limit] if mine else []
        return self.envelope("youtube#channelListResponse", items, len(items), limit, None)

    def _deleted_before(self, ds: Dataset) -> list[int]:
        cached = self._deleted_sorted.get(ds.name)
        if cached is None or cached[0] != len(ds.deleted):
            cached = (len(ds.deleted), sorted(ds.deleted))
            self._deleted_sorted[ds.name] = cached
        return cached[1]

    def position(self, index: int) -> int:
        """Where a live upload stands in the uploads playlist (0 is the latest)."""
        deleted = self._deleted_before(self.videos)
        newer = self.videos.count_at(self.clock.now()) - 1 - index
        return newer - (len(deleted) - bisect.bisect_right(deleted, index))

    def list_playlist_items(self, request: Request) -> Body:
        parts = params.parts(request, "playlistItems")
        how = self.one_filter(request, "playlistItems")
        limit = self.max_results(request, "playlistItems")
        ds = self.videos
        if how == "id":
            self.no_paging_with_ids(request)
            found = (self.playlist_item_index(v) for v in listed(request, "id"))
            indices, token = [i for i in found if i is not None], None
        else:
            if request.arg("playlistId") != self.uploads_id:
                raise not_found_playlist()
            only = request.arg("videoId")
            wanted = self.video_index(only) if only else None

            def visible(i: int) -> bool:
                if only is not None and i != wanted:
                    return False
                return not ds.is_deleted(i) and request.keeps(ds, i)

            indices, token = self.newest_first(request, "playlistItems", ds, limit, visible)
        items = [self.playlist_item(i, parts, self.position(i)) for i in indices]
        self.count_served("playlist_items", len(items))
        total = (
            self.live_count(ds)
            if how == "playlistId" and not request.arg("videoId")
            else len(items)
        )
        return self.envelope("youtube#playlistItemListResponse", items, total, limit, token)

    def list_videos(self, request: Request) -> Body:
        parts = params.parts(request, "videos")
        how = self.one_filter(request, "videos")
        embed = (int(request.arg("maxWidth") or 480), int(request.arg("maxHeight") or 270))
        if how == "id":
            self.no_paging_with_ids(request)
            ids = listed(request, "id")
            if len(ids) > 50:
                raise BadRequest(
                    400,
                    f"Invalid value '{len(ids)}' for id: at most 50 video ids per request.",
                    reason="invalidParameter",
                    location="id",
                    locationType="parameter",
                )
            # Unknown and deleted videos are left out of the answer, not reported as errors.
            found = (self.video_index(v) for v in ids)
            indices, token = [i for i in found if i is not None], None
            limit = len(indices)
        else:
            limit = self.max_results(request, "videos")
            if how == "chart" and request.arg("chart") != "mostPopular":
                raise params.bad_value("chart", params.METHODS["videos"]["chart"], "")
            # The emulated YouTube holds only this channel: its chart is its uploads, newest
            # first; the owner has rated none of them (myRating lists nothing).
            category = request.arg("videoCategoryId")
            charted = how == "chart" and category in (None, "", "0", CATEGORY_ID)
            ds = self.videos

            def visible(i: int) -> bool:
                return charted and not ds.is_deleted(i)

            indices, token = self.newest_first(request, "videos", ds, limit, visible)
        items = [self.video(i, parts, embed) for i in indices]
        self.count_served("videos", len(items))
        return self.envelope("youtube#videoListResponse", items, len(items), limit, token)


def not_found_playlist() -> BadRequest:
    return BadRequest(
        404,
        "The playlist identified with the request's <code>playlistId</code> parameter "
        "cannot be found.",
        reason="playlistNotFound",
        domain="youtube.playlistItem",
        location="playlistId",
        locationType="parameter",
    )

"""YouTube Data API v3 emulator: the channel's uploads, videos, comment threads, subscribers."""

from __future__ import annotations

from emulators.core import VendorApp
from emulators.youtube.audience import Audience
from emulators.youtube.data import STRIPE_CUSTOMERS_DEFAULT, Records, channel_id, customers
from emulators.youtube.faults import DAILY_QUOTA_UNITS, QUOTA_OPTION, GoogleErrors, Quota
from emulators.youtube.listings import Listings
from emulators.youtube.routes import Routes


class App(GoogleErrors, Routes, Listings, Audience, Records, VendorApp):
    name = "youtube"

    def setup(self) -> None:
        super().setup()
        self.videos = self.dataset(
            "videos", 300, created_per_day=0.5, updated_per_day=0.02, deleted_per_day=0.0005
        )
        self.comments = self.dataset(
            "comments", 3000, created_per_day=40, updated_per_day=0.002, deleted_per_day=0.001
        )
        self.subscribers = self.dataset(
            "subscribers", 1500, created_per_day=8, updated_per_day=0.001, deleted_per_day=0.002
        )
        self.customers = customers(self.seed, self.clock)
        self.customer_count = self.scale.get("stripe.customers", STRIPE_CUSTOMERS_DEFAULT)
        self.channel_id = channel_id(self.seed)
        self.uploads_id = "UU" + self.channel_id[2:]
        self.quota = Quota(self.scale.get(QUOTA_OPTION, DAILY_QUOTA_UNITS))
        self._deleted_sorted: dict[str, tuple[int, list[int]]] = {}
        self.handlers = {
            "channels": self.list_channels,
            "playlistItems": self.list_playlist_items,
            "videos": self.list_videos,
            "commentThreads": self.list_comment_threads,
            "subscriptions": self.list_subscriptions,
        }


__all__ = ["App"]

"""YouTube's ids for the emulated records, and the way back from an id to its record."""

from __future__ import annotations

import base64
from typing import Any

from emulators.core import Clock, Dataset, mix

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


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


def unscramble(text: str) -> int | None:
    if len(text) != 6 or any(c not in B64 for c in text):
        return None
    return ((un_b64(text) - 0x5BD1E995) * SCRAMBLE_INV) % (1 << SCRAMBLE_BITS)


class Ids:
    """Ids of the channel's records, and the way back from an id to its record's index."""

    videos: Dataset
    comments: Dataset
    subscribers: Dataset
    clock: Clock
    channel_id: str
    uploads_id: str

    def video_id(self, index: int) -> str:
        return b64(self.videos.hash(index, 2), 5) + scramble(index)

    def video_index(self, value: str) -> int | None:
        return self._index(self.videos, value, 5, self.video_id)

    def playlist_item_id(self, index: int) -> str:
        raw = f"{self.uploads_id}.{self.video_id(index)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def playlist_item_index(self, value: str) -> int | None:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        playlist, _, video = raw.partition(".")
        return self.video_index(video) if playlist == self.uploads_id else None

    def thread_id(self, index: int) -> str:
        return "Ugz" + chars(self.comments.hash(index, 2), 12) + scramble(index) + "4AaABAg"

    def thread_index(self, value: str) -> int | None:
        return self._index(self.comments, value, 15, self.thread_id)

    def subscription_id(self, index: int) -> str:
        return chars(self.subscribers.hash(index, 2), 37) + scramble(index)

    def subscription_index(self, value: str) -> int | None:
        return self._index(self.subscribers, value, 37, self.subscription_id)

    def _index(self, ds: Dataset, value: str, at: int, make: Any) -> int | None:
        """The live record an id names, or None (unknown, deleted or not yet created)."""
        index = unscramble(value[at : at + 6])
        if index is None or index >= ds.count_at(self.clock.now()) or make(index) != value:
            return None
        return None if ds.is_deleted(index) else index

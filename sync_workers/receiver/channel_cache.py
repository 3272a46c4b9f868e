"""Push channels as the receiver verifies them, kept a few seconds per process.

Every Google notification names its channel; reading the row each time cost a PostgreSQL
round trip per request. A known channel is kept for TTL seconds (the token is still
checked on every request, against the cached hash). Unknown ids are never cached, so a
channel opened a moment ago is accepted at once and junk ids cannot fill the cache. A
channel stopped meanwhile may be accepted for up to TTL seconds: its notification only
causes a listing, which finds nothing new.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

from ..store import endpoints
from ..store.records import PushChannel

TTL_SECONDS = 10.0
MAX_CHANNELS = 10_000


class ChannelCache:
    def __init__(self, ttl: float = TTL_SECONDS, size: int = MAX_CHANNELS) -> None:
        self.ttl, self.size = ttl, size
        self._rows: OrderedDict[str, tuple[float, PushChannel]] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's gthread workers share it

    def get(self, channel_id: str) -> PushChannel | None:
        now = time.monotonic()
        with self._lock:
            cached = self._rows.get(channel_id)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
        channel = endpoints.get_push_channel(channel_id)
        if channel is not None:
            with self._lock:
                self._rows[channel_id] = (now, channel)
                self._rows.move_to_end(channel_id)
                while len(self._rows) > self.size:
                    self._rows.popitem(last=False)
        return channel

    def forget(self, channel_id: str) -> None:
        with self._lock:
            self._rows.pop(channel_id, None)

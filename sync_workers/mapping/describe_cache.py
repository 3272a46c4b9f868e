"""Salesforce describe results, cached per object for a while, shared by threads.

A describe changes only when an admin edits the org, so a TTL of minutes saves a call per
write. When Salesforce answers REQUIRED_FIELD_MISSING or INVALID_FIELD, the cached copy is
stale: call `invalidate(object_name)` and the next `get` fetches anew.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any, Callable

Describe = dict[str, Any]


class DescribeCache:
    def __init__(self, fetch: Callable[[str], Describe], ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Describe]] = {}
        self._generations: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()  # guards the dicts above, never held while fetching
        self._fetch_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def get(self, object_name: str) -> Describe:
        """The describe of `object_name`, fetched at most once per TTL: threads that miss
        together wait for one fetch instead of each making their own."""
        with self._lock:
            fresh = self._fresh(object_name)
            fetch_lock = self._fetch_locks[object_name]
        if fresh is not None:
            return fresh
        with fetch_lock:
            with self._lock:
                fresh = self._fresh(object_name)
                generation = self._generations[object_name]
            if fresh is not None:
                return fresh
            describe = self._fetch(object_name)
            with self._lock:
                # An invalidate() during the fetch means this answer may predate the change.
                if self._generations[object_name] == generation:
                    self._entries[object_name] = (self._clock(), describe)
            return describe

    def invalidate(self, object_name: str) -> None:
        with self._lock:
            self._entries.pop(object_name, None)
            self._generations[object_name] += 1

    def _fresh(self, object_name: str) -> Describe | None:
        entry = self._entries.get(object_name)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            return entry[1]
        return None

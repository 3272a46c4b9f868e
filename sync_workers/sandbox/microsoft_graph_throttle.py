"""Outlook's per-app, per-mailbox throttling: 4 concurrent requests, 10,000 per 10 minutes.

learn.microsoft.com/graph/throttling-limits ("Outlook service limits"). A request over
either limit is answered 429 with Retry-After and Graph's error body; the concurrency one
with the text real answers carry ("Application is over its MailboxConcurrency limit.",
code ApplicationThrottled). The gate is held from before the sandbox's own latency until
the answer is sent, so `state.set_latency("microsoft", ...)` makes requests overlap the
way slow real calls do. The request budget counts on the sandbox clock.
"""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

from .microsoft_graph_errors import throttled

CONCURRENCY_MESSAGE = "Application is over its MailboxConcurrency limit."
RATE_MESSAGE = "Application is over its MailboxRequests limit."


@dataclass
class Limits:
    concurrency: int = 4
    requests: int = 10_000
    window_s: float = 600.0
    retry_after_s: int = 1  # what a concurrency 429 advises


@dataclass
class Throttle:
    limits: Limits = field(default_factory=Limits)
    in_flight: dict[tuple[str, str], int] = field(default_factory=dict)
    recent: dict[tuple[str, str], deque] = field(default_factory=dict)
    rejected: list[dict[str, object]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, key: tuple[str, str], now: float) -> None:
        """Take a slot for (app, mailbox) or raise the 429."""
        with self._lock:
            limits = self.limits
            if self.in_flight.get(key, 0) >= limits.concurrency:
                self.rejected.append({"key": key, "limit": "concurrency", "at": now})
                raise throttled(limits.retry_after_s, CONCURRENCY_MESSAGE)
            times = self.recent.setdefault(key, deque())
            while times and times[0] <= now - limits.window_s:
                times.popleft()
            if len(times) >= limits.requests:
                wait = math.ceil(times[0] + limits.window_s - now)
                self.rejected.append({"key": key, "limit": "requests", "at": now})
                raise throttled(wait, RATE_MESSAGE)
            times.append(now)
            self.in_flight[key] = self.in_flight.get(key, 0) + 1

    def release(self, key: tuple[str, str]) -> None:
        with self._lock:
            left = self.in_flight.get(key, 0) - 1
            if left > 0:
                self.in_flight[key] = left
            else:
                self.in_flight.pop(key, None)

    def configure(self, **settings: object) -> Limits:
        with self._lock:
            for name, value in settings.items():
                if value is None:
                    continue
                if not hasattr(self.limits, name):
                    raise ValueError(f"unknown throttle setting {name!r}")
                setattr(self.limits, name, value)
            return self.limits

    def reset(self) -> None:
        with self._lock:
            self.recent.clear()
            self.rejected.clear()
            self.limits = Limits()


"""The retry policy: a small immutable value, pure functions, no sleeping here.

`next_delay(attempt, retry_after)` is exponential backoff with full jitter, capped, and
never earlier than the server asked. A wait the server asks for that is longer than the cap
is not squeezed into a countdown (the broker would re-deliver the task meanwhile): it is
reported by `TooLongWait` so the caller parks or dead-letters the work with the reason.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable


class TooLongWait(Exception):
    def __init__(self, wait: float, cap: float) -> None:
        super().__init__(f"server asked to wait {wait:.0f}s, longer than the {cap:.0f}s cap")
        self.wait, self.cap = wait, cap


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8  # runs in all, the first one included
    base_delay: float = 2.0
    max_delay: float = 600.0
    jitter: bool = True
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("RetryPolicy needs max_attempts >= 1 and 0 <= base <= max delay")

    def backoff(self, attempt: int) -> float:
        """Delay before run `attempt + 1`, where `attempt` runs (>= 1) have failed."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return ceiling * self.rng() if self.jitter else ceiling

    def next_delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None and retry_after > self.max_delay:
            raise TooLongWait(retry_after, self.max_delay)
        delay = self.backoff(attempt)
        return max(delay, retry_after) if retry_after is not None else delay

    def can_retry(self, attempt: int) -> bool:
        return attempt < self.max_attempts

    @staticmethod
    def is_retryable(error: BaseException) -> bool:
        return bool(getattr(error, "retryable", False))


def parse_retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset`.

    `X-RateLimit-Reset` is read as epoch seconds when it is large, else as seconds from now.
    The longest of the waits given wins; None when the server said nothing usable.
    """
    if headers is None:
        return None
    now = time.time() if now is None else now
    waits = [w for w in (_retry_after(headers.get("Retry-After"), now),
                         _reset(headers.get("X-RateLimit-Reset"), now)) if w is not None]
    return max(waits) if waits else None


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def _reset(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number > 1_000_000_000:  # an epoch timestamp
        return max(0.0, number - now)
    return max(0.0, number)

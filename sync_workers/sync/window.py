"""Which meetings the sync links at all: those inside a window around now. Pure.

A meeting that ended more than the backfill ago is history (the first poll of a new
account, a full resync after a lost cursor and a reconnect would otherwise turn years of
meetings into CRM records); one that starts beyond the horizon is linked once it comes
within it. Links that exist already are kept whatever their dates.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from .models import TimeSpan


@dataclass(frozen=True)
class SyncWindow:
    earliest_end: datetime  # a meeting must end after this...
    latest_start: datetime  # ...and start before this

    @classmethod
    def around(cls, now: datetime, backfill_days: int, horizon_days: int) -> "SyncWindow":
        return cls(now - timedelta(days=backfill_days), now + timedelta(days=horizon_days))

    def covers(self, span: TimeSpan | None) -> bool:
        if span is None:
            return False
        return _instant(span.end) > self.earliest_end \
            and _instant(span.start) < self.latest_start


def _instant(value: datetime | date) -> datetime:
    """An all-day bound as midnight UTC: a day's worth of slack at most, either way."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, timezone.utc)

"""Outlook recurrence (patternedRecurrence): validation, rendering, expansion.

Pattern types daily, weekly, absoluteMonthly, relativeMonthly, absoluteYearly and
relativeYearly; ranges endDate (inclusive), numbered and noEnd, as on
learn.microsoft.com/graph/api/resources/patternedrecurrence (recurrencePattern,
recurrenceRange). Occurrences keep the series start's wall-clock time in the series zone,
so they stay at 09:00 local across a DST change, as Outlook's do. A day that a month lacks
(dayOfMonth 31 in April) falls on the month's last day.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterator

from .microsoft_graph_errors import GraphError, validation_failure

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PATTERN_TYPES = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly",
                 "relativeYearly")
RANGE_TYPES = ("endDate", "noEnd", "numbered")
INDEXES = ("first", "second", "third", "fourth", "last")
NO_DATE = "0001-01-01"  # what Graph prints for an unset range date
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_OCCURRENCES = 5000  # an endless series is cut here (or at the asked window's end)


@dataclass(frozen=True)
class Recurrence:
    pattern: dict[str, Any]  # every recurrencePattern property, defaults filled in
    range: dict[str, Any]  # every recurrenceRange property, defaults filled in

    def render(self) -> dict[str, Any]:
        return {"pattern": dict(self.pattern, daysOfWeek=list(self.pattern["daysOfWeek"])),
                "range": dict(self.range)}

    @property
    def start_date(self) -> date:
        return date.fromisoformat(self.range["startDate"])


def parse_recurrence(value: Any, zone_name: str) -> Recurrence:
    if not isinstance(value, dict):
        raise validation_failure()
    pattern, range_ = value.get("pattern"), value.get("range")
    if not isinstance(pattern, dict) or not isinstance(range_, dict):
        raise validation_failure()
    return Recurrence(_pattern(pattern), _range(range_, zone_name))


def _pattern(raw: dict[str, Any]) -> dict[str, Any]:
    kind = raw.get("type")
    if kind not in PATTERN_TYPES:
        raise GraphError(400, "ErrorInvalidRecurrence" if kind else "ErrorInvalidRequest",
                         f"The recurrence pattern type '{kind}' is not valid.")
    interval = raw.get("interval", 1)
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 999:
        raise validation_failure()
    days = raw.get("daysOfWeek") or []
    if not isinstance(days, list) or any(d not in DAYS for d in days):
        raise validation_failure()
    first = raw.get("firstDayOfWeek") or "sunday"
    index = raw.get("index") or "first"
    month = raw.get("month") or 0
    day_of_month = raw.get("dayOfMonth") or 0
    if first not in DAYS or index not in INDEXES:
        raise validation_failure()
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (month, day_of_month)):
        raise validation_failure()
    needs_days = kind in ("weekly", "relativeMonthly", "relativeYearly")
    if needs_days and not days:
        raise validation_failure()
    if kind in ("absoluteMonthly", "absoluteYearly") and not 1 <= day_of_month <= 31:
        raise validation_failure()
    if kind in ("absoluteYearly", "relativeYearly") and not 1 <= month <= 12:
        raise validation_failure()
    return {"type": kind, "interval": interval, "month": month, "dayOfMonth": day_of_month,
            "daysOfWeek": sorted(set(days), key=DAYS.index), "firstDayOfWeek": first,
            "index": index}


def _range(raw: dict[str, Any], zone_name: str) -> dict[str, Any]:
    kind = raw.get("type")
    start = raw.get("startDate")
    if kind not in RANGE_TYPES or not _is_date(start):
        raise validation_failure()
    end = raw.get("endDate")
    count = raw.get("numberOfOccurrences") or 0
    if kind == "endDate" and (not _is_date(end) or end < start):
        raise validation_failure()
    if kind == "numbered" and (not isinstance(count, int) or isinstance(count, bool)
                               or count < 1):
        raise validation_failure()
    zone = raw.get("recurrenceTimeZone") or zone_name
    return {"type": kind, "startDate": start,
            "endDate": end if kind == "endDate" else NO_DATE,
            "recurrenceTimeZone": zone,
            "numberOfOccurrences": count if kind == "numbered" else 0}


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def occurrence_starts(rec: Recurrence, first_local: datetime,
                      until: date | None = None) -> Iterator[datetime]:
    """The series' occurrence starts (naive wall-clock, in the series zone), in order, up to
    the range's end or, for an endless series, the date `until` (inclusive)."""
    time_of_day = first_local.time()
    rng = rec.range
    last = date.fromisoformat(rng["endDate"]) if rng["type"] == "endDate" else None
    limit = rng["numberOfOccurrences"] if rng["type"] == "numbered" else MAX_OCCURRENCES
    produced = 0
    for day in _dates(rec.pattern, rec.start_date):
        if last is not None and day > last:
            return
        if until is not None and day > until and rng["type"] != "numbered":
            return
        yield datetime.combine(day, time_of_day)
        produced += 1
        if produced >= limit:
            return


def _dates(pattern: dict[str, Any], start: date) -> Iterator[date]:
    kind, interval = pattern["type"], pattern["interval"]
    if kind == "daily":
        day = start
        while day.year < 9999:
            yield day
            day += timedelta(days=interval)
        return
    if kind == "weekly":
        yield from _weekly(pattern, start, interval)
        return
    step = interval if kind.endswith("Monthly") else 12 * interval
    if kind.endswith("Yearly"):
        month0 = date(start.year, pattern["month"], 1)
        if month0 < date(start.year, start.month, 1):
            month0 = date(start.year + 1, pattern["month"], 1)
    else:
        month0 = date(start.year, start.month, 1)
    k = 0
    while True:
        year, month = divmod(month0.month - 1 + k * step, 12)
        year += month0.year
        if year >= 9999:
            return
        day = _day_in_month(pattern, kind, year, month + 1)
        if day is not None and day >= start:
            yield day
        k += 1


def _weekly(pattern: dict[str, Any], start: date, interval: int) -> Iterator[date]:
    first = DAYS.index(pattern["firstDayOfWeek"])
    week_start = start - timedelta(days=(start.weekday() - first) % 7)
    wanted = {DAYS.index(d) for d in pattern["daysOfWeek"]}
    while week_start.year < 9999:
        for offset in range(7):
            day = week_start + timedelta(days=offset)
            if day.weekday() in wanted and day >= start:
                yield day
        week_start += timedelta(weeks=interval)


def _day_in_month(pattern: dict[str, Any], kind: str, year: int, month: int) -> date | None:
    days_in_month = calendar.monthrange(year, month)[1]
    if kind.startswith("absolute"):
        return date(year, month, min(pattern["dayOfMonth"], days_in_month))
    wanted = {DAYS.index(d) for d in pattern["daysOfWeek"]}
    matching = [date(year, month, d) for d in range(1, days_in_month + 1)
                if date(year, month, d).weekday() in wanted]
    if not matching:
        return None
    position = INDEXES.index(pattern["index"])
    if pattern["index"] == "last":
        return matching[-1]
    return matching[position] if position < len(matching) else None

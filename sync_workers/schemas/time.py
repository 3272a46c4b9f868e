"""Times at the boundary: everything past here is an aware UTC datetime or a date
(invariant 6). A local time without an offset is accepted only with an IANA zone beside
it; otherwise `InvalidInput`, never a guess.

Local times that a DST change makes odd follow RFC 5545 (3.3.5), the rule Google and
Outlook implement, so we read them as the user's calendar shows them:
- ambiguous (fall-back overlap, e.g. 01:30 on the US November change): the first
  occurrence, i.e. `fold=0`, the earlier instant, still in summer time;
- non-existent (spring-forward gap, e.g. 02:30 on the US March change): read with the
  offset before the gap, which lands after it (02:30 EST = 03:30 EDT). Rejecting would
  dead-letter an event the user could create; shifting this way is the standard's answer,
  not a guess. zoneinfo with `fold=0` does exactly both.
Either is said: one WARNING naming the record, the local time, the zone and the result.
"""
from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..reliability.errors import InvalidInput
from ..sync.models import TimeSpan
from .validation import core_values, subject

log = logging.getLogger(__name__)

_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MINUTES_PER_DAY = 24 * 60


def to_utc(value: Any, zone: str | None = None, *, field: str) -> datetime:
    """An RFC 3339 date-time as aware UTC. Without an offset, `zone` (IANA) places it."""
    match = _DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput(f"{field}: expected an RFC 3339 date-time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.upper().replace(" ", "T"))
    except ValueError as error:
        raise InvalidInput(f"{field}: {value!r} is not a valid date-time ({error})") from None
    if match.group("offset") is None:
        if not zone:
            raise InvalidInput(f"{field}: {value!r} has no UTC offset and no time zone "
                               f"beside it; refusing to guess")
        local = parsed
        parsed = parsed.replace(tzinfo=iana_zone(zone, field=field), fold=0)
        _say_if_normalised(local, parsed, zone, field)
    return parsed.astimezone(timezone.utc)


def _say_if_normalised(local: datetime, placed: datetime, zone: str, field: str) -> None:
    utc = placed.astimezone(timezone.utc)
    gap = utc.astimezone(placed.tzinfo).replace(tzinfo=None) != local  # no such wall time
    overlap = placed.replace(fold=1).utcoffset() != placed.utcoffset()
    if not (gap or overlap):
        return
    log.warning("local time in a daylight-saving change normalised", extra={
        "record": subject(), "field": field, "local_time": local.isoformat(), "zone": zone,
        "utc": utc.isoformat(),
        "rule": "moved forward past the gap (RFC 5545)" if gap
                else "the first of the two occurrences (RFC 5545)"})


def to_date(value: Any, *, field: str) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidInput(f"{field}: expected a date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput(f"{field}: {value!r} is not a valid date ({error})") from None


def iana_zone(name: str, *, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{field}: {name!r} is not an IANA time zone") from None


def google_span(start: Mapping[str, Any], end: Mapping[str, Any]) -> TimeSpan:
    """Google's start/end: both `{date}` (all-day, end exclusive) or both
    `{dateTime, timeZone?}`; the offset in dateTime wins, timeZone places an offset-less one."""
    if "date" in start and start["date"] is not None:
        if not end.get("date"):
            raise InvalidInput("end: an all-day start ({date}) needs an all-day end")
        return _span(to_date(start["date"], field="start.date"),
                        to_date(end["date"], field="end.date"), all_day=True)
    if not start.get("dateTime") or not end.get("dateTime"):
        raise InvalidInput("start/end: expected both {date} or both {dateTime}")
    return _span(to_utc(start["dateTime"], start.get("timeZone"), field="start.dateTime"),
                    to_utc(end["dateTime"], end.get("timeZone"), field="end.dateTime"),
                    all_day=False)


def salesforce_span(*, all_day: bool, activity_date: str | None,
                    duration_minutes: int | None, start: str | None, end: str | None
                    ) -> TimeSpan:
    """A Salesforce Event's times. All-day: ActivityDate plus DurationInMinutes in whole
    days (Salesforce writes 1440 per day), giving the same exclusive-end dates as Google.
    Timed: StartDateTime with EndDateTime, or with DurationInMinutes."""
    if all_day:
        day = to_date(activity_date, field="ActivityDate")
        if not duration_minutes or duration_minutes % MINUTES_PER_DAY:
            raise InvalidInput(f"DurationInMinutes: an all-day event needs whole days "
                               f"(a positive multiple of {MINUTES_PER_DAY}), "
                               f"got {duration_minutes!r}")
        return _span(day, day + timedelta(days=duration_minutes // MINUTES_PER_DAY),
                        all_day=True)
    begin = to_utc(start, field="StartDateTime")
    if end is not None:
        return _span(begin, to_utc(end, field="EndDateTime"), all_day=False)
    if duration_minutes is None:
        raise InvalidInput("EndDateTime: a timed event needs EndDateTime or DurationInMinutes")
    return _span(begin, begin + timedelta(minutes=duration_minutes), all_day=False)


def _span(start: datetime | date, end: datetime | date, all_day: bool) -> TimeSpan:
    with core_values():  # e.g. an end before its start: the event's data is wrong
        return TimeSpan(start, end, all_day=all_day)

"""How Salesforce derives and checks an Event's time fields on save.

Timed events: StartDateTime (= ActivityDateTime; either may be given, equal if both) plus
DurationInMinutes or EndDateTime (consistent if both; the other is computed). Moving the
start keeps the duration. All-day events: ActivityDate (or the date of StartDateTime);
StartDateTime and EndDateTime are midnight UTC of the first and the LAST day (the end is
inclusive, unlike Google's exclusive end date) and DurationInMinutes is 1440 per day.
No event may last longer than 14 days. The org user's time zone is GMT.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from .salesforce_common import SfError

MAX_MINUTES = 14 * 24 * 60
DAY = 24 * 60


def derive_times(rec: dict[str, Any], changes: dict[str, Any],
                 old: dict[str, Any] | None) -> list[str]:
    """Fill in rec's derived time fields; return the names of missing required fields."""
    if rec.get("IsAllDayEvent"):
        missing = _all_day(rec, changes, old)
    else:
        missing = _timed(rec, changes, old)
    end = rec.get("EndDateTime")
    rec["EndDate"] = end.date() if end else None
    return missing


def _integrity(message: str, fields: list[str]) -> SfError:
    return SfError(400, "FIELD_INTEGRITY_EXCEPTION", message, fields)


def _given(changes: dict[str, Any], name: str) -> Any:
    return changes.get(name)


def _old_timed(old: dict[str, Any] | None) -> dict[str, Any] | None:
    return old if old and not old.get("IsAllDayEvent") else None


def _timed_start(changes: dict[str, Any], old: dict[str, Any] | None) -> datetime | None:
    activity, start = _given(changes, "ActivityDateTime"), _given(changes, "StartDateTime")
    if activity and start and activity != start:
        raise _integrity("Due Date Time and Start Date Time must be the same when both are set.",
                         ["ActivityDateTime", "StartDateTime"])
    if start or activity:
        return start or activity
    explicitly_cleared = "StartDateTime" in changes or "ActivityDateTime" in changes
    return None if explicitly_cleared or old is None else old.get("StartDateTime")


def _timed(rec: dict[str, Any], changes: dict[str, Any], old: dict[str, Any] | None) -> list[str]:
    start = _timed_start(changes, old)
    if start is None:
        return ["ActivityDateTime"]
    end, minutes = _given(changes, "EndDateTime"), _given(changes, "DurationInMinutes")
    if end is not None and minutes is not None:
        if end - start != timedelta(minutes=minutes):
            raise _integrity("Duration (minutes) doesn't match the Start and End Date Time.",
                             ["DurationInMinutes", "EndDateTime"])
    elif end is not None:
        minutes = int((end - start).total_seconds() // 60)
    elif minutes is None:
        kept = _old_timed(old)
        untouched = "DurationInMinutes" not in changes and "EndDateTime" not in changes
        if kept is None or kept.get("DurationInMinutes") is None or not untouched:
            return ["DurationInMinutes"]
        minutes = kept["DurationInMinutes"]
    _check_minutes(minutes)
    rec.update(StartDateTime=start, ActivityDateTime=start, ActivityDate=start.date(),
               DurationInMinutes=minutes, EndDateTime=start + timedelta(minutes=minutes))
    return []


def _check_minutes(minutes: int) -> None:
    if minutes < 0:
        raise _integrity("End Date Time: the end can't be before the start.", ["EndDateTime"])
    if minutes > MAX_MINUTES:
        raise _integrity("Event duration can't exceed 14 days.", ["DurationInMinutes"])


def _all_day_start(changes: dict[str, Any], old: dict[str, Any] | None) -> date | None:
    day = _given(changes, "ActivityDate")
    start = _given(changes, "StartDateTime") or _given(changes, "ActivityDateTime")
    if day and start and day != start.date():
        raise _integrity("Due Date Only and Start Date Time must be on the same day.",
                         ["ActivityDate", "StartDateTime"])
    if day or start:
        return day or start.date()
    if "ActivityDate" in changes or old is None:
        return None
    return old.get("ActivityDate") or (old["StartDateTime"].date()
                                        if old.get("StartDateTime") else None)


def _all_day_days(changes: dict[str, Any], old: dict[str, Any] | None, first: date) -> int:
    end, minutes = _given(changes, "EndDateTime"), _given(changes, "DurationInMinutes")
    if end is not None:
        days = (end.date() - first).days + 1
        if minutes is not None and minutes != days * DAY:
            raise _integrity("Duration (minutes) doesn't match the Start and End Date Time.",
                             ["DurationInMinutes", "EndDateTime"])
    elif minutes is not None:
        days = -(-minutes // DAY) if minutes > 0 else 0
    elif old and old.get("IsAllDayEvent") and old.get("DurationInMinutes"):
        days = old["DurationInMinutes"] // DAY
    else:
        days = 1
    if days < 1:
        raise _integrity("End Date Time: the end can't be before the start.", ["EndDateTime"])
    if days > 14:
        raise _integrity("Event duration can't exceed 14 days.", ["DurationInMinutes"])
    return days


def _all_day(rec: dict[str, Any], changes: dict[str, Any], old: dict[str, Any] | None) -> list[str]:
    first = _all_day_start(changes, old)
    if first is None:
        return ["ActivityDate"]
    days = _all_day_days(changes, old, first)
    last = first + timedelta(days=days - 1)
    rec.update(ActivityDate=first, ActivityDateTime=None, StartDateTime=_midnight(first),
               EndDateTime=_midnight(last), DurationInMinutes=days * DAY)
    return []


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)

"""Recurring events for the Google Calendar emulator: expansion, instance ids, exceptions.

A series master is an event with `recurrence` (RRULE/EXRULE/RDATE/EXDATE lines, RFC 5545).
Its instances are computed, never stored, until one is written: then it is an exception,
an EventRecord of its own under the instance id. Pure code over records; the store keeps
them (google_calendar_store).

Google's rules followed here (discovery document, Event and events.list/instances):
- EventDateTime.timeZone: "For recurring events this field is required and specifies the
  time zone in which the recurrence is expanded", so a weekly 09:00 stays 09:00 across DST.
- originalStartTime: "the time at which this event would start according to the
  recurrence data ... It uniquely identifies the instance"; recurrence is "omitted for
  single events or instances of recurring events".
- id: "in recurring events, all occurrences of one event have different ids while they all
  share the same icalUIDs". The form `<series id>_<UTC start, basic format>` (a date for
  all-day series) is the one real responses show (e.g. 3fd4..._20230208T230000Z).
"""
from __future__ import annotations

import copy
import re
from bisect import bisect_left, bisect_right
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from .google_calendar_errors import invalid
from .google_calendar_events import (
    EventFields,
    EventRecord,
    EventTime,
    html_link,
    zone_named,
)

# Google documents no limit for expanding an endless series with singleEvents (a Stack
# Overflow answer says paging "actually reaches the end", SO 30599745, without saying
# where). Without timeMax the sandbox stops an endless series after this many occurrences
# from the window's start: its own choice, two years of a daily series.
ENDLESS_CAP = 730
# A guard for bounded series and explicit windows, far beyond any test's needs.
EXPANSION_GUARD = 20_000
INVALID_RULE = "Invalid recurrence rule."  # Google's text is not documented: unverified

_UTC = timezone.utc
_BASIC_UTC = re.compile(r"(\d{8})T(\d{6})Z", re.A)
_BASIC_DATE = re.compile(r"\d{8}", re.A)
_UNTIL = re.compile(r"(?<=UNTIL=)([0-9A-Za-z]+)", re.I)
_VALUE = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?", re.A | re.I)


# --- what a record is ---------------------------------------------------------------


def is_master(record: EventRecord) -> bool:
    return record.recurring_event_id is None and bool(record.fields.values.get("recurrence"))


def is_instance(record: EventRecord) -> bool:
    return record.recurring_event_id is not None


def live_exception(record: EventRecord) -> bool:
    """An exception of a series that still has its occurrence (not cut off or deleted)."""
    return record.recurring_event_id is not None and not record.series_gone


def endless(master: EventRecord) -> bool:
    rules = [line.upper() for line in master.fields.values.get("recurrence", [])
             if line.upper().startswith("RRULE")]
    return any("COUNT=" not in rule and "UNTIL=" not in rule for rule in rules)


# --- instance ids ---------------------------------------------------------------------


def instance_id(series_id: str, original: EventTime) -> str:
    if original.date is not None:
        return f"{series_id}_{original.date:%Y%m%d}"
    assert original.instant is not None
    return f"{series_id}_{original.instant.astimezone(_UTC):%Y%m%dT%H%M%SZ}"


def parse_instance_id(event_id: str) -> tuple[str, date | datetime] | None:
    """(series id, original start) of an instance id; None if it is not one."""
    series_id, sep, suffix = event_id.rpartition("_")
    if not sep or not series_id:
        return None
    try:
        if (m := _BASIC_UTC.fullmatch(suffix)) is not None:
            return series_id, datetime.strptime("".join(m.groups()), "%Y%m%d%H%M%S").replace(
                tzinfo=_UTC)
        if _BASIC_DATE.fullmatch(suffix):
            return series_id, datetime.strptime(suffix, "%Y%m%d").date()
    except ValueError:
        return None
    return None


# --- the rule set ---------------------------------------------------------------------


def check_recurrence(fields: EventFields) -> None:
    """Refuse recurrence lines the expansion cannot read (as Google refuses bad rules)."""
    lines = fields.values.get("recurrence")
    if not lines:
        return
    try:
        next(_occurrences(tuple(lines), fields.start).after(None), None)
    except (ValueError, TypeError, OverflowError, KeyError):
        raise invalid(INVALID_RULE) from None


class _Occurrences:
    """A rule set's occurrences, generated once and kept in order (UTC instants for timed
    series, floating midnights for all-day ones): membership and windows are a binary
    search, not a walk from DTSTART as dateutil's after() is."""

    def __init__(self, rule_set: Iterable[datetime], timed: bool) -> None:
        self._source = iter(rule_set)
        self._timed = timed
        self._done = False
        self.items: list[datetime] = []

    def _more(self) -> bool:
        if not self._done:
            try:
                moment = next(self._source, None)
            except (ValueError, OverflowError):  # a rule that breaks late (or year 9999)
                moment = None
            if moment is not None:
                self.items.append(moment.astimezone(_UTC) if self._timed else moment)
                return True
            self._done = True
        return False

    def _reach(self, moment: datetime) -> None:
        while (not self.items or self.items[-1] < moment) and self._more():
            pass

    def contains(self, moment: datetime) -> bool:
        self._reach(moment)
        i = bisect_left(self.items, moment)
        return i < len(self.items) and self.items[i] == moment

    def after(self, moment: datetime | None) -> Iterator[datetime]:
        """The occurrences strictly after `moment` (all of them for None), in order."""
        i = 0
        if moment is not None:
            self._reach(moment)
            i = bisect_right(self.items, moment)
        while i < len(self.items) or self._more():
            yield self.items[i]
            i += 1


@lru_cache(maxsize=512)
def _occurrences(lines: tuple[str, ...], start: EventTime) -> _Occurrences:
    zone = ZoneInfo(start.zone) if start.zone and zone_named(start.zone) else _UTC
    if start.all_day:
        dtstart = datetime.combine(start.date, time())  # type: ignore[arg-type]
    else:
        assert start.instant is not None
        dtstart = start.instant.astimezone(zone)  # local wall time: DST is honoured
    text = "\n".join(_normalized(line, zone, start.all_day, dtstart) for line in lines)
    return _Occurrences(rrulestr(text, dtstart=dtstart, forceset=True), not start.all_day)


def _normalized(line: str, zone: ZoneInfo | timezone, all_day: bool, dtstart: datetime) -> str:
    """A line in the one form rrulestr reads without ambiguity: timed series in UTC,
    all-day series as floating dates. DTSTART/DTEND lines are not allowed (discovery
    document, Event.recurrence)."""
    name, sep, value = line.strip().partition(":")
    if not sep or not value:
        raise ValueError(line)
    prop, *params = name.split(";")
    prop = prop.upper()
    if prop in ("RRULE", "EXRULE"):
        if params:
            raise ValueError(line)
        return f"{prop}:" + _UNTIL.sub(lambda m: _until(m.group(1), zone, all_day), value)
    if prop in ("RDATE", "EXDATE"):
        value_zone = zone
        for param in params:
            key, _, setting = param.partition("=")
            if key.upper() == "TZID":
                if (found := zone_named(setting)) is None:
                    raise ValueError(line)
                value_zone = found
            elif param.upper() not in ("VALUE=DATE", "VALUE=DATE-TIME", "VALUE=PERIOD"):
                raise ValueError(line)
        dates = [_date_value(v, value_zone, all_day, dtstart) for v in value.split(",")]
        return f"{prop}:" + ",".join(dates)
    raise ValueError(line)


def _parts(text: str) -> tuple[date, time | None, bool]:
    m = _VALUE.fullmatch(text.strip())
    if m is None:
        raise ValueError(text)
    day = datetime.strptime(m.group(1), "%Y%m%d").date()
    clock = datetime.strptime(m.group(2), "%H%M%S").time() if m.group(2) else None
    return day, clock, bool(m.group(3))


def _until(text: str, zone: ZoneInfo | timezone, all_day: bool) -> str:
    day, clock, utc = _parts(text)
    if all_day:
        return f"{day:%Y%m%d}"
    if clock is None:  # a date: through the end of that local day
        clock = time(23, 59, 59)
    moment = datetime.combine(day, clock, _UTC if utc else zone)
    return f"{moment.astimezone(_UTC):%Y%m%dT%H%M%SZ}"


def _date_value(text: str, zone: ZoneInfo | timezone, all_day: bool,
                dtstart: datetime) -> str:
    day, clock, utc = _parts(text.split("/")[0])  # a PERIOD counts by its start
    if all_day:
        return f"{day:%Y%m%d}T000000"
    if clock is None:  # a date on a timed series: that day at the series' local time
        clock = dtstart.timetz().replace(tzinfo=None)
    moment = datetime.combine(day, clock, _UTC if utc else zone)
    return f"{moment.astimezone(_UTC):%Y%m%dT%H%M%SZ}"


# --- expansion ------------------------------------------------------------------------


def duration(master: EventRecord) -> timedelta:
    start, end = master.fields.start, master.fields.end
    if start.all_day:
        return end.date - start.date  # type: ignore[operator]
    return end.instant - start.instant  # type: ignore[operator]


def original_starts(master: EventRecord, calendar_zone: ZoneInfo,
                    time_min: datetime | None = None, time_max: datetime | None = None,
                    limit: int | None = None) -> list[EventTime]:
    """The original starts of the occurrences that overlap [time_min, time_max) (timeMin
    bounds the end, exclusive; timeMax the start, exclusive), in order."""
    start = master.fields.start
    occurrences = _occurrences(tuple(master.fields.values["recurrence"]), start)
    length = duration(master)
    if limit is None:
        limit = ENDLESS_CAP if time_max is None and endless(master) else EXPANSION_GUARD
    if start.all_day:  # all-day occurrences begin at midnight in the calendar's zone
        def local(moment: datetime) -> datetime:
            return moment.astimezone(calendar_zone).replace(tzinfo=None)
        lower = local(time_min) - length if time_min else None
        upper = local(time_max) if time_max else None
    else:
        lower = time_min - length if time_min else None
        upper = time_max
    found: list[EventTime] = []
    for moment in occurrences.after(lower):
        if upper is not None and moment >= upper or len(found) >= limit:
            break
        found.append(_event_time(moment, start))
    return found


def _event_time(moment: datetime, start: EventTime) -> EventTime:
    if start.all_day:
        return EventTime(date=moment.date(), zone=start.zone)
    return EventTime(instant=moment.astimezone(_UTC), zone=start.zone)


def is_occurrence(master: EventRecord, original: EventTime) -> bool:
    start = master.fields.start
    if original.all_day != start.all_day:
        return False
    occurrences = _occurrences(tuple(master.fields.values["recurrence"]), start)
    if start.all_day:
        return occurrences.contains(datetime.combine(original.date, time()))  # type: ignore[arg-type]
    return occurrences.contains(original.instant)  # type: ignore[arg-type]


def original_of(master: EventRecord, moment: date | datetime) -> EventTime | None:
    """An original start (from an instance id or the originalStart parameter) in the
    series' own form, or None when the kinds (date, dateTime) differ."""
    start = master.fields.start
    if start.all_day:
        if isinstance(moment, datetime):
            return None
        return EventTime(date=moment, zone=start.zone)
    if not isinstance(moment, datetime):
        return None
    return EventTime(instant=moment.astimezone(_UTC), zone=start.zone)


def series_overlaps(master: EventRecord, calendar_zone: ZoneInfo,
                    time_min: datetime | None, time_max: datetime | None) -> bool:
    """Whether any occurrence meets the window: a master is listed for its whole span."""
    return bool(original_starts(master, calendar_zone, time_min, time_max, limit=1))


# --- instances as records -------------------------------------------------------------


def virtual_instance(master: EventRecord, original: EventTime,
                     calendar_id: str) -> EventRecord:
    """An unmodified occurrence: the master's fields at the occurrence's time, with the
    master's etag, updated and sequence; not stored."""
    length, zone = duration(master), master.fields.end.zone
    original = replace(original, zone=master.fields.start.zone)
    if original.all_day:
        end = EventTime(date=original.date + length, zone=zone)  # type: ignore[operator]
    else:
        end = EventTime(instant=original.instant + length, zone=zone)  # type: ignore[operator]
    values = {k: copy.deepcopy(v) for k, v in master.fields.values.items() if k != "recurrence"}
    event_id = instance_id(master.id, original)
    return EventRecord(
        id=event_id, ical_uid=master.ical_uid, created=master.created,
        updated=master.updated, etag=master.etag,
        fields=EventFields(original, end, values),
        organizer=dict(master.organizer), creator=dict(master.creator),
        html_link=html_link(event_id, calendar_id), sequence=master.sequence,
        change_seq=master.change_seq, calendar_key=master.calendar_key,
        removed=master.removed, recurring_event_id=master.id,
        # an occurrence of a deleted series is a plain deletion, not a cancelled exception
        original_start=original, virtual=True, series_gone=master.cancelled)


def resolve(events: dict[str, EventRecord], calendar_id: str,
            event_id: str) -> EventRecord | None:
    """The stored event, or the unmodified instance an instance id names; None if the id
    is neither (unknown, or not an occurrence: outside the rule set, past UNTIL/COUNT)."""
    record = events.get(event_id)
    if record is not None:
        return record
    parsed = parse_instance_id(event_id)
    if parsed is None:
        return None
    master = events.get(parsed[0])
    if master is None or not is_master(master):
        return None
    original = original_of(master, parsed[1])
    if original is None or not is_occurrence(master, original):
        return None
    return virtual_instance(master, original, calendar_id)


def exceptions_of(events: dict[str, EventRecord], series_id: str) -> list[EventRecord]:
    return [r for r in events.values() if r.recurring_event_id == series_id]


def instance_body(body: dict[str, Any]) -> dict[str, Any]:
    """A write body for an instance: an instance has no recurrence of its own."""
    return {k: v for k, v in body.items() if k != "recurrence"}


def single_events(records: Iterable[EventRecord], events: dict[str, EventRecord],
                  calendar_id: str, zone: ZoneInfo, time_min: datetime | None,
                  time_max: datetime | None, hide_deleted_series: bool) -> list[EventRecord]:
    """singleEvents=true: each master replaced by its unmodified instances in the window
    (exceptions are records of their own and stay as they are)."""
    out: list[EventRecord] = []
    for record in records:
        if not is_master(record):
            out.append(record)
            continue
        if hide_deleted_series and record.cancelled:
            continue  # "but not the underlying recurring events" (events.list showDeleted)
        for original in original_starts(record, zone, time_min, time_max):
            if instance_id(record.id, original) not in events:
                out.append(virtual_instance(record, original, calendar_id))
    return out


def series_instances(master: EventRecord, events: dict[str, EventRecord], calendar_id: str,
                     zone: ZoneInfo, time_min: datetime | None, time_max: datetime | None,
                     original: date | datetime | None) -> list[EventRecord]:
    """events.instances: every occurrence in the window with its exception applied, in
    order of original start. A moved exception counts where it now is."""
    wanted = original_of(master, original) if original is not None else None
    if original is not None and wanted is None:
        return []
    found: dict[str, EventRecord] = {}
    for start in original_starts(master, zone, time_min, time_max):
        event_id = instance_id(master.id, start)
        found[event_id] = events.get(event_id) or virtual_instance(master, start, calendar_id)
    for record in exceptions_of(events, master.id):
        if not record.series_gone:
            found.setdefault(record.id, record)
    chosen = [r for r in found.values() if wanted is None or r.original_start == wanted]
    return sorted(chosen, key=lambda r: r.original_start.at(zone))  # type: ignore[union-attr]

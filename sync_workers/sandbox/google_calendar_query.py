"""events.list parameters for the Google Calendar emulator: checked like the real API.

`Filters` are the narrowing parameters; a sync token carries them on, since Google forbids
repeating them next to a syncToken.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from .google_calendar_errors import (
    bad_request,
    invalid,
    invalid_parameter,
    time_range_empty,
)
from .google_calendar_events import EventRecord, parse_instant, zone_named
from .google_calendar_recurrence import is_master, series_overlaps

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 250, 2500
FORBIDDEN_WITH_SYNC_TOKEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q",
                             "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin")


@dataclass(frozen=True)
class Filters:
    """The narrowing parameters of a list; a sync token carries them into later lists."""

    private: tuple[tuple[str, str], ...] = ()
    shared: tuple[tuple[str, str], ...] = ()
    q: str | None = None
    ical_uid: str | None = None
    time_min: datetime | None = None
    time_max: datetime | None = None

    def match(self, record: EventRecord, zone: ZoneInfo) -> bool:
        values = record.fields.values
        props = values.get("extendedProperties", {})
        if any(props.get("private", {}).get(k) != v for k, v in self.private):
            return False
        if any(props.get("shared", {}).get(k) != v for k, v in self.shared):
            return False
        if self.ical_uid is not None and record.ical_uid != self.ical_uid:
            return False
        if (self.time_min or self.time_max) and is_master(record):
            # A series is in the window when one of its occurrences is.
            if not series_overlaps(record, zone, self.time_min, self.time_max):
                return False
        else:
            if self.time_min is not None and record.fields.end.at(zone) <= self.time_min:
                return False
            if self.time_max is not None and record.fields.start.at(zone) >= self.time_max:
                return False
        return self.q is None or self.q.lower() in _searchable_text(values)


def _searchable_text(values: dict[str, Any]) -> str:
    parts = [values.get(n, "") for n in ("summary", "description", "location")]
    parts += [a["email"] for a in values.get("attendees", [])]
    return " ".join(parts).lower()


@dataclass(frozen=True)
class ListRequest:
    filters: Filters = Filters()
    sync_token: str | None = None
    page_token: str | None = None
    updated_min: datetime | None = None
    show_deleted: bool | None = None
    order_by: str | None = None
    zone: ZoneInfo | None = None  # the timeZone parameter: render times in this zone
    max_results: int = DEFAULT_PAGE_SIZE
    single_events: bool = False  # expand series into their instances


def parse_list_request(args: Mapping[str, list[str]]) -> ListRequest:
    """Validate events.list parameters (a multi-dict: name -> values) like the real API."""
    one = {name: values[-1] for name, values in args.items() if values}
    sync_token = one.get("syncToken")
    if sync_token is not None:
        for name in FORBIDDEN_WITH_SYNC_TOKEN:
            if name in one:
                raise invalid(f"{name} is not allowed with syncToken.", location=name)
        if parse_bool(one, "showDeleted") is False:
            raise invalid("showDeleted=false is not allowed with syncToken.", "showDeleted")
    single = parse_bool(one, "singleEvents") or False
    order_by = one.get("orderBy")
    if order_by is not None and order_by not in ("startTime", "updated"):
        raise invalid_parameter("orderBy", order_by, "startTime|updated")
    if order_by == "startTime" and not single:
        raise bad_request("The requested ordering is not available for the particular query.")
    time_min, time_max = _time_param(one, "timeMin"), _time_param(one, "timeMax")
    if time_min and time_max and time_max <= time_min:
        raise time_range_empty("timeMax")
    zone = None
    if "timeZone" in one and (zone := zone_named(one["timeZone"])) is None:
        raise invalid("Invalid value for: timeZone", "timeZone")
    filters = Filters(
        private=_property_pairs(args.get("privateExtendedProperty", []), "privateExtendedProperty"),
        shared=_property_pairs(args.get("sharedExtendedProperty", []), "sharedExtendedProperty"),
        q=one.get("q"), ical_uid=one.get("iCalUID"), time_min=time_min, time_max=time_max)
    return ListRequest(filters, sync_token, one.get("pageToken"),
                       _time_param(one, "updatedMin"), parse_bool(one, "showDeleted"),
                       order_by, zone, _page_size(one.get("maxResults")), single)


def parse_instances_request(
        args: Mapping[str, list[str]]) -> tuple[ListRequest, date | datetime | None]:
    """events.instances parameters: the window, showDeleted, paging, timeZone, and
    originalStart (an RFC 3339 dateTime, or a date for all-day series)."""
    one = {name: values[-1] for name, values in args.items() if values}
    time_min, time_max = _time_param(one, "timeMin"), _time_param(one, "timeMax")
    if time_min and time_max and time_max <= time_min:
        raise time_range_empty("timeMax")
    zone = None
    if "timeZone" in one and (zone := zone_named(one["timeZone"])) is None:
        raise invalid("Invalid value for: timeZone", "timeZone")
    original: date | datetime | None = None
    if "originalStart" in one:
        raw = one["originalStart"]
        original = parse_instant(raw)
        if original is None:
            if not _DATE.fullmatch(raw):
                raise bad_request()
            try:
                original = date.fromisoformat(raw)
            except ValueError:
                raise bad_request() from None
    request = ListRequest(Filters(time_min=time_min, time_max=time_max),
                          page_token=one.get("pageToken"),
                          show_deleted=parse_bool(one, "showDeleted"), zone=zone,
                          max_results=_page_size(one.get("maxResults")))
    return request, original


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.A)


def parse_bool(one: Mapping[str, str], name: str) -> bool | None:
    value = one.get(name)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise invalid_parameter(name, value, "true|false")
    return value.lower() == "true"


def _time_param(one: Mapping[str, str], name: str) -> datetime | None:
    if name not in one:
        return None
    instant = parse_instant(one[name])
    if instant is None:  # an offset is mandatory in list parameters
        raise bad_request()
    return instant


def _property_pairs(values: list[str], name: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep or not key:
            raise invalid(f"Invalid value for: {name}", name)
        pairs.append((key, wanted))
    return tuple(pairs)


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise invalid_parameter("maxResults", raw, "[0-9]+") from None
    if size < 1:
        raise invalid(f"Invalid value '{raw}'. Values must be at least 1", "maxResults")
    return min(size, MAX_PAGE_SIZE)  # Google caps the page size silently

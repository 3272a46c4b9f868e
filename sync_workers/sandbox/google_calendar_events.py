"""Google Calendar Event resources: request-body validation and rendering.

Pure code over plain data: the store (google_calendar_store) keeps the records, the routes
(google_calendar) speak HTTP. Only the Event fields the service uses are kept; other real
fields of a request body (attachments, conferenceData, ...) are ignored, never echoed, so
no response can carry a field the real API would not send.
"""
from __future__ import annotations

import base64
import copy
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .core import iso_utc
from .google_calendar_errors import (
    GoogleApiError,
    bad_request,
    invalid,
    required,
    time_range_empty,
)

# --- ids, etags, times ------------------------------------------------------------------

EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
SEQUENCE_BELOW = ("Invalid sequence value. The specified sequence number is below the current "
                  "sequence number of the resource. Re-fetch the resource and use its sequence "
                  "number on the following request.")
_OFFSET_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})", re.I | re.A)
_LOCAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?", re.I | re.A)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.A)


def check_event_id(value: Any) -> str:
    if not isinstance(value, str) or not EVENT_ID.fullmatch(value):
        raise invalid("Invalid resource id value.")
    return value


def zone_named(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or name.startswith(("/", ".")):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse_instant(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with its mandatory offset, as an aware datetime."""
    if not isinstance(value, str) or not _OFFSET_DATETIME.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(_trim_fraction(value.upper().replace("Z", "+00:00")))
    except ValueError:
        return None


def _trim_fraction(text: str) -> str:
    # fromisoformat takes at most 6 fractional digits; RFC 3339 allows more.
    return re.sub(r"(\.\d{6})\d+", r"\1", text)


def render_instant(instant: datetime, zone: ZoneInfo) -> str:
    """An event dateTime as Google prints it: whole seconds, in `zone`, Z for UTC."""
    text = instant.astimezone(zone).isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True)
class EventTime:
    """An event start or end: a `date` (all-day) or an instant, plus the zone it was given in."""

    date: date | None = None
    instant: datetime | None = None
    zone: str | None = None

    @property
    def all_day(self) -> bool:
        return self.date is not None

    def at(self, calendar_zone: ZoneInfo) -> datetime:
        """The instant, an all-day date counting from midnight in the calendar's zone."""
        if self.date is not None:
            return datetime.combine(self.date, datetime.min.time(), calendar_zone)
        assert self.instant is not None
        return self.instant

    def render(self, default_zone: ZoneInfo, forced_zone: ZoneInfo | None = None) -> dict:
        out: dict[str, Any] = {}
        if self.date is not None:
            out["date"] = self.date.isoformat()
        else:
            assert self.instant is not None
            zone = forced_zone or zone_named(self.zone) or default_zone
            out["dateTime"] = render_instant(self.instant, zone)
        if self.zone:
            out["timeZone"] = self.zone
        return out


def parse_event_time(value: Any, which: str) -> EventTime:
    if value is None:
        raise required(f"Missing {which} time.")
    if not isinstance(value, dict):
        raise bad_request()
    day, moment, zone_name = value.get("date"), value.get("dateTime"), value.get("timeZone")
    zone = None
    if zone_name is not None:
        zone = zone_named(zone_name)
        if zone is None:
            raise invalid(f"Invalid time zone definition for {which} time.")
    if day is not None and moment is not None:
        raise bad_request()
    if day is not None:
        return EventTime(date=_parse_date(day), zone=zone_name)
    if moment is None:
        raise required(f"Missing {which} time.")
    instant = parse_instant(moment)
    if instant is None:
        if not isinstance(moment, str) or not _LOCAL_DATETIME.fullmatch(moment):
            raise bad_request()
        if zone is None:
            raise required(f"Missing time zone definition for {which} time.")
        try:
            local = datetime.fromisoformat(_trim_fraction(moment.upper()))
        except ValueError:
            raise bad_request() from None
        instant = local.replace(tzinfo=zone)
    return EventTime(instant=instant.astimezone(timezone.utc).replace(microsecond=0),
                     zone=zone_name)


def _parse_date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise bad_request()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request() from None


def check_time_range(start: EventTime, end: EventTime, recurrence: list | None) -> None:
    if start.all_day != end.all_day:
        raise invalid("Start and end times must either both be date or both be dateTime.")
    if recurrence and not start.all_day:
        # Recurring timed events need a named zone to expand in (an offset is not enough).
        for which, time in (("start", start), ("end", end)):
            if not time.zone:
                raise required(f"Missing time zone definition for {which} time.")
    if start.all_day:
        if end.date <= start.date:  # type: ignore[operator]  # end is exclusive
            raise time_range_empty()
    elif end.instant < start.instant:  # type: ignore[operator]
        raise time_range_empty()


# --- writable fields --------------------------------------------------------------------

_TEXT = ("summary", "description", "location", "colorId")
_BOOLS = ("anyoneCanAddSelf", "guestsCanInviteOthers", "guestsCanModify",
          "guestsCanSeeOtherGuests", "endTimeUnspecified", "privateCopy")
_ENUMS = {"status": ("confirmed", "tentative", "cancelled"),
          "transparency": ("opaque", "transparent"),
          "visibility": ("default", "public", "private", "confidential"),
          "eventType": ("default",)}
_RESPONSE_STATUSES = ("needsAction", "declined", "tentative", "accepted")
# Google's order of Event keys in a response; absent keys are left out.
EVENT_KEYS = (
    "kind", "etag", "id", "status", "htmlLink", "created", "updated", "summary", "description",
    "location", "colorId", "creator", "organizer", "start", "end", "endTimeUnspecified",
    "recurrence", "recurringEventId", "originalStartTime", "transparency", "visibility",
    "iCalUID", "sequence", "attendees",
    "extendedProperties", "anyoneCanAddSelf", "guestsCanInviteOthers", "guestsCanModify",
    "guestsCanSeeOtherGuests", "privateCopy", "reminders", "source", "eventType",
)


@dataclass
class EventFields:
    """The validated writable part of an event (what insert/update set, patch merges into)."""

    start: EventTime
    end: EventTime
    values: dict[str, Any] = field(default_factory=dict)  # every other writable field
    sequence: int | None = None  # as requested by the client, if it sent one


def validate_event_body(body: dict[str, Any]) -> EventFields:
    """Check a full event body (insert, update, merged patch) like the real API does."""
    if body.get("end") is None:
        raise required("Missing end time.")
    if body.get("start") is None:
        raise invalid("Start and end times must either both be date or both be dateTime.")
    start = parse_event_time(body["start"], "start")
    end = parse_event_time(body["end"], "end")
    values: dict[str, Any] = {}
    for name in _TEXT:
        _put(values, name, body.get(name), str)
    for name in _BOOLS:
        _put(values, name, body.get(name), bool)
    for name, allowed in _ENUMS.items():
        if body.get(name) is not None and body[name] not in allowed:
            raise invalid(f"Invalid value for: {name}")
        _put(values, name, body.get(name), str)
    if body.get("recurrence") is not None:
        values["recurrence"] = _string_list(body["recurrence"], "recurrence")
    if body.get("attendees") is not None:
        values["attendees"] = _attendees(body["attendees"])
    if body.get("extendedProperties") is not None:
        values["extendedProperties"] = _extended_properties(body["extendedProperties"])
    if body.get("reminders") is not None:
        values["reminders"] = _reminders(body["reminders"])
    if body.get("source") is not None:
        values["source"] = _string_map(body["source"], "source", keys=("title", "url"))
    check_time_range(start, end, values.get("recurrence"))
    sequence = body.get("sequence")
    if sequence is not None and (type(sequence) is not int or sequence < 0):
        raise invalid("Invalid value for: sequence")
    return EventFields(start, end, values, sequence)


def _put(values: dict, name: str, value: Any, kind: type) -> None:
    if value is None:
        return
    if type(value) is not kind:
        raise invalid(f"Invalid value for: {name}")
    values[name] = value


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"Invalid value for: {name}")
    return list(value)


def _string_map(value: Any, name: str, keys: tuple[str, ...] | None = None) -> dict[str, str]:
    if not isinstance(value, dict):
        raise invalid(f"Invalid value for: {name}")
    out = {}
    for key, item in value.items():
        if item is None or (keys is not None and key not in keys):
            continue
        if not isinstance(item, str):
            raise invalid(f"Invalid value for: {name}.{key}")
        out[key] = item
    return out


def _extended_properties(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise invalid("Invalid value for: extendedProperties")
    return {scope: _string_map(value[scope], f"extendedProperties.{scope}")
            for scope in ("private", "shared") if value.get(scope) is not None}


def _attendees(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid("Invalid value for: attendees")
    out = []
    for item in value:
        if not isinstance(item, dict) or not item.get("email"):
            raise required("Missing attendee email.")
        if not isinstance(item["email"], str) or "@" not in item["email"]:
            raise invalid("Invalid attendee email.")
        attendee: dict[str, Any] = {"email": item["email"]}
        for name in ("displayName", "comment"):
            _put(attendee, name, item.get(name), str)
        for name in ("optional", "resource"):
            _put(attendee, name, item.get(name), bool)
        _put(attendee, "additionalGuests", item.get("additionalGuests"), int)
        status = item.get("responseStatus", "needsAction")
        if status not in _RESPONSE_STATUSES:
            raise invalid("Invalid value for: attendees.responseStatus")
        attendee["responseStatus"] = status
        out.append(attendee)
    return out


def _reminders(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("Invalid value for: reminders")
    out: dict[str, Any] = {}
    _put(out, "useDefault", value.get("useDefault"), bool)
    overrides = value.get("overrides")
    if overrides is not None:
        if not isinstance(overrides, list):
            raise invalid("Invalid value for: reminders.overrides")
        out["overrides"] = [_reminder(item) for item in overrides]
    if out.get("useDefault") and out.get("overrides"):
        raise GoogleApiError(
            400, "cannotUseDefaultRemindersAndSpecifyOverride",
            "Cannot specify both default reminders and overrides at the same time.")
    return out


def _reminder(item: Any) -> dict[str, Any]:
    if (not isinstance(item, dict) or item.get("method") not in ("email", "popup")
            or type(item.get("minutes")) is not int or not 0 <= item["minutes"] <= 40320):
        raise invalid("Invalid value for: reminders.overrides")
    return {"method": item["method"], "minutes": item["minutes"]}


def merge_patch(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Google patch semantics: objects merge, arrays and scalars replace, null clears."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- records and rendering --------------------------------------------------------------


@dataclass
class EventRecord:
    """One event of one calendar, deleted ones included (their ids stay reserved)."""

    id: str
    ical_uid: str
    created: datetime
    updated: datetime
    etag: str
    fields: EventFields
    organizer: dict[str, Any]
    creator: dict[str, Any]
    html_link: str
    sequence: int = 0
    change_seq: int = 0  # position in the store's change order, for sync tokens
    writes: list[dict[str, Any]] = field(default_factory=list)  # audit incl. sendUpdates
    # (owner, calendar id) of the calendar this copy sits in: `self` flags are per copy.
    calendar_key: tuple[str, str] = ("", "")
    meeting: Any = None  # the store's Meeting when this is one of several copies of a meeting
    removed: bool = False  # an invited user removed this copy from their own calendar
    # An instance of a recurring event (google_calendar_recurrence): its series and the
    # start it has by the rule. `virtual`: computed from the master, not stored.
    recurring_event_id: str | None = None
    original_start: EventTime | None = None
    virtual: bool = False
    series_gone: bool = False  # an exception whose occurrence the series no longer has

    @property
    def status(self) -> str:
        return self.fields.values.get("status", "confirmed")

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


def html_link(event_id: str, calendar_id: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def request_view(record: EventRecord) -> dict[str, Any]:
    """The event as a client would send it back: the base a patch is merged into."""
    utc = ZoneInfo("UTC")
    view = copy.deepcopy(record.fields.values)
    view["start"] = record.fields.start.render(utc)
    view["end"] = record.fields.end.render(utc)
    return view


def render_event(record: EventRecord, calendar_zone: ZoneInfo, *, minimal: bool = False,
                 forced_zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The Event resource. `minimal`: a deletion as incremental lists report it."""
    if minimal:
        out = {"kind": "calendar#event", "etag": record.etag, "id": record.id,
               "status": "cancelled"}
        # "Cancelled exceptions are only guaranteed to have values for the id,
        # recurringEventId and originalStartTime fields" (discovery document, Event.status);
        # one the series dropped is a plain deletion (id only), as real answers show.
        if record.original_start is not None and not record.series_gone:
            out["recurringEventId"] = record.recurring_event_id
            out["originalStartTime"] = record.original_start.render(calendar_zone, forced_zone)
        return out
    values = record.fields.values
    out: dict[str, Any] = {
        **copy.deepcopy(values),
        "kind": "calendar#event", "etag": record.etag, "id": record.id,
        "status": record.status, "htmlLink": record.html_link,
        # Google keeps whole seconds for created, milliseconds for updated.
        "created": iso_utc(record.created.replace(microsecond=0)),
        "updated": iso_utc(record.updated),
        "creator": dict(record.creator), "organizer": dict(record.organizer),
        "start": record.fields.start.render(calendar_zone, forced_zone),
        "end": record.fields.end.render(calendar_zone, forced_zone),
        "iCalUID": record.ical_uid, "sequence": record.sequence,
        "reminders": copy.deepcopy(values.get("reminders", {"useDefault": True})),
        "eventType": values.get("eventType", "default"),
    }
    if record.original_start is not None:
        out["recurringEventId"] = record.recurring_event_id
        out["originalStartTime"] = record.original_start.render(calendar_zone, forced_zone)
    owner, address = record.calendar_key
    out["organizer"] = _flag_self(out["organizer"], (address,))
    out["creator"] = _flag_self(out["creator"], (address, owner))
    if "attendees" in out:
        out["attendees"] = [_mark_attendee(a, record.organizer["email"], address)
                            for a in out["attendees"]]
    for name, default in (("transparency", "opaque"), ("visibility", "default")):
        if out.get(name) == default:  # Google leaves defaults out
            del out[name]
    return {key: out[key] for key in EVENT_KEYS if key in out}


def _flag_self(person: dict[str, Any], addresses: tuple[str, ...]) -> dict[str, Any]:
    """organizer.self / creator.self: "Whether the organizer [creator] corresponds to the
    calendar on which this copy of the event appears" (discovery document). The creator
    also counts as self on the owner's secondary calendars, as before copies existed."""
    person = {k: v for k, v in person.items() if k != "self"}
    if any(person["email"].lower() == a.lower() for a in addresses if a):
        person["self"] = True
    return person


def _mark_attendee(attendee: dict[str, Any], organizer_email: str,
                   address: str) -> dict[str, Any]:
    """attendees[].organizer marks the organizer's entry; attendees[].self "Whether this
    entry represents the calendar on which this copy of the event appears" (discovery
    document), so in an invited user's copy `self` is on their entry, not the organizer's."""
    email = attendee["email"].lower()
    out = dict(attendee)
    if email == organizer_email.lower():
        out["organizer"] = True
    if address and email == address.lower():
        out["self"] = True
    return out


# --- one meeting, several copies --------------------------------------------------------
# What of an event is the same in every copy and what is each calendar's own. Resting on
# the discovery document: extendedProperties.private are "private to the copy of the event
# that appears on this calendar", .shared "shared between copies of the event on other
# attendees' calendars"; reminders are "for the authenticated user"; source "Can only be
# seen or modified by the creator of the event". colorId per copy rests on the "Sharing
# and attendees" guide (an invitee may "change the color it has in their calendar, and add
# a reminder"). Everything else is treated as the organizer's (transparency and visibility
# included: unconfirmed either way).

OWN_KEYS = ("colorId", "reminders")
CREATOR_ONLY = ("source",)
# Settings only the organizer may change; an attendee's write of one is refused with 403
# forbiddenForNonOrganizer "Shared properties can only be changed by the organizer of the
# event." (that reason and text are from real API answers, e.g. kewisch/gdata-provider
# issues #274/#366, for extendedProperties.shared; the guestsCan* settings are added here).
SHARED_SETTINGS = ("guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests",
                   "anyoneCanAddSelf", "privateCopy")
ANSWER_KEYS = ("responseStatus", "comment", "additionalGuests")  # an attendee's own answer


def shared_part(values: dict[str, Any]) -> dict[str, Any]:
    """The part of an event's values every copy shows alike."""
    out = {k: copy.deepcopy(v) for k, v in values.items()
           if k not in OWN_KEYS and k not in CREATOR_ONLY and k != "extendedProperties"}
    shared = values.get("extendedProperties", {}).get("shared")
    if shared is not None:
        out["extendedProperties"] = {"shared": dict(shared)}
    return out


def own_part(values: dict[str, Any]) -> dict[str, Any]:
    """The part that belongs to one copy (its calendar's)."""
    out = {k: copy.deepcopy(values[k]) for k in OWN_KEYS if k in values}
    private = values.get("extendedProperties", {}).get("private")
    if private is not None:
        out["extendedProperties"] = {"private": dict(private)}
    return out


def combine(shared: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    out = {**copy.deepcopy(shared), **{k: v for k, v in copy.deepcopy(own).items()
                                       if k != "extendedProperties"}}
    props = {**shared.get("extendedProperties", {}), **own.get("extendedProperties", {})}
    out.pop("extendedProperties", None)
    if props:
        out["extendedProperties"] = copy.deepcopy(props)
    return out


def entry_of(values: dict[str, Any], address: str) -> dict[str, Any] | None:
    for attendee in values.get("attendees", []):
        if attendee["email"].lower() == address.lower():
            return attendee
    return None


def without_answer(values: dict[str, Any], address: str) -> dict[str, Any]:
    """`values` with the answer of `address`'s own attendee entry left out."""
    out = copy.deepcopy(values)
    for attendee in out.get("attendees", []):
        if attendee["email"].lower() == address.lower():
            for key in ANSWER_KEYS:
                attendee.pop(key, None)
    return out


def with_answer(values: dict[str, Any], address: str,
                answer: dict[str, Any]) -> dict[str, Any]:
    """`values` with `address`'s attendee entry carrying `answer` (ANSWER_KEYS)."""
    out = copy.deepcopy(values)
    for attendee in out.get("attendees", []):
        if attendee["email"].lower() == address.lower():
            for key in ANSWER_KEYS:
                attendee.pop(key, None)
            attendee.update({k: v for k, v in answer.items() if k in ANSWER_KEYS})
    return out


def answer_of(entry: dict[str, Any] | None) -> dict[str, Any]:
    return {k: entry[k] for k in ANSWER_KEYS if entry and k in entry}


def response_status(value: Any) -> str:
    if value not in _RESPONSE_STATUSES:
        raise ValueError(f"responseStatus must be one of {', '.join(_RESPONSE_STATUSES)}")
    return value

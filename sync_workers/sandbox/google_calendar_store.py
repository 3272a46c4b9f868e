"""The Google Calendar emulator's records: calendars, events, page cursors and sync tokens.

Callers hold `state.lock`. Every change takes the next number of one store-wide change
counter; a sync token is such a number, so an incremental list returns whatever changed
after it, deletions included. Push channels live in google_calendar_push.
"""
from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from .core import SandboxState, iso_utc
from .google_calendar_events import (
    EventFields, EventRecord, GoogleApiError, bad_request, check_event_id, condition_not_met,
    deleted, duplicate, full_sync_required, html_link, invalid, invalid_parameter,
    merge_patch, not_found, parse_instant, render_event, request_view, time_range_empty,
    validate_event_body, zone_named, SEQUENCE_BELOW,
)
from .google_calendar_push import Channels

STORE_KEY = "google_calendar"
# Not UTC: most real users are elsewhere, and a client that compares dateTime strings
# instead of instants must fail here as it would for them.
DEFAULT_TIME_ZONE = "Europe/Berlin"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 250, 2500
FORBIDDEN_WITH_SYNC_TOKEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q",
                             "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin")
_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"


@dataclass
class Calendar:
    owner: str
    id: str
    time_zone: str
    summary: str
    resource_id: str  # what watch channels on this calendar report as X-Goog-Resource-ID
    created: datetime
    events: dict[str, EventRecord] = field(default_factory=dict)  # in creation order
    token_epoch: int = 0  # sync tokens issued in an older epoch are gone (410)

    @property
    def key(self) -> tuple[str, str]:
        return (self.owner, self.id)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


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


@dataclass(frozen=True)
class Cursor:
    """One listing in progress: the candidate ids fixed on its first page."""

    calendar_key: tuple[str, str]
    ids: tuple[str, ...]
    mode: str  # "full", "incremental" (sync token) or "updated" (updatedMin)
    filters: Filters
    sync_seq: int  # the change counter when the listing began: its nextSyncToken
    show_deleted: bool
    zone: ZoneInfo | None


@dataclass(frozen=True)
class SyncToken:
    calendar_key: tuple[str, str]
    seq: int
    issued_at: float
    epoch: int
    filters: Filters


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
                       order_by, zone, _page_size(one.get("maxResults")))


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


class GoogleCalendarStore:
    def __init__(self, state: SandboxState, seed: int = 0) -> None:
        self.state = state
        self.rng = random.Random(seed)
        self.calendars: dict[tuple[str, str], Calendar] = {}
        self.change_counter = 0
        self.sync_tokens: dict[str, SyncToken] = {}
        self.page_tokens: dict[str, tuple[Cursor, int]] = {}
        self.sync_token_lifetime: float | None = None  # seconds on the sandbox clock
        self.channels = Channels(state, self.rng)
        self._last_etag = 0

    # --- calendars ---------------------------------------------------------------------

    def calendar_for(self, subject: str, calendar_id: str) -> Calendar:
        """`primary` and the subject's own address name its primary calendar (made on
        first use, as every Google account has one); other calendars must exist."""
        if calendar_id in ("primary", subject):
            return self.calendars.get((subject, subject)) or self.create_calendar(subject)
        calendar = self.calendars.get((subject, calendar_id))
        if calendar is None:
            raise not_found()
        return calendar

    def create_calendar(self, owner: str, calendar_id: str | None = None,
                        time_zone: str = DEFAULT_TIME_ZONE,
                        summary: str | None = None) -> Calendar:
        if zone_named(time_zone) is None:
            raise ValueError(f"unknown time zone {time_zone!r}")
        if calendar_id is None:
            calendar_id = f"{self._random_id(26)}@group.calendar.google.com"
        calendar = Calendar(owner, calendar_id, time_zone, summary or calendar_id,
                            self._random_token(27), self.state.clock.now())
        self.calendars[calendar.key] = calendar
        return calendar

    # --- events ------------------------------------------------------------------------

    def get(self, calendar: Calendar, event_id: str) -> EventRecord:
        record = calendar.events.get(event_id)
        if record is None:
            raise not_found()
        return record

    def insert(self, calendar: Calendar, body: dict[str, Any], audit: dict[str, Any],
               server_id: bool = False) -> EventRecord:
        event_id = None if server_id else body.get("id")
        if event_id is not None:
            check_event_id(event_id)
        fields = validate_event_body(body)
        ical_uid = None if server_id else body.get("iCalUID")
        if event_id in calendar.events or (ical_uid and self._ical_uid_taken(calendar, ical_uid)):
            raise duplicate()
        event_id = event_id or self._new_event_id(calendar)
        now = self.state.clock.now()
        organizer = self._organizer(calendar)
        record = EventRecord(
            id=event_id, ical_uid=ical_uid if isinstance(ical_uid, str) else f"{event_id}@google.com",
            created=now, updated=now, etag="", fields=fields, organizer=organizer,
            creator={"email": calendar.owner, "self": True},
            html_link=html_link(event_id, calendar.id), sequence=fields.sequence or 0)
        calendar.events[event_id] = record
        self._changed(calendar, record, audit)
        return record

    def patch(self, calendar: Calendar, event_id: str, body: dict[str, Any],
              if_match: str | None, audit: dict[str, Any]) -> EventRecord:
        record = self.get(calendar, event_id)
        _check_if_match(record, if_match)
        fields = validate_event_body(merge_patch(request_view(record), body))
        return self._rewrite(calendar, record, fields, audit)

    def update(self, calendar: Calendar, event_id: str, body: dict[str, Any],
               if_match: str | None, audit: dict[str, Any]) -> EventRecord:
        record = self.get(calendar, event_id)
        _check_if_match(record, if_match)
        # A full replacement: whatever the body leaves out is cleared (status -> confirmed).
        return self._rewrite(calendar, record, validate_event_body(body), audit)

    def delete(self, calendar: Calendar, event_id: str, if_match: str | None,
               audit: dict[str, Any]) -> EventRecord:
        record = self.get(calendar, event_id)
        if record.cancelled:
            raise deleted()
        _check_if_match(record, if_match)
        values = {**record.fields.values, "status": "cancelled"}
        record.fields = replace(record.fields, values=values)
        record.updated = self.state.clock.now()
        self._changed(calendar, record, audit)
        return record

    def _rewrite(self, calendar: Calendar, record: EventRecord, fields: EventFields,
                 audit: dict[str, Any]) -> EventRecord:
        record.sequence = _next_sequence(record, fields)
        record.fields = fields
        record.updated = self.state.clock.now()
        self._changed(calendar, record, audit)
        return record

    def _changed(self, calendar: Calendar, record: EventRecord, audit: dict[str, Any]) -> None:
        self.change_counter += 1
        record.change_seq = self.change_counter
        record.etag = self._next_etag(record.updated)
        record.writes.append({**audit, "at": self.state.clock.time(),
                              "emailed": _emailed_guests(record, audit)})
        self.channels.notify(calendar.key)

    # --- listing -----------------------------------------------------------------------

    def list(self, calendar: Calendar, req: ListRequest) -> dict[str, Any]:
        cursor, offset = (self._page(calendar, req.page_token) if req.page_token
                          else (self._start_listing(calendar, req), 0))
        end = offset + req.max_results
        items = [item for event_id in cursor.ids[offset:end]
                 if (item := self._list_item(calendar, calendar.events[event_id], cursor))]
        body: dict[str, Any] = {
            "kind": "calendar#events", "etag": f'"p{self.change_counter:016d}"',
            "summary": calendar.summary, "updated": _latest_update(calendar),
            "timeZone": calendar.time_zone, "accessRole": "owner", "defaultReminders": [],
        }
        if end < len(cursor.ids):
            body["nextPageToken"] = self._remember_page(cursor, end)
        else:
            body["nextSyncToken"] = self._issue_sync_token(calendar, cursor)
        body["items"] = items
        return body

    def _start_listing(self, calendar: Calendar, req: ListRequest) -> Cursor:
        records = list(calendar.events.values())
        filters, mode, show_deleted = req.filters, "full", bool(req.show_deleted)
        if req.sync_token is not None:
            token = self._live_sync_token(calendar, req.sync_token)
            records = sorted((r for r in records if r.change_seq > token.seq),
                             key=lambda r: r.change_seq)
            filters, mode = token.filters, "incremental"
        elif req.updated_min is not None:
            records = [r for r in records if r.updated >= req.updated_min]
            mode = "updated"
        if req.order_by == "updated":
            records.sort(key=lambda r: (r.updated, r.change_seq))
        elif req.order_by == "startTime":
            records.sort(key=lambda r: r.fields.start.at(calendar.zone))
        # Candidates include events the filters will drop at page time, so a page may hold
        # fewer than maxResults items, or none, while more follow (as Google's may).
        return Cursor(calendar.key, tuple(r.id for r in records), mode, filters,
                      self.change_counter, show_deleted, req.zone)

    def _list_item(self, calendar: Calendar, record: EventRecord,
                   cursor: Cursor) -> dict[str, Any] | None:
        if record.cancelled and not cursor.show_deleted:
            # Full lists hide deletions; incremental and updatedMin lists report them bare.
            return None if cursor.mode == "full" else render_event(record, calendar.zone,
                                                                   minimal=True)
        # Deletions always come back from incremental lists, whatever the filters.
        skip_filters = record.cancelled and cursor.mode == "incremental"
        if not skip_filters and not cursor.filters.match(record, calendar.zone):
            return None
        return render_event(record, calendar.zone, forced_zone=cursor.zone)

    def _page(self, calendar: Calendar, token: str) -> tuple[Cursor, int]:
        found = self.page_tokens.get(token)
        if found is None or found[0].calendar_key != calendar.key:
            raise invalid("Invalid page token value.", "pageToken")
        return found

    def _remember_page(self, cursor: Cursor, offset: int) -> str:
        token = self._random_token(40)
        self.page_tokens[token] = (cursor, offset)
        return token

    # --- sync tokens -------------------------------------------------------------------

    def _issue_sync_token(self, calendar: Calendar, cursor: Cursor) -> str:
        token = "C" + self._random_token(27)
        self.sync_tokens[token] = SyncToken(calendar.key, cursor.sync_seq,
                                            self.state.clock.time(), calendar.token_epoch,
                                            cursor.filters)
        return token

    def _live_sync_token(self, calendar: Calendar, token: str) -> SyncToken:
        found = self.sync_tokens.get(token)
        if found is None or found.calendar_key != calendar.key:
            raise invalid("Invalid sync token value.", "syncToken")
        lifetime = self.sync_token_lifetime
        expired = lifetime is not None and self.state.clock.time() - found.issued_at > lifetime
        if expired or found.epoch < calendar.token_epoch:
            raise full_sync_required()
        return found

    def expire_sync_tokens(self, calendar: Calendar) -> None:
        calendar.token_epoch += 1

    # --- helpers -----------------------------------------------------------------------

    def _organizer(self, calendar: Calendar) -> dict[str, Any]:
        if calendar.id == calendar.owner:
            return {"email": calendar.owner, "self": True}
        return {"email": calendar.id, "displayName": calendar.summary, "self": True}

    def _ical_uid_taken(self, calendar: Calendar, ical_uid: str) -> bool:
        return any(r.ical_uid == ical_uid for r in calendar.events.values())

    def _new_event_id(self, calendar: Calendar) -> str:
        while (event_id := self._random_id(26)) in calendar.events:
            pass
        return event_id

    def _random_id(self, length: int) -> str:
        return "".join(self.rng.choice(_BASE32HEX) for _ in range(length))

    def _random_token(self, length: int) -> str:
        raw = bytes(self.rng.getrandbits(8) for _ in range(length))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]

    def _next_etag(self, updated: datetime) -> str:
        # Digits like Google's, strictly increasing so every write changes the etag.
        number = max(int(updated.timestamp() * 1_000_000) * 2, self._last_etag + 1)
        self._last_etag = number
        return f'"{number}"'


def _check_if_match(record: EventRecord, if_match: str | None) -> None:
    if if_match is not None and if_match.strip() not in ("*", record.etag):
        raise condition_not_met()


def _next_sequence(record: EventRecord, fields: EventFields) -> int:
    if fields.sequence is not None:
        if fields.sequence < record.sequence:
            raise invalid(SEQUENCE_BELOW)
        return fields.sequence
    old, new = record.fields, fields
    moved = (old.start, old.end) != (new.start, new.end)
    rescheduled = any(old.values.get(n) != new.values.get(n) for n in ("recurrence", "location"))
    return record.sequence + 1 if moved or rescheduled else record.sequence


def _emailed_guests(record: EventRecord, audit: dict[str, Any]) -> list[str]:
    """Who Google would e-mail for this write: sendUpdates=all (or the legacy
    sendNotifications=true) mails every guest, externalOnly those outside the
    organizer's domain; none or nothing mails nobody."""
    mode = audit.get("sendUpdates")
    if mode is None and audit.get("sendNotifications"):
        mode = "all"
    organizer = record.organizer["email"].lower()
    guests = [a["email"] for a in record.fields.values.get("attendees", [])
              if a["email"].lower() != organizer]
    if mode == "all":
        return guests
    if mode == "externalOnly":
        domain = organizer.rpartition("@")[2]
        return [g for g in guests if g.lower().rpartition("@")[2] != domain]
    return []


def _latest_update(calendar: Calendar) -> str:
    moments = [r.updated for r in calendar.events.values()] or [calendar.created]
    return iso_utc(max(moments))


def store_of(state: SandboxState) -> GoogleCalendarStore:
    return state.stores[STORE_KEY]


def install_store(state: SandboxState) -> Callable[[], None]:
    def fresh_store() -> None:
        state.stores[STORE_KEY] = GoogleCalendarStore(state)
    return fresh_store


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
from typing import Any, Callable
from zoneinfo import ZoneInfo

from .core import SandboxState, iso_utc
from .google_calendar_errors import (
    condition_not_met,
    deleted,
    duplicate,
    full_sync_required,
    invalid,
    not_found,
)
from .google_calendar_events import (
    SEQUENCE_BELOW,
    EventFields,
    EventRecord,
    check_event_id,
    html_link,
    merge_patch,
    render_event,
    request_view,
    validate_event_body,
    zone_named,
)
from .google_calendar_push import Channels
from .google_calendar_query import Filters, ListRequest

STORE_KEY = "google_calendar"
# Not UTC: most real users are elsewhere, and a client that compares dateTime strings
# instead of instants must fail here as it would for them.
DEFAULT_TIME_ZONE = "Europe/Berlin"
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
            primary = self.calendars.get((subject, subject))
            return primary or self.create_calendar(subject, subject)
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
        if (owner, calendar_id) in self.calendars:
            raise ValueError(f"{owner} already has calendar {calendar_id!r}")
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
        if not isinstance(ical_uid, str) or not ical_uid:
            ical_uid = f"{event_id}@google.com"
        record = EventRecord(
            id=event_id, ical_uid=ical_uid, created=now, updated=now, etag="", fields=fields,
            organizer=self._organizer(calendar), creator={"email": calendar.owner, "self": True},
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
    """A client may raise the sequence, never lower it; a reschedule raises it by one."""
    if fields.sequence is not None and fields.sequence < record.sequence:
        raise invalid(SEQUENCE_BELOW)
    old, new = record.fields, fields
    moved = (old.start, old.end) != (new.start, new.end)
    rescheduled = any(old.values.get(n) != new.values.get(n) for n in ("recurrence", "location"))
    automatic = record.sequence + 1 if moved or rescheduled else record.sequence
    return max(automatic, fields.sequence or 0)


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


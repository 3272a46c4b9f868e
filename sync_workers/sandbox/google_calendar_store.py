"""The Google Calendar emulator's records: calendars, events, page cursors and sync tokens.

Callers hold `state.lock`. Every change takes the next number of one store-wide change
counter; a sync token is such a number, so an incremental list returns whatever changed
after it, deletions included. Push channels live in google_calendar_push.

A meeting with sandbox users among its guests is a `Meeting`: one EventRecord per calendar
(each with its own etag, updated and place in the change order), the organizer's copy (or
an outside organizer's version) the master that the copies follow.
"""
from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from . import google_calendar_recurrence as recurrence
from .core import SandboxState, iso_utc
from .google_calendar_errors import (
    condition_not_met,
    deleted,
    duplicate,
    forbidden_for_non_organizer,
    full_sync_required,
    invalid,
    not_found,
)
from .google_calendar_events import (
    ANSWER_KEYS,
    SEQUENCE_BELOW,
    SHARED_SETTINGS,
    EventFields,
    EventRecord,
    EventTime,
    answer_of,
    check_event_id,
    combine,
    entry_of,
    html_link,
    merge_patch,
    own_part,
    render_event,
    request_view,
    response_status,
    shared_part,
    validate_event_body,
    with_answer,
    without_answer,
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


@dataclass
class Meeting:
    """One meeting as it sits in several users' calendars.

    Organized in Google (`organizer_key` set): every copy has the organizer's event id and
    iCalUID, and the organizer's copy is the master the others follow. Organized outside
    Google (`organizer_key` None, an imported invitation): each calendar's copy has its own
    id, all share the iCalUID, and `fields`/`sequence`/`organizer` hold the outside
    organizer's latest version.
    """

    ical_uid: str
    organizer_key: tuple[str, str] | None
    copies: dict[tuple[str, str], str] = field(default_factory=dict)  # calendar -> event id
    fields: EventFields | None = None
    sequence: int = 0
    organizer: dict[str, Any] = field(default_factory=dict)
    created: datetime | None = None

    @property
    def outside(self) -> bool:
        return self.organizer_key is None


@dataclass(frozen=True)
class Cursor:
    """One listing in progress: the candidate ids fixed on its first page."""

    calendar_key: tuple[str, str]
    ids: tuple[str, ...]
    # "full", "incremental" (sync token), "updated" (updatedMin) or "instances"
    mode: str
    filters: Filters
    sync_seq: int  # the change counter when the listing began: its nextSyncToken
    show_deleted: bool
    zone: ZoneInfo | None
    single_events: bool = False


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
        self.outside_meetings: dict[str, Meeting] = {}  # iCalUID -> imported invitation
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
        """A stored event, or an unmodified instance of a series (computed, not stored)."""
        record = recurrence.resolve(calendar.events, calendar.id, event_id)
        if record is None:
            raise not_found()
        return record

    def insert(self, calendar: Calendar, body: dict[str, Any], audit: dict[str, Any],
               server_id: bool = False) -> EventRecord:
        event_id = None if server_id else body.get("id")
        if event_id is not None:
            check_event_id(event_id)
        fields = validate_event_body(body)
        recurrence.check_recurrence(fields)
        ical_uid = None if server_id else body.get("iCalUID")
        if event_id in calendar.events or (ical_uid and self._ical_uid_taken(calendar, ical_uid)):
            raise duplicate()
        event_id = event_id or self._new_event_id(calendar)
        now = self.state.clock.now()
        if not isinstance(ical_uid, str) or not ical_uid:
            ical_uid = f"{event_id}@google.com"
        record = EventRecord(
            id=event_id, ical_uid=ical_uid, created=now, updated=now, etag="", fields=fields,
            organizer=self._organizer(calendar), creator={"email": calendar.owner},
            html_link=html_link(event_id, calendar.id), sequence=fields.sequence or 0,
            calendar_key=calendar.key)
        calendar.events[event_id] = record
        self._changed(calendar, record, audit)
        self._propagate(calendar, record, None, audit)
        return record

    def patch(self, calendar: Calendar, event_id: str, body: dict[str, Any],
              if_match: str | None, audit: dict[str, Any]) -> EventRecord:
        record = self.get(calendar, event_id)
        _check_if_match(record, if_match)
        fields = validate_event_body(merge_patch(request_view(record), _body_for(record, body)))
        recurrence.check_recurrence(fields)
        return self.write(calendar, record, fields, audit)

    def update(self, calendar: Calendar, event_id: str, body: dict[str, Any],
               if_match: str | None, audit: dict[str, Any]) -> EventRecord:
        record = self.get(calendar, event_id)
        _check_if_match(record, if_match)
        # A full replacement: whatever the body leaves out is cleared (status -> confirmed).
        fields = validate_event_body(_body_for(record, body))
        recurrence.check_recurrence(fields)
        return self.write(calendar, record, fields, audit)

    def write(self, calendar: Calendar, record: EventRecord, fields: EventFields,
              audit: dict[str, Any]) -> EventRecord:
        """Set an event's new content: the organizer's (or a plain event's) as is, and
        on to every copy of the meeting; an invited user's by the attendee rules. A write
        of an unmodified instance makes it an exception."""
        if record.virtual:
            record = self._materialize(calendar, record)
        if self._is_guest_copy(calendar, record):
            return self._guest_write(calendar, record, fields, audit)
        before = _shared_state(record)
        self._keep_guest_answers(record, fields)
        self._rewrite(calendar, record, fields, audit)
        self._propagate(calendar, record, before, audit)
        return record

    def delete(self, calendar: Calendar, event_id: str, if_match: str | None,
               audit: dict[str, Any]) -> EventRecord:
        record = self.get(calendar, event_id)
        if record.cancelled:
            raise deleted()
        _check_if_match(record, if_match)
        if record.virtual:  # cancelling one occurrence: a cancelled exception
            record = self._materialize(calendar, record, deleting=True)
        before = _shared_state(record)
        guest = self._is_guest_copy(calendar, record)
        # An invited user deleting the event removes only their own copy ("the events to
        # which the user was invited and that they manually removed continue to provide
        # details", discovery document, Event.status): the organizer and the other guests
        # keep theirs, and the user's answer stays what it was (Google's documentation
        # does not say that removing declines: unconfirmed).
        record.removed = guest
        values = {**record.fields.values, "status": "cancelled"}
        record.fields = replace(record.fields, values=values)
        record.updated = self.state.clock.now()
        self._changed(calendar, record, audit)
        if not guest:  # the organizer's deletion cancels the meeting in every calendar
            self._propagate(calendar, record, before, audit)
        return record

    def respond(self, calendar: Calendar, record: EventRecord, response: str,
                audit: dict[str, Any]) -> EventRecord:
        """The calendar's owner answers the invitation (accepted, declined, ...)."""
        response = response_status(response)
        if entry_of(record.fields.values, calendar.id) is None:
            raise ValueError(f"{calendar.id} is not among the guests of {record.id}")
        old = answer_of(entry_of(record.fields.values, calendar.id))
        values = with_answer(record.fields.values, calendar.id,
                             {**old, "responseStatus": response})
        fields = replace(record.fields, values=values, sequence=None)
        return self.write(calendar, record, fields, audit)

    def _rewrite(self, calendar: Calendar, record: EventRecord, fields: EventFields,
                 audit: dict[str, Any]) -> EventRecord:
        record.sequence = _next_sequence(record, fields)
        record.fields = fields
        record.updated = self.state.clock.now()
        self._changed(calendar, record, audit)
        return record

    # --- recurring events: exceptions and their series --------------------------------

    def _materialize(self, calendar: Calendar, instance: EventRecord,
                     deleting: bool = False) -> EventRecord:
        """Store an unmodified instance as an exception, ready to be written. In a meeting
        the organizer's instance and every guest's become exceptions together, linked as
        one meeting, so the organizer's change reaches each copy; a guest deleting an
        occurrence removes only their own (as for whole events)."""
        series = calendar.events[instance.recurring_event_id]  # type: ignore[index]
        original: EventTime = instance.original_start  # type: ignore[assignment]
        meeting = series.meeting
        if meeting is None or meeting.outside or (deleting and meeting.organizer_key
                                                  != calendar.key):
            record = replace(instance, virtual=False)
            if meeting is not None:  # an imported copy follows its series' invitation
                record.meeting = meeting if meeting.outside else Meeting(
                    series.ical_uid, meeting.organizer_key, {calendar.key: record.id})
            calendar.events[record.id] = record
            return record
        org_key = meeting.organizer_key
        org_calendar = self.calendars[org_key]  # type: ignore[index]
        org = org_calendar.events.get(instance.id)
        if org is None:
            org_series = org_calendar.events[meeting.copies[org_key]]  # type: ignore[index]
            org = recurrence.virtual_instance(org_series, original, org_calendar.id)
            org = org_calendar.events[org.id] = replace(org, virtual=False)
        if org.meeting is None:
            org.meeting = Meeting(org.ical_uid, org_key, {org_key: org.id})
        for key, series_id in meeting.copies.items():
            guest_calendar = self.calendars[key]
            if key == org_key or guest_calendar.events.get(series_id) is None:
                continue
            copy_ = guest_calendar.events.get(org.id)
            if copy_ is None:
                copy_ = recurrence.virtual_instance(guest_calendar.events[series_id],
                                                    original, guest_calendar.id)
                copy_ = guest_calendar.events[copy_.id] = replace(copy_, virtual=False)
            copy_.meeting = org.meeting
            org.meeting.copies[key] = copy_.id
        found = calendar.events.get(instance.id)
        if found is None:  # a calendar the meeting does not list: an exception of its own
            return self._materialize(calendar, instance, deleting=True)
        return found

    def _series_changed(self, calendar: Calendar, record: EventRecord,
                        audit: dict[str, Any]) -> None:
        """Exceptions whose occurrence the series no longer has (it ended earlier, moved
        or was deleted) are cancelled: an incremental list reports them as deletions."""
        for exception in recurrence.exceptions_of(calendar.events, record.id):
            if exception.series_gone:
                continue
            original: EventTime = exception.original_start  # type: ignore[assignment]
            gone = (not recurrence.is_master(record) or record.cancelled
                    or not recurrence.is_occurrence(record, original))
            if not gone:
                continue
            exception.series_gone = True
            if not exception.cancelled:
                values = {**exception.fields.values, "status": "cancelled"}
                exception.fields = replace(exception.fields, values=values)
                exception.updated = self.state.clock.now()
                self._changed(calendar, exception, audit)

    def _touch_series(self, calendar: Calendar, series_id: str) -> None:
        """A change of an exception changes its master too (etag, updated, place in the
        change order), as Google's incremental answers show: after an edit or deletion of
        one occurrence they carry the master as well as the instance."""
        series = calendar.events.get(series_id)
        if series is None or series.recurring_event_id is not None:
            return
        series.updated = self.state.clock.now()
        self.change_counter += 1
        series.change_seq = self.change_counter
        series.etag = self._next_etag(series.updated)

    # --- one meeting in several calendars --------------------------------------------
    # Google-organized: "Inviting someone to an event will put a copy of that event on
    # their calendar. The invitee can then accept or reject the invitation, and to some
    # extent also modify their copy" ("Sharing and attendees" guide,
    # developers.google.cn/google-apps/calendar/concepts/sharing). The copy has the
    # organizer's event id and iCalUID: not stated in Google's docs (they only say an id is
    # "unique per calendar"), but shown by real responses of both copies in a Stack
    # Overflow question (SO 62386622, mirrored at isolution.pro/q/so75386622), which also
    # shows the same `created` and the organizer/creator without `self` in the guest's copy.

    def _is_guest_copy(self, calendar: Calendar, record: EventRecord) -> bool:
        meeting = record.meeting
        return meeting is not None and meeting.organizer_key != calendar.key

    def _primary_of(self, address: str) -> Calendar | None:
        """The sandbox user's primary calendar for a guest address, if it exists: only
        users who have one get copies (others are guests outside the sandbox)."""
        for calendar in self.calendars.values():
            if calendar.id == calendar.owner and calendar.owner.lower() == address.lower():
                return calendar
        return None

    def _invited(self, values: dict[str, Any],
                 exclude: tuple[str, str] | None) -> dict[tuple[str, str], Calendar]:
        found = {}
        for attendee in values.get("attendees", []):
            calendar = self._primary_of(attendee["email"])
            if calendar is not None and calendar.key != exclude:
                found[calendar.key] = calendar
        return found

    def _keep_guest_answers(self, record: EventRecord, fields: EventFields) -> None:
        """The organizer's write cannot change a Google guest's answer: only the guest
        answers (not in Google's docs; an answer on a Stack Overflow mirror,
        ja.uwenku.com/question/p-udgcobqu-cp.html: "the creator or owner of the event
        cannot change an attendee's response"). Guests outside the sandbox keep whatever
        the organizer writes, as before."""
        meeting = record.meeting
        if meeting is None or "attendees" not in fields.values:
            return
        holders = {key[0].lower() for key in meeting.copies if key != meeting.organizer_key}
        for attendee in fields.values["attendees"]:
            old = entry_of(record.fields.values, attendee["email"])
            if attendee["email"].lower() in holders and old is not None:
                for key in ANSWER_KEYS:
                    attendee.pop(key, None)
                attendee.update(answer_of(old))

    def _propagate(self, calendar: Calendar, record: EventRecord,
                   before: tuple | None, audit: dict[str, Any],
                   skip: tuple[str, str] | None = None) -> None:
        """After a write of the organizer's copy: create, update or cancel the copies."""
        targets = self._invited(record.fields.values, calendar.key)
        meeting = record.meeting
        if meeting is None:
            if not targets or record.cancelled:
                return
            meeting = Meeting(record.ical_uid, calendar.key, {calendar.key: record.id})
            record.meeting = meeting
        master = _Master(record.id, record.fields, record.sequence, record.organizer,
                         record.creator, record.created, record.recurring_event_id,
                         record.original_start)
        self._sync_copies(meeting, master, targets, before != _shared_state(record),
                          _copy_audit(audit), skip)

    def _sync_copies(self, meeting: Meeting, master: _Master,
                     targets: dict[tuple[str, str], Calendar], changed: bool,
                     audit: dict[str, Any], skip: tuple[str, str] | None = None) -> None:
        for key, calendar in targets.items():
            event_id = meeting.copies.get(key)
            if event_id is None:
                self._new_copy(meeting, master, calendar, audit)
            elif changed and key != skip:
                self._sync_copy(meeting, master, calendar, calendar.events[event_id],
                                True, audit)
        # Guests taken off the list see the event go as a deletion (chosen: unconfirmed).
        for key, event_id in list(meeting.copies.items()):
            if key in targets or key == meeting.organizer_key or key == skip:
                continue
            calendar = self.calendars[key]
            self._sync_copy(meeting, master, calendar, calendar.events[event_id], False,
                            audit)

    def _new_copy(self, meeting: Meeting, master: _Master, calendar: Calendar,
                  audit: dict[str, Any]) -> None:
        if master.fields.values.get("status") == "cancelled":
            return
        if meeting.outside:
            event_id = self._new_event_id(calendar)
        else:
            event_id = master.id
            if event_id in calendar.events:
                # The guest's calendar already uses that id for another event (client ids
                # are only unique per calendar): what Google does is unknown; no copy.
                return
        values = combine(shared_part(master.fields.values), {})
        record = EventRecord(
            id=event_id, ical_uid=meeting.ical_uid, created=master.created,
            updated=self.state.clock.now(), etag="",
            fields=EventFields(master.fields.start, master.fields.end, values),
            organizer=dict(master.organizer), creator=dict(master.creator),
            html_link=html_link(event_id, calendar.id), sequence=master.sequence,
            calendar_key=calendar.key, meeting=meeting,
            recurring_event_id=master.recurring_event_id, original_start=master.original_start)
        calendar.events[event_id] = record
        meeting.copies[calendar.key] = event_id
        self._changed(calendar, record, audit)
        if not meeting.outside and recurrence.is_master(record):
            self._share_exceptions(meeting, calendar, record, audit)

    def _share_exceptions(self, meeting: Meeting, calendar: Calendar, series: EventRecord,
                          audit: dict[str, Any]) -> None:
        """A guest newly given a series gets its exceptions: cancelled occurrences stay
        cancelled, and modified ones the guest is invited to show as modified."""
        org_key = meeting.organizer_key
        org_calendar = self.calendars[org_key]  # type: ignore[index]
        for exception in recurrence.exceptions_of(org_calendar.events, series.id):
            invited = entry_of(exception.fields.values, calendar.id) is not None
            if exception.series_gone or not (exception.cancelled or invited):
                continue
            original: EventTime = exception.original_start  # type: ignore[assignment]
            record = recurrence.virtual_instance(series, original, calendar.id)
            values = combine(shared_part(exception.fields.values), own_part(record.fields.values))
            record = replace(record, virtual=False, sequence=exception.sequence,
                             fields=EventFields(exception.fields.start, exception.fields.end,
                                                values))
            if exception.meeting is None:
                exception.meeting = Meeting(exception.ical_uid, org_key, {org_key: exception.id})
            record.meeting = exception.meeting
            exception.meeting.copies[calendar.key] = record.id
            calendar.events[record.id] = record
            self._changed(calendar, record, audit)

    def _sync_copy(self, meeting: Meeting, master: _Master, calendar: Calendar,
                   record: EventRecord, invited: bool, audit: dict[str, Any]) -> None:
        """Bring one copy to the master's version, keeping what is the copy's own. A copy
        its owner removed stays removed (unconfirmed)."""
        if record.removed:
            return
        values = combine(shared_part(master.fields.values), own_part(record.fields.values))
        if meeting.outside:
            # An imported copy's owner answered only in their copy (the reply goes to the
            # outside organizer by e-mail); the organizer's update does not undo it.
            mine = entry_of(record.fields.values, calendar.id)
            if mine is not None and entry_of(values, calendar.id) is not None:
                values = with_answer(values, calendar.id, answer_of(mine))
        if not invited:
            values["status"] = "cancelled"
        fields = EventFields(master.fields.start, master.fields.end, values)
        self._set_copy(calendar, record, fields, master.sequence, audit,
                       organizer=master.organizer)

    def _set_copy(self, calendar: Calendar, record: EventRecord, fields: EventFields,
                  sequence: int, audit: dict[str, Any],
                  organizer: dict[str, Any] | None = None) -> None:
        organizer = dict(organizer or record.organizer)
        same = ((record.fields.start, record.fields.end, record.fields.values,
                 record.sequence, record.organizer)
                == (fields.start, fields.end, fields.values, sequence, organizer))
        if same:
            return
        record.fields, record.sequence, record.organizer = fields, sequence, organizer
        record.updated = self.state.clock.now()
        self._changed(calendar, record, audit)

    def _guest_write(self, calendar: Calendar, record: EventRecord, fields: EventFields,
                     audit: dict[str, Any]) -> EventRecord:
        """A write by an invited user to their copy.

        - Their own part (extendedProperties.private, reminders, colorId) changes their
          copy only.
        - Their answer (their attendee entry's responseStatus/comment/additionalGuests)
          reaches the organizer and so every copy; in an imported copy, only that copy.
        - Shared settings (extendedProperties.shared, guestsCan*, ...): 403
          forbiddenForNonOrganizer.
        - Anything else is the organizer's. With guestsCanModify ("Whether attendees other
          than the organizer can modify the event", default False) the change is made to
          the organizer's event and reaches every copy. Without it, through the API: 403
          forbiddenForNonOrganizer (chosen as the conservative answer: Google's docs do not
          say); through the UI (`audit["by"] == "user"`): a change of this copy only, as
          Google's UI keeps a guest's edit "on their calendar only" (SO 62386622).
        """
        meeting, address = record.meeting, calendar.id
        old, new = record.fields, fields
        if _settings_changed(old.values, new.values):
            raise forbidden_for_non_organizer()
        master = self._master(meeting)
        organizers_part_changed = (
            (old.start, old.end) != (new.start, new.end)
            or without_answer(shared_part(old.values), address)
            != without_answer(shared_part(new.values), address))
        mine = entry_of(new.values, address) or entry_of(old.values, address)
        answer = answer_of(mine)
        answered = answer != answer_of(entry_of(old.values, address))
        may_modify = bool(master.fields.values.get("guestsCanModify"))
        if organizers_part_changed and not may_modify and audit.get("by") != "user":
            raise forbidden_for_non_organizer()
        # A change of this copy only: a UI edit without guestsCanModify, or any change of
        # an imported copy (there is no organizer's copy in Google to change).
        private = organizers_part_changed and (meeting.outside or not may_modify)
        base = replace(old, values=with_answer(old.values, address, answer), sequence=None)
        sequence = record.sequence
        if not meeting.outside and (answered or (organizers_part_changed and not private)):
            org = self._organizer_copy(meeting)
            org_calendar = self.calendars[org.calendar_key]
            basis = new if organizers_part_changed and not private else base
            org_values = combine(shared_part(basis.values), own_part(org.fields.values))
            for name in ("source",):  # the creator's, kept in the organizer's copy
                if name in org.fields.values:
                    org_values[name] = org.fields.values[name]
            org_fields = EventFields(basis.start, basis.end, org_values)
            self._keep_guest_answers(org, org_fields)  # other guests' answers are theirs
            org_fields = replace(org_fields,
                                 values=with_answer(org_fields.values, address, answer))
            before = _shared_state(org)
            self._rewrite(org_calendar, org, org_fields, {**audit, "as": calendar.owner})
            self._propagate(org_calendar, org, before, {**audit, "as": calendar.owner},
                            skip=calendar.key)
            if not private:
                base, sequence = org.fields, org.sequence
        if private:
            base = replace(new, values=with_answer(new.values, address, answer))
        values = combine(shared_part(base.values), own_part(new.values))
        if entry_of(values, address) is None or record.removed:
            values["status"] = "cancelled"  # taken off the list, or removed by its owner
        self._set_copy(calendar, record, EventFields(base.start, base.end, values), sequence,
                       audit)
        return record

    def _organizer_copy(self, meeting: Meeting) -> EventRecord:
        calendar = self.calendars[meeting.organizer_key]  # type: ignore[index]
        return calendar.events[meeting.copies[calendar.key]]

    def _master(self, meeting: Meeting) -> _Master:
        if meeting.outside:
            assert meeting.fields is not None
            return _Master("", meeting.fields, meeting.sequence, meeting.organizer,
                           meeting.organizer, meeting.created or self.state.clock.now())
        org = self._organizer_copy(meeting)
        return _Master(org.id, org.fields, org.sequence, org.organizer, org.creator,
                       org.created, org.recurring_event_id, org.original_start)

    # --- invitations from outside Google ----------------------------------------------
    # An invitation from an organizer outside Google (say Outlook) arrives as an imported
    # event: "Imports an event. This operation is used to add a private copy of an existing
    # event to a calendar" and iCalUID "must be supplied when importing events"
    # (events.import, developers.google.com/calendar/v3/reference/events/import). Each
    # calendar gets its own private copy with a server-chosen id (per-calendar ids are not
    # spelled out in Google's docs: they follow from each import being a separate copy);
    # the organizer is the outside address ("Read-only, except when importing an event").

    def invite_from_outside(self, organizer: dict[str, Any], subjects: list[str],
                            body: dict[str, Any],
                            audit: dict[str, Any]) -> dict[str, tuple[Calendar, EventRecord]]:
        email = organizer.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise ValueError("the organizer needs an e-mail address")
        if not subjects:
            raise ValueError("name at least one sandbox user to invite")
        calendars = {subject: self.calendar_for(subject, "primary") for subject in subjects}
        attendees = list(body.get("attendees") or [])
        for subject in subjects:
            if not any(isinstance(a, dict) and str(a.get("email", "")).lower()
                       == subject.lower() for a in attendees):
                attendees.append({"email": subject})
        fields = validate_event_body({**body, "attendees": attendees})
        ical_uid = body.get("iCalUID")
        if not isinstance(ical_uid, str) or not ical_uid:
            ical_uid = f"{self._random_id(32).upper()}@outside.example"
        if ical_uid in self.outside_meetings or any(
                self._ical_uid_taken(c, ical_uid) for c in calendars.values()):
            raise ValueError(f"iCalUID {ical_uid!r} is already in use; update it instead")
        meeting = Meeting(ical_uid, None, fields=fields, sequence=fields.sequence or 0,
                          organizer={k: v for k, v in organizer.items()
                                     if k in ("email", "displayName") and isinstance(v, str)},
                          created=self.state.clock.now())
        self.outside_meetings[ical_uid] = meeting
        master = self._master(meeting)
        self._sync_copies(meeting, master, {c.key: c for c in calendars.values()}, False,
                          audit)
        return {subject: (c, c.events[meeting.copies[c.key]])
                for subject, c in calendars.items() if c.key in meeting.copies}

    def outside_update(self, ical_uid: str, changes: dict[str, Any],
                       audit: dict[str, Any]) -> Meeting:
        """The outside organizer sends an update (patch semantics) to every guest."""
        meeting = self._outside_meeting(ical_uid)
        assert meeting.fields is not None
        view = merge_patch(_view(meeting.fields), changes)
        fields = validate_event_body(view)
        meeting.sequence = _next_sequence_of(meeting.fields, meeting.sequence, fields)
        meeting.fields = replace(fields, sequence=None)
        if isinstance(changes.get("organizer"), dict):
            meeting.organizer = {**meeting.organizer, **{
                k: v for k, v in changes["organizer"].items()
                if k == "displayName" and isinstance(v, str)}}
        targets = {key: self.calendars[key] for key in meeting.copies}
        targets = {k: c for k, c in targets.items() if entry_of(fields.values, c.id)}
        targets.update(self._invited(fields.values, None))
        self._sync_copies(meeting, self._master(meeting), targets, True, audit)
        return meeting

    def outside_cancel(self, ical_uid: str, audit: dict[str, Any]) -> Meeting:
        return self.outside_update(ical_uid, {"status": "cancelled"}, audit)

    def _outside_meeting(self, ical_uid: str) -> Meeting:
        meeting = self.outside_meetings.get(ical_uid)
        if meeting is None:
            raise ValueError(f"no invitation from outside with iCalUID {ical_uid!r}")
        return meeting

    def _changed(self, calendar: Calendar, record: EventRecord, audit: dict[str, Any]) -> None:
        if record.recurring_event_id is not None:  # first, so the master lists first
            self._touch_series(calendar, record.recurring_event_id)
        self.change_counter += 1
        record.change_seq = self.change_counter
        record.etag = self._next_etag(record.updated)
        record.writes.append({**audit, "at": self.state.clock.time(),
                              "emailed": _emailed_guests(record, audit)})
        self.channels.notify(calendar.key)
        if record.recurring_event_id is None:
            self._series_changed(calendar, record, audit)

    # --- listing -----------------------------------------------------------------------

    def list(self, calendar: Calendar, req: ListRequest) -> dict[str, Any]:
        cursor, offset = (self._page(calendar, req.page_token) if req.page_token
                          else (self._start_listing(calendar, req), 0))
        return self._page_body(calendar, cursor, offset, req.max_results)

    def instances(self, calendar: Calendar, event_id: str, req: ListRequest,
                  original_start: date | datetime | None) -> dict[str, Any]:
        """events.instances: a series' occurrences with exceptions applied. For an event
        that is not a series the answer is that event alone (Google's docs do not say;
        chosen as the reading of "instances" for a one-off event)."""
        if req.page_token:
            cursor, offset = self._page(calendar, req.page_token)
            return self._page_body(calendar, cursor, offset, req.max_results)
        record = self.get(calendar, event_id)
        if recurrence.is_master(record):
            found = recurrence.series_instances(
                record, calendar.events, calendar.id, calendar.zone, req.filters.time_min,
                req.filters.time_max, original_start)
        else:
            found = [record]
        cursor = Cursor(calendar.key, tuple(r.id for r in found), "instances", req.filters,
                        self.change_counter, bool(req.show_deleted), req.zone)
        return self._page_body(calendar, cursor, 0, req.max_results)

    def _page_body(self, calendar: Calendar, cursor: Cursor, offset: int,
                   max_results: int) -> dict[str, Any]:
        end = offset + max_results
        # Ids are resolved page by page: an instance may have become an exception since,
        # or left the series.
        items = [item for event_id in cursor.ids[offset:end]
                 if (record := recurrence.resolve(calendar.events, calendar.id, event_id))
                 and (item := self._list_item(calendar, record, cursor))]
        body: dict[str, Any] = {
            "kind": "calendar#events", "etag": f'"p{self.change_counter:016d}"',
            "summary": calendar.summary, "updated": _latest_update(calendar),
            "timeZone": calendar.time_zone, "accessRole": "owner", "defaultReminders": [],
        }
        if end < len(cursor.ids):
            body["nextPageToken"] = self._remember_page(cursor, end)
        elif cursor.mode != "instances":
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
        if req.single_events:
            records = recurrence.single_events(
                records, calendar.events, calendar.id, calendar.zone, filters.time_min,
                filters.time_max, hide_deleted_series=mode == "full")
        if req.order_by == "updated":
            records.sort(key=lambda r: (r.updated, r.change_seq))
        elif req.order_by == "startTime":
            records.sort(key=lambda r: r.fields.start.at(calendar.zone))
        # Candidates include events the filters will drop at page time, so a page may hold
        # fewer than maxResults items, or none, while more follow (as Google's may).
        return Cursor(calendar.key, tuple(r.id for r in records), mode, filters,
                      self.change_counter, show_deleted, req.zone, req.single_events)

    def _list_item(self, calendar: Calendar, record: EventRecord,
                   cursor: Cursor) -> dict[str, Any] | None:
        if record.cancelled and not cursor.show_deleted:
            # Full lists hide deletions; incremental and updatedMin lists report them bare.
            # Except: "Cancelled instances of recurring events (but not the underlying
            # recurring event) will still be included if showDeleted and singleEvents are
            # both False" (events.list, showDeleted).
            if cursor.mode in ("full", "instances"):
                kept = (cursor.mode == "full" and not cursor.single_events
                        and recurrence.live_exception(record))
                if not kept or not cursor.filters.match(record, calendar.zone):
                    return None
            return render_event(record, calendar.zone, minimal=True, forced_zone=cursor.zone)
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
        # `self` is added when a copy is rendered: true in the calendar it sits in.
        if calendar.id == calendar.owner:
            return {"email": calendar.owner}
        return {"email": calendar.id, "displayName": calendar.summary}

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
    return _next_sequence_of(record.fields, record.sequence, fields)


def _next_sequence_of(old: EventFields, sequence: int, new: EventFields) -> int:
    """A client may raise the sequence, never lower it; a reschedule raises it by one."""
    if new.sequence is not None and new.sequence < sequence:
        raise invalid(SEQUENCE_BELOW)
    moved = (old.start, old.end) != (new.start, new.end)
    rescheduled = any(old.values.get(n) != new.values.get(n) for n in ("recurrence", "location"))
    automatic = sequence + 1 if moved or rescheduled else sequence
    return max(automatic, new.sequence or 0)


@dataclass(frozen=True)
class _Master:
    """The version of a meeting its copies follow."""

    id: str
    fields: EventFields
    sequence: int
    organizer: dict[str, Any]
    creator: dict[str, Any]
    created: datetime
    recurring_event_id: str | None = None  # an exception's series and original start
    original_start: EventTime | None = None


def _body_for(record: EventRecord, body: dict[str, Any]) -> dict[str, Any]:
    return recurrence.instance_body(body) if recurrence.is_instance(record) else body


def _shared_state(record: EventRecord) -> tuple:
    """What the other copies of a meeting show of this (organizer's) copy."""
    fields = record.fields
    return (fields.start, fields.end, shared_part(fields.values), record.sequence,
            dict(record.organizer))


def _settings_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    shared = [(v.get("extendedProperties", {}).get("shared") or {}) for v in (old, new)]
    return shared[0] != shared[1] or any(old.get(n) != new.get(n) for n in SHARED_SETTINGS)


def _copy_audit(audit: dict[str, Any]) -> dict[str, Any]:
    """A copy's write log entry: Google's doing, mailing nobody itself."""
    return {"by": "google", "method": f"copy.{audit.get('method', 'write')}",
            "sendUpdates": None, "sendNotifications": None}


def _view(fields: EventFields) -> dict[str, Any]:
    utc = ZoneInfo("UTC")
    view = {k: v for k, v in fields.values.items()}
    view["start"] = fields.start.render(utc)
    view["end"] = fields.end.render(utc)
    return view


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


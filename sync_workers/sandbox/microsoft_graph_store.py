"""The Microsoft Graph emulator's records: mailboxes, events, meetings, ids.

Callers hold `state.lock`. Every change of an event takes the mailbox's next change
number (`seq`), which delta (microsoft_graph_delta) reads, bumps the event's changeKey and
tells the subscriptions (microsoft_graph_subscriptions). Deleted events stay as tombstones.

Ids: an event has a regular REST id and an immutable id (learn.microsoft.com/graph/
outlook-immutable-id). The regular id encodes where the item sits, so a move to another
calendar and back (`move`) gives it a new one and the old one no longer resolves; the
immutable id stays. Both are base64, mixed case and case-sensitive. An occurrence of a
series has ids of its own, derived from the master's and its original start.

A meeting (an event with attendees) organized by a sandbox mailbox puts a copy into every
attendee's mailbox: its own ids, the same iCalUId, isOrganizer false. The organizer's copy
is the master: its changes reach the copies; the attendees' answers reach its attendee list.
"""
from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from .core import SandboxState
from .microsoft_graph_errors import (
    GraphError,
    id_malformed,
    item_not_found,
    not_a_respondable_meeting,
    validation_failure,
)
from .microsoft_graph_events import (
    NO_TIME,
    SHARED,
    Changes,
    View,
    When,
    all_day_ok,
    finish_recurrence,
    keep_answers,
)
from .microsoft_graph_recurrence import Recurrence, occurrence_starts
from .oauth_providers import microsoft_claims

STORE_KEY = "microsoft_graph"
TENANT_ID = microsoft_claims("tenant", [])["tid"]
_ICAL_CLASS = "040000008200E00074C5B7101A82E008"  # Outlook's global object id prefix
_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=timezone.utc)
ANSWERS = {"accept": "accepted", "tentativelyAccept": "tentativelyAccepted",
           "decline": "declined"}


@dataclass
class ExceptionRecord:
    """An occurrence changed on its own: its overrides and its own version."""

    props: dict[str, Any]
    start: When | None
    end: When | None
    created: datetime
    modified: datetime
    change_number: int = 1


@dataclass
class EventRecord:
    number: int
    owner: str
    ical_uid: str
    created: datetime
    modified: datetime
    props: dict[str, Any]
    start: When
    end: When
    is_all_day: bool
    recurrence: Recurrence | None
    organizer: dict[str, Any]
    is_organizer: bool
    response_status: dict[str, str]
    transaction_id: str | None = None
    extended: dict[tuple[str, ...], tuple[str, str]] = field(default_factory=dict)
    original_zones: tuple[str, str] = ("UTC", "UTC")
    change_number: int = 1
    seq: int = 0
    generation: int = 0  # bumped by a move: the regular id changes
    is_cancelled: bool = False
    deleted: bool = False
    meeting: str | None = None  # iCalUId of the meeting this is a copy of
    exceptions: dict[datetime, ExceptionRecord] = field(default_factory=dict)
    cancelled: set[datetime] = field(default_factory=set)
    writes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "seriesMaster" if self.recurrence is not None else "singleInstance"


@dataclass
class Mailbox:
    address: str
    display_name: str
    user_id: str  # the user's object id (oid), as Graph's notifications name users
    events: dict[int, EventRecord] = field(default_factory=dict)  # in creation order
    transactions: dict[str, int] = field(default_factory=dict)  # transactionId -> number
    seq: int = 0

    @property
    def email(self) -> dict[str, str]:
        return {"name": self.display_name, "address": self.address}


@dataclass
class Meeting:
    ical_uid: str
    organizer: str
    copies: dict[str, int] = field(default_factory=dict)  # attendee mailbox -> number


@dataclass(frozen=True)
class IdRef:
    owner: str
    number: int
    original_start: datetime | None
    immutable: bool
    generation: int


# Called on every change: (mailbox, record, changeType, original start of an occurrence).
ChangeHook = Callable[[Mailbox, EventRecord, str, "datetime | None"], None]


class GraphStore:
    def __init__(self, state: SandboxState, seed: int = 0) -> None:
        self.state = state
        self.rng = random.Random(seed)
        self.salt = self.rng.getrandbits(64).to_bytes(8, "big")
        self.mailboxes: dict[str, Mailbox] = {}  # lower-cased address -> mailbox
        self.meetings: dict[str, Meeting] = {}
        self.ids: dict[str, IdRef] = {}
        self.next_number = 1
        self.hooks: list[ChangeHook] = []
        # Set by the routes' installer (their modules build on this one).
        self.delta: Any = None  # microsoft_graph_delta.DeltaTokens
        self.subscriptions: Any = None  # microsoft_graph_subscriptions.Subscriptions

    # --- mailboxes ---------------------------------------------------------------------

    def mailbox(self, address: str, display_name: str | None = None) -> Mailbox:
        """The mailbox of a sandbox user, made on first use."""
        key = address.lower()
        box = self.mailboxes.get(key)
        if box is None:
            name = display_name or address.split("@")[0].replace(".", " ").title()
            box = Mailbox(address, name, microsoft_claims(address, [])["oid"])
            self.mailboxes[key] = box
        elif display_name:
            box.display_name = display_name
        return box

    def find_mailbox(self, address: str) -> Mailbox | None:
        return self.mailboxes.get(address.lower())

    # --- ids ---------------------------------------------------------------------------

    def event_id(self, record: EventRecord, immutable: bool,
                 original_start: datetime | None = None) -> str:
        gen = 0 if immutable else record.generation
        seed = b"|".join([self.salt, b"i" if immutable else b"r", record.owner.lower().encode(),
                          str(record.number).encode(), str(gen).encode(),
                          original_start.isoformat().encode() if original_start else b""])
        digest = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(4))
        if immutable:
            text = "AAkALgAA" + base64.urlsafe_b64encode(digest[:99]).decode()
        else:
            size = 128 if original_start else 110
            text = "AAMkAG" + base64.urlsafe_b64encode(digest[:size]).decode()
        self.ids.setdefault(text, IdRef(record.owner, record.number, original_start,
                                        immutable, gen))
        return text

    def resolve(self, box: Mailbox, item_id: str) -> tuple[EventRecord, datetime | None]:
        """The record (and occurrence start) an id names in `box`; 404 unless it is a live
        item there under its current id."""
        if not _well_formed(item_id):
            raise id_malformed()
        ref = self.ids.get(item_id)
        if ref is None or ref.owner.lower() != box.address.lower():
            raise item_not_found()
        record = box.events.get(ref.number)
        if record is None or record.deleted:
            raise item_not_found()
        if not ref.immutable and ref.generation != record.generation:
            raise item_not_found()
        if ref.original_start is not None and not self.is_occurrence(record, ref.original_start):
            raise item_not_found()
        return record, ref.original_start

    # --- creating and changing -----------------------------------------------------------

    def create(self, box: Mailbox, changes: Changes, by: str,
               ical_uid: str | None = None, organizer: Mailbox | None = None) -> EventRecord:
        if changes.transaction_id is not None:
            existing = box.transactions.get(changes.transaction_id)
            if existing is not None and not box.events[existing].deleted:
                return box.events[existing]  # a retried create: the event it made
        if changes.start is None or changes.end is None:
            raise validation_failure()
        finish_recurrence(changes, changes.start.zone_name)
        now = self.state.clock.now()
        organizer = organizer or box
        record = EventRecord(
            number=self.next_number, owner=box.address, ical_uid=ical_uid or self._ical_uid(now),
            created=now, modified=now, props={}, start=changes.start, end=changes.end,
            is_all_day=bool(changes.is_all_day), recurrence=changes.recurrence,
            organizer={"emailAddress": organizer.email}, is_organizer=organizer is box,
            response_status={"response": "organizer" if organizer is box else "notResponded",
                              "time": NO_TIME},
            transaction_id=changes.transaction_id,
            original_zones=(changes.start.zone_name, changes.end.zone_name))
        self.next_number += 1
        record.props.update(changes.props)
        if not record.is_organizer:
            record.props["showAs"] = "tentative"
        for key, prop_id, value in changes.extended:
            record.extended[key] = (prop_id, value)
        self._check_times(record)
        box.events[record.number] = record
        if changes.transaction_id is not None:
            box.transactions[changes.transaction_id] = record.number
        self.event_id(record, False)
        self.event_id(record, True)
        self._touch(box, record, "created", by, bump=False)
        if record.is_organizer and record.props.get("attendees"):
            self._sync_meeting(box, record, by)
        return record

    def update(self, box: Mailbox, record: EventRecord, original: datetime | None,
               changes: Changes, by: str) -> EventRecord:
        if changes.transaction_id is not None and changes.transaction_id != \
                record.transaction_id:
            raise GraphError(400, "ErrorInvalidRequest",
                             "The transactionId of an event can't be changed.")
        if original is not None:
            self._update_occurrence(box, record, original, changes, by)
            return record
        if "attendees" in changes.props:
            changes.props["attendees"] = keep_answers(changes.props["attendees"],
                                                      record.props.get("attendees") or [])
        before = (record.start, record.end, record.is_all_day, record.recurrence)
        record.props.update(changes.props)
        if changes.start is not None:
            record.start = changes.start
            record.original_zones = (changes.start.zone_name, record.original_zones[1])
        if changes.end is not None:
            record.end = changes.end
            record.original_zones = (record.original_zones[0], changes.end.zone_name)
        if changes.is_all_day is not None:
            record.is_all_day = changes.is_all_day
        finish_recurrence(changes, record.start.zone_name)
        if changes.recurrence is not None:
            record.recurrence = changes.recurrence
        elif changes.clear_recurrence and record.recurrence is not None:
            raise GraphError(400, "ErrorInvalidRequest",
                             "A series master can't be turned into a single event.")
        try:
            self._check_times(record)
        except GraphError:
            record.start, record.end, record.is_all_day, record.recurrence = before
            raise
        if record.recurrence is not None and (record.start, record.end, record.is_all_day,
                                              record.recurrence) != before:
            # A new series time or pattern drops its exceptions and brings back deleted
            # occurrences, as Outlook warns it will.
            record.exceptions.clear()
            record.cancelled.clear()
        for key, prop_id, value in changes.extended:
            record.extended[key] = (prop_id, value)
        self._touch(box, record, "updated", by)
        if record.is_organizer and (record.meeting or record.props.get("attendees")) and \
                changes.touches(SHARED):
            self._sync_meeting(box, record, by)
        return record

    def delete(self, box: Mailbox, record: EventRecord, original: datetime | None,
               by: str) -> None:
        if original is not None:
            record.exceptions.pop(original, None)
            record.cancelled.add(original)
            self._touch(box, record, "updated", by)
            if record.is_organizer and record.meeting:
                for copy_box, copy in self._copies(record):
                    copy.exceptions.pop(original, None)
                    copy.cancelled.add(original)
                    self._touch(copy_box, copy, "updated", "organizer")
            return
        record.deleted = True
        self._touch(box, record, "deleted", by)
        if record.is_organizer and record.meeting:
            for copy_box, copy in self._copies(record):
                self._cancel_copy(copy_box, copy)
            self.meetings.pop(record.meeting, None)

    def move(self, box: Mailbox, record: EventRecord, by: str) -> None:
        """To another calendar and back: a new regular id, the same immutable id."""
        record.generation += 1
        self.event_id(record, False)
        self._touch(box, record, "updated", by)

    def respond(self, box: Mailbox, record: EventRecord, action: str, send_response: bool,
                by: str) -> None:
        if record.is_organizer or record.meeting is None:
            raise not_a_respondable_meeting()
        answer = ANSWERS[action]
        now = self.state.clock.now()
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        record.response_status = {"response": answer, "time": stamp}
        record.props["showAs"] = {"accepted": "busy"}.get(answer, "tentative")
        meeting = self.meetings.get(record.meeting)
        if send_response and meeting is not None:
            organizer_box = self.find_mailbox(meeting.organizer)
            master = next((r for r in organizer_box.events.values()
                           if r.ical_uid == meeting.ical_uid and not r.deleted), None) \
                if organizer_box else None
            if master is not None:
                master.props["attendees"] = [
                    {**a, "status": {"response": answer, "time": stamp}}
                    if a["emailAddress"]["address"].lower() == box.address.lower() else a
                    for a in master.props.get("attendees") or []]
                self._touch(organizer_box, master, "updated", "attendee")
        if answer == "declined":  # Outlook takes a declined meeting off the calendar
            record.deleted = True
            if meeting is not None:
                meeting.copies.pop(box.address.lower(), None)
            self._touch(box, record, "deleted", by)
        else:
            self._touch(box, record, "updated", by)

    def _update_occurrence(self, box: Mailbox, record: EventRecord, original: datetime,
                           changes: Changes, by: str) -> None:
        if changes.recurrence is not None or changes.clear_recurrence or \
                changes.is_all_day is not None:
            raise GraphError(400, "ErrorInvalidRequest",
                             "An occurrence's recurrence and isAllDay can't be changed.")
        now = self.state.clock.now()
        exc = record.exceptions.get(original)
        if exc is None:
            exc = ExceptionRecord({}, None, None, now, now, 0)
            record.exceptions[original] = exc
        exc.props.update(changes.props)
        exc.start = changes.start or exc.start
        exc.end = changes.end or exc.end
        exc.change_number += 1
        exc.modified = now
        start, end = self.occurrence_times(record, original)
        if end.instant < start.instant:
            raise validation_failure()
        self._touch(box, record, "updated", by, bump=False)
        if record.is_organizer and record.meeting:
            for copy_box, copy in self._copies(record):
                shared = {k: v for k, v in exc.props.items() if k in SHARED}
                copy.exceptions[original] = replace(exc, props=shared)
                self._touch(copy_box, copy, "updated", "organizer")

    # --- meetings ----------------------------------------------------------------------

    def _sync_meeting(self, box: Mailbox, master: EventRecord, by: str) -> None:
        meeting = self.meetings.get(master.ical_uid)
        if meeting is None:
            meeting = Meeting(master.ical_uid, box.address)
            self.meetings[master.ical_uid] = meeting
        master.meeting = master.ical_uid
        invited = {a["emailAddress"]["address"].lower()
                   for a in master.props.get("attendees") or []}
        for address in list(meeting.copies):
            if address not in invited:  # taken off the meeting: a cancellation
                copy_box = self.mailboxes[address]
                copy = copy_box.events[meeting.copies.pop(address)]
                if not copy.deleted:
                    self._cancel_copy(copy_box, copy)
        for address in sorted(invited):
            attendee_box = self.mailboxes.get(address)
            if attendee_box is None or attendee_box is box:
                continue
            number = meeting.copies.get(address)
            if number is None:
                copy = self.create(attendee_box, self._copy_changes(master), "organizer",
                                   ical_uid=master.ical_uid, organizer=box)
                copy.meeting = master.ical_uid
                copy.exceptions = {k: replace(v, props=_shared(v.props))
                                   for k, v in master.exceptions.items()}
                copy.cancelled = set(master.cancelled)
                meeting.copies[address] = copy.number
                continue
            copy = attendee_box.events[number]
            copy.props.update(_shared(master.props))
            copy.start, copy.end = master.start, master.end
            copy.is_all_day, copy.recurrence = master.is_all_day, master.recurrence
            copy.original_zones = master.original_zones
            copy.exceptions = {k: replace(v, props=_shared(v.props))
                               for k, v in master.exceptions.items()}
            copy.cancelled = set(master.cancelled)
            copy.is_cancelled = False
            self._touch(attendee_box, copy, "updated", "organizer")

    @staticmethod
    def _copy_changes(master: EventRecord) -> Changes:
        return Changes(props=_shared(master.props), start=master.start, end=master.end,
                       is_all_day=master.is_all_day, recurrence=master.recurrence)

    def _copies(self, master: EventRecord) -> Iterator[tuple[Mailbox, EventRecord]]:
        meeting = self.meetings.get(master.meeting or "")
        if meeting is None:
            return
        for address, number in list(meeting.copies.items()):
            copy_box = self.mailboxes[address]
            copy = copy_box.events[number]
            if not copy.deleted:
                yield copy_box, copy

    def _cancel_copy(self, box: Mailbox, copy: EventRecord) -> None:
        """What a cancellation does to an attendee's copy: it stays, marked cancelled."""
        copy.is_cancelled = True
        subject = copy.props.get("subject", "")
        if not subject.startswith("Canceled: "):
            copy.props["subject"] = f"Canceled: {subject}"
        self._touch(box, copy, "updated", "organizer")

    # --- views -------------------------------------------------------------------------

    def view(self, record: EventRecord, immutable: bool,
             original: datetime | None = None) -> View:
        master_id = self.event_id(record, immutable)
        common = dict(ical_uid=record.ical_uid, created=record.created,
                      organizer=record.organizer, is_organizer=record.is_organizer,
                      response_status=record.response_status,
                      is_cancelled=record.is_cancelled, transaction_id=record.transaction_id,
                      extended=record.extended, original_zones=record.original_zones)
        if original is None:
            return View(kind=record.kind, id=master_id, master_id=None,
                        modified=record.modified, change_key=self.change_key(record),
                        props=record.props, start=record.start, end=record.end,
                        is_all_day=record.is_all_day, recurrence=record.recurrence,
                        original_start=None, **common)
        exc = record.exceptions.get(original)
        start, end = self.occurrence_times(record, original)
        props = {**record.props, **(exc.props if exc else {})}
        return View(kind="exception" if exc else "occurrence",
                    id=self.event_id(record, immutable, original), master_id=master_id,
                    modified=exc.modified if exc else record.modified,
                    change_key=self.change_key(record, exc), props=props, start=start,
                    end=end, is_all_day=record.is_all_day, recurrence=None,
                    original_start=original, **{**common,
                                                "ical_uid": self._occurrence_uid(record,
                                                                                 original)})

    def occurrence_times(self, record: EventRecord, original: datetime) -> tuple[When, When]:
        local = original.astimezone(record.start.zone).replace(tzinfo=None)
        start = When(local, record.start.zone_name)
        end = record.end.shifted(local - record.start.local) if record.is_all_day else \
            When((original + (record.end.instant - record.start.instant)).astimezone(
                record.end.zone).replace(tzinfo=None), record.end.zone_name)
        exc = record.exceptions.get(original)
        if exc is not None:
            start, end = exc.start or start, exc.end or end
        return start, end

    def occurrences(self, record: EventRecord, until: date | None) -> Iterator[datetime]:
        """Original starts (UTC) of the series' live occurrences, cancelled ones left out."""
        assert record.recurrence is not None
        zone = record.start.zone
        for local in occurrence_starts(record.recurrence, record.start.local, until):
            original = local.replace(tzinfo=zone).astimezone(timezone.utc)
            if original not in record.cancelled:
                yield original

    def is_occurrence(self, record: EventRecord, original: datetime) -> bool:
        if record.recurrence is None or original in record.cancelled:
            return False
        until = original.astimezone(record.start.zone).date()
        return any(o == original for o in self.occurrences(record, until))

    def instances_between(self, record: EventRecord, start: datetime,
                          end: datetime) -> list[datetime | None]:
        """What of `record` a calendarView from `start` to `end` shows: None for a single
        instance, else the original starts of its occurrences and exceptions there."""
        if record.deleted:
            return []
        if record.recurrence is None:
            return [None] if _overlaps(record.start, record.end, start, end) else []
        until = (end + timedelta(days=2)).astimezone(record.start.zone).date()
        out: list[datetime | None] = []
        for original in self.occurrences(record, until):
            if original in record.exceptions:
                continue
            occ_start, occ_end = self.occurrence_times(record, original)
            if _overlaps(occ_start, occ_end, start, end):
                out.append(original)
        for original, exc in record.exceptions.items():
            if original in record.cancelled:
                continue
            occ_start, occ_end = self.occurrence_times(record, original)
            if _overlaps(occ_start, occ_end, start, end):
                out.append(original)
        return sorted(out, key=lambda o: self.occurrence_times(record, o)[0].instant)

    def change_key(self, record: EventRecord, exc: ExceptionRecord | None = None) -> str:
        head = hashlib.sha256(self.salt + record.owner.lower().encode() +
                              str(record.number).encode()).digest()[:16]
        number = record.change_number * 1000 + (exc.change_number if exc else 0)
        return base64.b64encode(head + number.to_bytes(6, "big")).decode()

    # --- internals ---------------------------------------------------------------------

    def _touch(self, box: Mailbox, record: EventRecord, change: str, by: str,
               bump: bool = True) -> None:
        now = self.state.clock.now()
        if bump:
            record.change_number += 1
            record.modified = now
        box.seq += 1
        record.seq = box.seq
        record.writes.append({"by": by, "change": change, "at": now.timestamp()})
        for hook in self.hooks:
            hook(box, record, change, None)

    def _check_times(self, record: EventRecord) -> None:
        if record.is_all_day:
            if not all_day_ok(record.start, record.end):
                raise validation_failure()
        elif record.end.instant < record.start.instant:
            raise validation_failure()

    def _ical_uid(self, now: datetime) -> str:
        ticks = int((now - _EPOCH_1601).total_seconds() * 10 ** 7)
        created = ticks.to_bytes(8, "little").hex().upper()
        return (f"{_ICAL_CLASS}00000000{created}{'0' * 16}10000000"
                f"{self.rng.getrandbits(128):032X}")

    @staticmethod
    def _occurrence_uid(record: EventRecord, original: datetime) -> str:
        uid = record.ical_uid
        if not uid.startswith(_ICAL_CLASS) or len(uid) < 40:
            return f"{uid}-{original.strftime('%Y%m%d')}"
        day = original.astimezone(record.start.zone).date()
        return f"{uid[:32]}{day.year:04X}{day.month:02X}{day.day:02X}{uid[40:]}"


def _shared(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k in SHARED}


def _overlaps(start: When, end: When, window_start: datetime, window_end: datetime) -> bool:
    s, e = start.instant, end.instant
    if s == e:  # a zero-length event shows where it starts
        return window_start <= s < window_end
    return s < window_end and e > window_start


def _well_formed(item_id: str) -> bool:
    """Shaped like an Exchange id (base64 text); anything else is malformed, not unknown."""
    return isinstance(item_id, str) and len(item_id) >= 20 and item_id.isascii() and \
        all(c.isalnum() or c in "-_=+/" for c in item_id)


def store_of(state: SandboxState) -> GraphStore:
    return state.stores[STORE_KEY]

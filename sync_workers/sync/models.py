"""The records the sync reasons about, one shape per side, free of any provider's format.

Every model is a frozen value. Constructors check what the rest of the core relies on
(aware UTC times, known status values) and raise `InvalidModel`, so bad provider data
dead-letters with a reason instead of producing a wrong plan.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from types import MappingProxyType
from typing import Literal, Mapping

from .errors import InvalidModel

CalendarStatus = Literal["confirmed", "tentative", "cancelled"]
ActivityStatus = Literal["scheduled", "canceled"]
LinkStatus = Literal["active", "canceled", "deleted", "detached"]
LinkRole = Literal["decider", "copy"]

CALENDAR_STATUSES: frozenset[str] = frozenset({"confirmed", "tentative", "cancelled"})
ACTIVITY_STATUSES: frozenset[str] = frozenset({"scheduled", "canceled"})
LINK_STATUSES: frozenset[str] = frozenset({"active", "canceled", "deleted", "detached"})
LINK_ROLES: frozenset[str] = frozenset({"decider", "copy"})


def _check_status(kind: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise InvalidModel(f"{kind} status {value!r} is not one of {sorted(allowed)}")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class TimeSpan:
    """When an appointment happens.

    Timed: aware datetimes, stored as UTC with whole seconds (neither provider keeps more).
    All-day: `date`s with an exclusive end, as Google writes them (a one-day event on
    5 May is 5 May .. 6 May), so no side ever shows it a day early.
    """

    start: datetime | date
    end: datetime | date
    all_day: bool

    def __post_init__(self) -> None:
        if self.all_day:
            if isinstance(self.start, datetime) or isinstance(self.end, datetime):
                raise InvalidModel("an all-day span takes dates, not datetimes")
        else:
            object.__setattr__(self, "start", _utc_seconds(self.start, "start"))
            object.__setattr__(self, "end", _utc_seconds(self.end, "end"))
        if self.end <= self.start:
            raise InvalidModel(f"span end {self.end} is not after its start {self.start}")


def _utc_seconds(value: datetime | date, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidModel(f"a timed span takes datetimes; {name} is {value!r}")
    if value.utcoffset() is None:
        raise InvalidModel(f"span {name} {value.isoformat()} has no time zone")
    return value.astimezone(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class Attendee:
    """One entry of an event's attendee list. The flags are the provider's own words:
    `is_self` this entry is the calendar the copy sits in (Google `self`), `organizer`,
    `resource` a room or equipment; `response` accepted | declined | tentative |
    needsAction (None: not said). `email` is "if available" (Google)."""

    email: str | None
    name: str | None = None
    is_self: bool = False
    organizer: bool = False
    resource: bool = False
    response: str | None = None


@dataclass(frozen=True)
class Appointment:
    """A calendar event: one copy of a meeting, in one calendar. `span` is None only for a
    cancelled event (Google then may send nothing but the id). `crm_refs` is the copy's
    private extended properties map. `ical_uid` names the meeting across calendars (every
    participant's copy has it; an occurrence's names that occurrence alone: the series'
    iCalUID and the occurrence's original start); `organizer_copy` says this copy is the
    organizer's own. A recurring meeting is synced as its occurrences: `series_id` and
    `occurrence_start` (its original start, its key in the series) name one; a series master
    (`recurrence` set) is no meeting itself."""

    event_id: str
    status: CalendarStatus
    span: TimeSpan | None
    title: str = ""
    location: str = ""
    description: str = ""
    attendees: tuple[Attendee, ...] = ()
    etag: str | None = None
    updated: datetime | None = None
    crm_refs: Mapping[str, str] = field(default_factory=dict)
    ical_uid: str | None = None
    organizer_copy: bool = False
    series_id: str | None = None
    occurrence_start: datetime | None = None
    recurrence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_status("calendar event", self.status, CALENDAR_STATUSES)
        if self.span is None and self.status != "cancelled":
            raise InvalidModel(f"calendar event {self.event_id} has no start/end")
        object.__setattr__(self, "attendees", tuple(self.attendees))
        object.__setattr__(self, "crm_refs", _frozen(self.crm_refs))
        object.__setattr__(self, "recurrence", tuple(self.recurrence))

    @property
    def is_live(self) -> bool:
        return self.status != "cancelled"

    @property
    def is_series(self) -> bool:
        """A recurring series' master: its occurrences are the meetings."""
        return bool(self.recurrence)


@dataclass(frozen=True)
class Contact:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company: str | None = None
    deleted: bool = False


@dataclass(frozen=True)
class CrmActivity:
    """A CRM meeting (Salesforce Event). `external_id` holds the calendar event id,
    `who_id` the contact, `owner_id` the CRM user whose meeting it is (the rep),
    `version` an opaque change marker (Salesforce SystemModstamp)."""

    id: str
    span: TimeSpan
    external_id: str | None = None
    subject: str = ""
    location: str = ""
    description: str = ""
    who_id: str | None = None
    status: ActivityStatus = "scheduled"
    version: str | None = None
    owner_id: str | None = None
    in_series: bool = False  # a recurring series made in the CRM, or one of its occurrences

    def __post_init__(self) -> None:
        _check_status("CRM activity", self.status, ACTIVITY_STATUSES)


@dataclass(frozen=True)
class CrmSide:
    """The CRM's half of a link. `contact` is the contact that `activity.who_id` names
    (load it by who_id, not by the link: that is how a merge is followed); when the
    activity is gone it is the link's contact. None means gone or never there."""

    activity: CrmActivity | None
    contact: Contact | None = None
    others: tuple[Contact, ...] = ()  # the meeting's further people, in the guests' order

    def __post_init__(self) -> None:
        if self.activity is not None and self.contact is not None \
                and self.contact.id != self.activity.who_id:
            raise ValueError(f"contact {self.contact.id} is not the activity's who_id "
                             f"{self.activity.who_id}: load the contact by who_id")


@dataclass(frozen=True)
class Link:
    """One calendar event tied to one CRM activity (row of `sync_links`).

    Fingerprints are those of the canonical views last written or seen per side (None:
    never seen). `last_contact_email` is never a key, only the e-mail last written to the
    calendar, kept so that a changed e-mail replaces the right attendee.

    A meeting in several reps' calendars (one `ical_uid`) has one CRM activity and one link
    per copy: the `decider` (the organizer's copy when the organizer is connected, else the
    first copy linked) converges the CRM activity; a `copy` only carries the CRM ids and is
    `detached` when its rep declines or removes it.
    """

    link_id: int
    calendar_account_id: int
    crm_account_id: int
    calendar_event_id: str
    crm_event_id: str | None = None
    crm_contact_id: str | None = None
    calendar_fingerprint: str | None = None
    crm_fingerprint: str | None = None
    calendar_version: str | None = None
    crm_version: str | None = None
    status: LinkStatus = "active"
    last_contact_email: str | None = None
    ical_uid: str | None = None
    role: LinkRole = "decider"
    organizer_copy: bool = False
    crm_people: tuple[str, ...] = ()  # further people the sync related, guests' order

    def __post_init__(self) -> None:
        object.__setattr__(self, "crm_people", tuple(self.crm_people or ()))
        _check_status("link", self.status, LINK_STATUSES)
        _check_status("link role", self.role, LINK_ROLES)

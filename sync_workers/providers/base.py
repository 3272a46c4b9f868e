"""The two small protocols the sync core talks to. One adapter per provider implements one.

An adapter is bound to one connected account (it gets its token with
`auth.get_valid_token(account_id)` per call) and speaks only our models
(`sync.models`) and our error types (`reliability.errors`). Everything provider-shaped
(JSON bodies, ids, headers, status codes) stays inside the adapter. Microsoft Graph and
HubSpot plug in as two more implementations; nothing above this layer changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Protocol, Sequence

from ..reliability.errors import Permanent
from ..sync.models import Appointment, Contact, CrmActivity


class CursorExpired(Permanent):
    """The provider forgot our incremental cursor (Google 410 fullSyncRequired, Graph
    syncStateNotFound): the caller must run a full resync."""


@dataclass(frozen=True)
class CalendarChanges:
    """One incremental (or full) listing, all pages read.

    `appointments` include cancelled events (deletions) on an incremental list; a full list
    (cursor None) has live events only, so deletions must be found by comparing with links.
    `next_cursor` is to be stored only after every change here has been queued.
    """

    appointments: Sequence[Appointment]
    next_cursor: str
    full: bool
    rejected: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (event id, reason)


@dataclass(frozen=True)
class Finding:
    """One piece of the CRM's setup the sync needs (`crm check`)."""
    piece: str
    ready: bool
    required: bool  # without it bookings fail; else it is a recommendation
    fix: str = ""  # what to do, where in the CRM's setup; empty when ready


@dataclass(frozen=True)
class CrmUser:
    """A person who can own meetings in the CRM (Salesforce User)."""
    id: str
    email: str | None
    name: str | None
    active: bool


@dataclass(frozen=True)
class ChannelInfo:
    channel_id: str
    resource_id: str
    expires_at: datetime


class CalendarProvider(Protocol):
    provider: str
    account_id: int

    def get_event(self, event_id: str) -> Appointment | None:
        """The event now; a deleted event has status "cancelled"; None if it never existed."""

    def create_event(self, appointment: Appointment, *, notify: bool = False) -> Appointment:
        """Insert with the client-chosen `appointment.event_id`. If that id exists already
        (a retry after a lost answer), the existing event is returned, not an error."""

    def update_event(self, before: Appointment, after: Appointment, *,
                     notify: bool = False) -> Appointment:
        """Write the parts of `after` that differ from `before`, guarded by before.etag
        (If-Match): `Conflict` when the event changed meanwhile."""

    def list_changes(self, cursor: str | None) -> CalendarChanges:
        """Changes since `cursor` (None: a full list). `CursorExpired` on 410."""

    def list_occurrences(self, series_id: str, start: datetime, end: datetime
                         ) -> CalendarChanges:
        """The occurrences of a recurring series that start in [start, end), cancelled
        ones included (`next_cursor` unused)."""

    def watch(self, channel_id: str, address: str, token: str, ttl_seconds: int) -> ChannelInfo:
        """Start push notifications to `address`."""

    def stop_watch(self, channel_id: str, resource_id: str) -> None:
        """Stop a channel; an unknown or already stopped channel is not an error."""


@dataclass(frozen=True)
class CrmChanges:
    """Records changed in a window: ids to look at, and the newest modstamp seen."""

    activity_ids: Sequence[str]
    contact_ids: Sequence[str]
    deleted_activity_ids: Sequence[str]
    deleted_contact_ids: Sequence[str]
    newest: datetime | None


class CrmProvider(Protocol):
    provider: str
    account_id: int

    def get_activity(self, activity_id: str) -> CrmActivity | None:
        """The activity now; None when deleted or unknown."""

    def find_activity(self, external_id: str) -> CrmActivity | None:
        """The activity whose external-id field holds `external_id` (a calendar event id)."""

    def upsert_activity(self, external_id: str, values: Mapping[str, Any]) -> CrmActivity:
        """Create or update by external id (idempotent): canonical `values` (sync.fields
        names plus "contact_id") are mapped through the describe-driven mapping."""

    def update_activity(self, activity: CrmActivity, patch: Mapping[str, Any]) -> CrmActivity:
        """Write `patch` (canonical names), guarded by activity.version
        (If-Unmodified-Since): `Conflict` when it changed meanwhile."""

    def delete_activity(self, activity_id: str) -> None:
        """Delete; an already deleted activity is not an error."""

    def get_contact(self, contact_id: str) -> Contact | None:
        """The contact now; a deleted contact comes back with deleted=True or None."""

    def find_users_by_email(self, email: str) -> list[CrmUser]:
        """The CRM's active users with this e-mail (the calendar's rep, at pairing)."""

    def get_user(self, user_id: str) -> CrmUser | None:
        """One user, active or not; None if there is none by that id."""

    def find_contact_by_email(self, email: str) -> Contact | None:
        """Only when a booking creates a link; e-mail is never a key afterwards."""

    def create_contact(self, email: str, name: str | None, idempotency_key: str, *,
                       as_lead: bool = False) -> Contact:
        """Create a contact (or a lead); repeating with the same key returns the same one.
        A CRM that refuses it as a duplicate of a record returns that record."""

    def setup_findings(self) -> list[Finding]:
        """What the CRM has and lacks of what the sync needs, read fresh."""

    def shares_activities(self) -> bool:
        """Whether a meeting can relate to several people (Salesforce Shared Activities)."""

    def relation_refusal(self, who_id: str | None, person_id: str) -> str | None:
        """Why the CRM cannot relate this person to a meeting with this contact, or None."""

    def people_of(self, activity_id: str) -> list[str]:
        """The people related to the meeting as attendees of it, its contact included."""

    def relate(self, activity_id: str, person_id: str) -> bool:
        """Relate one more person (Contact or Lead) to the meeting; False when the CRM
        turns out not to relate several people after all."""

    def unrelate(self, activity_id: str, person_id: str) -> None:
        """Take a person the sync related off the meeting (gone already is fine)."""

    def changes_since(self, since: datetime, until: datetime) -> CrmChanges:
        """Activities and contacts changed or deleted in (since, until]."""

    def max_lengths(self) -> Mapping[str, int]:
        """The CRM's length limit per canonical text field: a value cut to fit counts as
        converged instead of being rewritten forever."""

"""A live event with a guest, inside the sync window, is a booking: find (or create) its
contact. Who a guest is lives in the core (sync/guests.py); the calendar's owner comes from
the account (its owner's addresses, kept current at every sign-in).

Only here is e-mail used to find a record, once, when the link is born; afterwards the
link holds the contact's id.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from ..config import Settings, get_settings
from ..providers.base import CrmProvider
from ..reliability.locks import held_lock
from ..store import accounts, idempotency
from ..sync import Appointment, Attendee, Contact, Link
from ..sync.guests import CalendarOwner, guests
from ..sync.window import SyncWindow

log = logging.getLogger(__name__)
CONTACT_LOCK_WAIT = 5.0  # seconds: another booking's find-or-create takes a call or three


def calendar_owner(account_id: int, settings: Settings | None = None) -> CalendarOwner:
    """Whose calendar this is, and who counts as a colleague (SYNC_INTERNAL_DOMAINS)."""
    account = accounts.get_account(account_id)
    internal = (settings or get_settings()).internal_domains
    return CalendarOwner.of(account.owner_emails if account else (), internal)


def sync_window(settings: Settings | None = None,
                now: datetime | None = None) -> SyncWindow:
    settings = settings or get_settings()
    return SyncWindow.around(now or datetime.now(timezone.utc), settings.backfill_days,
                             settings.horizon_days)


def booking_kind(appointment: Appointment, owner: CalendarOwner,
                 window: SyncWindow) -> str:
    """"booking", or why not: "cancelled", "no guest", "outside" (the sync window)."""
    if not appointment.is_live:
        return "cancelled"
    if first_guest(appointment, owner) is None:
        return "no guest"
    return "booking" if window.covers(appointment.span) else "outside"


def first_guest(appointment: Appointment, owner: CalendarOwner) -> Attendee | None:
    found = guests(appointment, owner)
    return found[0] if found else None


def booking_contact(crm: CrmProvider, link: Link, appointment: Appointment,
                    settings: Settings) -> Contact | None:
    """The CRM person of the booking's first guest (the CRM meeting's WhoId)."""
    attendee = first_guest(appointment, calendar_owner(link.calendar_account_id, settings))
    if attendee is None:
        return None
    return person_for(crm, link, attendee, settings, operation="create_contact")


def person_for(crm: CrmProvider, link: Link, attendee: Attendee, settings: Settings, *,
               operation: str) -> Contact | None:
    """The guest's CRM person (a Contact, or the Lead the guest already is), created when
    missing (SYNC_NEW_GUEST_AS says which) under a key persisted before the call."""
    email = attendee.email.strip().lower()
    # Two bookings of one new guest, reconciled at once, would each find no contact and
    # each create one: finding and creating are one step per CRM account and e-mail. The
    # caller holds the link's lock, so a lock left under this link's name is its own dead
    # run's, which it takes back.
    with held_lock(f"contact:{link.crm_account_id}:{email}", wait=CONTACT_LOCK_WAIT,
                   owner=f"link:{link.link_id}"):
        person = crm.find_contact_by_email(attendee.email)
        if person is not None or not settings.create_missing_contacts:
            return person
        scope = f"link:{link.link_id}"
        key = idempotency.key_for(scope, operation)  # persisted before the call
        person = crm.create_contact(attendee.email, attendee.name, key,
                                    as_lead=settings.new_guest_as == "lead")
        idempotency.complete(scope, operation, person.id)
    log.info("CRM person created for a guest", extra={"target_record_id": person.id})
    return person

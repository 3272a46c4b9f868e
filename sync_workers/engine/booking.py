"""A new appointment with an external attendee is a booking: find (or create) its contact.

Only here is e-mail used to find a record, once, when the link is born; afterwards the
link holds the contact's id.
"""
from __future__ import annotations

import logging

from ..config import Settings
from ..providers.base import CrmProvider
from ..reliability.locks import held_lock
from ..store import accounts, idempotency
from ..sync import Appointment, Attendee, Contact, Link

log = logging.getLogger(__name__)
CONTACT_LOCK_WAIT = 5.0  # seconds: another booking's find-or-create takes a call or three


def calendar_owner(account_id: int) -> str | None:
    """The e-mail of the calendar's owner: every other attendee is a guest."""
    account = accounts.get_account(account_id)
    return account.external_account_id if account else None


def external_attendee(appointment: Appointment, owner_email: str | None) -> Attendee | None:
    """The first attendee who is not the calendar's owner."""
    owner = (owner_email or "").strip().lower()
    for attendee in appointment.attendees:
        if attendee.email and attendee.email.strip().lower() != owner:
            return attendee
    return None


def booking_contact(crm: CrmProvider, link: Link, appointment: Appointment,
                    settings: Settings) -> Contact | None:
    attendee = external_attendee(appointment, calendar_owner(link.calendar_account_id))
    if attendee is None:
        return None
    # Two bookings of one new guest, reconciled at once, would each find no contact and
    # each create one: finding and creating are one step per CRM account and e-mail. The
    # caller holds the link's lock, so a lock left under this link's name is its own dead
    # run's, which it takes back.
    with held_lock(f"contact:{link.crm_account_id}:{attendee.email.strip().lower()}",
                   wait=CONTACT_LOCK_WAIT,
                   owner=f"link:{link.link_id}"):
        contact = crm.find_contact_by_email(attendee.email)
        if contact is not None or not settings.create_missing_contacts:
            return contact
        scope = f"link:{link.link_id}"
        key = idempotency.key_for(scope, "create_contact")  # persisted before the call
        contact = crm.create_contact(attendee.email, attendee.name, key)
        idempotency.complete(scope, "create_contact", contact.id)
    log.info("contact created for a booking", extra={"target_record_id": contact.id})
    return contact

"""Each side projected onto the canonical fields, so the two can be compared field by field.

Views hold normalised Python values (UTC datetimes, dates, bools, stripped strings,
None for empty), never provider formats.
"""
from __future__ import annotations

from typing import Any

from .contact_block import ContactCard, parse_contact_cards
from .fields import CONTACT_FIELDS, normalize, normalize_all
from .models import Appointment, Contact, CrmActivity


def calendar_view(appointment: Appointment) -> dict[str, Any]:
    """The calendar's values. Its contact e-mail counts only while the block and an
    attendee agree on it: a removed attendee reads as "no e-mail", so the owner's value
    puts it back."""
    cards = parse_contact_cards(appointment.description)
    card = cards[0] if cards else ContactCard()
    attendees = {normalize("contact_email", attendee.email) for attendee in appointment.attendees}
    span = appointment.span
    return normalize_all({
        "title": appointment.title,
        "start": span.start if span else None,
        "end": span.end if span else None,
        "all_day": span.all_day if span else None,
        "location": appointment.location,
        "status": "scheduled" if appointment.is_live else "canceled",
        "contact_name": card.name,
        "contact_email": card.email if card.email in attendees else None,
        "contact_company": card.company,
        "other_people": tuple((c.name, c.email, c.company) for c in cards[1:]),
    })


def crm_view(activity: CrmActivity, contact: Contact | None,
             others: tuple[Contact, ...] = ()) -> dict[str, Any]:
    return {**activity_view(activity), **contact_view(contact), **people_view(others)}


def people_view(others: tuple[Contact, ...]) -> dict[str, Any]:
    """The meeting's further CRM people, as the contact block shows them."""
    shown = []
    for person in others:
        view = contact_view(person)
        if any(view.values()):
            shown.append(tuple(view[name] for name in CONTACT_FIELDS))
    return normalize_all({"other_people": tuple(shown)})


def activity_view(activity: CrmActivity) -> dict[str, Any]:
    return normalize_all({
        "title": activity.subject,
        "start": activity.span.start,
        "end": activity.span.end,
        "all_day": activity.span.all_day,
        "location": activity.location,
        "status": activity.status,
    })


def contact_view(contact: Contact | None) -> dict[str, Any]:
    """A deleted contact reads like no contact: its data must leave the calendar."""
    if contact is None or contact.deleted:
        return dict.fromkeys(CONTACT_FIELDS)
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    return normalize_all({"contact_name": name, "contact_email": contact.email,
                          "contact_company": contact.company})

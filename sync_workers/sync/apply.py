"""The calendar event as it must look after a calendar patch: for the calendar adapter
(send the changed parts) and for tests. Pure.

Contact fields are carried twice: in the description's contact block and as an attendee.
A new e-mail replaces the attendee that holds the link's last written e-mail; removing the
contact removes only the block (uninviting a person from a meeting is not the sync's call).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from .contact_block import ContactCard, replace_contact_block
from .fields import (
    CALENDAR_KEYS,
    CANONICAL_FIELDS,
    CONTACT_FIELDS,
    PEOPLE_FIELDS,
    SPAN_FIELDS,
    normalize,
)
from .models import Appointment, Attendee, Link, TimeSpan
from .views import calendar_view


def apply_calendar_patch(link: Link, appointment: Appointment | None,
                         patch: Mapping[str, Any]) -> Appointment:
    """`appointment` (None: not created yet) with `patch` written onto it."""
    unknown = set(patch) - set(CANONICAL_FIELDS) - set(CALENDAR_KEYS)
    if unknown:
        raise ValueError(f"not calendar patch fields: {sorted(unknown)}")
    # A new event starts blank (a cancelled event needs no span); the create patch is full.
    current = appointment or Appointment(link.calendar_event_id, "cancelled", None)
    values = {**calendar_view(current), **patch}
    changes: dict[str, Any] = {}
    if "title" in patch:
        changes["title"] = patch["title"] or ""
    if "location" in patch:
        changes["location"] = patch["location"] or ""
    if "status" in patch:
        changes["status"] = _calendar_status(current.status, patch["status"])
    if any(name in patch for name in SPAN_FIELDS):
        changes["span"] = TimeSpan(values["start"], values["end"], bool(values["all_day"]))
    if any(name in patch for name in CONTACT_FIELDS + PEOPLE_FIELDS):
        card = ContactCard(values["contact_name"], values["contact_email"],
                           values["contact_company"])
        others = tuple(ContactCard(*person) for person in values["other_people"] or ())
        changes["description"] = replace_contact_block(current.description, card, others)
        if "contact_email" in patch and card.email is not None:
            changes["attendees"] = _with_contact_attendee(current.attendees, card,
                                                          link.last_contact_email)
    if any(key in patch for key in CALENDAR_KEYS):
        refs = {**current.crm_refs, **{k: v for k, v in patch.items() if k in CALENDAR_KEYS}}
        changes["crm_refs"] = {key: value for key, value in refs.items() if value is not None}
    return replace(current, **changes)


def _calendar_status(current: str, canonical: str) -> str:
    if canonical == "canceled":
        return "cancelled"
    return current if current != "cancelled" else "confirmed"  # keeps "tentative"


def _with_contact_attendee(attendees: tuple[Attendee, ...], card: ContactCard,
                           previous_email: str | None) -> tuple[Attendee, ...]:
    """The old contact's attendee replaced by the new one (added if missing)."""
    def email(attendee: Attendee) -> str | None:
        return normalize("contact_email", attendee.email)

    previous = normalize("contact_email", previous_email)
    kept = tuple(attendee for attendee in attendees
                 if email(attendee) != previous or previous == card.email)
    if any(email(attendee) == card.email for attendee in kept):
        return kept
    return kept + (Attendee(card.email, card.name),)

"""Builders for the sync core's tests: a converged link, and the CRM half of applying a plan.

`apply_crm_patch` is what a CRM adapter must do with a plan's CRM patch; the calendar half
lives in the core (`apply_calendar_patch`), because the calendar adapter needs it.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sync_workers.sync import (
    Appointment,
    Attendee,
    Contact,
    ContactCard,
    CrmActivity,
    CrmSide,
    Link,
    Plan,
    TimeSpan,
    apply_calendar_patch,
    calendar_view,
    crm_view,
    fingerprint,
    replace_contact_block,
)

T0 = datetime(2024, 5, 6, 14, 0, tzinfo=timezone.utc)


def timed(start: datetime = T0, minutes: int = 60) -> TimeSpan:
    return TimeSpan(start, start + timedelta(minutes=minutes), all_day=False)


def all_day(day: date = date(2024, 5, 6), days: int = 1) -> TimeSpan:
    return TimeSpan(day, day + timedelta(days=days), all_day=True)


ADA = Contact("003A", "Ada", "Lovelace", "ada@example.com", "Analytical Engines")
GRACE = Contact("003B", "Grace", "Hopper", "grace@example.com", "Navy")


def card_of(contact: Contact) -> ContactCard:
    return ContactCard(f"{contact.first_name} {contact.last_name}", contact.email,
                       contact.company)


def synced(span: TimeSpan | None = None, contact: Contact = ADA
           ) -> tuple[Link, Appointment, CrmSide]:
    """A link whose two sides already agree, fingerprints recorded."""
    span = span or timed()
    appointment = Appointment(
        "evt1", "confirmed", span, title="Demo call", location="Room 1",
        description=replace_contact_block("Agenda: pricing", card_of(contact)),
        attendees=(Attendee("me@ours.example"), Attendee(contact.email, "x")),
        etag='"1"', crm_refs={"crm_event_id": "00U1", "crm_contact_id": contact.id})
    activity = CrmActivity("00U1", span, external_id="evt1", subject="Demo call",
                           location="Room 1", who_id=contact.id, version="v1")
    crm_side = CrmSide(activity, contact)
    link = Link(1, 10, 20, "evt1", crm_event_id="00U1", crm_contact_id=contact.id,
                calendar_fingerprint=fingerprint(calendar_view(appointment)),
                crm_fingerprint=fingerprint(crm_view(activity, contact)),
                last_contact_email=contact.email)
    return link, appointment, crm_side


def apply_crm_patch(activity: CrmActivity | None, plan: Plan, new_id: str = "00UNEW"
                    ) -> CrmActivity | None:
    """The CRM activity after the plan's CRM write."""
    patch = plan.crm_patch
    if plan.crm_action == "delete":
        return None
    if plan.crm_action == "create":
        activity = CrmActivity(new_id, TimeSpan(patch["start"], patch["end"], patch["all_day"]),
                               external_id=patch.get("calendar_event_id"),
                               who_id=patch.get("contact_id"))
    if activity is None:
        return None
    changes: dict[str, Any] = {}
    if "title" in patch:
        changes["subject"] = patch["title"] or ""
    if "location" in patch:
        changes["location"] = patch["location"] or ""
    if "status" in patch:
        changes["status"] = patch["status"]
    if "start" in patch:
        changes["span"] = TimeSpan(patch["start"], patch["end"], patch["all_day"])
    if "calendar_event_id" in patch:
        changes["external_id"] = patch["calendar_event_id"]
    return replace(activity, **changes)


def _patched_contact(contact: Contact | None, patch: dict[str, Any]) -> Contact | None:
    if contact is None:
        return None
    changes: dict[str, Any] = {}
    if "contact_name" in patch:
        first, _, last = (patch["contact_name"] or "").rpartition(" ")
        changes.update(first_name=first or None, last_name=last or None)
    if "contact_email" in patch:
        changes["email"] = patch["contact_email"]
    if "contact_company" in patch:
        changes["company"] = patch["contact_company"]
    return replace(contact, **changes)


def apply_plan(link: Link, appointment: Appointment | None, crm_side: CrmSide, plan: Plan
               ) -> tuple[Link, Appointment | None, CrmSide]:
    """Both sides and the link after every write of `plan` succeeded (CRM first), read
    back the way a task reads them: the contact by the activity's who_id, or by the link
    when there is no activity."""
    activity = apply_crm_patch(crm_side.activity, plan)
    if plan.crm_action == "create":
        plan = plan.after_crm_create(activity.id)
    new_appointment = appointment
    if plan.calendar_action != "none":
        new_appointment = apply_calendar_patch(link, appointment, plan.calendar_patch)
    new_link = replace(link, **plan.link_patch)
    contact = _patched_contact(crm_side.contact, plan.crm_patch)
    contact_id = activity.who_id if activity else new_link.crm_contact_id
    found = contact if contact is not None and contact.id == contact_id else None
    return new_link, new_appointment, CrmSide(activity, found)

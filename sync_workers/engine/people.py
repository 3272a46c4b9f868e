"""Every guest of a meeting is a CRM person of it: the first is the CRM meeting's contact
(WhoId, the core's business), each further guest is related to it (Salesforce Shared
Activities: EventRelation), at most 50 in all. A guest who leaves the calendar event leaves
the CRM meeting; people a CRM user related by hand are never touched. Without Shared
Activities only the contact is kept, with one warning a day per account.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import redis

from ..config import Settings
from ..logging import request_id
from ..providers.base import CrmProvider
from ..reliability.locks import redis_client
from ..store import links
from ..sync import Appointment, Attendee, Contact, CrmActivity, Link, normalize
from ..sync.guests import CalendarOwner, guests
from .booking import person_for

log = logging.getLogger(__name__)
MAX_PEOPLE = 50  # Salesforce: an event relates to at most 50 people, its WhoId included
WARN_EVERY = 86400
SHARING_OFF = "salesforce Shared Activities are off: only the first guest is kept"


def meeting_people(crm: CrmProvider, link: Link, appointment: Appointment | None,
                   activity: CrmActivity | None, contact: Contact | None,
                   owner: CalendarOwner, settings: Settings
                   ) -> tuple[tuple[Contact, ...], int]:
    """(the further people, in the guests' order; writes made). Nothing before the CRM
    meeting exists, or once the calendar event is gone (the CRM meeting keeps them)."""
    if activity is None or appointment is None or not appointment.is_live:
        return (), 0
    further = _further_guests(guests(appointment, owner), link, contact)
    if not further and not link.crm_people:
        return (), 0
    if not crm.shares_activities():
        _warn_once(link, SHARING_OFF)
        return (), 0
    if len(further) > MAX_PEOPLE - 1:
        _warn_once(link, f"more than {MAX_PEOPLE} guests: the first {MAX_PEOPLE} are kept")
        further = further[:MAX_PEOPLE - 1]
    people: list[Contact] = []
    for attendee in further:
        person = person_for(crm, link, attendee, settings,
                            operation=f"create_person:{attendee.email.strip().lower()}")
        if person is None or person.id == activity.who_id or person.id in {p.id for p in people}:
            continue
        refusal = crm.relation_refusal(activity.who_id, person.id)
        if refusal:
            _warn_once(link, refusal)
            continue
        people.append(person)
    writes = _relate(crm, link, activity, [p.id for p in people])
    return tuple(people), writes


def follow_the_guests(crm: CrmProvider, link: Link, appointment: Appointment | None,
                      activity: CrmActivity | None, contact: Contact | None,
                      owner: CalendarOwner, settings: Settings
                      ) -> tuple[Link, CrmActivity | None, int]:
    """The calendar owns who attends: when the rep took the meeting's contact off the
    event, the next guest becomes its contact (WhoId), or, with no guest left, nobody: the
    CRM meeting stays the rep's meeting, without a contact. Never put back on the event."""
    if activity is None or contact is None or appointment is None or not appointment.is_live:
        return link, activity, 0
    present = {normalize("contact_email", a.email) for a in appointment.attendees}
    theirs = {normalize("contact_email", e) for e in (link.last_contact_email, contact.email)}
    if not theirs - {None} or theirs & present:
        return link, activity, 0  # still invited (an e-mail changed in the CRM is too)
    successor = None
    for attendee in _further_guests(guests(appointment, owner), link, contact):
        successor = person_for(crm, link, attendee, settings,
                               operation=f"create_person:{attendee.email.strip().lower()}")
        if successor is not None:
            break
    new_id = successor.id if successor else None
    writes = 1
    if successor is None:
        # Nobody is left: the people the sync related go first, or Salesforce would make
        # one of them the contact when the WhoId is cleared.
        for person_id in link.crm_people:
            crm.unrelate(activity.id, person_id)
            writes += 1
        link = replace(link, crm_people=())
    activity = crm.update_activity(activity, {"contact_id": new_id})
    log.info("the meeting's contact left the event", extra={
        "target_record_id": contact.id, "successor": new_id})
    changed = replace(link, crm_contact_id=new_id, last_contact_email=None)
    links.save(changed, {"crm.contact_id": ("crm", "update", contact.id, new_id)},
               request_id(), None)
    return changed, activity, writes


def _further_guests(found: tuple[Attendee, ...], link: Link,
                    contact: Contact | None) -> tuple[Attendee, ...]:
    """The guests other than the meeting's contact. The contact is known by address (its
    e-mail now, or the one last written to the calendar, while a change is on its way),
    not by its place in the list: a changed e-mail moves its attendee to the end."""
    theirs = {normalize("contact_email", e) for e in
              (link.last_contact_email, contact.email if contact else None)} - {None}
    if not theirs:
        return found[1:]
    return tuple(g for g in found if normalize("contact_email", g.email) not in theirs)


def _relate(crm: CrmProvider, link: Link, activity: CrmActivity, wanted: list[str]) -> int:
    related = set(crm.people_of(activity.id))
    writes = 0
    for person_id in wanted:
        if person_id in related:
            continue
        if not crm.relate(activity.id, person_id):
            _warn_once(link, SHARING_OFF)
            return writes
        writes += 1
    # The sync's own, no longer guests (the meeting's contact stays: it may have been one).
    for person_id in set(link.crm_people) - set(wanted) - {activity.who_id}:
        if person_id in related:
            crm.unrelate(activity.id, person_id)
            writes += 1
    if tuple(wanted) != link.crm_people:
        links.set_people(link.link_id, wanted)
    return writes


def _warn_once(link: Link, message: str) -> None:
    try:
        first = redis_client().set(f"sync:warned:{link.crm_account_id}:{message}", "1",
                                   nx=True, ex=WARN_EVERY)
    except redis.RedisError:
        first = True
    if first:
        log.warning(message, extra={"account_id": link.crm_account_id})

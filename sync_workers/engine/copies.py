"""The copies of one meeting in several reps' calendars (store/meetings.py decides which
link decides). A copy never writes to the CRM: it carries the meeting's CRM ids in its own
private properties, and is detached when its rep declines or removes it.

A decider that is not the organizer's copy hands over when its rep declines, or when its
copy is cancelled while other copies are linked: a guest removing the event cancels only
their own copy (Google: "events to which the user was invited and that they manually
removed"), and a meeting the organizer called off is cancelled in every copy, so the next
decider sees it cancelled too and, being the last, cancels the CRM meeting. The organizer's
own copy decides as before.
"""
from __future__ import annotations

import logging
from dataclasses import replace

from ..logging import request_id
from ..providers.base import CalendarProvider
from ..store import links, meetings
from ..sync import Appointment, Link
from ..sync.guests import CalendarOwner, has_left
from .enqueue import enqueue_reconcile

log = logging.getLogger(__name__)
REF_KEYS = ("crm_event_id", "crm_contact_id")


def settle_copy(link: Link, appointment: Appointment | None, owner: CalendarOwner,
                calendar: CalendarProvider, task_id: str | None) -> int | None:
    """Handle `link` if its place in the meeting decides this reconcile: the writes made
    (0 or 1), or None when it is (or has just become) the meeting's decider."""
    if link.role == "decider":
        if link.organizer_copy or appointment is None or not _leaves(link, appointment, owner):
            return None
        successor = meetings.hand_over(link)
        log.info("decider left the meeting: handed over",
                 extra={"successor_link_id": successor, "ical_uid": link.ical_uid})
        if successor is not None:
            enqueue_reconcile(successor, link.crm_account_id)
        return 0
    if has_left(appointment, owner) or not appointment.is_live:
        meetings.detach(link)  # declined, removed, or called off (the decider's to tell)
        log.info("copy detached: its rep left the meeting", extra={"ical_uid": link.ical_uid})
        return 0
    decider = meetings.decider_of(link)
    if decider is None or decider.status == "detached":
        meetings.take_over(link)
        return None
    return _carry_refs(link, decider, appointment, calendar, task_id)


def _leaves(decider: Link, appointment: Appointment, owner: CalendarOwner) -> bool:
    if has_left(appointment, owner):
        return True
    return not appointment.is_live and bool(meetings.copies_of(decider))


def copies_to_tell(decider: Link) -> None:
    """After the decider's CRM ids changed (a create): the copies carry them next."""
    for copy in meetings.copies_of(decider):
        enqueue_reconcile(copy.link_id, copy.crm_account_id)


def _carry_refs(link: Link, decider: Link, appointment: Appointment,
                calendar: CalendarProvider, task_id: str | None) -> int:
    wanted = {key: getattr(decider, key) for key in REF_KEYS if getattr(decider, key)}
    saved = replace(link, crm_event_id=decider.crm_event_id,
                    crm_contact_id=decider.crm_contact_id, calendar_version=appointment.etag)
    if all(appointment.crm_refs.get(k) == v for k, v in wanted.items()):
        links.save(saved, {}, request_id(), task_id)
        return 0
    written = calendar.update_event(appointment, replace(
        appointment, crm_refs={**appointment.crm_refs, **wanted}))
    changes = {f"calendar.{k}": ("calendar", "update", appointment.crm_refs.get(k), v)
               for k, v in wanted.items() if appointment.crm_refs.get(k) != v}
    links.save(replace(saved, calendar_version=written.etag), changes, request_id(), task_id)
    return 1

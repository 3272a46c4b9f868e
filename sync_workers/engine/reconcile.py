"""reconcile(link): the only code that writes to providers.

Take the link's lock, read both sides fresh, plan (pure), apply idempotently, record.
Idempotency comes from the writes themselves: the CRM activity is upserted by the calendar
event id (its external id), a calendar event created from the CRM has an id derived from
the CRM id, a new contact is created under a key persisted before the call. So a worker
killed between a provider write and the link update repeats the write harmlessly.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from ..config import Settings, get_settings
from ..counters import count_reconcile
from ..logging import bind, request_id
from ..mapping.ownership import load_ownership
from ..providers.base import CalendarProvider, CrmProvider
from ..reliability.errors import Conflict, Permanent
from ..reliability.locks import held_lock
from ..store import links, meetings
from ..sync import (
    Appointment,
    CrmActivity,
    CrmSide,
    Link,
    Plan,
    apply_calendar_patch,
    calendar_view,
    crm_view,
    plan,
)
from ..sync.guests import guests
from .adapters import calendar_of, crm_of
from .booking import booking_contact, calendar_owner
from .copies import copies_to_tell, settle_copy
from .enqueue import enqueue_reconcile
from .people import follow_the_guests, meeting_people
from .series import is_history

log = logging.getLogger(__name__)
MAX_REPLANS = 3  # a 412 means someone wrote meanwhile: re-read and re-plan, a few times


@dataclass(frozen=True)
class Outcome:
    link_id: int
    result: str  # converged (nothing written) | written | waiting (nothing to do yet)
    writes: int = 0


def reconcile(link_id: int, *, calendar: CalendarProvider | None = None,
              crm: CrmProvider | None = None, settings: Settings | None = None,
              task_id: str | None = None) -> Outcome:
    settings = settings or get_settings()
    bind(link_id=link_id)
    with held_lock(f"link:{link_id}", owner=task_id):
        link = links.get(link_id)
        if link is None:
            raise Permanent(f"link {link_id} does not exist")
        calendar = calendar or calendar_of(link.calendar_account_id)
        crm = crm or crm_of(link.crm_account_id)
        for attempt in range(1, MAX_REPLANS + 1):
            try:
                return count_reconcile(_reconcile_once(link_id, calendar, crm, settings, task_id))
            except Conflict as exc:
                log.info("conflict: re-reading both sides", extra={"attempt": attempt,
                                                                   "reason": exc.reason})
                if attempt == MAX_REPLANS:
                    raise
    raise AssertionError("unreachable")


def _reconcile_once(link_id: int, calendar: CalendarProvider, crm: CrmProvider,
                    settings: Settings, task_id: str | None) -> Outcome:
    link = links.get(link_id)
    if link.status == "detached":
        return Outcome(link_id, "converged")  # its rep left the meeting: nothing to do
    appointment = calendar.get_event(link.calendar_event_id)
    if link.crm_event_id and is_history(appointment):
        links.mark_reconciled(link_id)  # a past occurrence: the CRM keeps what happened
        log.info("reconciled", extra={"result": "history", "writes": 0})
        return Outcome(link_id, "converged")
    if appointment is not None and appointment.ical_uid and link.ical_uid is None:
        meetings.adopt_ical_uid(link, appointment.ical_uid)  # a link older than meetings
        link = links.get(link_id)
    owner = calendar_owner(link.calendar_account_id, settings)
    copy_writes = settle_copy(link, appointment, owner, calendar, task_id)
    if copy_writes is not None:
        log.info("reconciled", extra={"result": "copy", "writes": copy_writes})
        return Outcome(link_id, "written" if copy_writes else "converged", copy_writes)
    if link.role == "copy":
        link = links.get(link_id)  # a copy that just became the decider
    activity = _read_activity(crm, link)
    if activity is None and link.crm_contact_id is None and link.calendar_fingerprint is None \
            and appointment is not None and appointment.is_live:
        contact = booking_contact(crm, link, appointment, settings)
        if contact is None:
            log.info("not a booking: no external attendee")
            return Outcome(link_id, "waiting")
        link = replace(link, crm_contact_id=contact.id)
        links.save(link, {}, request_id(), task_id)
    side = _crm_side(crm, link, activity)
    link, activity, left_writes = follow_the_guests(crm, link, appointment, activity,
                                                    side.contact, owner, settings)
    if left_writes:
        side = _crm_side(crm, link, activity)
    others, people_writes = meeting_people(crm, link, appointment, activity, side.contact,
                                           owner, settings)
    people_writes += left_writes
    if others or link.crm_people:
        link = links.get(link_id)  # the people it related are recorded on it
    side = replace(side, others=others)
    planned = plan(link, appointment, side, load_ownership(settings.ownership_file),
                   on_calendar_delete=settings.on_calendar_delete,
                   crm_max_lengths=crm.max_lengths())
    if appointment is not None and not appointment.organizer_copy:
        planned = planned.keys_only_on_calendar()  # someone else's meeting: their fields
    if appointment is not None and appointment.series_id:
        planned = planned.for_occurrence(link)
    if planned.is_noop:
        links.mark_reconciled(link_id)
        log.info("reconciled", extra={"result": "written" if people_writes else "converged",
                                      "writes": people_writes})
        return Outcome(link_id, "written" if people_writes else "converged", people_writes)
    writes = _apply(planned, link, appointment, side, calendar, crm, task_id) + people_writes
    if planned.crm_action == "create" and len(guests(appointment, owner)) > 1:
        enqueue_reconcile(link_id, link.crm_account_id)  # the further guests, once it exists
    log.info("reconciled", extra={"result": "written", "writes": writes})
    return Outcome(link_id, "written", writes)


def _read_activity(crm: CrmProvider, link: Link) -> CrmActivity | None:
    if link.crm_event_id:
        return crm.get_activity(link.crm_event_id)
    # Not recorded yet, maybe created by a run that died before saving the link.
    return crm.find_activity(link.calendar_event_id)


def _crm_side(crm: CrmProvider, link: Link, activity: CrmActivity | None) -> CrmSide:
    """The contact is read by the activity's WhoId (a merge re-points it); without an
    activity, the link's contact."""
    contact_id = activity.who_id if activity is not None else link.crm_contact_id
    contact = crm.get_contact(contact_id) if contact_id else None
    if activity is not None and contact is not None and contact.id != activity.who_id:
        contact = replace(contact, id=activity.who_id)  # 15- vs 18-character forms
    if activity is None and contact is not None and contact.id != link.crm_contact_id:
        contact = replace(contact, id=link.crm_contact_id)
    return CrmSide(activity, contact)


def _apply(planned: Plan, link: Link, appointment: Appointment | None, side: CrmSide,
           calendar: CalendarProvider, crm: CrmProvider, task_id: str | None) -> int:
    """CRM first (a create returns the id the calendar must carry), then the calendar, then
    the link and its audit rows in one transaction."""
    writes = 0
    crm_created = False
    changes: dict[str, tuple[str, str, Any, Any]] = {}
    activity = side.activity
    crm_before = crm_view(activity, side.contact) if activity else {}
    if planned.crm_action == "create":
        values = {k: v for k, v in planned.crm_patch.items() if k != "calendar_event_id"}
        rep = links.crm_user_for(link.calendar_account_id)
        if rep:  # the rep's meeting, not the integration user's
            values["owner_id"] = rep
        activity = crm.upsert_activity(link.calendar_event_id, values)
        planned = planned.after_crm_create(activity.id)
        if appointment is not None and appointment.series_id:
            planned = planned.for_occurrence(link)
        crm_created = True
    elif planned.crm_action == "update":
        activity = crm.update_activity(activity, planned.crm_patch)
    elif planned.crm_action == "delete":
        crm.delete_activity(activity.id)
        activity = None
    if planned.crm_action != "none":
        writes += 1
        changes.update(_field_changes("crm", planned.crm_action, crm_before, planned.crm_patch))

    calendar_version = link.calendar_version
    if planned.calendar_action != "none":
        before = calendar_view(appointment) if appointment else {}
        after = apply_calendar_patch(link, appointment, planned.calendar_patch)
        written = (calendar.create_event(after) if appointment is None
                   else calendar.update_event(appointment, after))
        calendar_version = written.etag
        writes += 1
        changes.update(_field_changes("calendar", planned.calendar_action, before,
                                      planned.calendar_patch))
    elif appointment is not None:
        calendar_version = appointment.etag

    saved = replace(link, **planned.link_patch, calendar_version=calendar_version,
                    crm_version=activity.version if activity else None)
    links.save(saved, changes, request_id(), task_id)
    if crm_created:
        copies_to_tell(saved)
    return writes


def _field_changes(side: str, action: str, before: dict[str, Any], patch: dict[str, Any]
                   ) -> dict[str, tuple[str, str, Any, Any]]:
    return {f"{side}.{name}": (side, action, before.get(name), value)
            for name, value in patch.items()}

"""Find what changed at a provider and queue one reconcile per affected link.

Shared by the webhook path (ingest_event) and the poller (poll_account): a webhook only
says "look now", the listing with the stored cursor says what changed. The cursor moves
in the transaction that records the intent of every change it covers (engine/enqueue.py);
one lister per account and resource at a time, and a burst of triggers during a listing
causes one more listing, not one each (reliability/coalesce.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..providers.base import CalendarProvider, CrmProvider, CursorExpired
from ..providers.registry import is_calendar, is_crm
from ..reliability.coalesce import coalesced
from ..reliability.errors import InvalidInput
from ..store import cursors, links, meetings, series
from ..sync import Appointment, calendar_event_id_for_crm
from ..sync.guests import CalendarOwner
from ..sync.window import SyncWindow
from .adapters import calendar_of, crm_of
from .booking import booking_kind, calendar_owner, sync_window
from .enqueue import enqueue_listed
from .series import extend_horizon as extend_series_horizon
from .series import series_gone, series_links

log = logging.getLogger(__name__)
CALENDAR_RESOURCE = "calendar:events"
CRM_RESOURCE = "crm:records"
# Salesforce SystemModstamp queries look back this far past the cursor: records committed
# late with an earlier stamp, and equal stamps straddling pages, are not lost. Ids are
# deduplicated, and a reconcile of an unchanged link writes nothing.
CRM_OVERLAP = timedelta(minutes=5)
CRM_FIRST_LOOKBACK = timedelta(days=1)


@dataclass
class Summary:
    account_id: int
    listed: int = 0
    queued: int = 0
    full_resync: bool = False
    outside_window: int = 0  # bookings left alone: they ended or start outside the window
    coalesced: bool = False  # another listing in flight took this request
    echoes: int = 0  # changes the links had seen already (our own writes): nothing queued
    rejected: list[tuple[str, str]] = field(default_factory=list)


Reject = Callable[[int, str, str], None]  # (account id, record id, reason)


def resources_of(provider: str) -> list[str]:
    """What a poll of an account of `provider` lists."""
    if is_calendar(provider):
        return [CALENDAR_RESOURCE]
    if is_crm(provider):
        return [CRM_RESOURCE]
    return []


def listing_lock(account_id: int, resource: str) -> str:
    return f"cursor:{account_id}:{resource}"


def listing_of_lock(name: str) -> tuple[int, str]:
    _, account_id, resource = name.split(":", 2)
    return int(account_id), resource


def poll(account_id: int, resource: str, *, on_rejected: Reject | None = None,
         owner: str | None = None) -> Summary:
    """List one resource of the account since its cursor (the poller's and `sync-workers
    poll`'s one entry). `owner`: the task's id, so its redelivery takes its lock back."""
    if resource == CALENDAR_RESOURCE:
        return sync_calendar(account_id, on_rejected=on_rejected, owner=owner)
    if resource == CRM_RESOURCE:
        return sync_crm(account_id, on_rejected=on_rejected, owner=owner)
    raise InvalidInput(f"unknown poll resource {resource!r}")


def _coalesced(account_id: int, resource: str, list_once: Callable[[], Summary],
               owner: str | None) -> Summary:
    """One listing of the account's resource at a time; triggers during it cause at most
    one more (reliability/coalesce.py) instead of waiting for the lock."""
    runs = coalesced(listing_lock(account_id, resource), list_once, owner=owner)
    if not runs:
        return Summary(account_id, coalesced=True)
    total = runs[-1]
    for run in runs[:-1]:
        total.listed += run.listed
        total.queued += run.queued
        total.outside_window += run.outside_window
        total.echoes += run.echoes
        total.rejected[:0] = run.rejected
        total.full_resync = total.full_resync or run.full_resync
    return total


def sync_calendar(account_id: int, *, calendar: CalendarProvider | None = None,
                  on_rejected: Reject | None = None, owner: str | None = None) -> Summary:
    calendar = calendar or calendar_of(account_id)
    return _coalesced(account_id, CALENDAR_RESOURCE,
                      lambda: _list_calendar(account_id, calendar, on_rejected), owner)


def _list_calendar(account_id: int, calendar: CalendarProvider,
                   on_rejected: Reject | None) -> Summary:
    crm_account_id = links.crm_account_for(account_id)
    summary = Summary(account_id)
    cursor = cursors.get(account_id, CALENDAR_RESOURCE)
    try:
        changes = calendar.list_changes(cursor)
    except CursorExpired:
        log.warning("sync token expired: full resync", extra={"account_id": account_id})
        changes = calendar.list_changes(None)
    summary.full_resync = changes.full and cursor is not None
    summary.listed = len(changes.appointments)
    owner, window = calendar_owner(account_id), sync_window()
    found: list[int] = []
    known = links.calendar_versions(account_id, [a.event_id for a in changes.appointments])
    for appointment in changes.appointments:
        if appointment.event_id in known:
            link_id, seen_version = known[appointment.event_id]
            if appointment.etag is not None and appointment.etag == seen_version:
                summary.echoes += 1  # our own write coming back, or nothing new: no read
            else:
                found.append(link_id)
            continue
        if appointment.is_series and appointment.is_live:
            found += series_links(account_id, crm_account_id, appointment, calendar, owner,
                                  window, link_for_event)
            continue
        if not appointment.is_live and (gone := series_gone(account_id, appointment.event_id)):
            found += gone
            continue
        link_id = link_for_event(account_id, crm_account_id, appointment, owner, window)
        if link_id is not None:
            found.append(link_id)
        elif booking_kind(appointment, owner, window) == "outside":
            summary.outside_window += 1
    if changes.full and summary.outside_window:
        log.info("events outside the sync window skipped",
                 extra={"account_id": account_id, "skipped": summary.outside_window,
                        "earliest_end": window.earliest_end.isoformat(),
                        "latest_start": window.latest_start.isoformat()})
    if changes.full:
        found += _vanished(account_id, changes.appointments)
    for event_id, reason in changes.rejected:
        summary.rejected.append((event_id, reason))
        if on_rejected:
            on_rejected(account_id, event_id, reason)
    summary.queued = enqueue_listed(account_id, found, resource=CALENDAR_RESOURCE,
                                    cursor=changes.next_cursor)
    return summary


def extend_horizon(account_id: int, *, calendar: CalendarProvider | None = None,
                   now: datetime | None = None) -> int:
    """The daily horizon job of one calendar: link the occurrences of its recurring series
    that came into the horizon. The number queued."""
    found = extend_series_horizon(account_id, links.crm_account_for(account_id),
                                  calendar or calendar_of(account_id),
                                  calendar_owner(account_id), sync_window(now=now),
                                  link_for_event)
    return enqueue_listed(account_id, found)


def link_for_event(account_id: int, crm_account_id: int | None, appointment: Appointment,
                   owner: CalendarOwner, window: SyncWindow) -> int | None:
    """The link of this event; a new one for a booking (a live event with a guest, inside
    the sync window) when the calendar is paired with a CRM. A meeting other reps have
    linked already gets this copy linked to the same CRM meeting (store/meetings.py)."""
    link_id = links.find_by_calendar_event(account_id, appointment.event_id)
    if link_id is not None or crm_account_id is None \
            or booking_kind(appointment, owner, window) != "booking":
        return link_id
    if appointment.ical_uid:
        link_id = meetings.link_copy(account_id, crm_account_id, appointment.event_id,
                                     ical_uid=appointment.ical_uid,
                                     organizer_copy=appointment.organizer_copy)
    else:
        link_id = links.ensure(account_id, crm_account_id, appointment.event_id,
                               origin="calendar")
    if appointment.series_id and appointment.occurrence_start:
        series.name_occurrence(link_id, appointment.series_id, appointment.occurrence_start)
    return link_id


def _vanished(account_id: int, listed: list[Appointment]) -> list[int]:
    """After a full list, links whose events were not listed were deleted meanwhile (a full
    list omits deletions): reconcile them, the read will find them cancelled or gone."""
    seen = {a.event_id for a in listed if a.is_live}
    # A series' occurrences are never listed one by one: its master stands for them.
    of_listed_series = series.links_of_series(
        account_id, [a.event_id for a in listed if a.is_series and a.is_live])
    return [link.link_id for link in links.for_account(account_id)
            if link.calendar_account_id == account_id and link.status == "active"
            and link.calendar_event_id not in seen and link.link_id not in of_listed_series]


def sync_crm(account_id: int, *, crm: CrmProvider | None = None,
             now: datetime | None = None, on_rejected: Reject | None = None,
             owner: str | None = None) -> Summary:
    crm = crm or crm_of(account_id)
    return _coalesced(account_id, CRM_RESOURCE,
                      lambda: _list_crm(account_id, crm, now, on_rejected), owner)


def _list_crm(account_id: int, crm: CrmProvider, now: datetime | None,
              on_rejected: Reject | None) -> Summary:
    summary = Summary(account_id)
    until = now or datetime.now(timezone.utc)
    stored = cursors.get(account_id, CRM_RESOURCE)
    since = (datetime.fromisoformat(stored) - CRM_OVERLAP) if stored \
        else until - CRM_FIRST_LOOKBACK
    changes = crm.changes_since(since, until)
    # No echo test here: SystemModstamp is to the second, so a person's change in the same
    # second as our write would look like our own and be lost.
    ids = [*changes.activity_ids, *changes.contact_ids, *changes.deleted_activity_ids,
           *changes.deleted_contact_ids]
    summary.listed = len(set(ids))
    found = crm_record_links(account_id, ids, crm=crm, new_activity_ids=changes.activity_ids,
                             on_rejected=_noting(summary, on_rejected))
    newest = max(filter(None, [changes.newest, datetime.fromisoformat(stored)
                               if stored else None]), default=None)
    summary.queued = enqueue_listed(account_id, found, resource=CRM_RESOURCE,
                                    cursor=(newest or until).isoformat())
    return summary


def _noting(summary: Summary, on_rejected: Reject | None) -> Reject:
    def rejected(account_id: int, record_id: str, reason: str) -> None:
        summary.rejected.append((record_id, reason))
        if on_rejected:
            on_rejected(account_id, record_id, reason)
    return rejected


def queue_crm_records(crm_account_id: int, record_ids: list[str], *, crm: CrmProvider,
                      new_activity_ids: list[str] | tuple[str, ...] = (),
                      on_rejected: Reject | None = None) -> int:
    """Reconcile the links these records belong to (an Outbound Message's, a replay's)."""
    found = crm_record_links(crm_account_id, record_ids, crm=crm,
                             new_activity_ids=new_activity_ids, on_rejected=on_rejected)
    return enqueue_listed(crm_account_id, found)


def crm_record_links(crm_account_id: int, record_ids: list[str], *, crm: CrmProvider,
                     new_activity_ids: list[str] | tuple[str, ...] = (),
                     on_rejected: Reject | None = None) -> list[int]:
    """The links these records belong to; an activity created in the CRM (no calendar
    event id yet, a contact set) gets a link to a calendar event whose id is derived from
    the CRM id. One the schema refuses goes to `on_rejected` alone (without one, it raises)
    and the others go on."""
    found = sorted(set(links.find_by_crm_records(crm_account_id, record_ids)))
    known = links.linked_crm_events(crm_account_id, new_activity_ids)
    for activity_id in new_activity_ids:
        if activity_id[:15] in known:
            continue
        try:
            link_id = _link_for_crm_activity(crm_account_id, activity_id, crm)
        except InvalidInput as exc:
            if on_rejected is None:
                raise
            on_rejected(crm_account_id, activity_id, exc.reason)
            continue
        if link_id is not None:
            found.append(link_id)
    return found


def _link_for_crm_activity(crm_account_id: int, activity_id: str,
                           crm: CrmProvider) -> int | None:
    activity = crm.get_activity(activity_id)
    if activity is None or activity.external_id or not activity.who_id:
        return None  # ours already (it carries a calendar event id), or not a meeting
    if activity.in_series:
        # A series made in the CRM stays there: copied over, its occurrences would be
        # single calendar events that no longer move as one (docs/architecture.md).
        log.info("recurring CRM series not synced to the calendar",
                 extra={"account_id": crm_account_id, "crm_event_id": activity.id})
        return None
    if not sync_window().covers(activity.span):
        return None  # history, or not yet within the horizon
    # A CRM meeting reaches only the calendar of the rep who owns it; a meeting of a user
    # with no paired calendar (a colleague's, a private one) is never read into one.
    calendar = links.calendar_of_crm_user(crm_account_id, activity.owner_id) \
        if activity.owner_id else None
    if calendar is None:
        return None
    return links.ensure(calendar, crm_account_id, calendar_event_id_for_crm(activity.id),
                        origin="crm", crm_event_id=activity.id)

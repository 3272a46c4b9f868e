"""Recurring meetings: a series is synced as its occurrences inside the sync window.

A listing with a sync token returns a series' master (when the series or one occurrence
changed), its exceptions and its cancelled occurrences, never its plain occurrences; and
Google refuses timeMin/timeMax beside a sync token, so `singleEvents=true` would expand
every series without bound. So the master is read for what it says about the series, and
its occurrences come from `list_occurrences` (events.instances) over the window only:
- first seen: every occurrence in the window (`SYNC_BACKFILL_DAYS` back, as for single
  meetings, to `SYNC_HORIZON_DAYS` ahead) that has a guest gets a link;
- the series edited (its fingerprint changed): the future occurrences are read again and
  reconciled; an occurrence the series no longer has (an end date, "this and following",
  an EXDATE) is reconciled too and its CRM meeting cancelled. Past occurrences are history:
  untouched (engine/reconcile.py keeps them so whatever triggers them);
- the whole series moved in time: Google gives its occurrences new ids (the series id plus
  the original start), so each future link follows, in time order, to the occurrence that
  replaced its own, and its CRM meeting moves instead of being cancelled and re-created;
- an occurrence's own edit lists it (an exception) and its master, whose fingerprint is
  unchanged: only that occurrence is reconciled;
- the horizon moving on (Beat, daily): occurrences that came into it are linked.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime, time, timedelta, timezone

from ..providers.base import CalendarProvider
from ..store import links, series
from ..store.series import SeriesSeen
from ..sync import Appointment
from ..sync.guests import CalendarOwner
from ..sync.window import SyncWindow

log = logging.getLogger(__name__)
MIN_HORIZON_STEP = timedelta(minutes=1)


def fingerprint(master: Appointment) -> str:
    """What of a master decides its occurrences (not its etag: an occurrence's own edit
    changes that too)."""
    span = master.span
    shape = {"recurrence": list(master.recurrence), "status": master.status,
             "start": _iso(span.start) if span else None,
             "end": _iso(span.end) if span else None,
             "title": master.title, "location": master.location,
             "description": master.description,
             "attendees": sorted([a.email or "", a.response or "", a.resource]
                                 for a in master.attendees)}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def series_links(account_id: int, crm_account_id: int | None, master: Appointment,
                 calendar: CalendarProvider, owner: CalendarOwner, window: SyncWindow,
                 link_for_event) -> list[int]:
    """The links to reconcile for a listed series master (see the module's rules)."""
    seen = series.seen(account_id, master.event_id)
    mark = fingerprint(master)
    if seen is not None and seen.fingerprint == mark:
        return []
    now = datetime.now(timezone.utc)
    since = window.earliest_end if seen is None else now
    listed = calendar.list_occurrences(master.event_id, since, window.latest_start)
    for event_id, reason in listed.rejected:
        log.warning("occurrence rejected", extra={"account_id": account_id,
                                                   "event_id": event_id, "reason": reason})
    live = [o for o in listed.appointments if o.is_live and o.occurrence_start is not None]
    live_ids = {o.event_id for o in live}
    stale = [o for o in series.occurrence_links(account_id, master.event_id, since)
             if o.calendar_event_id not in live_ids]
    found: list[int] = []
    if seen is not None and seen.first_start != first_start(master):
        found += _follow_moved(account_id, stale, live)
        stale = [o for o in stale if o.link_id not in found]
    found += [o.link_id for o in stale]  # gone from the series: their reads cancel them
    for occurrence in listed.appointments:
        link_id = link_for_event(account_id, crm_account_id, occurrence, owner, window)
        if link_id is not None:
            found.append(link_id)
    series.remember(SeriesSeen(account_id, master.event_id, mark, first_start(master),
                               window.latest_start))
    log.info("recurring series read", extra={"account_id": account_id,
                                             "series_id": master.event_id,
                                             "occurrences": len(live), "queued": len(found)})
    return found


def _follow_moved(account_id: int, stale: list[series.OccurrenceLink],
                  live: list[Appointment]) -> list[int]:
    """Pair the future links whose occurrence vanished with the new occurrences that have
    no link, in time order: the n-th future occurrence is still the n-th."""
    unlinked = sorted((o for o in live
                       if links.find_by_calendar_event(account_id, o.event_id) is None),
                      key=lambda o: o.occurrence_start)
    moved = []
    for old, new in zip(stale, unlinked):
        series.move_occurrence(old.link_id, new.event_id, new.occurrence_start, new.ical_uid)
        moved.append(old.link_id)
    return moved


def series_gone(account_id: int, series_id: str) -> list[int]:
    """A deleted series: its future occurrences' links, to be cancelled by their reads."""
    if series.seen(account_id, series_id) is None:
        return []
    future = series.occurrence_links(account_id, series_id, datetime.now(timezone.utc))
    series.forget(account_id, series_id)
    return [o.link_id for o in future]


def extend_horizon(account_id: int, crm_account_id: int | None, calendar: CalendarProvider,
                   owner: CalendarOwner, window: SyncWindow, link_for_event) -> list[int]:
    """Link the occurrences that came into the horizon since each series was last read."""
    found: list[int] = []
    for seen in series.of_account(account_id):
        if window.latest_start - seen.read_until < MIN_HORIZON_STEP:
            continue  # read that far already (to the second Google's times carry)
        listed = calendar.list_occurrences(seen.series_id, seen.read_until,
                                           window.latest_start)
        for occurrence in listed.appointments:
            if links.find_by_calendar_event(account_id, occurrence.event_id) is not None:
                continue  # linked already: it straddled the old horizon
            link_id = link_for_event(account_id, crm_account_id, occurrence, owner, window)
            if link_id is not None:
                found.append(link_id)
        series.remember(SeriesSeen(account_id, seen.series_id, seen.fingerprint,
                                   seen.first_start, window.latest_start))
    return found


def is_history(appointment: Appointment | None, now: datetime | None = None) -> bool:
    """An occurrence whose original time has passed: the record of what happened."""
    if appointment is None or appointment.series_id is None \
            or appointment.occurrence_start is None:
        return False
    return appointment.occurrence_start < (now or datetime.now(timezone.utc))


def first_start(master: Appointment) -> datetime | None:
    if master.span is None:
        return None
    return _instant(master.span.start)


def _instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, timezone.utc)


def _iso(value: datetime | date) -> str:
    return value.isoformat()

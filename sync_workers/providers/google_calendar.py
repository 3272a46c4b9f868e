"""Google Calendar v3 behind `CalendarProvider`, for one connected account and calendar.

Every call goes through `auth.authorized_request` (bearer token, one refresh on a 401) and
`ProviderHttp` (X-Request-ID, timeouts, errors classified). The few statuses that mean
something other than failure here are turned into answers at once: 404 on get (never
existed), 410 on get or delete (deleted already), 409 on insert (our id exists: a retry),
410 on an incremental list (sync token expired), 404 on channels/stop (gone already).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator
from urllib.parse import quote

import requests

from ..auth import authorized_request
from ..config import Settings
from ..reliability.errors import Conflict, InvalidInput, Permanent
from ..reliability.http import ProviderHttp
from ..reliability.limiter import FleetLimiter
from ..schemas.google import (
    GoogleEventsPage,
    load_google_event,
    load_google_events_page,
)
from ..sync.models import Appointment
from .base import CalendarChanges, ChannelInfo, CursorExpired
from .google_calendar_format import AttendeeDetails, insert_body, patch_body

log = logging.getLogger(__name__)
PAGE_SIZE = 2500  # Google's maximum: a full resync spends fewer calls of the per-user quota


class GoogleCalendar:
    provider = "google"

    def __init__(self, account_id: int, calendar_id: str = "primary",
                 http: ProviderHttp | None = None, *, settings: Settings | None = None,
                 page_size: int = PAGE_SIZE) -> None:
        self.account_id = account_id
        self.calendar_id = calendar_id
        self.http = http or ProviderHttp(self.provider,
                                        limiter=FleetLimiter(self.provider, account_id))
        self.settings = settings  # None: get_settings(), as auth does
        self.page_size = page_size

    # --- events ----------------------------------------------------------------------------

    def get_event(self, event_id: str) -> Appointment | None:
        try:
            return load_google_event(self._get_raw(event_id))
        except Permanent as error:
            if error.status == 404:
                return None
            if error.status == 410:
                return cancelled(event_id)
            raise

    def create_event(self, appointment: Appointment, *, notify: bool = False) -> Appointment:
        """A 409 means the id is taken: our own earlier insert whose answer was lost, or a
        deleted event (ids stay reserved), which then comes back cancelled."""
        try:
            resp = self._call("POST", self._events_path(), params=_send_updates(notify),
                              json=insert_body(appointment))
        except Conflict as error:
            if error.status != 409:
                raise
            log.info("google event exists already",
                     extra={"account_id": self.account_id, "event_id": appointment.event_id})
            existing = self.get_event(appointment.event_id)
            if existing is None:
                raise error
            return existing
        return load_google_event(resp.json())

    def update_event(self, before: Appointment, after: Appointment, *,
                     notify: bool = False) -> Appointment:
        """PATCH what differs, guarded by before.etag; nothing differs: no call, `before`.

        Cancelling is a DELETE (Google's way; the event then reads as cancelled), and the
        other fields of a cancelled `after` are not written. A cancelled event made live
        again is a PATCH with its new status.
        """
        if not after.is_live:
            return self._cancel(before, notify) if before.is_live else before
        details = self._attendee_details(before) if after.attendees != before.attendees else {}
        body = patch_body(before, after, details)
        if not body:
            return before
        resp = self._call("PATCH", self._event_path(before.event_id),
                          params=_send_updates(notify), json=body, headers=_if_match(before))
        return load_google_event(resp.json())

    def _cancel(self, before: Appointment, notify: bool) -> Appointment:
        try:
            self._call("DELETE", self._event_path(before.event_id),
                       params=_send_updates(notify), headers=_if_match(before))
        except Permanent as error:
            if error.status != 410:  # deleted already: by our retried call or by the user
                raise
        # The fresh read gives the etag of the deletion, which the link records.
        return self.get_event(before.event_id) or cancelled(before.event_id)

    def _attendee_details(self, before: Appointment) -> AttendeeDetails:
        """Google's attendees of the event at before's version, by lower-cased e-mail."""
        event = self._get_raw(before.event_id)
        if event.get("etag") != before.etag:
            raise Conflict(f"google event {before.event_id} changed since it was read",
                           provider=self.provider)
        return {a["email"].lower(): a for a in event.get("attendees", [])
                if isinstance(a, dict) and isinstance(a.get("email"), str)}

    def _get_raw(self, event_id: str) -> Any:
        return self._call("GET", self._event_path(event_id)).json()

    # --- incremental listing ---------------------------------------------------------------

    def list_changes(self, cursor: str | None) -> CalendarChanges:
        """cursor None: every live event (showDeleted=false); otherwise what changed since,
        deletions included. Events that fail validation are in `rejected`."""
        params: dict[str, Any] = {"maxResults": self.page_size}
        params.update({"syncToken": cursor} if cursor else {"showDeleted": "false"})
        try:
            return changes_from_pages(self._pages(params), full=cursor is None)
        except Permanent as error:
            if cursor is not None and error.status == 410:
                raise CursorExpired(error.reason, provider=self.provider,
                                    status=error.status) from error
            raise

    def list_occurrences(self, series_id: str, start: datetime, end: datetime
                         ) -> CalendarChanges:
        """events.instances over the window: bounded by the horizon, which a listing with a
        sync token cannot be (timeMin/timeMax are refused beside syncToken)."""
        params = {"maxResults": self.page_size, "showDeleted": "true",
                  "timeMin": _rfc3339(start), "timeMax": _rfc3339(end)}
        path = f"{self._events_path()}/{quote(series_id, safe='')}/instances"
        return changes_from_pages(self._pages(params, path), full=False, cursored=False)

    def _pages(self, params: dict[str, Any], path: str | None = None
               ) -> Iterator[GoogleEventsPage]:
        page_token = None
        while True:
            resp = self._call("GET", path or self._events_path(),
                              params={**params, "pageToken": page_token})  # None: left out
            page = load_google_events_page(resp.json())
            if page.rejected:
                log.warning("google events rejected", extra={
                    "account_id": self.account_id,
                    "event_ids": [_event_id_of(r.payload) for r in page.rejected]})
            yield page
            page_token = page.next_page_token
            if not page_token:
                return

    # --- push channels ---------------------------------------------------------------------

    def watch(self, channel_id: str, address: str, token: str, ttl_seconds: int) -> ChannelInfo:
        expiration_ms = int((time.time() + ttl_seconds) * 1000)
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token,
                "expiration": str(expiration_ms)}
        resp = self._call("POST", f"{self._events_path()}/watch", json=body)
        return channel_info(resp.json())

    def stop_watch(self, channel_id: str, resource_id: str) -> None:
        try:
            self._call("POST", "channels/stop", json={"id": channel_id, "resourceId": resource_id})
        except Permanent as error:
            if error.status != 404:  # unknown, stopped or expired: gone already
                raise

    # --- plumbing --------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return authorized_request(self.account_id, self.http, method, path,
                                  settings=self.settings, **kwargs)

    def _events_path(self) -> str:
        return f"calendars/{quote(self.calendar_id, safe='@')}/events"

    def _event_path(self, event_id: str) -> str:
        # Ids come from users' events as well as ours: quote them, do not trust an alphabet.
        return f"{self._events_path()}/{quote(event_id, safe='')}"


def changes_from_pages(pages: Iterable[GoogleEventsPage], *, full: bool,
                       cursored: bool = True) -> CalendarChanges:
    """One listing's pages as CalendarChanges; the cursor is the last page's sync token
    (`cursored` False: events.instances, which has none)."""
    appointments: list[Appointment] = []
    rejected: list[tuple[str, str]] = []
    sync_token = None
    for page in pages:
        appointments.extend(page.events)
        rejected.extend((_event_id_of(r.payload), r.error.reason) for r in page.rejected)
        sync_token = page.next_sync_token
    if cursored and not sync_token:
        raise InvalidInput("google events list: the last page has no nextSyncToken")
    return CalendarChanges(tuple(appointments), sync_token, full, tuple(rejected))


def channel_info(body: Any) -> ChannelInfo:
    """A Channel answer of events.watch; `expiration` is Google's, which may be shorter
    than asked for."""
    try:
        expires_at = datetime.fromtimestamp(int(body["expiration"]) / 1000, timezone.utc)
        return ChannelInfo(str(body["id"]), str(body["resourceId"]), expires_at)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"google channel: expected id, resourceId and expiration (ms), "
                           f"got {body!r:.200} ({error!r})") from None


def cancelled(event_id: str) -> Appointment:
    """A deleted event as Google reports it: nothing but its id."""
    return Appointment(event_id=event_id, status="cancelled", span=None)


def _event_id_of(payload: Any) -> str:
    event_id = payload.get("id") if isinstance(payload, dict) else None
    return str(event_id) if event_id else "<no id>"


def _send_updates(notify: bool) -> dict[str, str]:
    return {"sendUpdates": "all" if notify else "none"}


def _if_match(before: Appointment) -> dict[str, str]:
    if not before.etag:
        raise InvalidInput(f"google event {before.event_id}: an update needs the etag it "
                           f"was read at")
    return {"If-Match": before.etag}


def _rfc3339(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

"""Google Calendar API v3 emulator: events, watch channels, and its control routes.

The API lives under `/calendar/v3` on the google app; a request needs a live Bearer token
from the sandbox's OAuth server (`oauth.bearer_subject`), and `primary` is the token
subject's own calendar. Records and rules live in google_calendar_store (events, lists,
sync tokens), google_calendar_events (validation, rendering), google_calendar_query
(list parameters), google_calendar_push (channels) and google_calendar_errors. The control
routes under `/_sandbox/google/` and the Python helpers at the bottom act as the user
would in Google's UI: server-chosen ids, and every change notifies the watch channels like
an API write.

A series (an event with `recurrence`) is expanded by google_calendar_recurrence: its
instances have ids `<series id>_<original start>`, can be read, written (an exception) or
cancelled one by one, and are listed by events.instances and by singleEvents=true.

One meeting can sit in several users' calendars (google_calendar_store.Meeting): an event
whose attendees include a sandbox user with a primary calendar puts a copy there (same id
and iCalUID), and `invite_from_outside` imports an outside organizer's invitation into
each user's calendar (own id per calendar, one iCalUID). `respond` answers an invitation.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Flask, Response, request

from .core import SandboxState
from .google_calendar_errors import (
    GoogleApiError,
    invalid,
    invalid_credentials,
    invalid_parameter,
    missing_credentials,
    parse_error,
)
from .google_calendar_events import EventRecord, render_event, zone_named
from .google_calendar_query import parse_bool, parse_instances_request, parse_list_request
from .google_calendar_store import (
    Calendar,
    GoogleCalendarStore,
    install_store,
    store_of,
)
from .oauth import bearer_subject, mint_grant

API = "/calendar/v3"
CONTROL = "/_sandbox/google"
_JSON = "application/json; charset=UTF-8"
_SEND_UPDATES = ("all", "externalOnly", "none")


def register(app: Flask, state: SandboxState) -> None:
    state.on_reset(install_store(state))
    app.register_error_handler(GoogleApiError, _error_response)
    _register_events(app, state)
    _register_channels(app, state)
    _register_control(app, state)


# --- the API --------------------------------------------------------------------------


def _register_events(app: Flask, state: SandboxState) -> None:
    events = f"{API}/calendars/<calendar_id>/events"

    @app.post(events)
    def insert_event(calendar_id: str):
        subject, audit = _authenticate(state), _write_audit("insert")
        with state.lock:
            store, calendar = _calendar(state, subject, calendar_id)
            record = store.insert(calendar, _json_body(), audit)
            return _event_response(record, calendar)

    @app.get(f"{events}/<event_id>")
    def get_event(calendar_id: str, event_id: str):
        subject = _authenticate(state)
        zone = _response_zone()
        with state.lock:
            store, calendar = _calendar(state, subject, calendar_id)
            record = store.get(calendar, event_id)
            if request.headers.get("If-None-Match") == record.etag:
                return Response(status=304)
            # A deleted event still comes back from get, with status "cancelled".
            return _event_response(record, calendar, zone)

    @app.patch(f"{events}/<event_id>")
    def patch_event(calendar_id: str, event_id: str):
        subject, audit = _authenticate(state), _write_audit("patch")
        with state.lock:
            store, calendar = _calendar(state, subject, calendar_id)
            record = store.patch(calendar, event_id, _json_body(), _if_match(), audit)
            return _event_response(record, calendar)

    @app.put(f"{events}/<event_id>")
    def update_event(calendar_id: str, event_id: str):
        subject, audit = _authenticate(state), _write_audit("update")
        with state.lock:
            store, calendar = _calendar(state, subject, calendar_id)
            record = store.update(calendar, event_id, _json_body(), _if_match(), audit)
            return _event_response(record, calendar)

    @app.delete(f"{events}/<event_id>")
    def delete_event(calendar_id: str, event_id: str):
        subject, audit = _authenticate(state), _write_audit("delete")
        with state.lock:
            store, calendar = _calendar(state, subject, calendar_id)
            store.delete(calendar, event_id, _if_match(), audit)
            return Response(status=204)

    @app.get(events)
    def list_events(calendar_id: str):
        subject = _authenticate(state)
        list_request = parse_list_request(request.args.to_dict(flat=False))
        with state.lock:
            store, calendar = _calendar(state, subject, calendar_id)
            return _json_response(store.list(calendar, list_request))

    @app.get(f"{events}/<event_id>/instances")
    def list_instances(calendar_id: str, event_id: str):
        subject = _authenticate(state)
        instances_request, original = parse_instances_request(request.args.to_dict(flat=False))
        with state.lock:
            store, calendar = _calendar(state, subject, calendar_id)
            return _json_response(store.instances(calendar, event_id, instances_request,
                                                  original))


def _register_channels(app: Flask, state: SandboxState) -> None:
    @app.post(f"{API}/calendars/<calendar_id>/events/watch")
    def watch_events(calendar_id: str):
        subject = _authenticate(state)
        parse_list_request(request.args.to_dict(flat=False))  # same parameters as list
        body = _json_body()
        with state.lock:
            store, calendar = _calendar(state, subject, calendar_id)
            uri = (f"{request.host_url.rstrip('/')}{API}/calendars/"
                   f"{quote(calendar_id, safe='@')}/events?alt=json")
            channel = store.channels.watch(subject, calendar.key, calendar.resource_id, uri,
                                           body)
            return _json_response(channel.resource())

    @app.post(f"{API}/channels/stop")
    def stop_channel():
        subject = _authenticate(state)
        body = _json_body()
        with state.lock:
            store_of(state).channels.stop(subject, body)
        return Response(status=204)


def _authenticate(state: SandboxState) -> str:
    subject = bearer_subject(state, "google")
    if subject is None:
        if not request.headers.get("Authorization", "").strip():
            raise missing_credentials()
        raise invalid_credentials()
    return subject


def _calendar(state: SandboxState, subject: str,
              calendar_id: str) -> tuple[GoogleCalendarStore, Calendar]:
    store = store_of(state)
    return store, store.calendar_for(subject, calendar_id)


def _write_audit(method: str) -> dict[str, Any]:
    """Check sendUpdates/sendNotifications and keep them for the event's write log."""
    args = request.args
    send_updates = args.get("sendUpdates")
    if send_updates is not None and send_updates not in _SEND_UPDATES:
        raise invalid_parameter("sendUpdates", send_updates, "|".join(_SEND_UPDATES))
    return {"by": "api", "method": method, "sendUpdates": send_updates,
            "sendNotifications": parse_bool(args.to_dict(), "sendNotifications")}


def _json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise parse_error() from None
    if not isinstance(body, dict):
        raise parse_error()
    return body


def _if_match() -> str | None:
    return request.headers.get("If-Match")


def _response_zone() -> ZoneInfo | None:
    """The timeZone parameter: the zone to print dateTimes in (default: the calendar's)."""
    name = request.args.get("timeZone")
    if name is None:
        return None
    zone = zone_named(name)
    if zone is None:
        raise invalid("Invalid value for: timeZone", "timeZone")
    return zone


def _event_response(record: EventRecord, calendar: Calendar,
                    zone: ZoneInfo | None = None) -> Response:
    response = _json_response(render_event(record, calendar.zone, forced_zone=zone))
    response.headers["ETag"] = record.etag
    return response


def _json_response(body: Any, status: int = 200) -> Response:
    pretty = request.args.get("prettyPrint", "true").lower() != "false"
    text = json.dumps(body, indent=1 if pretty else None, ensure_ascii=False) + "\n"
    return Response(text, status=status, content_type=_JSON)


def _error_response(error: GoogleApiError) -> Response:
    return _json_response(error.body(), error.code)


# --- control routes: the user in Google's UI, and the sandbox's knobs -------------------


def _register_control(app: Flask, state: SandboxState) -> None:
    user_calendar = f"{CONTROL}/users/<subject>/calendars/<calendar_id>"

    @app.post(f"{CONTROL}/users/<subject>/calendars")
    def control_create_calendar(subject: str):
        body = request.get_json(force=True, silent=True) or {}
        try:
            calendar_id = create_calendar(state, subject, body.get("id"),
                                          body.get("timeZone"), body.get("summary"))
        except ValueError as exc:
            return _json_response({"error": str(exc)}, 400)
        return _json_response({"id": calendar_id})

    @app.patch(user_calendar)
    def control_set_time_zone(subject: str, calendar_id: str):
        time_zone = (request.get_json(force=True, silent=True) or {}).get("timeZone")
        try:
            set_calendar_time_zone(state, subject, time_zone, calendar_id)
        except ValueError as exc:
            return _json_response({"error": str(exc)}, 400)
        return _json_response({"timeZone": time_zone})

    @app.post(f"{user_calendar}/events")
    def control_seed_event(subject: str, calendar_id: str):
        return _json_response(seed_event(state, subject, _json_body(), calendar_id))

    @app.get(f"{user_calendar}/events")
    def control_list_raw(subject: str, calendar_id: str):
        return _json_response(raw_events(state, subject, calendar_id))

    @app.get(f"{user_calendar}/events/<event_id>")
    def control_get_raw(subject: str, calendar_id: str, event_id: str):
        return _json_response(raw_event(state, subject, event_id, calendar_id))

    @app.patch(f"{user_calendar}/events/<event_id>")
    def control_user_edit(subject: str, calendar_id: str, event_id: str):
        return _json_response(user_edit_event(state, subject, event_id, _json_body(),
                                              calendar_id))

    @app.delete(f"{user_calendar}/events/<event_id>")
    def control_user_delete(subject: str, calendar_id: str, event_id: str):
        return _json_response(user_delete_event(state, subject, event_id, calendar_id))

    @app.post(f"{user_calendar}/sync-tokens/expire")
    def control_expire_sync_tokens(subject: str, calendar_id: str):
        expire_sync_tokens(state, subject, calendar_id)
        return _json_response({"ok": True})

    @app.put(f"{CONTROL}/sync-token-lifetime")
    def control_sync_token_lifetime():
        seconds = (request.get_json(force=True, silent=True) or {}).get("seconds")
        set_sync_token_lifetime(state, None if seconds is None else float(seconds))
        return _json_response({"seconds": seconds})

    @app.get(f"{CONTROL}/channels")
    def control_channels():
        return _json_response(channels(state, request.args.get("subject")))

    @app.get(f"{CONTROL}/invitations")
    def control_invitations():
        return _json_response(sent_invitations(state))

    @app.post(f"{user_calendar}/events/<event_id>/response")
    def control_respond(subject: str, calendar_id: str, event_id: str):
        answer = (request.get_json(force=True, silent=True) or {}).get("responseStatus")
        try:
            return _json_response(respond(state, subject, event_id, answer, calendar_id))
        except ValueError as exc:
            return _json_response({"error": str(exc)}, 400)

    @app.post(f"{CONTROL}/outside/invitations")
    def control_invite_from_outside():
        body = request.get_json(force=True, silent=True) or {}
        try:
            return _json_response(invite_from_outside(
                state, body.get("organizer"), body.get("attendees") or [],
                body.get("event") or {}))
        except ValueError as exc:
            return _json_response({"error": str(exc)}, 400)

    @app.patch(f"{CONTROL}/outside/invitations/<path:ical_uid>")
    def control_outside_update(ical_uid: str):
        try:
            return _json_response(outside_update(state, ical_uid, _json_body()))
        except ValueError as exc:
            return _json_response({"error": str(exc)}, 400)

    @app.delete(f"{CONTROL}/outside/invitations/<path:ical_uid>")
    def control_outside_cancel(ical_uid: str):
        try:
            return _json_response(outside_cancel(state, ical_uid))
        except ValueError as exc:
            return _json_response({"error": str(exc)}, 400)


# --- Python helpers for in-process tests (the control routes call these) ----------------

_USER_AUDIT = {"by": "user", "sendUpdates": None, "sendNotifications": None}


def bearer_headers(state: SandboxState, subject: str) -> dict[str, str]:
    """An Authorization header with a fresh access token of `subject` (consent granted)."""
    token = mint_grant(state, "google", subject)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def create_calendar(state: SandboxState, subject: str, calendar_id: str | None = None,
                    time_zone: str | None = None, summary: str | None = None) -> str:
    """Add a secondary calendar to `subject` and return its id (a random group-calendar id
    unless given). The primary calendar needs no set-up: it exists from first use."""
    with state.lock:
        store = store_of(state)
        kwargs = {"time_zone": time_zone} if time_zone else {}
        return store.create_calendar(subject, calendar_id, summary=summary, **kwargs).id


def set_calendar_time_zone(state: SandboxState, subject: str, time_zone: str,
                           calendar_id: str = "primary") -> None:
    """Set a calendar's zone, in which dateTimes without their own timeZone are printed."""
    if zone_named(time_zone) is None:
        raise ValueError(f"unknown time zone {time_zone!r}")
    with state.lock:
        _calendar(state, subject, calendar_id)[1].time_zone = time_zone


def seed_event(state: SandboxState, subject: str, event_body: dict[str, Any],
               calendar_id: str = "primary") -> dict[str, Any]:
    """Create an event as the user would in the UI: a server-chosen id, watchers notified,
    and, once there are guests, the organizer listed among the attendees (as Google's UI
    does: a separate entry with `organizer: true`, `self: true` on their own copy)."""
    with state.lock:
        store, calendar = _calendar(state, subject, calendar_id)
        record = store.insert(calendar, _with_organizer(event_body, calendar.owner),
                              {**_USER_AUDIT, "method": "ui.create"}, server_id=True)
        return render_event(record, calendar.zone)


def _with_organizer(body: dict[str, Any], owner: str) -> dict[str, Any]:
    attendees = body.get("attendees") or []
    if not attendees or any(a.get("email", "").lower() == owner.lower() for a in attendees):
        return body
    return {**body, "attendees": [{"email": owner, "organizer": True,
                                   "responseStatus": "accepted"}, *attendees]}


def user_edit_event(state: SandboxState, subject: str, event_id: str,
                    changes: dict[str, Any], calendar_id: str = "primary") -> dict[str, Any]:
    """Change an event as the user would in the UI (patch semantics)."""
    with state.lock:
        store, calendar = _calendar(state, subject, calendar_id)
        record = store.patch(calendar, event_id, changes, None,
                             {**_USER_AUDIT, "method": "ui.edit"})
        return render_event(record, calendar.zone)


def user_delete_event(state: SandboxState, subject: str, event_id: str,
                      calendar_id: str = "primary") -> dict[str, Any]:
    with state.lock:
        store, calendar = _calendar(state, subject, calendar_id)
        record = store.delete(calendar, event_id, None, {**_USER_AUDIT, "method": "ui.delete"})
        return render_event(record, calendar.zone)


def respond(state: SandboxState, subject: str, event_id: str, response: str,
            calendar_id: str = "primary") -> dict[str, Any]:
    """`subject` answers an invitation in their calendar (accepted, declined, tentative,
    needsAction), as with the buttons in Google's UI. In a Google-organized meeting the
    answer reaches the organizer's copy and every other copy; in an invitation from
    outside Google only the user's own copy (the reply goes to the organizer by e-mail).
    Raises ValueError if `subject` is not among the guests."""
    with state.lock:
        store, calendar = _calendar(state, subject, calendar_id)
        record = store.respond(calendar, store.get(calendar, event_id), response,
                               {**_USER_AUDIT, "method": "ui.respond"})
        return render_event(record, calendar.zone)


def invite_from_outside(state: SandboxState, organizer_email: str | dict[str, Any],
                        attendee_subjects: list[str],
                        body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A meeting organized outside Google (say in Outlook) arrives in each named sandbox
    user's primary calendar as an imported invitation: a different event id per calendar,
    one iCalUID (body["iCalUID"], or a new one), the outside organizer, each user's own
    attendee entry `self` (users missing from body["attendees"] are added to it).
    `organizer_email` may be an address or {"email", "displayName"}. Returns each user's
    copy as the API shows it."""
    organizer = (organizer_email if isinstance(organizer_email, dict)
                 else {"email": organizer_email})
    with state.lock:
        store = store_of(state)
        copies = store.invite_from_outside(organizer, list(attendee_subjects), body,
                                           {**_OUTSIDE_AUDIT, "method": "outside.invite"})
        return {subject: render_event(record, calendar.zone)
                for subject, (calendar, record) in copies.items()}


def outside_update(state: SandboxState, ical_uid: str,
                   changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The outside organizer changes the meeting (patch semantics on their version): the
    update reaches every copy (guests added get one, guests taken off see it cancelled).
    Returns {owner: copy} for every copy."""
    with state.lock:
        store = store_of(state)
        meeting = store.outside_update(ical_uid, changes,
                                       {**_OUTSIDE_AUDIT, "method": "outside.update"})
        return _copies_of(store, meeting)


def outside_cancel(state: SandboxState, ical_uid: str) -> dict[str, dict[str, Any]]:
    """The outside organizer cancels the meeting: every copy becomes cancelled."""
    with state.lock:
        store = store_of(state)
        meeting = store.outside_cancel(ical_uid, {**_OUTSIDE_AUDIT, "method": "outside.cancel"})
        return _copies_of(store, meeting)


_OUTSIDE_AUDIT = {"by": "outside", "sendUpdates": None, "sendNotifications": None}


def _copies_of(store: GoogleCalendarStore, meeting: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for key, event_id in meeting.copies.items():
        calendar = store.calendars[key]
        out[calendar.owner] = render_event(calendar.events[event_id], calendar.zone)
    return out


def raw_event(state: SandboxState, subject: str, event_id: str,
              calendar_id: str = "primary") -> dict[str, Any]:
    """The event (deleted or not) plus what the API hides: its write log with sendUpdates."""
    with state.lock:
        store, calendar = _calendar(state, subject, calendar_id)
        return _raw(store.get(calendar, event_id), calendar)


def raw_events(state: SandboxState, subject: str,
               calendar_id: str = "primary") -> list[dict[str, Any]]:
    with state.lock:
        _, calendar = _calendar(state, subject, calendar_id)
        return [_raw(record, calendar) for record in calendar.events.values()]


def send_updates_log(state: SandboxState, subject: str, event_id: str,
                     calendar_id: str = "primary") -> list[Any]:
    """The sendUpdates value of every write of the event, oldest first (None: not sent)."""
    return [w["sendUpdates"] for w in raw_event(state, subject, event_id, calendar_id)["writes"]]


def sent_invitations(state: SandboxState) -> list[dict[str, Any]]:
    """Every write that made Google e-mail guests (invitation, update or cancellation)."""
    with state.lock:
        return [{"owner": c.owner, "calendarId": c.id, "eventId": r.id, **w}
                for c in store_of(state).calendars.values() for r in c.events.values()
                for w in r.writes if w["emailed"]]


def expire_sync_tokens(state: SandboxState, subject: str, calendar_id: str = "primary") -> None:
    """Make every sync token issued so far for the calendar answer 410."""
    with state.lock:
        store, calendar = _calendar(state, subject, calendar_id)
        store.expire_sync_tokens(calendar)


def set_sync_token_lifetime(state: SandboxState, seconds: float | None) -> None:
    """Sync tokens older than this on the sandbox clock answer 410 (None: never)."""
    with state.lock:
        store_of(state).sync_token_lifetime = seconds


def channels(state: SandboxState, subject: str | None = None) -> list[dict[str, Any]]:
    with state.lock:
        return [c for c in store_of(state).channels.describe()
                if subject in (None, c["owner"])]


def _raw(record: EventRecord, calendar: Calendar) -> dict[str, Any]:
    return {"event": render_event(record, calendar.zone), "calendarId": calendar.id,
            "owner": calendar.owner, "changeSeq": record.change_seq,
            "writes": [dict(w) for w in record.writes]}

"""Appointment -> Google Calendar Event JSON: a full body to insert, a minimal body to patch.

Google's PATCH merges objects, replaces arrays and clears what is sent as null; each part
below is written with that in mind. Times go out in UTC (`dateTime` ending in Z beside
`timeZone: "UTC"`) or as all-day dates with Google's exclusive end, the shape TimeSpan has.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from ..reliability.errors import InvalidInput
from ..sync.models import Appointment, Attendee, TimeSpan

UTC_ZONE = "UTC"
_TIME_KEYS = ("date", "dateTime", "timeZone")
_TEXT_FIELDS = (("title", "summary"), ("location", "location"), ("description", "description"))
# What Google holds about a guest beyond our Attendee (e-mail, name): kept on every write.
_KEPT_ATTENDEE_FIELDS = ("optional", "responseStatus", "comment", "additionalGuests",
                         "resource")

AttendeeDetails = Mapping[str, Mapping[str, Any]]  # lower-cased e-mail -> Google's attendee


def insert_body(appointment: Appointment) -> dict[str, Any]:
    """The whole event, with its client-chosen id (what makes a repeated insert a 409)."""
    if appointment.span is None:
        raise InvalidInput(f"google event {appointment.event_id}: cannot create an event "
                           f"without start/end")
    body: dict[str, Any] = {"id": appointment.event_id, "status": appointment.status,
                            **span_fields(appointment.span)}
    body.update({name: getattr(appointment, attr) for attr, name in _TEXT_FIELDS
                 if getattr(appointment, attr)})
    if appointment.attendees:
        body["attendees"] = attendees_json(appointment.attendees, {})
    if appointment.crm_refs:
        body["extendedProperties"] = {"private": dict(appointment.crm_refs)}
    return body


def patch_body(before: Appointment, after: Appointment,
               attendee_details: AttendeeDetails) -> dict[str, Any]:
    """The parts of `after` that differ from `before` (empty: nothing to write).

    `attendee_details` is Google's current attendee list by e-mail: the list is an array, so
    a PATCH replaces it whole, and what only Google knows (responses, comments) must be
    sent back with it.
    """
    body: dict[str, Any] = {name: getattr(after, attr) for attr, name in _TEXT_FIELDS
                            if getattr(after, attr) != getattr(before, attr)}
    if after.status != before.status:
        body["status"] = after.status
    if after.span != before.span and after.span is not None:
        body.update(_replacing(span_fields(after.span)))
    if after.attendees != before.attendees:
        body["attendees"] = attendees_json(after.attendees, attendee_details)
    refs = crm_refs_patch(before.crm_refs, after.crm_refs)
    if refs:
        body["extendedProperties"] = {"private": refs}
    return body


def span_fields(span: TimeSpan) -> dict[str, dict[str, str]]:
    if span.all_day:
        return {"start": {"date": span.start.isoformat()}, "end": {"date": span.end.isoformat()}}
    return {"start": _utc_time(span.start), "end": _utc_time(span.end)}  # type: ignore[arg-type]


def _utc_time(instant: datetime) -> dict[str, str]:
    # TimeSpan holds aware UTC with whole seconds already.
    return {"dateTime": instant.isoformat().replace("+00:00", "Z"), "timeZone": UTC_ZONE}


def _replacing(times: dict[str, dict[str, str]]) -> dict[str, dict[str, str | None]]:
    """start/end objects merge in a PATCH: null the keys left out, so that a switch between
    all-day and timed (or a user's own timeZone) leaves nothing stale behind."""
    return {name: {**dict.fromkeys(_TIME_KEYS), **value} for name, value in times.items()}


def attendees_json(attendees: Sequence[Attendee],
                   details: AttendeeDetails) -> list[dict[str, Any]]:
    return [_attendee_json(a, details.get((a.email or "").lower(), {})) for a in attendees]


def _attendee_json(attendee: Attendee, held: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: held[name] for name in _KEPT_ATTENDEE_FIELDS if name in held}
    if attendee.email:
        out["email"] = attendee.email
    if attendee.name:
        out["displayName"] = attendee.name
    return out


def crm_refs_patch(before: Mapping[str, str],
                   after: Mapping[str, str]) -> dict[str, str | None]:
    """Changed keys with their new value, removed keys as null. Google merges
    extendedProperties.private key by key, so keys we do not touch stay as they are."""
    changed: dict[str, str | None] = {k: v for k, v in after.items() if before.get(k) != v}
    changed.update({k: None for k in before if k not in after})
    return changed

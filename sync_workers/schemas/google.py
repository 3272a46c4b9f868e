"""Google Calendar v3 payloads: event resource, events list page, push notification headers.

Unknown fields are ignored (the API adds fields over time); the fields we rely on are
enforced. Names follow the discovery document.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Mapping

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from sync_workers.reliability.errors import InvalidInput
from sync_workers.sync.models import CALENDAR_STATUSES, Appointment, Attendee

from .time import google_span, to_date, to_utc
from .validation import about, validated


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class _EventTimeSchema(_Lenient):
    date = fields.Str(allow_none=True)
    dateTime = fields.Str(allow_none=True)
    timeZone = fields.Str(allow_none=True)


class _AttendeeSchema(_Lenient):
    email = fields.Str(load_default=None, allow_none=True)  # "if available"
    displayName = fields.Str(allow_none=True)
    self = fields.Bool(load_default=False)
    organizer = fields.Bool(load_default=False)
    resource = fields.Bool(load_default=False)
    responseStatus = fields.Str(load_default=None, allow_none=True)


class _OrganizerSchema(_Lenient):
    email = fields.Str(load_default=None, allow_none=True)
    self = fields.Bool(load_default=False)


class _ExtendedPropertiesSchema(_Lenient):
    private = fields.Dict(keys=fields.Str(), values=fields.Str(), load_default=dict)


class GoogleEventSchema(_Lenient):
    id = fields.Str(required=True, validate=validate.Length(min=1))
    status = fields.Str(load_default="confirmed", validate=validate.OneOf(CALENDAR_STATUSES))
    summary = fields.Str(allow_none=True)
    description = fields.Str(allow_none=True)
    location = fields.Str(allow_none=True)
    start = fields.Nested(_EventTimeSchema)
    end = fields.Nested(_EventTimeSchema)
    attendees = fields.List(fields.Nested(_AttendeeSchema), load_default=list)
    etag = fields.Str(allow_none=True)
    updated = fields.Str(allow_none=True)
    extendedProperties = fields.Nested(_ExtendedPropertiesSchema, load_default=dict)
    iCalUID = fields.Str(load_default=None, allow_none=True)
    organizer = fields.Nested(_OrganizerSchema, load_default=dict)
    recurrence = fields.List(fields.Str(), load_default=list, allow_none=True)
    recurringEventId = fields.Str(load_default=None, allow_none=True)
    originalStartTime = fields.Nested(_EventTimeSchema, load_default=None, allow_none=True)

    @validates_schema
    def _times_unless_cancelled(self, data: dict[str, Any], **_: Any) -> None:
        # A deleted (cancelled) event is only guaranteed to carry its id.
        if data["status"] != "cancelled":
            missing = {name: ["required unless status is cancelled"]
                       for name in ("start", "end") if not data.get(name)}
            if missing:
                raise ValidationError(missing)


class GoogleEventsPageSchema(_Lenient):
    items = fields.List(fields.Dict(), load_default=list)  # each event is loaded on its own
    nextPageToken = fields.Str(allow_none=True)
    nextSyncToken = fields.Str(allow_none=True)


class GooglePushHeadersSchema(_Lenient):
    channel_id = fields.Str(required=True, data_key="x-goog-channel-id")
    channel_token = fields.Str(load_default=None, data_key="x-goog-channel-token")
    channel_expiration = fields.Str(load_default=None, data_key="x-goog-channel-expiration")
    resource_id = fields.Str(required=True, data_key="x-goog-resource-id")
    resource_uri = fields.Str(load_default=None, data_key="x-goog-resource-uri")
    resource_state = fields.Str(required=True, data_key="x-goog-resource-state",
                                validate=validate.OneOf(["sync", "exists", "not_exists"]))
    message_number = fields.Int(required=True, data_key="x-goog-message-number")


def load_google_event(data: Any) -> Appointment:
    """An event resource as an Appointment (a cancelled one keeps no times)."""
    event = validated(GoogleEventSchema(), data, what="google event")
    with about(f"google event {event['id']}"):
        live = event["status"] != "cancelled"
        series_id = event.get("recurringEventId")
        occurrence = _occurrence_start(event) if series_id else None
        return Appointment(
            event_id=event["id"],
            status=event["status"],
            span=google_span(event["start"], event["end"]) if live else None,
            title=event.get("summary") or "",
            location=event.get("location") or "",
            description=event.get("description") or "",
            attendees=tuple(Attendee(a["email"], a.get("displayName"), is_self=a["self"],
                                     organizer=a["organizer"], resource=a["resource"],
                                     response=a["responseStatus"])
                            for a in event["attendees"]),
            etag=event.get("etag"),
            updated=to_utc(event["updated"], field="updated") if event.get("updated") else None,
            crm_refs=event["extendedProperties"].get("private", {}),
            ical_uid=occurrence_uid(event.get("iCalUID"), occurrence),
            organizer_copy=bool(event["organizer"].get("self")),
            series_id=series_id,
            occurrence_start=occurrence,
            recurrence=tuple(event.get("recurrence") or ()),
        )


def _occurrence_start(event: Mapping[str, Any]) -> datetime:
    """An occurrence's original start, as aware UTC (an all-day one: its date at 00:00 UTC,
    a key, not a time); Google guarantees it on every instance, cancelled ones included."""
    original = event.get("originalStartTime")
    if not original:
        raise InvalidInput("an occurrence without originalStartTime")
    if original.get("date"):
        day = to_date(original["date"], field="originalStartTime.date")
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return to_utc(original.get("dateTime"), original.get("timeZone"),
                  field="originalStartTime.dateTime")


def occurrence_uid(ical_uid: str | None, occurrence: datetime | None) -> str | None:
    """The meeting key of one occurrence: a series shares one iCalUID over all of them, and
    every participant's copy of an occurrence has the same original start."""
    if ical_uid is None or occurrence is None:
        return ical_uid
    return f"{ical_uid}#{occurrence.strftime('%Y%m%dT%H%M%SZ')}"


@dataclass(frozen=True)
class Rejected:
    """An item of a list that could not be loaded: dead-letter it, keep the rest."""

    payload: Mapping[str, Any]
    error: InvalidInput


@dataclass(frozen=True)
class GoogleEventsPage:
    events: tuple[Appointment, ...]
    rejected: tuple[Rejected, ...]
    next_page_token: str | None
    next_sync_token: str | None  # only on the last page


def load_google_events_page(data: Any) -> GoogleEventsPage:
    """A list page; one bad event does not hold back the others (see `rejected`)."""
    page = validated(GoogleEventsPageSchema(), data, what="google events page")
    events, rejected = [], []
    for item in page["items"]:
        try:
            events.append(load_google_event(item))
        except InvalidInput as error:
            rejected.append(Rejected(item, error))
    return GoogleEventsPage(tuple(events), tuple(rejected), page.get("nextPageToken"),
                            page.get("nextSyncToken"))


@dataclass(frozen=True)
class GoogleNotification:
    """A push notification: says only that something changed; fetch with the sync token.
    Compare `channel_token` in constant time; it is kept out of repr (and so of logs)."""

    channel_id: str
    resource_id: str
    resource_state: Literal["sync", "exists", "not_exists"]
    message_number: int
    resource_uri: str | None = None
    channel_expiration: datetime | None = None
    channel_token: str | None = field(default=None, repr=False)


def load_google_push_headers(headers: Mapping[str, str]) -> GoogleNotification:
    """The X-Goog-* headers of a notification (names in any case)."""
    values = validated(GooglePushHeadersSchema(),
                       {name.lower(): value for name, value in headers.items()},
                       what="google push notification")
    expiration = values.pop("channel_expiration")
    return GoogleNotification(**values, channel_expiration=_http_date(expiration))


def _http_date(value: str | None) -> datetime | None:
    """X-Goog-Channel-Expiration is an HTTP date: 'Tue, 19 Nov 2013 01:13:52 GMT'."""
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(f"google push notification: x-goog-channel-expiration: expected "
                           f"an HTTP date with zone, got {value!r}")
    return parsed.astimezone(timezone.utc)

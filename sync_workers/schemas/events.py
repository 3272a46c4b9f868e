"""The raw events the receiver queues for ingest_event (validated again on the worker side:
a message on the queue is input like any other)."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ..reliability.errors import InvalidInput
from .validation import validated


class _RawEvent(Schema):
    class Meta:
        unknown = EXCLUDE

    provider = fields.Str(required=True, validate=validate.OneOf(["google", "salesforce"]))
    kind = fields.Str(required=True)
    account_id = fields.Int(required=True, strict=True, validate=validate.Range(min=1))


class GoogleCalendarChanged(_RawEvent):
    channel_id = fields.Str(required=True)
    resource_state = fields.Str(required=True, validate=validate.OneOf(["exists", "not_exists"]))
    message_number = fields.Int(required=True)


class _RecordSchema(Schema):
    id = fields.Str(required=True, validate=validate.Length(min=15, max=18))
    type = fields.Str(required=True, validate=validate.Length(min=1))


class SalesforceRecordsChanged(_RawEvent):
    endpoint_id = fields.Int(required=True)
    organization_id = fields.Str(required=True)
    records = fields.List(fields.Nested(_RecordSchema), load_default=None,
                          validate=validate.Length(min=1, max=100))
    # Queued by receivers before records were: the raw SOAP body, parsed by the worker.
    body = fields.Str(load_default=None, validate=validate.Length(min=1))

    @validates_schema
    def _records_or_body(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("records") and not data.get("body"):
            raise ValidationError({"records": ["Missing data for required field."]})


_SCHEMAS = {("google", "calendar_changed"): GoogleCalendarChanged,
            ("salesforce", "records_changed"): SalesforceRecordsChanged}


def load_raw_event(data: Any) -> dict[str, Any]:
    """The event as a dict, or InvalidInput naming what is wrong."""
    head = validated(_RawEvent(), data, what="raw event")
    schema = _SCHEMAS.get((head["provider"], head["kind"]))
    if schema is None:
        raise InvalidInput(f"raw event: unknown kind {head['kind']!r} for {head['provider']}")
    return validated(schema(), data, what=f"{head['provider']} {head['kind']} event")

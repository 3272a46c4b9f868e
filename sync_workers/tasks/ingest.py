"""ingest_event: a verified raw event in, one reconcile per affected link out."""
from __future__ import annotations

from celery import shared_task

from .. import dispatch
from ..engine import changes
from ..engine.adapters import crm_of
from ..reliability.errors import InvalidInput
from ..schemas.events import load_raw_event
from ..schemas.soap import MalformedMessage, parse_outbound_message
from .base import ReliableTask
from .dead_letters import dead_letter_rejected_crm_record, dead_letter_rejected_event


def _records_of(body: str) -> list[dict]:
    """A message queued by an older receiver, with its body."""
    try:
        message = parse_outbound_message(body.encode("utf-8"))
    except MalformedMessage as exc:
        raise InvalidInput(f"salesforce outbound message: {exc}") from None
    return [{"id": n.record_id, "type": n.object_type} for n in message.notifications]


@shared_task(base=ReliableTask, bind=True, name=dispatch.INGEST_EVENT.name)
def ingest_event(self, event: dict) -> int:
    raw = load_raw_event(event)
    if raw["provider"] == "google":
        # The notification only says "something changed": the listing says what.
        return changes.sync_calendar(raw["account_id"], on_rejected=dead_letter_rejected_event,
                                     owner=self.request.id).queued
    records = raw["records"] or _records_of(raw["body"])
    ids = [r["id"] for r in records]
    new_events = [r["id"] for r in records if r["type"] == "Event"]
    return changes.queue_crm_records(raw["account_id"], ids, crm=crm_of(raw["account_id"]),
                                     new_activity_ids=new_events,
                                     on_rejected=dead_letter_rejected_crm_record)

"""Reconcile tasks: one link, one calendar event, or everything of an account."""
from __future__ import annotations

from celery import shared_task

from .. import dispatch
from ..engine import adapters, changes
from ..engine.booking import calendar_owner, sync_window
from ..engine.enqueue import enqueue_reconcile, reconcile_scheduled, reconcile_started
from ..engine.reconcile import reconcile
from ..providers.registry import is_calendar
from ..store import cursors, intent, links
from .base import ReliableTask
from .dead_letters import dead_letter_rejected_event


class LinkReconcileTask(ReliableTask):
    abstract = True

    def on_retry_scheduled(self, countdown: float) -> None:
        reconcile_scheduled(self.request.kwargs["link_id"], countdown)


@shared_task(base=LinkReconcileTask, bind=True, name=dispatch.RECONCILE_LINK.name)
def reconcile_link(self, link_id: int, account_id: int | None = None) -> str:
    reconcile_started(link_id)  # a change after this point queues another run
    seen = intent.sequence(link_id)  # ...and keeps the link's intent when this one succeeds
    outcome = reconcile(link_id, task_id=self.request.id)
    intent.clear(link_id, seen)
    return outcome.result


@shared_task(base=ReliableTask, bind=True, name=dispatch.RECONCILE_CALENDAR_EVENT.name)
def reconcile_calendar_event(self, account_id: int, event_id: str) -> str:
    """Replay target for an event a listing rejected: read it alone, link it, reconcile."""
    appointment = adapters.calendar_of(account_id).get_event(event_id)
    if appointment is None:
        return "gone"
    link_id = changes.link_for_event(account_id, links.crm_account_for(account_id), appointment,
                                     calendar_owner(account_id), sync_window())
    if link_id is None:
        return "not a booking"
    return reconcile(link_id, task_id=self.request.id).result


@shared_task(base=ReliableTask, bind=True, name=dispatch.RECONCILE_CRM_RECORD.name)
def reconcile_crm_record(self, account_id: int, record_id: str) -> int:
    """Replay target for a CRM record a listing or an Outbound Message rejected: read it
    alone again; still refused, it is dead-lettered again with the reason."""
    return changes.queue_crm_records(account_id, [record_id], crm=adapters.crm_of(account_id),
                                     new_activity_ids=[record_id])


@shared_task(base=ReliableTask, bind=True, name=dispatch.RECONCILE_ACCOUNT.name)
def reconcile_account(self, account_id: int) -> int:
    """Full reconciliation (after a reconnect): a full calendar list, then every link."""
    if is_calendar(adapters.account(account_id).provider):
        cursors.put(account_id, changes.CALENDAR_RESOURCE, None)
        changes.sync_calendar(account_id, on_rejected=dead_letter_rejected_event,
                              owner=self.request.id)
    queued = 0
    for link in links.for_account(account_id):
        queued += enqueue_reconcile(link.link_id, account_id)
    return queued


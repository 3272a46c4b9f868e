"""Dead letters: whatever ends a task for good is published to `dlq`, then mirrored once.

`publish_dead_letter` runs in the task_failure hook (in the pool process, or in the main
process for a lost worker). If the broker cannot take the letter it is written straight to
Postgres, so a letter is never lost between the two.
"""
from __future__ import annotations

import hashlib
import logging
import traceback as tb
from datetime import datetime, timezone
from typing import Any

from celery import shared_task

from .. import dispatch
from ..counters import count_dead_letter
from ..logging import redact, request_id
from ..store import dead_letters as repo
from ..store import intent
from .base import FIRST_FAILED_HEADER

log = logging.getLogger(__name__)
RECORD_TASK = dispatch.RECORD_DEAD_LETTER.name


def publish_dead_letter(task, task_id, exception, args, kwargs, einfo) -> None:
    if getattr(task, "name", None) == RECORD_TASK:
        log.error("dead-letter recording failed", extra={"task_id": task_id})
        return  # its own failure must not loop; the message stays for redelivery
    letter = _letter_fields(task, task_id, exception, args, kwargs, einfo)
    try:
        dispatch.send(dispatch.RECORD_DEAD_LETTER, {"letter": letter}, app=task.app, retry=True,
                      retry_policy={"max_retries": 2, "interval_start": 0.2})
    except Exception as exc:  # noqa: BLE001 (any broker failure: fall back to Postgres)
        log.warning("dlq publish failed, recording directly",
                    extra={"error_type": type(exc).__name__})
        _record(letter)
    _end_intent(task.name, letter["kwargs"])
    count_dead_letter(task.name, letter["error_type"])
    log.error("task dead-lettered", extra={"dead_task_id": task_id,
                                           "error_type": letter["error_type"],
                                           "reason": letter["error_message"],
                                           "attempts": letter["attempts"]})


def _end_intent(task_name: str, kwargs: dict[str, Any]) -> None:
    """A dead-lettered reconcile's link leaves the sweeper: the letter (and its replay)
    is now where that work is kept, not a re-enqueue every minute."""
    if task_name != dispatch.RECONCILE_LINK.name or "link_id" not in kwargs:
        return
    try:
        intent.clear(int(kwargs["link_id"]))
    except Exception as exc:  # noqa: BLE001 (PostgreSQL down: the sweeper retries it later)
        log.warning("could not clear the link's intent", extra={"error_type":
                                                                 type(exc).__name__})


def _letter_fields(task, task_id, exception, args, kwargs, einfo) -> dict[str, Any]:
    request = getattr(task, "request", None)
    get = request.get if request is not None else (lambda *_: None)
    now = datetime.now(timezone.utc).isoformat()
    kwargs = dict(kwargs or {})
    text = einfo.traceback if einfo is not None else "".join(
        tb.format_exception(type(exception), exception, exception.__traceback__))
    delivery = get("delivery_info") or {}
    return {
        "task_id": task_id,
        "task_name": task.name,
        "queue": delivery.get("routing_key") or _route_queue(task),
        "args": list(args or []),
        "kwargs": kwargs,
        "error_type": type(exception).__name__,
        "error_message": redact(str(getattr(exception, "reason", None) or exception)),
        "traceback": redact(text or ""),
        "attempts": (get("retries") or 0) + 1,
        "request_id": get("x_request_id"),
        "account_id": kwargs.get("account_id"),
        "first_failed_at": get(FIRST_FAILED_HEADER) or now,
        "last_failed_at": now,
        "replay_of": get("x_replay_of"),
    }


def _route_queue(task) -> str | None:
    route = task.app.amqp.router.route({}, task.name)
    queue = route.get("queue")
    return getattr(queue, "name", queue)


def _record(letter: dict[str, Any]) -> int | None:
    fields = dict(letter)
    for key in ("first_failed_at", "last_failed_at"):
        fields[key] = datetime.fromisoformat(fields[key])
    return repo.record(repo.DeadLetter(**fields))


@shared_task(name=RECORD_TASK, bind=True, acks_late=True, max_retries=None)
def record_dead_letter(self, letter: dict[str, Any]) -> int | None:
    """Mirror one letter into Postgres; idempotent on task id, retried while Postgres is away."""
    try:
        return _record(letter)
    except Exception as exc:  # noqa: BLE001 (Postgres away: keep the letter in the queue)
        raise self.retry(exc=exc, countdown=min(60, 2 ** min(self.request.retries, 6)))


def replay_letter(letter_id: int, app=None) -> str:
    """Re-publish a dead task through its own routing; the record notes the new task id."""
    letter = repo.get(letter_id)
    if letter is None:
        raise LookupError(f"dead letter {letter_id} does not exist")
    if letter.status != "open":
        raise ValueError(f"dead letter {letter_id} is {letter.status}, not open")
    result = dispatch.send(letter.task_name, letter.kwargs, app=app, args=letter.args,
                           headers={"x_replay_of": letter_id, "x_request_id": letter.request_id})
    repo.mark_replayed(letter_id, result.id)
    return result.id


REPLAY_EVENT_TASK = dispatch.RECONCILE_CALENDAR_EVENT.name
REPLAY_CRM_TASK = dispatch.RECONCILE_CRM_RECORD.name


def dead_letter_rejected_event(account_id: int, event_id: str, reason: str) -> None:
    """For change listings (`on_rejected`): the replay reads the event alone again."""
    record_rejected(REPLAY_EVENT_TASK, {"account_id": account_id, "event_id": event_id}, reason)


def dead_letter_rejected_crm_record(account_id: int, record_id: str, reason: str) -> None:
    """For CRM listings and Outbound Messages: the replay reads the record alone again."""
    record_rejected(REPLAY_CRM_TASK, {"account_id": account_id, "record_id": record_id},
                    reason)


def record_rejected(task_name: str, kwargs: dict[str, Any], reason: str) -> int | None:
    """A record a listing could not accept: a dead letter whose replay re-reads it alone."""
    now = datetime.now(timezone.utc)
    digest = hashlib.sha256(f"{task_name}{sorted(kwargs.items())}{reason}".encode()).hexdigest()
    letter_id = repo.record(repo.DeadLetter(
        task_id=f"rejected-{digest[:32]}", task_name=task_name,
        queue=dispatch.ROUTES[task_name]["queue"], args=[],
        kwargs=kwargs, error_type="InvalidInput", error_message=reason, traceback=None,
        attempts=1, request_id=request_id(), account_id=kwargs.get("account_id"),
        first_failed_at=now, last_failed_at=now))
    if letter_id is not None:  # the same rejection listed again is not a new dead letter
        count_dead_letter(task_name, "InvalidInput")
        _announce_failed(f"rejected-{digest[:32]}", task_name, kwargs, reason)
    return letter_id


def _announce_failed(task_id: str, task_name: str, kwargs: dict[str, Any],
                     reason: str) -> None:
    """Show the dead letter in Flower as the failed task it stands for (no task ran: the
    listing refused the record), so monitoring sees every dead letter, with its reason."""
    try:
        app = dispatch.publisher()
        with app.events.default_dispatcher() as events:
            events.send("task-received", uuid=task_id, name=task_name, args="()",
                        kwargs=repr(kwargs), retries=0, eta=None, root_id=task_id,
                        parent_id=None)
            events.send("task-failed", uuid=task_id, exception=f"InvalidInput({reason!r})",
                        traceback=None)
    except Exception as exc:  # noqa: BLE001 (monitoring only: the letter is recorded)
        log.warning("could not announce the dead letter to monitoring",
                    extra={"error_type": type(exc).__name__})

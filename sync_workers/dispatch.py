"""Every task name, its queue, and how to send it: the one place publishers use.

Task names are stable strings, not module paths, so Flower shows readable names and moving
code does not strand queued messages. The tasks' own decorators, the Celery routes, the
metrics and every publisher (receiver, engine, tasks) read the names from here.

Publishing goes through the Celery app that the process's wiring bound (`celery_app`
binds the app it makes; the worker, Beat, the receiver's WSGI entry and the CLI load it),
or through an app passed in. Not `celery.current_app`: that is per thread and falls back
to an unconfigured default app, which would publish to amqp://localhost unnoticed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.result import AsyncResult

APP_NAME = "sync_workers"
QUEUES = ("events", "reconcile", "poll", "dlq")


@dataclass(frozen=True)
class TaskRoute:
    name: str
    queue: str

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(f"{self.name}: unknown queue {self.queue!r}")


INGEST_EVENT = TaskRoute("sync.ingest_event", "events")
RECONCILE_LINK = TaskRoute("sync.reconcile_link", "reconcile")
RECONCILE_ACCOUNT = TaskRoute("sync.reconcile_account", "reconcile")
RECONCILE_CALENDAR_EVENT = TaskRoute("sync.reconcile_calendar_event", "reconcile")
RECONCILE_CRM_RECORD = TaskRoute("sync.reconcile_crm_record", "reconcile")
POLL_ALL_ACCOUNTS = TaskRoute("sync.poll_all_accounts", "poll")
POLL_ACCOUNT = TaskRoute("sync.poll_account", "poll")
RENEW_PUSH_CHANNELS = TaskRoute("sync.renew_push_channels", "poll")
OPEN_PUSH_CHANNEL = TaskRoute("sync.open_push_channel", "poll")
SWEEP_INTENT = TaskRoute("sync.sweep_intent", "poll")
EXTEND_HORIZONS = TaskRoute("sync.extend_horizons", "poll")
EXTEND_HORIZON = TaskRoute("sync.extend_horizon", "poll")
RECORD_DEAD_LETTER = TaskRoute("sync.record_dead_letter", "dlq")

TASKS = (INGEST_EVENT, RECONCILE_LINK, RECONCILE_ACCOUNT, RECONCILE_CALENDAR_EVENT,
         RECONCILE_CRM_RECORD,
         POLL_ALL_ACCOUNTS, POLL_ACCOUNT, RENEW_PUSH_CHANNELS, OPEN_PUSH_CHANNEL, SWEEP_INTENT,
         EXTEND_HORIZONS, EXTEND_HORIZON, RECORD_DEAD_LETTER)
ROUTES = {task.name: {"queue": task.queue} for task in TASKS}
# Tasks that run engine.reconcile: their retries, dead letters and parking are reconciles'.
RECONCILE_TASKS = frozenset({RECONCILE_LINK.name, RECONCILE_CALENDAR_EVENT.name,
                             RECONCILE_CRM_RECORD.name})

_bound: Celery | None = None


class NoCeleryApp(RuntimeError):
    """Nothing in this process bound the sync_workers Celery app."""


def bind(app: Celery) -> None:
    """Publish through `app` from now on (called by the wiring that made it)."""
    global _bound
    _bound = app


def publisher(app: Celery | None = None) -> Celery:
    app = app or _bound
    if app is None:
        raise NoCeleryApp("no sync_workers Celery app in this process: import "
                          "sync_workers.celery_app (the worker, Beat, the receiver's WSGI "
                          "entry and the CLI do) or pass an app")
    return app


def send(task: TaskRoute | str, kwargs: dict[str, Any] | None = None, *,
         app: Celery | None = None, **options: Any) -> AsyncResult:
    """Publish `task`; the app's routes (ROUTES) pick its queue. A plain name is for
    replays of recorded tasks, which go through the same routes."""
    name = task.name if isinstance(task, TaskRoute) else task
    return publisher(app).send_task(name, kwargs=kwargs or {}, **options)

"""The Celery app: queues, routes and the reliability settings the design relies on.

See ../docs/architecture.md. In short: a message is acked only after its task finished
(acks_late), a killed pool process gives the message back (reject_on_worker_lost), a
worker holds one message at a time (prefetch 1), and Redis re-delivers an unacked message
only after a visibility timeout longer than any run plus any retry countdown.
"""
from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from beat_schedule import beat_schedule

from . import signals  # noqa: F401 (wires request ids, logging and dead letters)
from .config import Settings, get_settings
from .dispatch import APP_NAME, QUEUES, ROUTES, bind
from .mapping.ownership import load_ownership


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    # A table the sync cannot honour stops every process at start-up, naming the field.
    load_ownership(settings.ownership_file)
    app = Celery(APP_NAME)
    queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES]
    app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            # Redis: publish confirms do not exist; fail fast so the receiver can answer 503.
            "socket_timeout": 5,
            "socket_connect_timeout": 5,
        },
        broker_connection_timeout=5,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        result_expires=None,  # no result backend: no celery.backend_cleanup in the schedule
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, settings.task_time_limit - 15),
        task_queues=queues,
        task_default_queue="events",
        task_default_exchange="events",
        task_default_routing_key="events",
        task_routes=ROUTES,
        task_create_missing_queues=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        enable_utc=True,
        timezone="UTC",
        # Exactly one Beat sends the schedule: RedBeat keeps it in Redis behind a lock; a
        # second Beat waits as a standby and takes over within the lock timeout.
        beat_scheduler="redbeat.RedBeatScheduler",
        redbeat_redis_url=settings.redis_url,
        redbeat_key_prefix="sync:redbeat:",
        redbeat_lock_timeout=60,
        redbeat_redis_options={"socket_timeout": 5, "socket_connect_timeout": 5},
        beat_max_loop_interval=10,
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0,
                                   "interval_step": 0.5, "interval_max": 1},
    )
    app.conf.beat_schedule = beat_schedule(settings)
    app.autodiscover_tasks(["sync_workers"], related_name="tasks", force=True)
    return app


app = make_celery()
bind(app)  # what this process publishes through (dispatch.send)

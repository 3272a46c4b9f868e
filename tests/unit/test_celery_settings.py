"""The Celery settings the design relies on (see docs/architecture.md for why each)."""
from __future__ import annotations

from sync_workers.celery_app import QUEUES, ROUTES, make_celery
from sync_workers.config import load_settings


def test_reliability_settings():
    settings = load_settings({"SYNC_TASK_TIME_LIMIT": "300", "SYNC_MAX_COUNTDOWN": "900"})
    conf = make_celery(settings).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_ignore_result is True and conf.result_backend is None
    assert conf.task_time_limit == 300 and conf.task_soft_time_limit < 300
    assert conf.worker_send_task_events is True
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility > conf.task_time_limit + settings.max_countdown


def test_explicit_queues_and_routes():
    conf = make_celery(load_settings({})).conf
    assert {q.name for q in conf.task_queues} == set(QUEUES) == {"events", "reconcile",
                                                                  "poll", "dlq"}
    assert conf.task_create_missing_queues is False
    assert ROUTES["sync.record_dead_letter"] == {"queue": "dlq"}
    assert ROUTES["sync.reconcile_link"] == {"queue": "reconcile"}
    assert ROUTES["sync.poll_account"] == {"queue": "poll"}
    # Each queue's routing key is its name, so a replay by name reaches the right queue.
    assert all(q.routing_key == q.name for q in conf.task_queues)

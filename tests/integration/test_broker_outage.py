"""A broker that goes away while a task retries: the retry it cannot take is kept (the
message stays unacknowledged and comes back when the broker does), never dead-lettered."""
from __future__ import annotations

import os
import signal
import uuid
from dataclasses import replace

import pytest

from sync_workers.celery_app import make_celery
from sync_workers.config import get_settings
from sync_workers.store import dead_letters
from tests.fixtures.workers import wait_for

pytestmark = pytest.mark.integration


def test_a_retry_the_broker_cannot_take_is_kept_and_runs_when_it_is_back(
        db, redis_db, own_redis, worker_factory, tmp_path):
    broker = make_celery(replace(get_settings(), broker_url=own_redis.url))
    worker = worker_factory(queues="events,dlq", concurrency=1, app=broker,
                            extra_env={"SYNC_BROKER_URL": own_redis.url})
    marker, gate = uuid.uuid4().hex, tmp_path / "gate"
    result = broker.send_task("probe.transient_at_gate",
                              kwargs={"marker": marker, "gate": str(gate)}, queue="events")
    wait_for(lambda: redis_db.get(f"probe:runs:{marker}") == b"1", what="the first run")
    os.kill(own_redis.proc.pid, signal.SIGSTOP)  # the broker hangs: nothing answers
    try:
        gate.touch()  # the run fails now, and its retry cannot be published
        wait_for(lambda: [r for r in worker.records() if r.get("message") ==
                          "retry not published: broker unreachable; the message is kept"],
                 timeout=40, what="the retry refused by the broker")
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    wait_for(lambda: redis_db.get(f"probe:done:{marker}"), timeout=60,
             what="the kept message to run again once the broker is back")
    assert int(redis_db.get(f"probe:runs:{marker}")) == 2
    assert dead_letters.find_by_task_id(result.id) is None

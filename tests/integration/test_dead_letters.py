"""Dead letters with a real worker: exhausted retries, permanent errors, replay, kills; the
broker-level ones on Redis and on RabbitMQ (tests/fixtures/brokers.py)."""
from __future__ import annotations

import os
import signal
import uuid

import pytest
from click.testing import CliRunner

from sync_workers.celery_app import app
from sync_workers.cli import main as cli
from sync_workers.store import dead_letters
from tests.fixtures.workers import wait_for

pytestmark = pytest.mark.integration


def _marker() -> str:
    return uuid.uuid4().hex


def _letter(task_id: str, timeout: float = 30):
    return wait_for(lambda: dead_letters.find_by_task_id(task_id), timeout=timeout,
                    what=f"dead letter of {task_id}")


def test_transient_failure_is_retried_then_dead_lettered_with_all_attempts(
        db, redis_db, broker):
    marker = _marker()
    result = broker.app.send_task("probe.always_transient",
                                  kwargs={"marker": marker, "account_id": 7})
    letter = _letter(result.id)
    assert letter.attempts == 3  # SYNC_RETRY_MAX_ATTEMPTS in the test environment
    assert int(redis_db.get(f"probe:runs:{marker}")) == 3
    assert letter.error_type == "Transient"
    assert marker in letter.error_message
    assert letter.kwargs == {"marker": marker, "account_id": 7}
    assert letter.account_id == 7
    assert letter.status == "open" and letter.request_id
    assert letter.first_failed_at < letter.last_failed_at
    assert "Transient" in letter.traceback


def test_permanent_error_is_dead_lettered_at_once(db, redis_db, broker):
    marker = _marker()
    result = broker.app.send_task("probe.permanent", kwargs={"marker": marker})
    letter = _letter(result.id)
    assert letter.attempts == 1
    assert int(redis_db.get(f"probe:runs:{marker}")) == 1
    assert letter.error_type == "Permanent"


def test_a_letter_is_mirrored_exactly_once(db, redis_db, broker):
    result = broker.app.send_task("probe.permanent", kwargs={"marker": _marker()})
    letter = _letter(result.id)
    # The same letter delivered again (a redelivered dlq message) changes nothing.
    fields = {k: getattr(letter, k) for k in ("task_id", "task_name", "queue", "args",
                                              "kwargs", "error_type", "error_message",
                                              "traceback", "attempts", "request_id",
                                              "account_id")}
    fields.update(first_failed_at=letter.first_failed_at.isoformat(),
                  last_failed_at=letter.last_failed_at.isoformat(), replay_of=None)
    broker.app.send_task("sync.record_dead_letter", kwargs={"letter": fields})
    broker.app.send_task("sync.record_dead_letter", kwargs={"letter": fields})
    probe = broker.app.send_task("probe.permanent", kwargs={"marker": _marker()})
    _letter(probe.id)  # the dlq queue is FIFO: both copies were consumed before this one
    rows = [r for r in dead_letters.list_letters() if r.task_id == result.id]
    assert len(rows) == 1


def test_replay_reruns_the_task_and_marks_the_record(db, redis_db, session_worker):
    marker = _marker()
    result = app.send_task("probe.fails_until_allowed", kwargs={"marker": marker})
    letter = _letter(result.id)
    redis_db.set(f"probe:allow:{marker}", "1")

    out = CliRunner().invoke(cli, ["dlq", "replay", str(letter.id)])
    assert out.exit_code == 0, out.output

    new_task_id = wait_for(lambda: redis_db.get(f"probe:done:{marker}"), what="replayed run")
    record = dead_letters.get(letter.id)
    assert record.status == "replayed"
    assert record.replayed_task_id == new_task_id.decode()
    again = CliRunner().invoke(cli, ["dlq", "replay", str(letter.id)])
    assert again.exit_code == 1 and "not open" in again.output


def test_discard_keeps_the_record_with_the_reason(db, redis_db, session_worker):
    result = app.send_task("probe.permanent", kwargs={"marker": _marker()})
    letter = _letter(result.id)
    out = CliRunner().invoke(cli, ["dlq", "discard", str(letter.id), "--reason", "test data"])
    assert out.exit_code == 0, out.output
    record = dead_letters.get(letter.id)
    assert record.status == "discarded" and record.discard_reason == "test data"
    listed = CliRunner().invoke(cli, ["dlq", "list", "--status", "discarded", "--json"])
    assert str(result.id) in listed.output


@pytest.fixture
def prefork_worker(broker, sole_prefork_worker):
    """A prefork worker alone on the events queue, whose pool processes a test kills."""
    return sole_prefork_worker("events,dlq", app=broker.app, session=broker.worker,
                               extra_env=broker.env)


def test_killed_pool_process_gets_the_task_run_again(db, redis_db, broker, prefork_worker):
    worker = prefork_worker
    marker = _marker()
    broker.app.send_task("probe.block", kwargs={"marker": marker}, queue="events")
    key = f"probe:pids:{marker}"
    first_pid = int(wait_for(lambda: redis_db.lindex(key, 0), what="first run"))
    os.kill(first_pid, signal.SIGKILL)
    second_pid = int(wait_for(lambda: redis_db.lindex(key, 1), what="second run"))
    assert second_pid != first_pid
    redis_db.set(f"probe:release:{marker}", "1")
    wait_for(lambda: redis_db.get(f"probe:done:{marker}"), what="completion")
    assert worker.proc.poll() is None


def test_task_killing_its_worker_again_and_again_is_dead_lettered(db, redis_db, broker,
                                                                   prefork_worker):
    marker = _marker()
    result = broker.app.send_task("probe.block", kwargs={"marker": marker}, queue="events")
    key = f"probe:pids:{marker}"
    for n in range(3):
        pid = int(wait_for(lambda n=n: redis_db.lindex(key, n), what=f"run {n + 1}"))
        os.kill(pid, signal.SIGKILL)
    letter = _letter(result.id)
    assert "worker process lost 3 times" in letter.error_message
    assert redis_db.llen(key) == 3


def test_a_replay_that_fails_again_points_at_the_letter_it_replayed(db, redis_db, session_worker):
    result = app.send_task("probe.always_transient", kwargs={"marker": _marker()})
    first = _letter(result.id)
    out = CliRunner().invoke(cli, ["dlq", "replay", str(first.id)])
    assert out.exit_code == 0, out.output
    replayed_task = wait_for(lambda: dead_letters.get(first.id).replayed_task_id,
                             what="the replay to be recorded")
    second = _letter(replayed_task)
    # Its retries carried the replay header through, so the new letter names its origin.
    assert second.attempts == 3 and second.replay_of == first.id
    assert second.request_id == first.request_id

"""Revocation seen by real workers: tasks of a parked account stop and are recorded once,
a reconnect schedules the account's full reconciliation; a 503 is retried, not parked."""
from __future__ import annotations

import uuid

import pytest
from celery import signals

from sync_workers.auth import get_valid_token
from sync_workers.auth.links import sign_link, start_url
from sync_workers.celery_app import app as celery_app
from sync_workers.receiver import create_app
from sync_workers.sandbox import oauth
from sync_workers.sandbox.connect import connect_without_browser
from sync_workers.sandbox.core import FaultRule
from sync_workers.store import accounts as accounts_repo
from sync_workers.store import dead_letters
from tests.fixtures.accounts import connected_account, sandbox_settings
from tests.fixtures.receiver import serving
from tests.fixtures.workers import wait_for
from tests.integration.auth_support import (
    account_row,
    assert_no_token_in,
    captured_logs,
    make_due,
)

pytestmark = pytest.mark.integration
SUBJECT = "parked.user@example.com"


def send_needs_token(sandbox, account_id: int) -> tuple[str, str]:
    marker = uuid.uuid4().hex
    result = celery_app.send_task("probe.needs_token", kwargs={
        "marker": marker, "account_id": account_id, "env": sandbox.env()})
    return marker, result.id


def finished(worker, task_id: str) -> bool:
    return any(task_id in r.get("message", "") and "succeeded" in r.get("message", "")
               for r in worker.records())


@pytest.fixture
def published():
    """Messages this process publishes: (task name, routing key, kwargs, task id)."""
    seen: list[tuple] = []

    def record(sender=None, headers=None, body=None, routing_key=None, **_):
        seen.append((sender, routing_key, body[1], headers["id"]))

    signals.after_task_publish.connect(record, weak=False)
    yield seen
    signals.after_task_publish.disconnect(record)


def test_revoked_grant_parks_tasks_and_reconnect_schedules_reconciliation(
        sandbox, db, redis_db, session_worker, published):
    settings = sandbox_settings(sandbox)
    account = connected_account(sandbox, "google", SUBJECT, settings=settings)
    oauth.revoke(sandbox.state, "google", subject=SUBJECT)
    make_due(account)

    sent = [send_needs_token(sandbox, account) for _ in range(3)]
    for _, task_id in sent:
        wait_for(lambda: finished(session_worker, task_id), what=f"task {task_id} to end")

    parked = accounts_repo.parked_tasks(account)
    assert sorted(p.task_id for p in parked) == sorted(t for _, t in sent)
    assert {p.status for p in parked} == {"parked"}
    assert all("invalid_grant" in p.reason for p in parked)
    assert [int(redis_db.get(f"probe:runs:{m}")) for m, _ in sent] == [1, 1, 1]  # no retry
    assert dead_letters.count_open() == 0
    assert len(oauth.refresh_requests(sandbox.state, "google")) == 1
    assert account_row(account)["status"] == "reauth_required"
    alerts = [r for r in session_worker.records()
              if r.get("message") == "account_reauth_required" and r.get("account_id") == account]
    assert len(alerts) == 1 and alerts[0]["provider"] == "google"
    assert not [r for r in session_worker.records()
                if r.get("message") == "retrying" and r.get("account_id") == account]

    app = create_app()
    with captured_logs() as receiver_logs, serving(app) as url:
        app.config["SYNC_SETTINGS"] = sandbox_settings(sandbox, public_url=url)
        link = sign_link("google", "owner@example.com", settings.secret_keys[0])
        answer = connect_without_browser(start_url(url, "google", link), sandbox_user=SUBJECT)

    assert answer["account_id"] == account and answer["previous_status"] == "reauth_required"
    reconcile = [p for p in published if p[0] == "sync.reconcile_account"]
    assert reconcile == [("sync.reconcile_account", "reconcile", {"account_id": account},
                          answer["reconciliation_task_id"])]
    assert {(p.status, p.superseded_by) for p in accounts_repo.parked_tasks(account)} \
        == {("superseded", answer["reconciliation_task_id"])}
    assert account_row(account)["status"] == "active"
    assert get_valid_token(account, settings).provider == "google"
    assert_no_token_in(sandbox, [session_worker.log_path.read_text(),
                                 receiver_logs.getvalue()])


def test_a_503_from_the_token_endpoint_is_retried_and_does_not_park(
        sandbox, db, redis_db, session_worker):
    settings = sandbox_settings(sandbox)
    account = connected_account(sandbox, "google", SUBJECT, settings=settings)
    make_due(account)
    sandbox.state.faults.add(FaultRule(kind="status", status=503, provider="google",
                                       method="POST", path=r"^/token$"))

    marker, task_id = send_needs_token(sandbox, account)
    wait_for(lambda: redis_db.get(f"probe:done:{marker}"), what="the retried task")

    assert [r["status"] for r in oauth.refresh_requests(sandbox.state, "google")] == [503, 200]
    assert int(redis_db.get(f"probe:runs:{marker}")) == 2
    retries = [r for r in session_worker.records()
               if r.get("message") == "retrying" and r.get("task_id") == task_id]
    assert len(retries) == 1 and retries[0]["error_type"] == "Transient"
    assert accounts_repo.parked_tasks(account) == []
    assert account_row(account)["status"] == "active"
    assert_no_token_in(sandbox, [session_worker.log_path.read_text()])

"""Prometheus metrics after a small sync scenario: a real prefork worker with its metrics
endpoint on, a real receiver, both scraped over HTTP and parsed as Prometheus text."""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from sync_workers.celery_app import app
from sync_workers.receiver import create_app
from sync_workers.sandbox.core import FaultRule
from sync_workers.store import accounts as accounts_repo
from sync_workers.store import endpoints
from sync_workers.store.db import cursor
from tests.fixtures.receiver import serving
from tests.fixtures.workers import wait_for
from tests.integration.sync_support import make_pair, settle

pytestmark = pytest.mark.integration
QUEUES = {"events", "reconcile", "poll", "dlq"}
RECONCILE_OUTCOMES = {"converged", "written", "waiting", "retried", "dead_lettered", "parked"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str) -> dict[str, list]:
    """metric family name -> its samples [(sample name, labels, value)]."""
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    return {family.name: [(s.name, s.labels, s.value) for s in family.samples]
            for family in text_string_to_metric_families(resp.text)}


def total(families: dict, sample_name: str, **labels: str) -> float:
    """Sum of the samples called `sample_name` whose labels include `labels`."""
    return sum(value for samples in families.values() for name, have, value in samples
               if name == sample_name and all(have.get(k) == v for k, v in labels.items()))


def api_calls(sandbox) -> int:
    """Provider API requests the sandbox served (token endpoints excluded)."""
    return len([e for e in sandbox.state.log.entries()
                if "/calendar/v3/" in e["path"] or "/services/data/" in e["path"]])


@pytest.fixture
def metrics_worker(session_worker, worker_factory):
    """The only worker on the queues while the test runs (so every task is counted by the
    endpoint under test), in the default multiprocess setup: no PROMETHEUS_MULTIPROC_DIR,
    two pool processes."""
    port = _free_port()
    session_worker.stop()
    try:
        worker_factory(concurrency=2, extra_env={"SYNC_METRICS_PORT": str(port)})
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        session_worker.start()


@pytest.fixture
def push_channel(db):
    """Registers a Google push channel for an account; returns the headers of one
    notification on it."""
    def register(account_id: int) -> dict[str, str]:
        endpoints.add_push_channel(account_id, "google", "metrics-chan", "metrics-token",
                                   datetime.now(timezone.utc) + timedelta(days=1), "res-m")
        return {"X-Goog-Channel-ID": "metrics-chan", "X-Goog-Channel-Token": "metrics-token",
                "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "7",
                "X-Goog-Resource-ID": "res-m"}
    return register


def test_worker_and_receiver_expose_every_metric_after_a_sync(
        sandbox, db, redis_db, metrics_worker, push_channel):
    pair = make_pair(sandbox)
    settle(redis_db, lambda: True, "leftovers of earlier tests")
    worker_before = scrape(metrics_worker)
    sandbox.state.log.clear()
    with cursor() as cur:  # both tokens due: the worker refreshes them first
        accounts_repo.expire_now(pair.calendar_account, tx=cur)
        accounts_repo.expire_now(pair.crm_account, tx=cur)
        cur.execute("""INSERT INTO accounts (provider, external_account_id, owner, status)
                       VALUES ('google', 'parked@example.com', 'o', 'reauth_required')""")
    # One 429 on the first calendar listing: a rate-limit wait the task rides out.
    sandbox.state.faults.add(FaultRule(kind="status", provider="google", method="GET",
                                       path=r"/events$", status=429,
                                       headers={"Retry-After": "1"}))
    headers = push_channel(pair.calendar_account)

    with serving(create_app()) as receiver:
        receiver_before = scrape(f"{receiver}/metrics")
        event = pair.book()
        webhook = f"{receiver}/webhooks/google/calendar"
        assert requests.post(webhook, headers=headers, timeout=10).status_code == 200
        assert requests.post(webhook, headers=headers, timeout=10).status_code == 200  # again
        forged = {**headers, "X-Goog-Channel-Token": "wrong"}
        assert requests.post(webhook, headers=forged, timeout=10).status_code == 403
        pair.poll()
        settle(redis_db, lambda: (crm := pair.crm_event_for(event["id"])) and crm.get("WhoId"),
               "the booking to reach the CRM", timeout=60)
        dead = app.send_task("probe.permanent", kwargs={"marker": "metrics"})
        worker = wait_for(lambda: (m := scrape(metrics_worker)) and total(
            m, "sync_tasks_dead_lettered_total", task="probe.permanent") == 1 and m,
            what=f"the dead letter of {dead.id} to be counted")
        wait_for(lambda: scrape(f"{receiver}/metrics")["sync_dead_letters_open"][0][2] == 1,
                 what="the dead letter to be recorded")
        fleet = scrape(f"{receiver}/metrics")

    def delta(name: str, **labels) -> float:
        return total(worker, name, **labels) - total(worker_before, name, **labels)

    # --- the worker: counters of both pool processes, added up -------------------------
    assert {s[1]["outcome"] for s in worker["sync_reconciles"]} >= RECONCILE_OUTCOMES
    assert delta("sync_reconciles_total", outcome="written") >= 1
    assert sum(delta("sync_provider_calls_total", status=s) for s in ("200", "201")) > 0
    assert delta("sync_provider_calls_total", provider="google", status="429") == 1
    # Every API call the sandbox served was counted, whichever pool process made it.
    assert delta("sync_provider_calls_total") == api_calls(sandbox)
    assert delta("sync_provider_call_duration_seconds_count") == api_calls(sandbox)
    assert delta("sync_task_retries_total", error_type="RateLimited") == 1
    assert delta("sync_rate_limit_wait_seconds_count", provider="google") == 1
    assert delta("sync_rate_limit_wait_seconds_sum", provider="google") >= 1
    assert delta("sync_tasks_dead_lettered_total", task="probe.permanent",
                 error_type="Permanent") == 1
    assert delta("sync_token_refreshes_total", outcome="ok") >= 2
    assert delta("sync_token_refreshes_total", outcome="revoked") == 0

    # --- the receiver: events, and the scrape-time gauges of the fleet ------------------
    def received(outcome: str) -> float:
        name, labels = "sync_events_received_total", {"provider": "google", "outcome": outcome}
        return total(fleet, name, **labels) - total(receiver_before, name, **labels)

    assert (received("queued"), received("duplicate"), received("rejected_4xx")) == (1, 1, 1)
    assert received("unavailable_503") == 0
    assert {s[1]["queue"]: s[2] for s in fleet["sync_queue_length"]} == dict.fromkeys(QUEUES, 0)
    assert fleet["sync_dead_letters_open"][0][2] == 1
    assert fleet["sync_parked_accounts"][0][2] == 1
    ages = {(s[1]["account_id"], s[1]["resource"]): s[2] for s in fleet["sync_cursor_age_seconds"]}
    assert 0 <= ages[(str(pair.calendar_account), "calendar:events")] < 120
    assert {s[1]["source"]: s[2] for s in fleet["sync_metrics_source_up"]} == \
        {"redis": 1, "postgres": 1}
    assert "python_info" in fleet  # and the receiver process's own metrics


def test_receiver_metrics_survive_a_database_outage():
    """A scrape while PostgreSQL is away (here: a server that is not there) still answers,
    with the outage in source_up."""
    from sync_workers.metrics import receiver_registry

    app = create_app()
    app.extensions["sync_metrics_registry"] = receiver_registry(
        database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    with serving(app) as receiver:
        families = scrape(f"{receiver}/metrics")
    assert {s[1]["source"]: s[2] for s in families["sync_metrics_source_up"]} == \
        {"redis": 1, "postgres": 0}
    assert "sync_dead_letters_open" not in families
    assert {s[1]["queue"] for s in families["sync_queue_length"]} == QUEUES

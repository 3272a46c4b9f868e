"""Flower beside a real worker: a failed task is visible through its HTTP API with a
readable name and arguments, and so is a record a listing refused (a dead letter no task
run left); webhook events show the receiver's summary, not the body;
the API refuses requests without credentials."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from sync_workers.celery_app import app
from sync_workers.receiver import create_app
from sync_workers.store import endpoints
from tests.fixtures.receiver import serving
from tests.fixtures.workers import REPO, wait_for
from tests.integration.sync_support import dead_letters, make_pair, settle

pytestmark = pytest.mark.integration
AUTH = ("flower-user", "flower-pass")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker_seen(url: str, worker: str) -> bool:
    """Flower's event receiver is live once a heartbeat of `worker` marked it online
    (/metrics needs no credentials)."""
    try:
        text = requests.get(f"{url}/metrics", timeout=2).text
    except requests.ConnectionError:
        return False
    return f'flower_worker_online{{worker="{worker}"}} 1.0' in text


@pytest.fixture(scope="module")
def flower(session_worker, tmp_path_factory):
    """One Flower process for this module's tests, watching the session's worker."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("flower") / "flower.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "sync_workers.celery_app", "flower",
             f"--port={port}", "--address=127.0.0.1", f"--basic-auth={':'.join(AUTH)}"],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or _worker_seen(url, session_worker.name),
                 timeout=30,
                 what="Flower to receive worker events")
        if proc.poll() is not None:
            raise RuntimeError(f"flower exited early:\n{log_path.read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def task_info(flower: str, task_id: str, state: str) -> dict:
    """The task as Flower shows it, once it has reached `state`."""
    def seen():
        resp = requests.get(f"{flower}/api/task/info/{task_id}", auth=AUTH, timeout=5)
        return resp.status_code == 200 and resp.json().get("state") == state and resp.json()
    return wait_for(seen, timeout=30, what=f"Flower to show task {task_id} as {state}")


def test_a_failed_task_is_visible_in_flower_with_readable_name_and_arguments(
        flower, db, redis_db):
    marker = uuid.uuid4().hex
    result = app.send_task("probe.permanent", kwargs={"marker": marker})
    info = task_info(flower, result.id, "FAILURE")
    assert info["name"] == "probe.permanent"
    assert info["args"] == "()" and info["kwargs"] == repr({"marker": marker})
    assert "Permanent" in info["exception"] and marker in info["exception"]
    assert info["worker"].startswith("test-")

    failed = requests.get(f"{flower}/api/tasks", params={"state": "FAILURE"}, auth=AUTH,
                          timeout=5).json()
    assert failed[result.id]["name"] == "probe.permanent"


def test_webhook_events_show_the_receivers_summary_not_the_payload(
        flower, sandbox, db, redis_db):
    pair = make_pair(sandbox)
    endpoints.add_push_channel(pair.calendar_account, "google", "flower-chan", "flower-token",
                               datetime.now(timezone.utc) + timedelta(days=1), "res-f")
    with serving(create_app()) as receiver:
        resp = requests.post(f"{receiver}/webhooks/google/calendar", timeout=10, headers={
            "X-Goog-Channel-ID": "flower-chan", "X-Goog-Channel-Token": "flower-token",
            "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "3",
            "X-Goog-Resource-ID": "res-f"})
    assert resp.status_code == 200

    def ingest_task():
        tasks = requests.get(f"{flower}/api/tasks", auth=AUTH, timeout=5,
                             params={"taskname": "sync.ingest_event"}).json()
        return next((t for t in tasks.values()
                     if "flower-chan" in (t.get("kwargs") or "")), None)
    task = wait_for(ingest_task, timeout=30, what="Flower to show the ingest task")
    assert task["kwargs"] == "google channel flower-chan message 3"
    assert "flower-token" not in str(task)


def test_flower_api_needs_credentials(flower):
    assert requests.get(f"{flower}/api/tasks", timeout=5).status_code == 401
    assert requests.get(f"{flower}/api/tasks", auth=("flower-user", "wrong"),
                        timeout=5).status_code == 401
    assert requests.get(f"{flower}/api/tasks", auth=AUTH, timeout=5).status_code == 200


def test_a_record_a_listing_refused_is_a_failed_task_in_flower(flower, sandbox, db, redis_db):
    pair = make_pair(sandbox)
    pair.poll()
    settle(redis_db, lambda: True, "the first listing")
    start = datetime(2027, 6, 1, 11, 0, tzinfo=timezone.utc)
    pair.book("Imported call", start=start, minutes=0)  # zero length: the loader refuses it
    pair.poll()
    letter = wait_for(lambda: [d for d in dead_letters()
                               if d["task_name"] == "sync.reconcile_calendar_event"],
                      what="the dead letter")[0]
    info = task_info(flower, letter["task_id"], "FAILURE")
    assert info["name"] == "sync.reconcile_calendar_event"
    assert "is not after its start" in info["exception"]

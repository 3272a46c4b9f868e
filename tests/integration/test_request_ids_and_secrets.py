"""One request id from the receiver through tasks and sub-tasks to the provider call;
no secret in any log line; a Retry-After is never retried sooner."""
from __future__ import annotations

import io
import json
import logging
import time
import uuid

import pytest
import requests
from flask import Blueprint, jsonify

from sync_workers.celery_app import app as celery_app
from sync_workers.logging import configure_logging
from sync_workers.receiver import create_app
from tests.fixtures.http import RecordingServer
from tests.fixtures.receiver import serving
from tests.fixtures.workers import wait_for

pytestmark = pytest.mark.integration


def _probe_blueprint(provider_url: str) -> Blueprint:
    bp = Blueprint("probe", __name__)

    @bp.post("/probe/<marker>")
    def probe(marker):
        logging.getLogger("tests.receiver").info("probe received")
        celery_app.send_task("probe.call_provider", kwargs={"url": provider_url,
                                                            "marker": marker})
        return jsonify(queued=True), 202

    return bp


def test_one_request_id_from_receiver_to_provider_call(db, redis_db, session_worker):
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    marker = uuid.uuid4().hex
    request_id = f"req-{uuid.uuid4().hex}"
    try:
        with RecordingServer() as provider, \
                serving(create_app(blueprints=[_probe_blueprint(provider.url + "/thing")])) as url:
            resp = requests.post(f"{url}/probe/{marker}", headers={"X-Request-ID": request_id},
                                 timeout=5)
            assert resp.status_code == 202
            assert resp.headers["X-Request-ID"] == request_id
            wait_for(lambda: redis_db.get(f"probe:done:{marker}"), what="sub-task")
    finally:
        configure_logging("INFO")

    receiver_lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(r["message"] == "probe received" and r["request_id"] == request_id
               for r in receiver_lines)
    assert provider.requests[0]["headers"]["X-Request-Id"] == request_id

    def worker_lines():
        return [r for r in session_worker.records() if r.get("marker") == marker]
    lines = wait_for(lambda: len(worker_lines()) >= 2 and worker_lines(), what="worker logs")
    by_task = {r["task_name"]: r for r in lines}
    assert set(by_task) == {"probe.call_provider", "probe.log_only"}
    assert all(r["request_id"] == request_id for r in lines)
    assert by_task["probe.call_provider"]["task_id"] != by_task["probe.log_only"]["task_id"]


def test_receiver_makes_a_request_id_when_none_is_given(db):
    with serving(create_app()) as url:
        resp = requests.get(f"{url}/healthz", timeout=5)
    assert len(resp.headers["X-Request-ID"]) == 32


def test_no_secret_reaches_the_worker_log(db, redis_db, session_worker):
    token = f"ya29.{uuid.uuid4().hex}{uuid.uuid4().hex}"
    marker = uuid.uuid4().hex
    celery_app.send_task("probe.log_secret", kwargs={"token": token, "marker": marker})
    wait_for(lambda: redis_db.get(f"probe:done:{marker}"), what="probe.log_secret")
    log_text = session_worker.log_path.read_text()
    assert "refreshing with Authorization" in log_text  # the lines were written...
    assert token not in log_text  # ...without the token
    # Celery's own "received task" line prints the arguments: that must be clean too.
    assert token[:20] not in log_text


def test_retry_after_30_is_never_retried_sooner(db, redis_db, session_worker):
    marker = uuid.uuid4().hex
    with RecordingServer(status=429, headers={"Retry-After": "30"}) as provider:
        result = celery_app.send_task("probe.call_provider",
                                      kwargs={"url": provider.url, "marker": marker})
        wait_for(lambda: provider.requests, what="first call")
        first_call = provider.requests[0]["at"]

        def scheduled_eta():
            for tasks in (celery_app.control.inspect(timeout=1).scheduled() or {}).values():
                for entry in tasks:
                    if entry["request"]["id"] == result.id:
                        return entry["eta"]
            return None
        eta = wait_for(scheduled_eta, what="the retry to be scheduled")
        celery_app.control.revoke(result.id)
        from datetime import datetime

        wait_seconds = datetime.fromisoformat(eta).timestamp() - first_call
        assert wait_seconds >= 30
        assert len(provider.requests) == 1
        assert time.time() - first_call < 30  # checked before the retry could have run

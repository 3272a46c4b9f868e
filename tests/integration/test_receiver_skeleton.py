"""The receiver skeleton over real HTTP: health, readiness, JSON errors, body limit."""
from __future__ import annotations

import pytest
import requests

from sync_workers.receiver import create_app
from tests.fixtures.receiver import serving

pytestmark = pytest.mark.integration


def test_healthz_and_readyz(db):
    with serving(create_app()) as url:
        assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        ready = requests.get(f"{url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"redis": "ok", "postgres": "ok"}


def test_readyz_is_503_while_redis_is_down_and_recovers(db, own_redis):
    from tests.fixtures.intake import _intake_on

    with serving(create_app(intake=_intake_on(own_redis.url).intake)) as url:
        assert requests.get(f"{url}/readyz", timeout=10).status_code == 200
        own_redis.stop()
        down = requests.get(f"{url}/readyz", timeout=10)
        assert down.status_code == 503
        assert down.json()["checks"]["redis"].startswith("unreachable")
        own_redis.start()
        assert requests.get(f"{url}/readyz", timeout=10).status_code == 200


def test_unknown_path_is_a_json_404(db):
    with serving(create_app()) as url:
        resp = requests.get(f"{url}/nope", timeout=5)
    assert resp.status_code == 404 and resp.json()["status"] == 404 and resp.json()["error"]


def test_oversized_body_is_413(db):
    app = create_app({"MAX_CONTENT_LENGTH": 1024})

    @app.post("/echo")
    def echo():
        from flask import request
        return {"size": len(request.get_data())}

    with serving(app) as url:
        small = requests.post(f"{url}/echo", data=b"x" * 100, timeout=5)
        big = requests.post(f"{url}/echo", data=b"x" * 5000, timeout=5)
    assert small.status_code == 200
    assert big.status_code == 413 and "error" in big.json()

"""The sandbox's control API: scripted and random faults, the request log, the clock."""
from __future__ import annotations

import time

import pytest
import requests

from sync_workers.sandbox.oauth import mint_grant


@pytest.fixture
def calendar(sandbox):
    token = mint_grant(sandbox.state, "google", "faults@example.com")["access_token"]
    url = f"{sandbox.urls['google_api']}/calendars/primary/events"
    return url, {"Authorization": f"Bearer {token}"}


def control(sandbox, path: str, body=None, method: str = "POST") -> dict:
    resp = requests.request(method, f"{sandbox.origin('google')}/_sandbox/{path}", json=body,
                            timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_next_n_requests_answer_429_with_retry_after(sandbox, calendar):
    url, auth = calendar
    control(sandbox, "faults", {"kind": "status", "status": 429, "count": 2, "provider": "google",
                                "headers": {"Retry-After": "7"},
                                "body": {"error": {"code": 429, "message": "Rate Limit"}}})
    answers = [requests.get(url, headers=auth, timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "7"
    log = control(sandbox, "requests?provider=google", method="GET")
    assert [e["status"] for e in log] == [429, 429, 200]
    assert [e["fault"] for e in log] == ["status", "status", None]


def test_hang_past_the_client_timeout_and_connection_reset(sandbox, calendar):
    url, auth = calendar
    control(sandbox, "faults", {"kind": "hang", "seconds": 1.0, "provider": "google"})
    with pytest.raises(requests.ReadTimeout):
        requests.get(url, headers=auth, timeout=(2, 0.3))
    control(sandbox, "faults", {"kind": "reset", "provider": "google"})
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=auth, timeout=5)
    assert requests.get(url, headers=auth, timeout=5).status_code == 200


def test_a_seeded_fault_rate_replays_the_same_sequence(sandbox, calendar):
    url, auth = calendar

    def run() -> list[int]:
        control(sandbox, "faults/rate", {"rate": 0.4, "seed": 11, "provider": "google"})
        codes = [requests.get(url, headers=auth, timeout=5).status_code for _ in range(20)]
        control(sandbox, "faults", method="DELETE")
        return codes

    first, second = run(), run()
    assert first == second and 503 in first and 200 in first


def test_the_request_log_keeps_headers_that_tests_count_on(sandbox, calendar):
    url, auth = calendar
    requests.post(url, headers={**auth, "X-Request-ID": "req-123", "Idempotency-Key": "k-1"},
                  json={"summary": "x", "start": {"dateTime": "2027-01-01T10:00:00Z"},
                        "end": {"dateTime": "2027-01-01T11:00:00Z"}}, timeout=5)
    (entry,) = control(sandbox, "requests?method=POST", method="GET")
    assert entry["headers"]["X-Request-Id"] == "req-123"
    assert entry["headers"]["Idempotency-Key"] == "k-1"
    assert '"summary": "x"' in entry["body"] or '"summary":"x"' in entry["body"]


def test_the_clock_moves_forward_only_and_expires_tokens(sandbox, calendar):
    url, auth = calendar
    before = control(sandbox, "clock", method="GET")["now"]
    after = control(sandbox, "clock/advance", {"seconds": 3600})["now"]
    assert after - before >= 3600
    assert requests.get(url, headers=auth, timeout=5).status_code == 401  # 3599 s tokens


def test_latency_delays_every_api_call_of_one_provider(sandbox, calendar):
    url, auth = calendar
    control(sandbox, "latency", {"provider": "google", "seconds": 0.2, "jitter": 0.05})
    try:
        started = time.monotonic()
        assert requests.get(url, headers=auth, timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.2
        assert sandbox.state.latency_of("salesforce") == 0.0  # others answer at once
    finally:  # a latency outlives a reset (as `sandbox serve --latency` sets it)
        control(sandbox, "latency", {"provider": "google", "seconds": 0})

"""One table from HTTP outcomes to our error types."""
from __future__ import annotations

import pytest
import requests

from sync_workers.reliability.classify import classify_exception, classify_status
from sync_workers.reliability.errors import (
    AuthExpired,
    Conflict,
    Permanent,
    RateLimited,
    Transient,
)


_USAGE_LIMITS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


def google_error(code: int, reason: str) -> dict:
    """Google's error body; its usage-limit reasons are in the usageLimits domain, the
    others in global (the Calendar API's error reference)."""
    domain = "usageLimits" if reason in _USAGE_LIMITS else "global"
    return {"error": {"errors": [{"domain": domain, "reason": reason, "message": "x"}],
                      "code": code, "message": "x"}}


SF_LIMIT = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


@pytest.mark.parametrize("status, headers, body, expected", [
    (200, {}, None, None),
    (204, {}, None, None),
    (304, {}, None, None),
    (408, {}, None, Transient),
    (500, {}, None, Transient),
    (502, {}, "<html>bad gateway</html>", Transient),
    (503, {}, None, Transient),
    (503, {"Retry-After": "10"}, None, RateLimited),  # a 503 that says when: honour it
    (429, {}, None, RateLimited),
    (429, {"Retry-After": "30"}, None, RateLimited),
    (403, {}, google_error(403, "rateLimitExceeded"), RateLimited),
    (403, {}, google_error(403, "userRateLimitExceeded"), RateLimited),
    (403, {}, google_error(403, "quotaExceeded"), RateLimited),  # usage limits: a wait
    (403, {}, {"error": {"code": 403, "message": "Daily Limit Exceeded", "errors": [
        {"domain": "usageLimits", "reason": "dailyLimitExceeded"}]}}, RateLimited),
    (403, {}, google_error(403, "forbidden"), Permanent),
    (403, {}, SF_LIMIT, RateLimited),
    (401, {}, google_error(401, "authError"), AuthExpired),
    (401, {}, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}], AuthExpired),
    (412, {}, google_error(412, "conditionNotMet"), Conflict),
    (409, {}, google_error(409, "duplicate"), Conflict),
    (400, {}, [{"errorCode": "REQUIRED_FIELD_MISSING", "message": "x"}], Permanent),
    (404, {}, None, Permanent),
    (410, {}, google_error(410, "fullSyncRequired"), Permanent),
])
def test_http_outcomes(status, headers, body, expected):
    error = classify_status(status, headers, body, provider="p", now=0)
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected
        assert error.status == status and error.provider == "p"


def test_rate_limited_carries_the_wait():
    error = classify_status(429, {"Retry-After": "30"}, None, now=0)
    assert error.retry_after == 30


def test_reason_names_the_provider_error():
    error = classify_status(400, {}, [{"errorCode": "INVALID_FIELD", "message": "No such column"}],
                            provider="salesforce")
    assert "INVALID_FIELD" in error.reason and "salesforce" in error.reason


@pytest.mark.parametrize("exc", [requests.ConnectTimeout(), requests.ReadTimeout(),
                                 requests.ConnectionError("reset")])
def test_network_failures_are_transient(exc):
    assert type(classify_exception(exc, "google")) is Transient


def test_retryable_flags():
    assert Transient("x").retryable and RateLimited("x").retryable
    assert Conflict("x").retryable and AuthExpired("x").retryable
    assert not Permanent("x").retryable

"""Authentication and the per-account burst limit of the HubSpot emulator: 110 requests
per rolling 10 seconds for a public OAuth app, with the X-HubSpot-RateLimit-* headers."""
from __future__ import annotations

import pytest
import requests

from sync_workers.sandbox import hubspot_admin as admin
from sync_workers.sandbox import oauth
from tests.integration.sandbox.test_hubspot_support import Api, error_of


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def test_every_answer_carries_the_burst_limit_headers(api):
    first = api.get("/crm/v3/objects/contacts")
    second = api.get("/crm/v3/owners")
    assert first.headers["X-HubSpot-RateLimit-Max"] == "110"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert int(first.headers["X-HubSpot-RateLimit-Remaining"]) - 1 == \
        int(second.headers["X-HubSpot-RateLimit-Remaining"])
    # Errors count too, and carry the headers; OAuth answers have no daily headers.
    bad = api.get("/crm/v3/objects/contacts/999999")
    assert bad.status_code == 404 and "X-HubSpot-RateLimit-Remaining" in bad.headers
    assert "X-HubSpot-RateLimit-Daily" not in bad.headers


def test_the_111th_request_in_ten_seconds_is_429(sandbox, api):
    for _ in range(110):
        assert api.get("/crm/v3/owners").status_code == 200
    limited = api.get("/crm/v3/objects/contacts")
    assert limited.status_code == 429
    body = limited.json()
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert body["correlationId"]
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    # Another user of the same account shares the limit.
    other = Api(sandbox, "colleague@example.com")
    assert other.get("/crm/v3/owners").status_code == 429
    assert admin.api_usage(sandbox.state) == (110, 110)
    sandbox.state.clock.advance(10)
    assert api.get("/crm/v3/owners").status_code == 200


def test_the_limit_is_configurable(sandbox, api):
    admin.configure(sandbox.state, rate_limit=3, rate_window=1)
    assert [api.get("/crm/v3/owners").status_code for _ in range(4)] == [200, 200, 200, 429]
    sandbox.state.clock.advance(1)
    resp = api.get("/crm/v3/owners")
    assert resp.status_code == 200
    assert resp.headers["X-HubSpot-RateLimit-Max"] == "3"
    assert resp.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "1000"


def test_missing_and_expired_tokens_are_401(sandbox, api):
    bare = requests.get(sandbox.urls["hubspot_api"] + "/crm/v3/objects/contacts", timeout=5)
    assert error_of(bare) == (401, "INVALID_AUTHENTICATION")
    oauth.expire_access_tokens(sandbox.state, "hubspot")
    assert error_of(api.get("/crm/v3/objects/contacts")) == (401, "EXPIRED_AUTHENTICATION")
    # Unauthenticated calls name no account, so they don't use up its limit.
    assert admin.api_usage(sandbox.state)[0] == 0


def test_unknown_paths_and_bad_json(api):
    assert error_of(api.get("/crm/v3/objects/contacts/1/nothing/here"))[0] == 404
    resp = api.post("/crm/v3/objects/contacts", data="{", headers={
        "Content-Type": "application/json"})
    assert error_of(resp) == (400, "VALIDATION_ERROR")

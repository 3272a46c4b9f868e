"""API allowance (Sforce-Limit-Info, REQUEST_LIMIT_EXCEEDED), sessions (401
INVALID_SESSION_ID on the sandbox clock) and API versions of the Salesforce emulator."""
from __future__ import annotations

import pytest
import requests

from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as admin


def session_for(sandbox) -> tuple[requests.Session, str]:
    token = oauth.mint_grant(sandbox.state, "salesforce", oauth.DEFAULT_SUBJECTS["salesforce"])
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    return http, f"{token['instance_url']}/services/data/v59.0"


@pytest.fixture
def api(sandbox):
    return session_for(sandbox)


def test_every_answer_carries_the_usage_and_the_allowance_runs_out(sandbox, api):
    http, base = api
    requests.post(f"{sandbox.urls['salesforce']}/_sandbox/salesforce/settings",
                  json={"daily_api_limit": 3}, timeout=5).raise_for_status()

    answers = [http.get(f"{base}/sobjects/Contact/describe", timeout=5),
               http.get(f"{base}/query", params={"q": "SELECT Nope FROM Contact"}, timeout=5),
               http.get(f"{base}/limits", timeout=5)]
    assert [r.status_code for r in answers] == [200, 400, 200]  # errors count too
    assert [r.headers["Sforce-Limit-Info"] for r in answers] == \
        ["api-usage=1/3", "api-usage=2/3", "api-usage=3/3"]
    assert answers[2].json()["DailyApiRequests"] == {"Max": 3, "Remaining": 0}

    refused = http.get(f"{base}/sobjects/Contact/describe", timeout=5)
    assert refused.status_code == 403
    assert refused.json() == [{"message": "TotalRequests Limit exceeded.",
                               "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=3/3"

    # The allowance is a rolling 24 hours; a fresh session is needed after the jump.
    sandbox.state.clock.advance(24 * 3600 + 1)
    http, base = session_for(sandbox)
    again = http.get(f"{base}/sobjects/Contact/describe", timeout=5)
    assert again.status_code == 200 and again.headers["Sforce-Limit-Info"] == "api-usage=1/3"
    assert admin.api_usage(sandbox.state) == (1, 3)


def test_session_expires_after_the_session_timeout(sandbox):
    admin.configure(sandbox.state, session_timeout=900)
    http, base = session_for(sandbox)
    assert http.get(f"{base}/limits", timeout=5).status_code == 200

    sandbox.state.clock.advance(901)
    expired = http.get(f"{base}/limits", timeout=5)
    assert expired.status_code == 401
    assert expired.json() == [{"message": "Session expired or invalid",
                               "errorCode": "INVALID_SESSION_ID"}]
    assert "Sforce-Limit-Info" not in expired.headers
    assert admin.settings(sandbox.state)["session_timeout"] == 900


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwdw=="])
def test_unknown_or_missing_sessions_are_refused(sandbox, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    resp = requests.get(f"{sandbox.urls['salesforce']}/services/data/v59.0/sobjects",
                        headers=headers, timeout=5)
    assert resp.status_code == 401 and resp.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_versions(sandbox, api):
    http, base = api
    versions = requests.get(f"{sandbox.urls['salesforce']}/services/data/", timeout=5).json()
    by_version = {v["version"]: v for v in versions}
    assert by_version["59.0"] == {"label": "Winter '24", "url": "/services/data/v59.0",
                                  "version": "59.0"}
    assert {"60.0", "61.0", "62.0"} <= set(by_version)
    unknown = http.get(base.replace("v59.0", "v99.0") + "/sobjects", timeout=5)
    assert unknown.status_code == 404 and unknown.json()[0]["errorCode"] == "NOT_FOUND"
    resources = http.get(base, timeout=5).json()
    assert resources["query"] == "/services/data/v59.0/query"

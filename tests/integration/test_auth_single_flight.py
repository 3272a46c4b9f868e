"""Single flight across processes: 16 threads in 4 processes, one expired token, exactly
one refresh request reaches the provider and every caller gets its result."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest
import requests

from sync_workers.auth import get_valid_token, invalidate
from sync_workers.sandbox import oauth
from tests.fixtures.accounts import connected_account, sandbox_settings
from tests.fixtures.workers import REPO, wait_for
from tests.integration.auth_support import account_row, assert_no_token_in, make_due

pytestmark = pytest.mark.integration
PROCESSES, THREADS = 4, 4


@pytest.mark.parametrize("provider", ["google", "salesforce"])
def test_16_callers_in_4_processes_make_exactly_one_refresh(
        sandbox, db, redis_db, tmp_path, provider):
    settings = sandbox_settings(sandbox)
    if provider == "salesforce":  # rotation: a second refresh with the old token would fail
        oauth.configure_client(sandbox.state, "salesforce", rotate_refresh_tokens=True)
    account = connected_account(sandbox, provider, "user@example.com", settings=settings)
    make_due(account)
    oauth.expire_access_tokens(sandbox.state, provider)
    marker = uuid.uuid4().hex
    logs = [tmp_path / f"child-{i}.log" for i in range(PROCESSES)]
    children = [subprocess.Popen(
        [sys.executable, "-m", "tests.integration.auth_single_flight_child", str(account),
         marker, str(THREADS)], cwd=REPO, env={**os.environ, **sandbox.env()},
        stdout=subprocess.PIPE, stderr=log.open("w"), text=True) for log in logs]
    try:
        wait_for(lambda: int(redis_db.get(f"probe:ready:{marker}") or 0) == PROCESSES * THREADS,
                 timeout=30, what="16 threads ready")
        redis_db.set(f"probe:go:{marker}", "1")
        outputs = [child.communicate(timeout=60)[0] for child in children]
    finally:
        for child in children:
            child.kill() if child.poll() is None else None

    results = [r for out in outputs for r in json.loads(out.strip().splitlines()[-1])]
    assert len(results) == 16 and not [r for r in results if "error" in r], results
    assert len(oauth.refresh_requests(sandbox.state, provider)) == 1
    assert len({(r["sha"], r["version"]) for r in results}) == 1  # the same token for all
    token = get_valid_token(account, settings)
    assert hashlib.sha256(token.access_token.encode()).hexdigest() == results[0]["sha"]
    whoami = requests.get(f"{sandbox.origin(provider)}/_sandbox/oauth/whoami",
                          headers=token.authorization, timeout=5)
    assert whoami.status_code == 200

    # The refresh token stored by the winner (rotated for Salesforce) keeps working.
    invalidate(token, settings)
    get_valid_token(account, settings)
    assert [r["status"] for r in oauth.refresh_requests(sandbox.state, provider)] == [200, 200]
    assert account_row(account)["status"] == "active"
    assert_no_token_in(sandbox, [log.read_text() for log in logs])

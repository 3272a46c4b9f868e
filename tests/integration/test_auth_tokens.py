"""Token storage and get_valid_token against real PostgreSQL and the sandbox over HTTP:
encryption at rest, keys, refresh ahead of expiry, rotation, 401 recovery, revocation."""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
import requests

from sync_workers.auth import (
    AccountParked,
    authorized_request,
    get_valid_token,
    invalidate,
)
from sync_workers.auth.crypto import TokenDecryptionError
from sync_workers.auth.stored import utcnow
from sync_workers.auth.tokens import rotate_encryption
from sync_workers.engine.disconnect import disconnect
from sync_workers.engine.lifecycle import activate_account
from sync_workers.reliability.errors import AuthExpired, AuthRevoked, Permanent, Transient
from sync_workers.reliability.http import ProviderHttp
from sync_workers.sandbox import oauth
from sync_workers.sandbox.core import FaultRule
from sync_workers.store.db import cursor
from tests.fixtures.accounts import connected_account, sandbox_settings
from tests.fixtures.http import RecordingServer
from tests.integration.auth_support import (
    PROVIDERS,
    account_row,
    captured_logs,
    make_due,
)

pytestmark = pytest.mark.integration
TOKEN_PATHS = {"google": r"^/token$", "microsoft": r"/oauth2/v2\.0/token$",
               "salesforce": r"^/services/oauth2/token$", "hubspot": r"^/oauth/v1/token$"}


@pytest.fixture
def settings(sandbox, db, redis_db):
    return sandbox_settings(sandbox)


def raw_token_row(account_id: int) -> dict:
    with cursor() as cur:
        cur.execute("SELECT * FROM oauth_tokens WHERE account_id = %s", (account_id,))
        return cur.fetchone()


def whoami(sandbox, provider: str, token) -> int:
    return requests.get(f"{sandbox.origin(provider)}/_sandbox/oauth/whoami",
                        headers=token.authorization, timeout=5).status_code


# --- at rest -------------------------------------------------------------------------------


def test_the_raw_row_holds_no_plaintext_token(sandbox, settings):
    grant = oauth.mint_grant(sandbox.state, "google", "user@example.com")
    account = activate_account("google", "user@example.com", "o", grant, settings).account_id

    text = json.dumps(raw_token_row(account), default=str)
    assert grant["access_token"] not in text and grant["refresh_token"] not in text
    assert grant["access_token"][5:25] not in text  # not even a fragment
    assert get_valid_token(account, settings).access_token == grant["access_token"]


def test_a_wrong_key_fails_with_an_error_naming_SYNC_SECRET_KEY(sandbox, settings):
    account = connected_account(sandbox, "google", "user@example.com",
                                settings=replace(settings, secret_keys=("the-key-in-use",)))

    with pytest.raises(TokenDecryptionError, match="SYNC_SECRET_KEY"):
        get_valid_token(account, replace(settings, secret_keys=("some-other-key",)))


def test_key_rotation_old_key_still_decrypts_and_rotate_re_encrypts(sandbox, settings):
    old, both, new = (replace(settings, secret_keys=keys) for keys in
                      (("old-key",), ("new-key", "old-key"), ("new-key",)))
    account = connected_account(sandbox, "google", "user@example.com", settings=old)
    before = raw_token_row(account)
    token = get_valid_token(account, both).access_token  # the old key still decrypts

    assert rotate_encryption(both) == 1

    after = raw_token_row(account)
    assert after["access_token_enc"] != before["access_token_enc"]
    assert after["refresh_token_enc"] != before["refresh_token_enc"]
    assert after["version"] == before["version"] + 1
    assert get_valid_token(account, new).access_token == token
    with pytest.raises(TokenDecryptionError):
        get_valid_token(account, old)


# --- freshness and refresh -----------------------------------------------------------------


def test_a_fresh_token_is_served_from_storage_without_a_provider_call(sandbox, settings):
    account = connected_account(sandbox, "google", "user@example.com", settings=settings)

    token = get_valid_token(account, settings)

    assert oauth.refresh_requests(sandbox.state, "google") == []
    assert token.provider == "google" and token.api_base_url == sandbox.urls["google_api"]
    assert token.expires_at > utcnow() + timedelta(minutes=50)


def test_a_token_inside_the_leeway_is_refreshed_ahead_of_expiry(sandbox, settings):
    account = connected_account(sandbox, "google", "user@example.com", settings=settings)
    first = get_valid_token(account, settings)
    with cursor() as cur:  # 60 s left: inside the 120 s leeway
        cur.execute("UPDATE oauth_tokens SET expires_at = now() + interval '60 seconds'")
    refresh_before = raw_token_row(account)["refresh_token_enc"]

    second = get_valid_token(account, settings)

    assert len(oauth.refresh_requests(sandbox.state, "google")) == 1
    assert second.access_token != first.access_token and second.version == first.version + 1
    assert whoami(sandbox, "google", second) == 200
    # Google sends no refresh token on refresh: ours is kept (the ciphertext is untouched).
    assert raw_token_row(account)["refresh_token_enc"] == refresh_before


def test_salesforce_uses_instance_url_and_refreshes_on_demand_with_rotation(sandbox, settings):
    oauth.configure_client(sandbox.state, "salesforce", rotate_refresh_tokens=True)
    account = connected_account(sandbox, "salesforce", "005000000000001AAA", settings=settings)
    token = get_valid_token(account, settings)
    assert token.expires_at is None
    assert token.api_base_url == f"{sandbox.origin('salesforce')}/services/data/" \
                                 f"{settings.salesforce_api_version}"
    assert get_valid_token(account, settings) == token  # no expiry known: no refresh

    for _ in range(2):  # each refresh must use the refresh token the previous one rotated
        assert invalidate(token, settings)
        token = get_valid_token(account, settings)
        assert whoami(sandbox, "salesforce", token) == 200

    answers = [r["status"] for r in oauth.refresh_requests(sandbox.state, "salesforce")]
    assert answers == [200, 200]
    assert account_row(account)["status"] == "active"


def test_invalidate_ignores_a_token_already_replaced(sandbox, settings):
    account = connected_account(sandbox, "salesforce", "005000000000002AAA", settings=settings)
    stale = get_valid_token(account, settings)
    invalidate(stale, settings)
    get_valid_token(account, settings)

    assert not invalidate(stale, settings)  # a late 401 for the old token changes nothing
    get_valid_token(account, settings)
    assert len(oauth.refresh_requests(sandbox.state, "salesforce")) == 1


# --- 401 during a call ---------------------------------------------------------------------


def test_a_401_refreshes_once_and_repeats_the_call_once(sandbox, settings):
    account = connected_account(sandbox, "google", "user@example.com", settings=settings)
    oauth.expire_access_tokens(sandbox.state, "google")  # stored expiry still says "fresh"

    resp = authorized_request(account, ProviderHttp("google"), "GET",
                              f"{sandbox.origin('google')}/_sandbox/oauth/whoami",
                              settings=settings)

    assert resp.json() == {"subject": "user@example.com"}
    assert len(oauth.refresh_requests(sandbox.state, "google")) == 1


def test_a_second_401_is_an_error_not_a_loop(sandbox, settings):
    account = connected_account(sandbox, "google", "user@example.com", settings=settings)
    with RecordingServer(status=401, body='{"error": "invalid_token"}') as api:
        with pytest.raises(AuthExpired):
            authorized_request(account, ProviderHttp("google"), "GET", f"{api.url}/x",
                               settings=settings)
    assert len(api.requests) == 2
    assert api.requests[0]["headers"]["Authorization"] != api.requests[1]["headers"][
        "Authorization"]
    assert len(oauth.refresh_requests(sandbox.state, "google")) == 1


# --- revocation and transient failures -----------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_revoked_grant_parks_the_account_with_one_alert(sandbox, settings, provider):
    account = connected_account(sandbox, provider, "user@example.com", settings=settings)
    oauth.revoke(sandbox.state, provider, subject="user@example.com")
    make_due(account)

    with captured_logs() as logs:
        for _ in range(3):
            with pytest.raises(AuthRevoked) as raised:
                get_valid_token(account, settings)
            assert raised.value.account_id == account

    row = account_row(account)
    assert row["status"] == "reauth_required"
    assert ("BAD_REFRESH_TOKEN" if provider == "hubspot" else "invalid_grant") in \
        row["last_error"]
    assert len(oauth.refresh_requests(sandbox.state, provider)) == 1  # the others knew
    alerts = [json.loads(line) for line in logs.getvalue().splitlines()
              if '"account_reauth_required"' in line]
    assert len(alerts) == 1
    assert alerts[0]["level"] == "ERROR"
    assert (alerts[0]["account_id"], alerts[0]["provider"]) == (account, provider)


def test_concurrent_callers_of_a_revoked_grant_make_one_request_and_one_alert(
        sandbox, settings):
    account = connected_account(sandbox, "salesforce", "user@example.com", settings=settings)
    oauth.revoke(sandbox.state, "salesforce", subject="user@example.com")
    make_due(account)
    start = threading.Barrier(8)

    def call():
        start.wait(5)
        with pytest.raises(AuthRevoked):
            get_valid_token(account, settings)

    with captured_logs() as logs:
        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert len(oauth.refresh_requests(sandbox.state, "salesforce")) == 1
    assert [json.loads(line)["message"] for line in logs.getvalue().splitlines()].count(
        "account_reauth_required") == 1


@pytest.mark.parametrize("fault", [{"kind": "status", "status": 503}, {"kind": "reset"}])
def test_a_transient_refresh_failure_raises_transient_and_does_not_park(
        sandbox, settings, fault):
    account = connected_account(sandbox, "google", "user@example.com", settings=settings)
    make_due(account)
    sandbox.state.faults.add(FaultRule(provider="google", method="POST",
                                       path=TOKEN_PATHS["google"], **fault))

    with pytest.raises(Transient):
        get_valid_token(account, settings)
    assert account_row(account)["status"] == "active"

    assert whoami(sandbox, "google", get_valid_token(account, settings)) == 200


def test_disconnect_revokes_at_the_provider_and_disables(sandbox, settings):
    account = connected_account(sandbox, "google", "user@example.com", settings=settings)
    token = get_valid_token(account, settings)

    assert disconnect(account, settings) == "revoked at the provider"

    assert sandbox.state.log.entries("google", "POST", "^/revoke$")[0]["status"] == 200
    assert whoami(sandbox, "google", token) == 401  # the whole grant is gone
    assert account_row(account)["status"] == "disabled"
    assert raw_token_row(account) is None
    with pytest.raises(AccountParked):
        get_valid_token(account, settings)


def test_a_token_response_naming_a_foreign_instance_never_gets_the_token(sandbox, db,
                                                                         redis_db):
    """Salesforce says where its API is (instance_url); a token response that names a host
    that is not Salesforce's must not make us send the bearer token there."""
    settings = sandbox_settings(sandbox)
    grant = {**oauth.mint_grant(sandbox.state, "salesforce",
                                oauth.DEFAULT_SUBJECTS["salesforce"]),
             "instance_url": "https://evil.example"}
    account = activate_account("salesforce", "org/foreign", "o", grant, settings).account_id
    with pytest.raises(Permanent, match="not on a trusted host"):
        authorized_request(account, ProviderHttp("salesforce"), "GET", "sobjects",
                           settings=settings)

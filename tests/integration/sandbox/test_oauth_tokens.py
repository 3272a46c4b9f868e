"""Refresh, rotation, expiry on the sandbox clock, revocation and the oauth control API."""
from __future__ import annotations

import requests

from sync_workers.sandbox import oauth

TOKEN_PATHS = {"google": "/token", "microsoft": "/common/oauth2/v2.0/token",
               "salesforce": "/services/oauth2/token", "hubspot": "/oauth/v1/token"}
GOOGLE_DEAD = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
SALESFORCE_DEAD = {"error": "invalid_grant", "error_description": "expired access/refresh token"}
HUBSPOT_DEAD = {"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"}


def refresh(sandbox, provider: str, refresh_token: str) -> requests.Response:
    client_id, secret = oauth.DEFAULT_CLIENTS[provider]
    return requests.post(sandbox.origin(provider) + TOKEN_PATHS[provider], timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": client_id, "client_secret": secret})


def whoami(sandbox, provider: str, access_token: str) -> requests.Response:
    return requests.get(f"{sandbox.origin(provider)}/_sandbox/oauth/whoami",
                        headers={"Authorization": f"Bearer {access_token}"}, timeout=5)


def control(sandbox, provider: str, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, f"{sandbox.origin(provider)}/_sandbox/oauth{path}",
                            timeout=5, **kw)


# --- refresh shapes and rotation -----------------------------------------------------------


def test_google_refresh_omits_refresh_token_and_the_old_one_keeps_working(sandbox):
    # Without openid: a grant with it also gets an id_token on refresh (OIDC Core 12.2).
    grant = oauth.mint_grant(sandbox.state, "google", "u@example.com",
                             scope="https://www.googleapis.com/auth/calendar.events")

    first = refresh(sandbox, "google", grant["refresh_token"])
    second = refresh(sandbox, "google", grant["refresh_token"])

    assert first.status_code == second.status_code == 200
    assert set(first.json()) == {"access_token", "expires_in", "scope", "token_type"}
    assert first.json()["expires_in"] == 3599
    assert first.json()["access_token"] != second.json()["access_token"]
    assert whoami(sandbox, "google", second.json()["access_token"]).json()["subject"] == \
        "u@example.com"


def test_microsoft_rotates_and_the_previous_refresh_token_still_works(sandbox):
    grant = oauth.mint_grant(sandbox.state, "microsoft", "u@example.com",
                             scope="offline_access https://graph.microsoft.com/Calendars.ReadWrite")

    rotated = refresh(sandbox, "microsoft", grant["refresh_token"]).json()
    old_again = refresh(sandbox, "microsoft", grant["refresh_token"])
    newest = refresh(sandbox, "microsoft", rotated["refresh_token"])

    assert set(rotated) == {"token_type", "scope", "expires_in", "ext_expires_in",
                            "access_token", "refresh_token"}
    assert rotated["refresh_token"] != grant["refresh_token"]
    assert old_again.status_code == 200 and newest.status_code == 200


def test_microsoft_revoked_grant_answers_aadsts_invalid_grant(sandbox):
    grant = oauth.mint_grant(sandbox.state, "microsoft", "u@example.com")
    rotated = refresh(sandbox, "microsoft", grant["refresh_token"]).json()

    assert control(sandbox, "microsoft", "POST", "/revoke",
                   json={"subject": "u@example.com"}).json() == {"revoked": 1}

    for token in (grant["refresh_token"], rotated["refresh_token"]):
        body = refresh(sandbox, "microsoft", token).json()
        assert body["error"] == "invalid_grant" and body["error_codes"] == [50173]
        assert body["error_description"].startswith("AADSTS50173: ")


def test_salesforce_without_rotation_keeps_the_same_refresh_token(sandbox):
    grant = oauth.mint_grant(sandbox.state, "salesforce", "005000000000001AAA")

    first = refresh(sandbox, "salesforce", grant["refresh_token"])
    second = refresh(sandbox, "salesforce", grant["refresh_token"])

    assert first.status_code == second.status_code == 200
    assert set(first.json()) == {"access_token", "signature", "scope", "instance_url", "id",
                                 "token_type", "issued_at"}


def test_salesforce_with_rotation_kills_the_old_refresh_token(sandbox):
    patched = control(sandbox, "salesforce", "PATCH",
                      f"/clients/{oauth.SALESFORCE_CLIENT_ID}",
                      json={"rotate_refresh_tokens": True})
    assert patched.json()["rotate_refresh_tokens"] is True
    grant = oauth.mint_grant(sandbox.state, "salesforce", "005000000000001AAA")

    rotated = refresh(sandbox, "salesforce", grant["refresh_token"])
    old = refresh(sandbox, "salesforce", grant["refresh_token"])
    new = refresh(sandbox, "salesforce", rotated.json()["refresh_token"])

    assert rotated.json()["refresh_token"] != grant["refresh_token"]
    assert old.status_code == 400 and old.json() == SALESFORCE_DEAD
    assert new.status_code == 200


def test_hubspot_refresh_repeats_the_refresh_token(sandbox):
    grant = oauth.mint_grant(sandbox.state, "hubspot", "u@example.com")

    body = refresh(sandbox, "hubspot", grant["refresh_token"]).json()

    assert body["refresh_token"] == grant["refresh_token"]
    assert body["expires_in"] == 1800 and body["access_token"] != grant["access_token"]


def test_hubspot_unknown_refresh_token(sandbox):
    resp = refresh(sandbox, "hubspot", "na1-not-a-token")

    assert resp.status_code == 400 and resp.json() == HUBSPOT_DEAD


# --- expiry on the sandbox clock ------------------------------------------------------------


def test_hubspot_access_token_lives_thirty_minutes_of_sandbox_time(sandbox):
    grant = oauth.mint_grant(sandbox.state, "hubspot", "u@example.com")

    sandbox.state.clock.advance(1799)
    assert whoami(sandbox, "hubspot", grant["access_token"]).status_code == 200
    sandbox.state.clock.advance(1)
    assert whoami(sandbox, "hubspot", grant["access_token"]).status_code == 401

    fresh = refresh(sandbox, "hubspot", grant["refresh_token"]).json()
    assert whoami(sandbox, "hubspot", fresh["access_token"]).status_code == 200


def test_salesforce_session_timeout_is_configurable(sandbox):
    default = oauth.mint_grant(sandbox.state, "salesforce", "005000000000001AAA")
    oauth.configure_client(sandbox.state, "salesforce", access_token_lifetime=900)
    short = oauth.mint_grant(sandbox.state, "salesforce", "005000000000001AAA")

    sandbox.state.clock.advance(900)
    assert whoami(sandbox, "salesforce", short["access_token"]).status_code == 401
    assert whoami(sandbox, "salesforce", default["access_token"]).status_code == 200
    sandbox.state.clock.advance(2 * 3600 - 900)
    assert whoami(sandbox, "salesforce", default["access_token"]).status_code == 401


def test_expired_access_token_has_no_subject(sandbox):
    grant = oauth.mint_grant(sandbox.state, "google", "u@example.com")
    other = oauth.mint_grant(sandbox.state, "google", "someone@example.com")

    expired = control(sandbox, "google", "POST", "/expire", json={"subject": "u@example.com"})

    assert expired.json() == {"expired": 1}
    assert whoami(sandbox, "google", grant["access_token"]).json() == {"subject": None}
    assert whoami(sandbox, "google", other["access_token"]).status_code == 200
    assert refresh(sandbox, "google", grant["refresh_token"]).status_code == 200


def test_bearer_subject_rejects_other_providers_tokens_and_junk(sandbox):
    google = oauth.mint_grant(sandbox.state, "google", "u@example.com")

    assert whoami(sandbox, "hubspot", google["access_token"]).status_code == 401
    assert whoami(sandbox, "google", "ya29.made-up").status_code == 401
    no_header = requests.get(f"{sandbox.origin('google')}/_sandbox/oauth/whoami", timeout=5)
    assert no_header.status_code == 401


# --- revocation ------------------------------------------------------------------------------


def test_google_revoke_endpoint_kills_the_grant(sandbox):
    grant = oauth.mint_grant(sandbox.state, "google", "u@example.com")

    resp = requests.post(f"{sandbox.origin('google')}/revoke",
                         data={"token": grant["refresh_token"]}, timeout=5)

    assert resp.status_code == 200
    dead = refresh(sandbox, "google", grant["refresh_token"])
    assert dead.status_code == 400 and dead.json() == GOOGLE_DEAD
    assert whoami(sandbox, "google", grant["access_token"]).status_code == 401


def test_salesforce_revoke_endpoint_kills_the_grant(sandbox):
    grant = oauth.mint_grant(sandbox.state, "salesforce", "005000000000001AAA")

    resp = requests.post(f"{sandbox.origin('salesforce')}/services/oauth2/revoke",
                         data={"token": grant["refresh_token"]}, timeout=5)

    assert resp.status_code == 200
    assert refresh(sandbox, "salesforce", grant["refresh_token"]).json() == SALESFORCE_DEAD
    assert whoami(sandbox, "salesforce", grant["access_token"]).status_code == 401


def test_hubspot_delete_refresh_token_kills_the_grant(sandbox):
    grant = oauth.mint_grant(sandbox.state, "hubspot", "u@example.com")
    url = f"{sandbox.origin('hubspot')}/oauth/v1/refresh-tokens/{grant['refresh_token']}"

    assert requests.delete(url, timeout=5).status_code == 204
    assert requests.delete(url, timeout=5).status_code == 404
    dead = refresh(sandbox, "hubspot", grant["refresh_token"])
    assert dead.status_code == 400 and dead.json() == HUBSPOT_DEAD


def test_control_revoke_by_refresh_token_leaves_other_grants_alone(sandbox):
    mine = oauth.mint_grant(sandbox.state, "google", "u@example.com")
    other = oauth.mint_grant(sandbox.state, "google", "u@example.com")

    revoked = control(sandbox, "google", "POST", "/revoke",
                      json={"refresh_token": mine["refresh_token"]})

    assert revoked.json() == {"revoked": 1}
    assert refresh(sandbox, "google", mine["refresh_token"]).json() == GOOGLE_DEAD
    assert refresh(sandbox, "google", other["refresh_token"]).status_code == 200


# --- what tests observe ----------------------------------------------------------------------


def test_refresh_requests_are_logged_with_their_bodies_and_counted(sandbox):
    grant = oauth.mint_grant(sandbox.state, "hubspot", "u@example.com")
    for _ in range(3):
        refresh(sandbox, "hubspot", grant["refresh_token"])
    refresh(sandbox, "hubspot", "na1-bad")

    counted = control(sandbox, "hubspot", "GET", "/refresh-requests").json()

    assert counted["count"] == 4 == len(oauth.refresh_requests(sandbox.state, "hubspot"))
    assert [e["status"] for e in counted["requests"]] == [200, 200, 200, 400]
    assert all("grant_type=refresh_token" in e["body"] for e in counted["requests"])


def test_issued_tokens_lists_every_access_and_refresh_token(sandbox):
    google = oauth.mint_grant(sandbox.state, "google", "u@example.com")
    microsoft = oauth.mint_grant(sandbox.state, "microsoft", "u@example.com")
    rotated = refresh(sandbox, "microsoft", microsoft["refresh_token"]).json()

    everything = set(oauth.issued_tokens(sandbox.state))
    over_http = control(sandbox, "microsoft", "GET", "/tokens").json()

    expected = {google["access_token"], google["refresh_token"], microsoft["access_token"],
                microsoft["refresh_token"], rotated["access_token"], rotated["refresh_token"]}
    assert everything == expected
    assert set(over_http) == expected - {google["access_token"], google["refresh_token"]}


def test_control_api_registers_a_client_and_mints_a_grant(sandbox):
    created = control(sandbox, "hubspot", "POST", "/clients", json={
        "client_id": "demo-app", "client_secret": "demo-secret",
        "access_token_lifetime": 60})
    minted = control(sandbox, "hubspot", "POST", "/grants",
                     json={"subject": "demo@example.com", "client_id": "demo-app"})

    assert created.status_code == 201 and minted.status_code == 201
    assert minted.json()["expires_in"] == 60
    sandbox.state.clock.advance(60)
    assert whoami(sandbox, "hubspot", minted.json()["access_token"]).status_code == 401
    clients = {c["client_id"] for c in control(sandbox, "hubspot", "GET", "/clients").json()}
    assert clients == {oauth.HUBSPOT_CLIENT_ID, "demo-app"}
    bad = control(sandbox, "hubspot", "POST", "/clients", json={"client_id": "x", "colour": 1})
    assert bad.status_code == 400


def test_sandbox_reset_forgets_grants_and_client_settings(sandbox):
    oauth.configure_client(sandbox.state, "salesforce", rotate_refresh_tokens=True)
    grant = oauth.mint_grant(sandbox.state, "salesforce", "005000000000001AAA")

    sandbox.state.reset()

    assert refresh(sandbox, "salesforce", grant["refresh_token"]).json() == SALESFORCE_DEAD
    fresh = oauth.mint_grant(sandbox.state, "salesforce", "005000000000001AAA")
    assert "refresh_token" not in refresh(sandbox, "salesforce", fresh["refresh_token"]).json()


def test_salesforce_sixth_approval_silently_revokes_the_oldest(sandbox):
    grants = [oauth.mint_grant(sandbox.state, "salesforce", "005000000000001AAA")
              for _ in range(6)]

    oldest = refresh(sandbox, "salesforce", grants[0]["refresh_token"])

    assert oldest.status_code == 400 and oldest.json() == SALESFORCE_DEAD
    assert all(refresh(sandbox, "salesforce", g["refresh_token"]).status_code == 200
               for g in grants[1:])


def test_hubspot_access_token_info_names_the_portal_and_user(sandbox):
    import requests

    from sync_workers.sandbox.oauth import mint_grant

    grant = mint_grant(sandbox.state, "hubspot", "owner@portal.example")
    base = sandbox.urls["hubspot_api"]
    info = requests.get(f"{base}/oauth/v1/access-tokens/{grant['access_token']}", timeout=5)
    assert info.status_code == 200
    body = info.json()
    assert body["user"] == "owner@portal.example" and body["hub_id"] and body["token_type"] == "access"
    assert 0 < body["expires_in"] <= 1800
    unknown = requests.get(f"{base}/oauth/v1/access-tokens/nope", timeout=5)
    assert unknown.status_code == 404

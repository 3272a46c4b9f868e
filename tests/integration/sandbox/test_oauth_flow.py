"""Authorization code + PKCE against the sandbox's four authorization servers.

requests-oauthlib's OAuth2Session is the client: an independent implementation of the
protocol, so these tests check the sandbox against the spec rather than against itself.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests_oauthlib import OAuth2Session

from sync_workers.sandbox import oauth

REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"

FLOWS = {
    "google": {
        "authorize": "/o/oauth2/v2/auth", "token": "/token",
        "scope": ["https://www.googleapis.com/auth/calendar.events"],
        "extra": {"access_type": "offline", "prompt": "consent"},
        "keys": {"access_token", "expires_in", "refresh_token", "scope", "token_type"},
    },
    "microsoft": {
        "authorize": "/common/oauth2/v2.0/authorize", "token": "/common/oauth2/v2.0/token",
        "scope": ["offline_access", "https://graph.microsoft.com/Calendars.ReadWrite"],
        "extra": {},
        "keys": {"token_type", "scope", "expires_in", "ext_expires_in", "access_token",
                 "refresh_token"},
    },
    "salesforce": {
        "authorize": "/services/oauth2/authorize", "token": "/services/oauth2/token",
        "scope": ["api", "refresh_token"], "extra": {},
        "keys": {"access_token", "refresh_token", "signature", "scope", "instance_url", "id",
                 "token_type", "issued_at"},
    },
    "hubspot": {
        "authorize": "/oauth/authorize", "token": "/oauth/v1/token",
        "scope": ["crm.objects.contacts.read"], "extra": {},
        "keys": {"token_type", "refresh_token", "access_token", "expires_in"},
    },
}

WRONG_VERIFIER_BODIES = {
    "google": {"error": "invalid_grant", "error_description": "Invalid code verifier."},
    "salesforce": {"error": "invalid_grant", "error_description": "invalid code verifier"},
    "hubspot": {"status": "BAD_AUTH_CODE", "message": "missing or unknown auth code"},
}
CODE_REUSE_BODIES = {
    "google": {"error": "invalid_grant", "error_description": "Bad Request"},
    "salesforce": {"error": "invalid_grant", "error_description": "invalid authorization code"},
    "hubspot": {"status": "BAD_AUTH_CODE", "message": "missing or unknown auth code"},
}
MICROSOFT_CODES = {"wrong_verifier": 501481, "code_reuse": 54005}


@pytest.fixture(autouse=True)
def _plain_http_loopback(monkeypatch):
    # oauthlib refuses http:// unless told; and Microsoft answers a narrower scope string
    # than requested (no offline_access), which oauthlib would otherwise raise on.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")


def url(sandbox, provider: str, kind: str) -> str:
    return sandbox.origin(provider) + FLOWS[provider][kind]


def whoami(sandbox, provider: str, access_token: str) -> requests.Response:
    return requests.get(f"{sandbox.origin(provider)}/_sandbox/oauth/whoami",
                        headers={"Authorization": f"Bearer {access_token}"}, timeout=5)


def authorize(sandbox, provider: str, **params) -> requests.Response:
    return requests.get(url(sandbox, provider, "authorize"), params=params,
                        allow_redirects=False, timeout=5)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def get_code(sandbox, provider: str, challenge: str, **extra) -> str:
    client_id, _ = oauth.DEFAULT_CLIENTS[provider]
    resp = authorize(sandbox, provider, client_id=client_id, redirect_uri=REDIRECT_URI,
                     response_type="code", code_challenge=challenge,
                     code_challenge_method="S256", state="xyz",
                     scope=" ".join(FLOWS[provider]["scope"]), **extra)
    assert resp.status_code == 302, resp.text
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def exchange(sandbox, provider: str, code: str, verifier: str) -> requests.Response:
    client_id, secret = oauth.DEFAULT_CLIENTS[provider]
    return requests.post(url(sandbox, provider, "token"), timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "client_id": client_id, "client_secret": secret, "code_verifier": verifier})


@pytest.mark.parametrize("provider", list(FLOWS))
def test_code_flow_with_pkce_issues_the_provider_token_shape(sandbox, provider):
    flow = FLOWS[provider]
    client_id, secret = oauth.DEFAULT_CLIENTS[provider]
    session = OAuth2Session(client_id, redirect_uri=REDIRECT_URI, scope=flow["scope"],
                            pkce="S256")
    auth_url, state = session.authorization_url(url(sandbox, provider, "authorize"),
                                                login_hint="ada@example.com", **flow["extra"])
    redirect = requests.get(auth_url, allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    assert redirect.headers["Location"].startswith(REDIRECT_URI + "?")

    # OAuth2Session authenticates with HTTP Basic when given the secret.
    token = session.fetch_token(url(sandbox, provider, "token"), client_secret=secret,
                                authorization_response=redirect.headers["Location"])

    assert set(token) - {"expires_at"} == flow["keys"]
    assert token["token_type"].lower() == "bearer"
    me = session.get(f"{sandbox.origin(provider)}/_sandbox/oauth/whoami", timeout=5)
    assert me.status_code == 200 and me.json() == {"subject": "ada@example.com"}


def test_google_and_hubspot_lifetimes(sandbox):
    google = oauth.mint_grant(sandbox.state, "google", "u")
    hubspot = oauth.mint_grant(sandbox.state, "hubspot", "u")
    assert google["expires_in"] == 3599 and hubspot["expires_in"] == 1800


def test_salesforce_token_carries_instance_url_identity_and_a_valid_signature(sandbox):
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, "salesforce", challenge, sandbox_user="005000000000042AAA")
    before_ms = int(sandbox.state.clock.time() * 1000)

    body = exchange(sandbox, "salesforce", code, verifier).json()

    assert "expires_in" not in body
    assert body["instance_url"] == sandbox.origin("salesforce")
    assert body["id"] == (f"{sandbox.origin('salesforce')}/id/{oauth.SALESFORCE_ORG_ID}"
                          f"/005000000000042AAA")
    assert body["issued_at"].isdigit() and int(body["issued_at"]) >= before_ms
    mac = hmac.new(oauth.SALESFORCE_CLIENT_SECRET.encode(),
                   (body["id"] + body["issued_at"]).encode(), hashlib.sha256).digest()
    assert body["signature"] == base64.b64encode(mac).decode()


@pytest.mark.parametrize("provider", list(FLOWS))
def test_wrong_verifier_is_refused_with_the_provider_error(sandbox, provider):
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, provider, challenge)

    resp = exchange(sandbox, provider, code, verifier[:-1] + ("A" if verifier[-1] != "A" else "B"))

    assert resp.status_code == 400
    assert_error(resp.json(), provider, "wrong_verifier", WRONG_VERIFIER_BODIES)


@pytest.mark.parametrize("provider", list(FLOWS))
def test_a_code_is_single_use(sandbox, provider):
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, provider, challenge)
    assert exchange(sandbox, provider, code, verifier).status_code == 200

    again = exchange(sandbox, provider, code, verifier)

    assert again.status_code == 400
    assert_error(again.json(), provider, "code_reuse", CODE_REUSE_BODIES)


def assert_error(body: dict, provider: str, case: str, bodies: dict) -> None:
    if provider == "microsoft":
        code = MICROSOFT_CODES[case]
        assert body["error"] == "invalid_grant" and body["error_codes"] == [code]
        assert body["error_description"].startswith(f"AADSTS{code}: ")
        assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)
    else:
        assert body == bodies[provider]


def test_a_code_is_bound_to_its_redirect_uri(sandbox):
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, "google", challenge)
    client_id, secret = oauth.DEFAULT_CLIENTS["google"]

    resp = requests.post(url(sandbox, "google", "token"), timeout=5, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": "http://127.0.0.1:9999/elsewhere", "client_id": client_id,
        "client_secret": secret})

    assert resp.status_code == 400 and resp.json()["error"] == "redirect_uri_mismatch"


def test_a_code_is_bound_to_its_client(sandbox):
    oauth.register_client(sandbox.state, "salesforce", "other-app", "other-secret")
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, "salesforce", challenge)

    resp = requests.post(url(sandbox, "salesforce", "token"), timeout=5, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI}, auth=("other-app", "other-secret"))

    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_google_sends_a_refresh_token_only_for_offline_access(sandbox):
    verifier, challenge = pkce_pair()
    online = exchange(sandbox, "google", get_code(sandbox, "google", challenge), verifier)
    verifier, challenge = pkce_pair()
    offline = exchange(sandbox, "google",
                       get_code(sandbox, "google", challenge, access_type="offline"), verifier)

    assert "refresh_token" not in online.json() and "refresh_token" in offline.json()


def test_microsoft_sends_a_refresh_token_only_with_offline_access_scope(sandbox):
    client_id, _ = oauth.DEFAULT_CLIENTS["microsoft"]
    verifier, challenge = pkce_pair()
    resp = authorize(sandbox, "microsoft", client_id=client_id, redirect_uri=REDIRECT_URI,
                     response_type="code", code_challenge=challenge,
                     code_challenge_method="S256", scope="openid Calendars.ReadWrite")
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]

    body = exchange(sandbox, "microsoft", code, verifier).json()

    assert "refresh_token" not in body and body["id_token"].count(".") == 2
    assert body["scope"] == "Calendars.ReadWrite"


def test_wrong_client_secret_is_invalid_client(sandbox):
    resp = requests.post(url(sandbox, "google", "token"), timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": "1//x"},
        auth=(oauth.GOOGLE_CLIENT_ID, "not-the-secret"))

    assert resp.status_code == 401
    assert resp.json() == {"error": "invalid_client", "error_description": "Unauthorized"}


@pytest.mark.parametrize("params, problem", [
    ({"response_type": "token"}, "response_type must be code"),
    ({"code_challenge": None}, "code_challenge is required"),
    ({"code_challenge_method": "plain"}, "code_challenge_method must be S256"),
])
def test_authorize_redirects_protocol_errors_back(sandbox, params, problem):
    query = {"client_id": oauth.HUBSPOT_CLIENT_ID, "redirect_uri": REDIRECT_URI,
             "response_type": "code", "code_challenge": pkce_pair()[1],
             "code_challenge_method": "S256", "state": "s1", **params}

    resp = authorize(sandbox, "hubspot", **{k: v for k, v in query.items() if v is not None})

    assert resp.status_code == 302
    assert parse_qs(urlsplit(resp.headers["Location"]).query) == {
        "error": ["invalid_request"], "error_description": [problem], "state": ["s1"]}


def test_authorize_never_redirects_to_an_unregistered_uri(sandbox):
    oauth.register_client(sandbox.state, "microsoft", "strict-app", "s",
                          redirect_uris=["https://app.example.com/cb"])
    base = {"response_type": "code", "code_challenge": pkce_pair()[1],
            "code_challenge_method": "S256"}

    foreign = authorize(sandbox, "microsoft", client_id="strict-app",
                        redirect_uri="https://evil.example.com/cb", **base)
    unknown = authorize(sandbox, "microsoft", client_id="nobody", redirect_uri=REDIRECT_URI,
                        **base)
    registered = authorize(sandbox, "microsoft", client_id="strict-app",
                           redirect_uri="https://app.example.com/cb", **base)

    assert foreign.status_code == 400 and "Location" not in foreign.headers
    assert unknown.status_code == 400 and "Location" not in unknown.headers
    assert registered.headers["Location"].startswith("https://app.example.com/cb?code=")


def test_default_subject_when_none_is_named(sandbox):
    verifier, challenge = pkce_pair()
    token = exchange(sandbox, "hubspot", get_code(sandbox, "hubspot", challenge), verifier)

    me = whoami(sandbox, "hubspot", token.json()["access_token"])

    assert me.json() == {"subject": oauth.DEFAULT_SUBJECTS["hubspot"]}


def test_google_sends_a_second_refresh_token_only_with_prompt_consent(sandbox):
    def offline_tokens(**extra) -> dict:
        verifier, challenge = pkce_pair()
        code = get_code(sandbox, "google", challenge, access_type="offline", **extra)
        return exchange(sandbox, "google", code, verifier).json()

    first = offline_tokens()
    repeat = offline_tokens()
    forced = offline_tokens(prompt="consent")

    assert "refresh_token" in first and "refresh_token" not in repeat
    assert "refresh_token" in forced

"""The connect flow through the real receiver and the sandbox over HTTP: all four providers
end to end, the `accounts` CLI, and every way a connect attempt must be refused."""
from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from click.testing import CliRunner

from sync_workers.auth import get_valid_token
from sync_workers.auth.links import sign_link, start_url, verify_link
from sync_workers.cli import main as cli
from sync_workers.config import get_settings
from sync_workers.logging import configure_logging, known_secret_count
from sync_workers.receiver import create_app
from sync_workers.receiver.oauth import STATE_COOKIE
from sync_workers.sandbox.connect import connect_without_browser
from sync_workers.store.db import cursor
from tests.fixtures.accounts import sandbox_settings
from tests.fixtures.receiver import serving
from tests.integration.auth_support import PROVIDERS, assert_no_token_in, captured_logs

pytestmark = pytest.mark.integration
AUTHORIZE_PATHS = {"google": "/o/oauth2/v2/auth", "microsoft": "/common/oauth2/v2.0/authorize",
                   "salesforce": "/services/oauth2/authorize", "hubspot": "/oauth/authorize"}


@pytest.fixture(scope="module")
def served_receiver(sandbox_server, database):
    app = create_app()
    with serving(app) as url:
        settings = sandbox_settings(sandbox_server, public_url=url)
        app.config["SYNC_SETTINGS"] = settings
        yield url, settings


@pytest.fixture
def receiver(served_receiver, sandbox, db, redis_db):
    """The receiver on a loopback port, configured for the sandbox: (url, settings)."""
    return served_receiver


def link_for(settings, provider="google", owner="owner@example.com", **kw) -> str:
    return sign_link(provider, owner, settings.secret_keys[0], **kw)


def count(table: str) -> int:
    with cursor() as cur:
        cur.execute(f"SELECT count(*) AS n FROM {table}")
        return cur.fetchone()["n"]


def begin(browser: requests.Session, url: str, settings, provider="google") -> str:
    """start -> authorize; returns the callback URL the sandbox redirected to."""
    to_provider = browser.get(start_url(url, provider, link_for(settings, provider)),
                              allow_redirects=False, timeout=5)
    assert to_provider.status_code == 302
    back = browser.get(to_provider.headers["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302
    return back.headers["Location"]


# --- end to end ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connect_end_to_end(sandbox, receiver, provider):
    url, settings = receiver
    with captured_logs() as logs:
        answer = connect_without_browser(
            start_url(url, provider, link_for(settings, provider, "alice@example.com")),
            sandbox_user="alice@example.com")

    assert answer["owner"] == "alice@example.com" and answer["previous_status"] is None
    token = get_valid_token(answer["account_id"], settings)
    whoami = requests.get(f"{sandbox.origin(provider)}/_sandbox/oauth/whoami",
                          headers=token.authorization, timeout=5)
    assert whoami.json() == {"subject": "alice@example.com"}

    authorize = sandbox.state.log.entries(provider, "GET", AUTHORIZE_PATHS[provider])[0]
    params = {k: v[0] for k, v in authorize["args"].items()}
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["redirect_uri"] == f"{url}/oauth/{provider}/callback"
    if provider == "google":
        assert (params["access_type"], params["prompt"]) == ("offline", "consent")
    if provider == "microsoft":
        assert "offline_access" in params["scope"].split()
    exchange = sandbox.state.log.entries(provider, "POST")[0]
    assert "grant_type=authorization_code" in exchange["body"]
    assert "code_verifier=" in exchange["body"]
    assert_no_token_in(sandbox, [logs.getvalue()])


def test_accounts_cli_connects_lists_shows_and_disconnects(sandbox, receiver):
    url, _ = receiver
    runner = CliRunner()
    try:
        connected = runner.invoke(cli, ["accounts", "connect-sandbox", "--provider", "microsoft",
                                        "--owner", "bob@example.com", "--user", "bob@example.com",
                                        "--receiver", url])
        listed = runner.invoke(cli, ["accounts", "list", "--json"])
        shown = runner.invoke(cli, ["accounts", "show", "1"])
        disconnected = runner.invoke(cli, ["accounts", "disconnect", "1"])
        link = runner.invoke(cli, ["accounts", "connect-link", "--provider", "hubspot",
                                   "--owner", "carol@example.com", "--ttl", "60"])
        helps = [runner.invoke(cli, ["accounts", name, "--help"]).exit_code for name in
                 ("list", "show", "disconnect", "connect-link", "connect-sandbox",
                  "rotate-keys", "parked")]
    finally:
        configure_logging("INFO")  # the CLI pointed logging at the runner's streams

    assert connected.exit_code == 0, connected.output
    # Microsoft names the account by its object id (a GUID), never by the e-mail.
    assert re.search(r"connected account 1 \(microsoft [0-9a-f-]{36}, owner bob@example.com\)",
                     connected.output), connected.output
    row = json.loads(listed.output.strip().splitlines()[0])
    assert (row["provider"], row["owner"], row["status"]) == \
        ("microsoft", "bob@example.com", "active")
    assert json.loads(shown.output)["has_refresh_token"] is True
    assert disconnected.exit_code == 0 and "has no revocation endpoint" in disconnected.output
    assert count("oauth_tokens") == 0
    link_url = link.output.strip().splitlines()[0]
    claims = verify_link(parse_qs(urlsplit(link_url).query)["link"][0],
                         get_settings().secret_keys)
    assert (claims.provider, claims.owner) == ("hubspot", "carol@example.com")
    assert helps == [0] * 7
    assert_no_token_in(sandbox, [connected.output, listed.output, shown.output])


def test_reconnecting_a_disabled_account_reactivates_it(sandbox, receiver):
    url, settings = receiver
    first = connect_without_browser(start_url(url, "google", link_for(settings)))
    with cursor() as cur:
        cur.execute("UPDATE accounts SET status = 'disabled'")
    again = connect_without_browser(start_url(url, "google", link_for(settings)))

    assert again["account_id"] == first["account_id"]
    assert again["previous_status"] == "disabled" and again["reconciliation_task_id"]
    assert get_valid_token(first["account_id"], settings).provider == "google"


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "unsigned", "wrong key", "tampered", "expired",
                                  "other provider"])
def test_start_refuses_anything_but_a_valid_link_with_401(sandbox, receiver, case):
    url, settings = receiver
    good = link_for(settings)
    payload, signature = good.split(".")
    link = {"missing": "",
            "unsigned": payload,
            "wrong key": sign_link("google", "owner@example.com", "not-our-key"),
            "tampered": f"{link_for(settings, owner='mallory').split('.')[0]}.{signature}",
            "expired": link_for(settings, ttl=60, now=time.time() - 120),
            "other provider": link_for(settings, "hubspot")}[case]

    resp = requests.get(f"{url}/oauth/google/start", params={"link": link},
                        allow_redirects=False, timeout=5)

    assert resp.status_code == 401
    assert resp.json()["error"]
    assert sandbox.state.log.entries("google") == []  # never sent to the provider


def test_a_bad_state_gets_400_and_stores_nothing(sandbox, receiver):
    url, settings = receiver
    with requests.Session() as browser:
        callback = begin(browser, url, settings)
        forged = callback.replace("state=", "state=x")
        resp = browser.get(forged, allow_redirects=False, timeout=5)

    assert resp.status_code == 400 and "state" in resp.json()["error"]
    assert count("accounts") == 0 and count("oauth_tokens") == 0
    assert sandbox.state.log.entries("google", "POST") == []  # the code was never redeemed


def test_a_state_from_another_browser_gets_400(sandbox, receiver):
    url, settings = receiver
    with requests.Session() as browser:
        callback = begin(browser, url, settings)
    resp = requests.get(callback, allow_redirects=False, timeout=5)  # no state cookie

    assert resp.status_code == 400
    assert count("accounts") == 0


def test_a_replayed_state_gets_400_and_stores_nothing_more(sandbox, receiver):
    url, settings = receiver
    with requests.Session() as browser:
        callback = begin(browser, url, settings)
        state = parse_qs(urlsplit(callback).query)["state"][0]
        assert browser.get(callback, timeout=5).status_code == 200
        with cursor() as cur:
            cur.execute("SELECT version FROM oauth_tokens")
            version = cur.fetchone()["version"]

        replay = browser.get(callback, cookies={STATE_COOKIE: state}, timeout=5)

    assert replay.status_code == 400
    assert replay.json()["error"] == "unknown, expired or already used state"
    with cursor() as cur:
        cur.execute("SELECT version FROM oauth_tokens")
        assert cur.fetchone()["version"] == version
    assert len(sandbox.state.log.entries("google", "POST")) == 1


def test_a_wrong_pkce_verifier_is_refused_and_stores_nothing(sandbox, receiver):
    url, settings = receiver
    with requests.Session() as browser:
        first_callback = begin(browser, url, settings)  # code bound to the first challenge
        second_callback = begin(browser, url, settings)  # its state carries another verifier
        code = parse_qs(urlsplit(first_callback).query)["code"][0]
        state = parse_qs(urlsplit(second_callback).query)["state"][0]
        resp = browser.get(f"{url}/oauth/google/callback",
                           params={"code": code, "state": state}, timeout=5)

    assert resp.status_code == 400 and "invalid_grant" in resp.json()["error"]
    exchange = sandbox.state.log.entries("google", "POST", "^/token$")
    assert [e["status"] for e in exchange] == [400]
    assert "Invalid code verifier" in resp.json()["error"]
    assert count("accounts") == 0 and count("oauth_tokens") == 0


def test_junk_connect_requests_do_not_grow_what_every_log_line_is_scrubbed_against(
        sandbox, db, redis_db):
    app = create_app({"SYNC_SETTINGS": sandbox_settings(sandbox)})
    client = app.test_client()
    before = known_secret_count()
    for n in range(2000):
        assert client.get(f"/oauth/google/start?link=junk-link-{n:08d}").status_code == 401
        client.set_cookie(STATE_COOKIE, f"state-{n:08d}", path="/oauth/google")
        answer = client.get(f"/oauth/google/callback?state=state-{n:08d}&code=code-{n:08d}")
        assert answer.status_code == 400
    assert known_secret_count() == before

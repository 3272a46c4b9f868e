"""The provider registry: data from settings, loud on unknown names and unsafe URLs."""
from __future__ import annotations

import pytest

from sync_workers.auth.registry import ProviderRegistry, UnknownProvider
from sync_workers.config import ConfigError, load_settings
from sync_workers.logging import redact
from sync_workers.sandbox.oauth_providers import GOOGLE_CLIENT_ID

URLS = {
    "SYNC_GOOGLE_AUTH_URL": "https://auth.test/google/authorize",
    "SYNC_GOOGLE_TOKEN_URL": "https://auth.test/google/token",
    "SYNC_GOOGLE_REVOKE_URL": "https://auth.test/google/revoke",
    "SYNC_GOOGLE_API_URL": "https://api.test/calendar/v3",
    "SYNC_SALESFORCE_LOGIN_URL": "https://login.sf.test",
    "SYNC_MICROSOFT_LOGIN_URL": "https://login.ms.test",
    "SYNC_MICROSOFT_GRAPH_URL": "https://graph.ms.test/v1.0",
    "SYNC_HUBSPOT_API_URL": "https://api.hub.test",
    "SYNC_HUBSPOT_APP_URL": "https://app.hub.test",
    "SYNC_PUBLIC_URL": "https://sync.example.com",
}


def registry(**env) -> ProviderRegistry:
    merged = {**URLS, **env}
    return ProviderRegistry.from_settings(load_settings(merged))


def test_endpoints_come_from_settings():
    r = registry(SYNC_MICROSOFT_TENANT="contoso.onmicrosoft.com")
    google, ms, sf, hub = (r.get(n) for n in ("google", "microsoft", "salesforce", "hubspot"))

    assert (google.authorize_url, google.token_url, google.revoke_url) == (
        URLS["SYNC_GOOGLE_AUTH_URL"], URLS["SYNC_GOOGLE_TOKEN_URL"],
        URLS["SYNC_GOOGLE_REVOKE_URL"])
    assert ms.token_url == "https://login.ms.test/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert ms.revoke_url is None
    assert sf.authorize_url == "https://login.sf.test/services/oauth2/authorize"
    assert hub.authorize_url.startswith("https://app.hub.test/")
    assert hub.token_url.startswith("https://api.hub.test/")
    assert r.redirect_uri("google") == "https://sync.example.com/oauth/google/callback"


def test_provider_quirks_are_data():
    r = registry()
    assert r.get("google").authorize_params == {"access_type": "offline", "prompt": "consent"}
    assert "offline_access" in r.get("microsoft").scopes
    assert r.get("microsoft").token_url.startswith("https://login.ms.test/common/")
    assert r.get("microsoft").rotation == "always" and r.get("google").rotation == "never"
    assert not r.get("salesforce").expires_in_response
    assert "BAD_REFRESH_TOKEN" in r.get("hubspot").revoked_errors
    assert "instance_url" in r.get("salesforce").keep_fields


def test_the_salesforce_api_base_comes_from_instance_url():
    sf = registry().get("salesforce")
    assert sf.api_base({"instance_url": "https://na1.salesforce.com"}) == \
        "https://na1.salesforce.com/services/data/v59.0"
    assert sf.api_base({"instance_url": "https://acme.my.salesforce.com"}).startswith(
        "https://acme.my.salesforce.com/")
    with pytest.raises(ValueError, match="instance_url"):
        sf.api_base({})


@pytest.mark.parametrize("instance_url", [
    "https://evil.example", "https://salesforce.com.evil.example",
    "http://na1.salesforce.com",  # the token would travel in clear text
], ids=["foreign host", "lookalike host", "plain http"])
def test_an_instance_url_on_a_host_we_do_not_trust_is_refused(instance_url):
    with pytest.raises(ValueError, match="not on a trusted host"):
        registry().get("salesforce").api_base({"instance_url": instance_url})


def test_configured_instance_hosts_are_trusted():
    sf = registry(SYNC_SALESFORCE_API_HOSTS="my.sf.test").get("salesforce")
    assert sf.api_base({"instance_url": "https://na1.my.sf.test"}) == \
        "https://na1.my.sf.test/services/data/v59.0"


def test_an_unknown_provider_fails_loudly_naming_the_known_ones():
    with pytest.raises(UnknownProvider, match="google, hubspot, microsoft, salesforce"):
        registry().get("yahoo")


def test_outside_production_the_sandbox_client_stands_in():
    assert registry().get("google").client_id == GOOGLE_CLIENT_ID


def test_configured_client_credentials_are_used_and_their_secret_is_redacted():
    r = registry(SYNC_GOOGLE_CLIENT_ID="real-id", SYNC_GOOGLE_CLIENT_SECRET="real-secret-1234")
    assert r.get("google").client_id == "real-id"
    assert "real-secret-1234" not in repr(r.get("google"))
    assert redact("client said real-secret-1234") == "client said [REDACTED]"


def test_production_needs_real_client_credentials():
    with pytest.raises(ConfigError, match="SYNC_GOOGLE_CLIENT_ID"):
        registry(SYNC_ENVIRONMENT="production", SYNC_SECRET_KEY="a-real-key")


@pytest.mark.parametrize("url", ["http://auth.example.com/token", "ftp://127.0.0.1/token"])
def test_plain_http_is_allowed_only_to_loopback(url):
    with pytest.raises(ConfigError, match="https"):
        registry(SYNC_GOOGLE_TOKEN_URL=url)
    assert registry(SYNC_GOOGLE_TOKEN_URL="http://127.0.0.1:8901/token")

"""The four OAuth providers as data: endpoints, scopes, quirks. URLs come from Settings.

Everything that differs between Google, Microsoft, Salesforce and HubSpot is a field here;
the flows in oauth_http.py and connect.py read these fields and never branch on a name.
Tests pass Settings pointing at the sandbox (`registry_for(settings)`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping
from urllib.parse import urlsplit

from ..config import ConfigError, Settings, client_credentials
from ..logging import register_secret

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class UnknownProvider(LookupError):
    pass


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str = ""
    token_url: str = ""
    # Revocation: the token goes in the form body, or into the URL where it has "{token}".
    revoke_method: str | None = None
    revoke_url: str | None = None
    scopes: tuple[str, ...] = ()
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    # "never": refresh answers carry no refresh token (keep ours); "always": a new one each
    # time; "optional": a per-app setting (Salesforce: when on, the old one dies at once);
    # "unverified": store whatever comes back.
    rotation: str = "never"
    refresh_sends_scope: bool = False  # Microsoft wants the scopes again on a refresh
    keep_fields: tuple[str, ...] = ()  # token-response fields kept in oauth_tokens.extras
    revoked_errors: frozenset[str] = frozenset({"invalid_grant"})  # "the grant is gone"
    expires_in_response: bool = True  # False: refresh on demand (401) only
    api_base_url: str = ""  # may use extras, e.g. "{instance_url}/services/data/v59.0"
    # Who the consent belongs to: "id_token" (first present of identity_claims),
    # "identity_url" (Salesforce's `id` field), or "token_info" (GET identity_url).
    identity: str = "id_token"
    identity_claims: tuple[str, ...] = ("sub",)
    email_claims: tuple[str, ...] = ()  # id_token claims naming the owner's addresses
    token_info_url: str | None = None  # "{token}" is replaced by the access token
    token_info_fields: tuple[str, ...] = ()  # joined with "/" into the external id
    # Host suffixes the API base may be on when a token response names it (empty: the base
    # is our own setting, not checked).
    api_hosts: tuple[str, ...] = ()

    def api_base(self, extras: Mapping[str, object]) -> str:
        """The API base, from the token's extras where it comes from the provider (a
        Salesforce instance_url): only on a host we trust, or the bearer token would go
        wherever a token response said."""
        try:
            base = self.api_base_url.format(**extras)
        except KeyError as missing:
            raise ValueError(f"{self.name}: token extras lack {missing} for the API base URL") \
                from None
        if self.api_hosts and not _trusted(base, self.api_hosts):
            raise ValueError(f"{self.name}: API base {base!r} is not on a trusted host "
                             f"({', '.join(self.api_hosts)}, https)")
        return base


class ProviderRegistry:
    def __init__(self, providers: Mapping[str, ProviderConfig], public_url: str) -> None:
        self._providers = MappingProxyType(dict(providers))
        self._public_url = public_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> "ProviderRegistry":
        providers = _providers(settings)
        for p in providers.values():
            register_secret(p.client_secret)
            for url in (p.authorize_url, p.token_url):
                _check_transport(p.name, url)
        return cls(providers, settings.public_url)

    def get(self, name: str) -> ProviderConfig:
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProvider(f"unknown provider {name!r}; known: "
                                  f"{', '.join(sorted(self._providers))}") from None

    def redirect_uri(self, name: str) -> str:
        self.get(name)
        return f"{self._public_url}/oauth/{name}/callback"


@lru_cache(maxsize=8)
def registry_for(settings: Settings) -> ProviderRegistry:
    return ProviderRegistry.from_settings(settings)


def _providers(s: Settings) -> dict[str, ProviderConfig]:
    ms_base = f"{s.microsoft_login_url}/{s.microsoft_tenant}/oauth2/v2.0"
    sf = s.salesforce_login_url
    return {
        "google": ProviderConfig(
            "google", *_client("google", s),
            authorize_url=s.google_auth_url, token_url=s.google_token_url,
            revoke_method="POST", revoke_url=s.google_revoke_url,
            scopes=("openid", "email", "https://www.googleapis.com/auth/calendar.events"),
            # offline: a refresh token; consent: a new one even if the user approved before.
            authorize_params={"access_type": "offline", "prompt": "consent"},
            rotation="never", keep_fields=("scope", "token_type"),
            api_base_url=s.google_api_url, identity="id_token", identity_claims=("sub",),
            email_claims=("email",)),
        "microsoft": ProviderConfig(
            "microsoft", *_client("microsoft", s),
            authorize_url=f"{ms_base}/authorize", token_url=f"{ms_base}/token",
            # profile and email: the owner's sign-in name and e-mail in the id_token.
            scopes=("openid", "profile", "email", "offline_access",
                    "https://graph.microsoft.com/Calendars.ReadWrite"),
            rotation="always", refresh_sends_scope=True, keep_fields=("scope", "token_type"),
            revoked_errors=frozenset({"invalid_grant", "interaction_required"}),
            api_base_url=s.microsoft_graph_url,
            identity="id_token", identity_claims=("oid", "sub"),
            email_claims=("email", "preferred_username")),
        "salesforce": ProviderConfig(
            "salesforce", *_client("salesforce", s),
            authorize_url=f"{sf}/services/oauth2/authorize",
            token_url=f"{sf}/services/oauth2/token",
            revoke_method="POST", revoke_url=f"{sf}/services/oauth2/revoke",
            scopes=("api", "refresh_token"), rotation="optional",
            keep_fields=("instance_url", "id", "scope", "token_type", "issued_at"),
            expires_in_response=False,
            api_base_url="{instance_url}/services/data/" + s.salesforce_api_version,
            api_hosts=("salesforce.com", "force.com", urlsplit(sf).hostname or "",
                       *s.salesforce_api_hosts),
            identity="identity_url"),
        "hubspot": ProviderConfig(
            "hubspot", *_client("hubspot", s),
            authorize_url=f"{s.hubspot_app_url}/oauth/authorize",
            token_url=f"{s.hubspot_api_url}/oauth/v1/token",
            revoke_method="DELETE",
            revoke_url=f"{s.hubspot_api_url}/oauth/v1/refresh-tokens/{{token}}",
            scopes=("crm.objects.contacts.read", "crm.objects.contacts.write", "oauth"),
            rotation="unverified", keep_fields=("token_type",),
            revoked_errors=frozenset({"invalid_grant", "BAD_REFRESH_TOKEN"}),
            api_base_url=s.hubspot_api_url, identity="token_info",
            token_info_url=f"{s.hubspot_api_url}/oauth/v1/access-tokens/{{token}}",
            token_info_fields=("hub_id", "user_id")),
    }


def _client(provider: str, s: Settings) -> tuple[str, str]:
    """The OAuth client of `provider`: SYNC_<PROVIDER>_CLIENT_ID / _CLIENT_SECRET.

    Outside production the settings hold the sandbox's default client when none is set
    (config.SANDBOX_CLIENTS), so the demo and the tests need no credentials.
    """
    prefix = f"SYNC_{provider.upper()}_CLIENT"
    client_id, secret = client_credentials(s, provider)
    if client_id and secret:
        return client_id, secret
    raise ConfigError(f"{prefix}_ID and {prefix}_SECRET: set the {provider} OAuth client")


def _trusted(url: str, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    on_host = any(host == h or host.endswith("." + h) for h in hosts if h)
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
    return on_host and secure


def _check_transport(provider: str, url: str) -> None:
    """https, or plain http to a loopback host only (the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        # oauthlib refuses http:// unless this is set; our own check above is stricter.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        return
    raise ConfigError(f"{provider} OAuth endpoint {url!r}: expected https (http only to "
                      f"a loopback host such as the sandbox)")

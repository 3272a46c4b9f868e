"""In-memory OAuth records of one provider: clients, authorization codes, grants, tokens.

A grant is one user's consent to one client; every access and refresh token belongs to a
grant, so revoking the grant kills all of them at once. Times are on the sandbox clock.
All mutation happens under `state.lock` (taken by the callers in oauth.py).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from .core import SandboxState
from .oauth_providers import PROFILES, Profile

CODE_LIFETIME = 600.0  # seconds; real providers use 1-15 minutes


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)  # empty: any loopback URI
    access_token_lifetime: int = 3599  # Salesforce: the session timeout
    refresh_token_lifetime: int | None = None  # None: until revoked
    rotate_refresh_tokens: bool = False  # only honoured where the provider makes it a setting
    require_pkce: bool = True  # the service always sends PKCE; catch it if it stops

    def public(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "redirect_uris": list(self.redirect_uris),
            "access_token_lifetime": self.access_token_lifetime,
            "refresh_token_lifetime": self.refresh_token_lifetime,
            "rotate_refresh_tokens": self.rotate_refresh_tokens,
            "require_pkce": self.require_pkce,
        }


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    subject: str
    scope: str
    code_challenge: str | None
    offline: bool
    expires_at: float
    nonce: str | None = None
    used: bool = False


@dataclass
class Grant:
    grant_id: str
    client_id: str
    subject: str
    scope: str
    offline: bool
    created_at: float
    nonce: str | None = None
    revoked: bool = False


@dataclass
class Token:
    value: str
    kind: str  # "access" | "refresh"
    grant_id: str
    issued_at: float
    expires_at: float | None  # None: no expiry of its own
    revoked: bool = False

    def usable(self, now: float) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


class OAuthStore:
    """Everything one provider's authorization server remembers."""

    def __init__(self, profile: Profile, default_settings: dict[str, Any]) -> None:
        self.profile = profile
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, Token] = {}
        self.issued: list[str] = []  # every token value in issue order, for log scans
        settings = {"access_token_lifetime": profile.access_token_lifetime,
                    "refresh_token_lifetime": profile.refresh_token_lifetime,
                    **default_settings}
        self.add_client(Client(profile.default_client_id, profile.default_client_secret,
                               **settings))

    def add_client(self, client: Client) -> Client:
        self.clients[client.client_id] = client
        return client

    def new_code(self, **fields: Any) -> AuthCode:
        code = AuthCode(code=self.profile.new_code(), **fields)
        self.codes[code.code] = code
        return code

    def new_grant(self, client_id: str, subject: str, scope: str, offline: bool,
                  now: float, nonce: str | None = None) -> Grant:
        grant = Grant(f"g{secrets.token_hex(8)}", client_id, subject, scope, offline, now, nonce)
        self.grants[grant.grant_id] = grant
        if offline:
            self._enforce_grant_limit(client_id, subject)
        return grant

    def live_offline_grants(self, client_id: str, subject: str) -> list[Grant]:
        """Oldest first (dicts keep insertion order)."""
        return [g for g in self.grants.values() if g.client_id == client_id
                and g.subject == subject and g.offline and not g.revoked]

    def _enforce_grant_limit(self, client_id: str, subject: str) -> None:
        # Google (~100) and Salesforce (5) silently revoke the oldest approval.
        limit = self.profile.max_live_grants
        live = self.live_offline_grants(client_id, subject)
        for grant in live[:max(0, len(live) - limit)] if limit else []:
            self.revoke_grant(grant)

    def new_token(self, kind: str, grant: Grant, now: float, lifetime: float | None) -> Token:
        value = self.profile.new_access() if kind == "access" else self.profile.new_refresh()
        expires_at = None if lifetime is None else now + lifetime
        token = Token(value, kind, grant.grant_id, now, expires_at)
        self.tokens[value] = token
        self.issued.append(value)
        return token

    def live_token(self, value: str | None, kind: str, now: float) -> tuple[Token, Grant] | None:
        """The token and its grant if the token is of `kind`, unexpired and unrevoked."""
        token = self.tokens.get(value or "")
        if token is None or token.kind != kind or not token.usable(now):
            return None
        grant = self.grants[token.grant_id]
        return None if grant.revoked else (token, grant)

    def grant_tokens(self, grant_id: str, kind: str | None = None) -> list[Token]:
        return [t for t in self.tokens.values()
                if t.grant_id == grant_id and (kind is None or t.kind == kind)]

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True
        for token in self.grant_tokens(grant.grant_id):
            token.revoked = True


def store_for(state: SandboxState, provider: str) -> OAuthStore:
    """This provider's store, created on first use and re-created on sandbox reset."""
    with state.lock:
        if "oauth" not in state.stores:
            state.on_reset(lambda: state.stores.__setitem__("oauth", {}))
        stores: dict[str, OAuthStore] = state.stores["oauth"]
        if provider not in stores:
            stores[provider] = OAuthStore(PROFILES[provider],
                                          default_client_settings(state, provider))
        return stores[provider]


def default_client_settings(state: SandboxState, provider: str) -> dict[str, Any]:
    """Settings of the default client that outlive resets (set by `sandbox serve`)."""
    # Kept outside state.stores["oauth"], which a reset throws away.
    with state.lock:
        return state.stores.setdefault("oauth_defaults", {}).setdefault(provider, {})

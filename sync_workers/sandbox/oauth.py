"""OAuth 2.0 authorization servers of the four emulated providers: the public Python API.

Provider API modules (google_calendar, salesforce, ...) call `bearer_subject` to
authenticate a request and tests call `mint_grant` to get tokens without a browser. The
HTTP endpoints live in oauth_flow.py, the `/_sandbox/oauth/...` control routes (over these
functions) in oauth_control.py, the records in oauth_store.py and the provider differences
in oauth_providers.py. Each provider's app gets oauth_flow's and oauth_control's routes
(server.PROVIDER_MODULES).
"""
from __future__ import annotations

from typing import Any

from flask import request

from .core import SandboxState
from .oauth_flow import issue_for_new_grant
from .oauth_providers import (  # noqa: F401  (re-exported: the constants tests use)
    DEFAULT_SUBJECTS,
    GOOGLE_CLIENT_ID,
    GOOGLE_CLIENT_SECRET,
    HUBSPOT_CLIENT_ID,
    HUBSPOT_CLIENT_SECRET,
    MICROSOFT_CLIENT_ID,
    MICROSOFT_CLIENT_SECRET,
    PROFILES,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
    SALESFORCE_ORG_ID,
)
from .oauth_store import Client, Grant, default_client_settings, store_for

DEFAULT_CLIENTS: dict[str, tuple[str, str]] = {
    name: (p.default_client_id, p.default_client_secret) for name, p in PROFILES.items()
}


# --- the contract other sandbox modules rely on ------------------------------------------


def bearer_subject(state: SandboxState, provider: str) -> str | None:
    """The subject of the current request's `Authorization: Bearer` access token of
    `provider` if that token is valid, unexpired and unrevoked on the sandbox clock.
    (Salesforce also takes its legacy `Authorization: OAuth <token>` form.)"""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    schemes = ("bearer", "oauth") if provider == "salesforce" else ("bearer",)
    if scheme.lower() not in schemes or not token.strip():
        return None
    store = store_for(state, provider)
    with state.lock:
        live = store.live_token(token.strip(), "access", state.clock.time())
        return live[1].subject if live else None


def mint_grant(state: SandboxState, provider: str, subject: str, *,
               client_id: str | None = None, scope: str | None = None,
               offline: bool = True, nonce: str | None = None) -> dict[str, Any]:
    """Grant `subject`'s consent to a client without a browser and return the provider's
    token response (what its token endpoint answers to an authorization_code exchange).

    offline=False: no refresh token (Google without access_type=offline, Microsoft without
    offline_access). Scope defaults to the scope the service asks for.
    """
    store = store_for(state, provider)
    with state.lock:
        client = _client(store, client_id)
        scope = scope if scope is not None else store.profile.default_scope
        grant = store.new_grant(client.client_id, subject, scope, offline,
                                state.clock.time(), nonce)
        return issue_for_new_grant(state, provider, store, client, grant)


# --- helpers for tests and the demo (the control routes call these too) -------------------


def issued_tokens(state: SandboxState, provider: str | None = None) -> list[str]:
    """Every access and refresh token the sandbox issued (all providers by default), so a
    test can check that none of them leaked into the service's logs."""
    providers = [provider] if provider else list(PROFILES)
    with state.lock:
        return [t for p in providers for t in store_for(state, p).issued]


def register_client(state: SandboxState, provider: str, client_id: str, client_secret: str,
                    **settings: Any) -> Client:
    """Add (or replace) a client. settings: redirect_uris, access_token_lifetime,
    refresh_token_lifetime, rotate_refresh_tokens (Salesforce)."""
    store = store_for(state, provider)
    with state.lock:
        settings.setdefault("access_token_lifetime", store.profile.access_token_lifetime)
        settings.setdefault("refresh_token_lifetime", store.profile.refresh_token_lifetime)
        return store.add_client(Client(client_id, client_secret, **settings))


def configure_client(state: SandboxState, provider: str, client_id: str | None = None,
                     **settings: Any) -> Client:
    """Change settings of a registered client (the provider's default client if None)."""
    store = store_for(state, provider)
    with state.lock:
        client = _client(store, client_id)
        for name, value in settings.items():
            if not hasattr(client, name) or name == "client_id":
                raise ValueError(f"unknown client setting {name!r}")
            setattr(client, name, value)
        return client


def set_default_client_settings(state: SandboxState, provider: str, **settings: Any) -> Client:
    """Configure the provider's default client now and after every sandbox reset."""
    with state.lock:
        client = configure_client(state, provider, **settings)
        default_client_settings(state, provider).update(settings)
        return client


def revoke(state: SandboxState, provider: str, *, subject: str | None = None,
           refresh_token: str | None = None) -> int:
    """Revoke grants (and all their tokens) of a subject or of one refresh token, as a user
    removing the app's access would. Returns how many grants were revoked."""
    store = store_for(state, provider)
    with state.lock:
        grants = _grants_matching(store, subject, refresh_token)
        for grant in grants:
            store.revoke_grant(grant)
        return len(grants)


def expire_access_tokens(state: SandboxState, provider: str,
                         subject: str | None = None) -> int:
    """End now the life of every live access token (of `subject` if given), as a clock
    jump past their expiry would, without moving the clock for everything else."""
    store = store_for(state, provider)
    with state.lock:
        now = state.clock.time()
        expired = 0
        for token in store.tokens.values():
            grant = store.grants[token.grant_id]
            if token.kind == "access" and token.usable(now) and subject in (None, grant.subject):
                token.expires_at = now
                expired += 1
        return expired


def refresh_requests(state: SandboxState, provider: str) -> list[dict[str, Any]]:
    """Logged token requests with grant_type=refresh_token (faulted ones included)."""
    path = _token_path_pattern(provider)
    return [e for e in state.log.entries(provider, "POST", path)
            if "grant_type=refresh_token" in e["body"]]


def _token_path_pattern(provider: str) -> str:
    return {"google": r"^/token$", "microsoft": r"^/[^/]+/oauth2/v2\.0/token$",
            "salesforce": r"^/services/oauth2/token$", "hubspot": r"^/oauth/v1/token$"}[provider]


def _client(store, client_id: str | None) -> Client:
    client = store.clients.get(client_id or store.profile.default_client_id)
    if client is None:
        raise KeyError(f"unknown {store.profile.name} client {client_id!r}")
    return client


def _grants_matching(store, subject: str | None, refresh_token: str | None) -> list[Grant]:
    if refresh_token is not None:
        token = store.tokens.get(refresh_token)
        return [store.grants[token.grant_id]] if token else []
    return [g for g in store.grants.values() if subject in (None, g.subject) and not g.revoked]

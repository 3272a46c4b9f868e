"""The HTTP side of the authorization servers: authorize, token and revoke endpoints.

authorize auto-approves (there is no human in a test) and redirects with a code; token
redeems codes (PKCE S256, single use, bound to client and redirect_uri) and refresh
tokens, with each provider's rotation rule and error bodies.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from flask import Flask, Response, has_request_context, jsonify, redirect, request

from .core import SandboxState
from .oauth_providers import (
    DEFAULT_SUBJECTS,
    Issued,
    token_error,
    token_response,
    wants_refresh_token,
)
from .oauth_store import CODE_LIFETIME, Client, Grant, OAuthStore, Token, store_for

AUTHORIZE_PATHS = {"google": "/o/oauth2/v2/auth", "microsoft": "/<tenant>/oauth2/v2.0/authorize",
                   "salesforce": "/services/oauth2/authorize", "hubspot": "/oauth/authorize"}
TOKEN_PATHS = {"google": "/token", "microsoft": "/<tenant>/oauth2/v2.0/token",
               "salesforce": "/services/oauth2/token", "hubspot": "/oauth/v1/token"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class TokenError(Exception):
    """A token request the provider refuses; `reason` keys oauth_providers' error tables."""

    def __init__(self, reason: str, **fmt: str) -> None:
        super().__init__(reason)
        self.reason, self.fmt = reason, fmt


def register(app: Flask, state: SandboxState) -> None:
    """Add the authorization server's endpoints to the provider's app."""
    provider = app.config["SANDBOX_PROVIDER"]
    store_for(state, provider)  # create now so a reset re-creates it

    def authorize(tenant: str = "common"):
        return _authorize(state, provider)

    def token(tenant: str = "common"):
        return _token(state, provider, tenant)

    app.add_url_rule(AUTHORIZE_PATHS[provider], "oauth_authorize", authorize,
                     methods=["GET", "POST"])
    app.add_url_rule(TOKEN_PATHS[provider], "oauth_token", token, methods=["POST"])
    if provider == "google":
        app.add_url_rule("/revoke", "oauth_revoke", lambda: _revoke_google(state),
                         methods=["POST", "GET"])
    elif provider == "salesforce":
        app.add_url_rule("/services/oauth2/revoke", "oauth_revoke",
                         lambda: _revoke_salesforce(state), methods=["POST", "GET"])
    elif provider == "hubspot":
        app.add_url_rule("/oauth/v1/refresh-tokens/<path:token>", "oauth_revoke",
                         lambda token: _revoke_hubspot(state, token), methods=["DELETE"])
        app.add_url_rule("/oauth/v1/access-tokens/<path:token>", "oauth_token_info",
                         lambda token: _hubspot_token_info(state, token), methods=["GET"])
    # Microsoft's v2 endpoint has no revoke: use the control API.


# --- authorize ----------------------------------------------------------------------------


def _authorize(state: SandboxState, provider: str) -> Response:
    args = request.values
    store = store_for(state, provider)
    with state.lock:
        client = store.clients.get(args.get("client_id", ""))
        redirect_uri = args.get("redirect_uri", "")
        # Like the real servers: a bad client or redirect_uri is shown to the user, never
        # redirected to (that would make the server an open redirector).
        if client is None:
            return _authorize_page_error(400, "invalid_client", "unknown client_id")
        if not _redirect_allowed(client, redirect_uri):
            return _authorize_page_error(400, "redirect_uri_mismatch",
                                         "redirect_uri is not registered for this client")
        problem = _authorize_problem(client, args)
        if problem:
            return _redirect_back(redirect_uri, error="invalid_request",
                                  error_description=problem, state=args.get("state"))
        scope = args.get("scope", "")
        subject = args.get("sandbox_user") or args.get("login_hint") \
            or DEFAULT_SUBJECTS[provider]
        code = store.new_code(
            client_id=client.client_id, redirect_uri=redirect_uri, subject=subject,
            scope=scope or store.profile.default_scope,
            code_challenge=args.get("code_challenge"),
            offline=_offline(provider, store, client, subject, args),
            expires_at=state.clock.time() + CODE_LIFETIME, nonce=args.get("nonce"))
    return _redirect_back(redirect_uri, code=code.code, state=args.get("state"))


def _offline(provider: str, store: OAuthStore, client: Client, subject: str, args) -> bool:
    offline = wants_refresh_token(provider, args.get("scope", ""), args.get("access_type"))
    if provider == "google" and "consent" not in args.get("prompt", "").split():
        # Google sends a refresh token on the first consent only; prompt=consent forces one.
        return offline and not store.live_offline_grants(client.client_id, subject)
    return offline


def _authorize_problem(client: Client, args) -> str | None:
    if args.get("response_type") != "code":
        return "response_type must be code"
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
    if challenge is None:
        return "code_challenge is required" if client.require_pkce else None
    if method != "S256":  # omitted means plain (RFC 7636), which the sandbox refuses
        return "code_challenge_method must be S256"
    return None


def _redirect_allowed(client: Client, redirect_uri: str) -> bool:
    if client.redirect_uris:
        return redirect_uri in client.redirect_uris
    # No list registered: any loopback URI, as Google allows for installed apps.
    parts = urlsplit(redirect_uri)
    return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS


def _redirect_back(redirect_uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return redirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}", code=302)


def _authorize_page_error(status: int, error: str, description: str) -> Response:
    resp = jsonify(error=error, error_description=description)
    resp.status_code = status
    return resp


# --- token --------------------------------------------------------------------------------


def _token(state: SandboxState, provider: str, tenant: str) -> Response:
    form = _form()
    store = store_for(state, provider)
    with state.lock:
        try:
            client = _authenticate(store, form)
            grant_type = form.get("grant_type", "")
            if grant_type == "authorization_code":
                body = _redeem_code(state, provider, store, client, form, tenant)
            elif grant_type == "refresh_token":
                body = _refresh(state, provider, store, client, form, tenant)
            else:
                raise TokenError("unsupported_grant", grant_type=grant_type)
        except TokenError as exc:
            status, body = token_error(provider, exc.reason, state.clock.time(), **exc.fmt)
            return _json(body, status)
    return _json(body, 200)


def _form() -> dict[str, str]:
    # Read the raw body first: core.py logs it, and parsing the form would consume it.
    request.get_data(cache=True)
    return request.form.to_dict()


def _authenticate(store: OAuthStore, form: dict[str, str]) -> Client:
    """The client, by HTTP Basic (form-urlencoded id:secret, RFC 6749 2.3.1) or the form."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        client_id, secret = unquote_plus(basic.username or ""), unquote_plus(basic.password or "")
    if not client_id:
        raise TokenError("missing", param="client_id")
    client = store.clients.get(client_id)
    if client is None:
        raise TokenError("unknown_client", client_id=client_id)
    if client.client_secret and not hmac.compare_digest(client.client_secret, secret or ""):
        raise TokenError("bad_secret", client_id=client_id)
    return client


def _redeem_code(state: SandboxState, provider: str, store: OAuthStore, client: Client,
                 form: dict[str, str], tenant: str) -> dict[str, Any]:
    code = store.codes.get(form.get("code", ""))
    if code is None or code.client_id != client.client_id:
        raise TokenError("bad_code")
    if code.used:
        raise TokenError("code_reused")
    if code.expires_at <= state.clock.time():
        raise TokenError("bad_code")
    if form.get("redirect_uri") != code.redirect_uri:
        raise TokenError("bad_redirect")
    if code.code_challenge is not None:
        if not form.get("code_verifier"):
            raise TokenError("missing_verifier")
        if not _verifier_matches(form["code_verifier"], code.code_challenge):
            raise TokenError("bad_verifier")
    code.used = True
    grant = store.new_grant(client.client_id, code.subject, code.scope, code.offline,
                            state.clock.time(), code.nonce)
    return issue_for_new_grant(state, provider, store, client, grant, tenant)


def _verifier_matches(verifier: str, challenge: str) -> bool:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(expected, challenge)


def _refresh(state: SandboxState, provider: str, store: OAuthStore, client: Client,
             form: dict[str, str], tenant: str) -> dict[str, Any]:
    now = state.clock.time()
    token = store.tokens.get(form.get("refresh_token", ""))
    if token is None or token.kind != "refresh":
        raise TokenError("bad_refresh")
    grant = store.grants[token.grant_id]
    if grant.client_id != client.client_id:
        raise TokenError("bad_refresh")
    if grant.revoked or token.revoked:
        raise TokenError("revoked")
    if not token.usable(now):
        raise TokenError("expired" if provider == "microsoft" else "revoked")
    access = store.new_token("access", grant, now, client.access_token_lifetime)
    sent_refresh = _rotate(store, client, grant, token, now)
    return _respond(state, provider, client, grant, access, sent_refresh, tenant)


def _rotate(store: OAuthStore, client: Client, grant: Grant, used: Token,
            now: float) -> str | None:
    """The refresh token to send back, if any, after `used` was redeemed."""
    rotation = store.profile.rotation
    if rotation == "always":  # Microsoft: a new one; the old one lives out its lifetime
        return store.new_token("refresh", grant, now, client.refresh_token_lifetime).value
    if rotation == "client" and client.rotate_refresh_tokens:  # Salesforce: old one dies
        used.revoked = True
        return store.new_token("refresh", grant, now, client.refresh_token_lifetime).value
    if rotation == "repeat":  # HubSpot
        return used.value
    return None  # Google, Salesforce without rotation: keep the one you have


def issue_for_new_grant(state: SandboxState, provider: str, store: OAuthStore,
                        client: Client, grant: Grant, tenant: str = "common") -> dict[str, Any]:
    """Tokens for a grant just made; the body the token endpoint answers with."""
    now = state.clock.time()
    access = store.new_token("access", grant, now, client.access_token_lifetime)
    refresh = store.new_token("refresh", grant, now, client.refresh_token_lifetime) \
        if grant.offline else None
    return _respond(state, provider, client, grant, access,
                    refresh.value if refresh else None, tenant)


def _respond(state: SandboxState, provider: str, client: Client, grant: Grant, access: Token,
             refresh_value: str | None, tenant: str) -> dict[str, Any]:
    return token_response(provider, Issued(
        access_token=access.value, refresh_token=refresh_value,
        expires_in=client.access_token_lifetime, scope=grant.scope, subject=grant.subject,
        client_id=client.client_id, client_secret=client.client_secret,
        issued_at=access.issued_at, nonce=grant.nonce,
        instance_url=_origin(state, "salesforce"),
        issuer=f"{_origin(state, 'microsoft')}/{tenant}"))


def _origin(state: SandboxState, provider: str) -> str:
    # The server fills state.urls at start; the request's own origin is the fallback.
    if state.urls.get(provider) or not has_request_context():
        return state.urls.get(provider, "")
    return request.host_url.rstrip("/")


def _json(body: Any, status: int) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


# --- revoke -------------------------------------------------------------------------------


def _revoke_token_value(state: SandboxState, provider: str, value: str, *,
                        whole_grant_on_access: bool, kinds=("access", "refresh")) -> bool:
    """Revoke a token: a refresh token takes its whole grant down; an access token too
    when `whole_grant_on_access` (Google), else only itself (a Salesforce session)."""
    store = store_for(state, provider)
    with state.lock:
        token = store.tokens.get(value)
        if token is None or token.kind not in kinds or token.revoked \
                or store.grants[token.grant_id].revoked:
            return False
        if token.kind == "refresh" or whole_grant_on_access:
            store.revoke_grant(store.grants[token.grant_id])
        else:
            token.revoked = True
        return True


def _revoke_google(state: SandboxState) -> Response:
    value = _form().get("token") or request.args.get("token", "")
    if not _revoke_token_value(state, "google", value, whole_grant_on_access=True):
        return _json({"error": "invalid_token", "error_description": "Token expired or revoked"},
                     400)
    return _json({}, 200)


def _revoke_salesforce(state: SandboxState) -> Response:
    value = _form().get("token") or request.args.get("token", "")
    if not _revoke_token_value(state, "salesforce", value, whole_grant_on_access=False):
        return _json({"error": "invalid_token", "error_description": "invalid token"}, 400)
    return Response(status=200)


HUBSPOT_HUB_ID = 4242


def _hubspot_token_info(state: SandboxState, value: str) -> Response:
    """HubSpot's access-token metadata: which portal (hub) and user a token belongs to."""
    store = store_for(state, "hubspot")
    with state.lock:
        live = store.live_token(value, "access", state.clock.time())
    if live is None:
        return _json({"status": "error", "message": "Token not found or expired",
                      "category": "EXPIRED_AUTHENTICATION"}, 404)
    token, grant = live
    return _json({"token": token.value, "user": grant.subject, "hub_domain": "sandbox.hubspot",
                  "scopes": grant.scope.split(), "hub_id": HUBSPOT_HUB_ID,
                  "app_id": 1000001, "user_id": zlib.crc32(grant.subject.encode()),
                  "expires_in": int(token.expires_at - state.clock.time())
                  if token.expires_at else None, "token_type": "access"}, 200)


def _revoke_hubspot(state: SandboxState, value: str) -> Response:
    # Deleting the refresh token uninstalls the app for that user: the grant goes.
    if not _revoke_token_value(state, "hubspot", value, whole_grant_on_access=False,
                               kinds=("refresh",)):
        return _json({"status": "error", "message": "Refresh token not found",
                      "category": "OBJECT_NOT_FOUND"}, 404)
    return Response(status=204)

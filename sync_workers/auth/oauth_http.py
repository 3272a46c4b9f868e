"""HTTP calls to a provider's OAuth endpoints (code exchange, refresh, revoke, token info).

requests-oauthlib speaks the protocol; a compliance hook turns the token endpoint's answer
into our errors before oauthlib parses it: 429/5xx/timeouts -> Transient (retried by the
shared policy), the provider's "grant is gone" errors -> GrantRejected, the rest Permanent.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable
from urllib.parse import urlencode

import requests
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

from ..logging import new_request_id, register_secret, request_id
from ..reliability.classify import classify_exception, classify_status
from ..reliability.errors import Permanent, SyncError
from ..reliability.http import DEFAULT_TIMEOUT, ProviderHttp
from .registry import ProviderConfig

log = logging.getLogger(__name__)


class GrantRejected(Permanent):
    """The token endpoint refused the grant itself (invalid_grant, BAD_REFRESH_TOKEN...)."""

    def __init__(self, reason: str, *, error: str, **kw) -> None:
        super().__init__(reason, **kw)
        self.error = error


def exchange_code(config: ProviderConfig, code: str, code_verifier: str,
                  redirect_uri: str) -> dict[str, Any]:
    """Redeem an authorization code (with its PKCE verifier) for tokens."""
    register_secret(code)
    register_secret(code_verifier)
    session = _session(config, "authorization_code", redirect_uri=redirect_uri)
    return _call(config, lambda: session.fetch_token(
        config.token_url, code=code, code_verifier=code_verifier, include_client_id=True,
        client_secret=config.client_secret, timeout=DEFAULT_TIMEOUT, headers=_headers()))


def refresh(config: ProviderConfig, refresh_token: str) -> dict[str, Any]:
    """A refresh answer; requests-oauthlib puts our refresh token back when none came."""
    session = _session(config, "refresh_token")
    body = urlencode({"scope": " ".join(config.scopes)}) if config.refresh_sends_scope else ""
    return _call(config, lambda: session.refresh_token(
        config.token_url, refresh_token=refresh_token, body=body, client_id=config.client_id,
        client_secret=config.client_secret, timeout=DEFAULT_TIMEOUT, headers=_headers()))


def revoke(config: ProviderConfig, token: str) -> None:
    """Revoke a grant through `token` (a refresh token takes the whole grant down)."""
    http = ProviderHttp(config.name)
    if "{token}" in (config.revoke_url or ""):
        http.request(config.revoke_method, config.revoke_url.format(token=token))
    else:
        http.request(config.revoke_method, config.revoke_url, data={"token": token})


def token_info(config: ProviderConfig, access_token: str) -> dict[str, Any]:
    resp = ProviderHttp(config.name).request(
        "GET", config.token_info_url.format(token=access_token))
    return resp.json()


def _session(config: ProviderConfig, grant_type: str, **kw: Any) -> OAuth2Session:
    session = OAuth2Session(client_id=config.client_id, **kw)
    started = time.monotonic()

    def check(resp: requests.Response) -> requests.Response:
        log.info("oauth token request", extra={
            "provider": config.name, "grant_type": grant_type, "status": resp.status_code,
            "elapsed_ms": round((time.monotonic() - started) * 1000, 1)})
        _raise_for_token_error(config, resp)
        return resp

    session.register_compliance_hook("access_token_response", check)
    session.register_compliance_hook("refresh_token_response", check)
    return session


def _call(config: ProviderConfig, call: Callable[[], Any]) -> dict[str, Any]:
    try:
        token = dict(call())
    except SyncError:
        raise
    except OAuth2Error as exc:  # a 2xx answer that is not a token response
        raise Permanent(f"{config.name} token response: {exc.error}: {exc.description}",
                        provider=config.name) from None
    except requests.RequestException as exc:
        raise classify_exception(exc, config.name) from None
    for name in ("access_token", "refresh_token", "id_token"):
        register_secret(token.get(name))
    return token


def _raise_for_token_error(config: ProviderConfig, resp: requests.Response) -> None:
    status = resp.status_code
    if status < 400:
        return
    body = _json(resp)
    if status in (408, 429) or status >= 500:
        raise classify_status(status, resp.headers, body, config.name)
    error = str(body.get("error") or body.get("status") or "") if isinstance(body, dict) else ""
    detail = str(body.get("error_description") or body.get("message") or "") \
        if isinstance(body, dict) else ""
    reason = f"{config.name} token endpoint: HTTP {status} {error}: {detail[:300]}"
    if error in config.revoked_errors:
        raise GrantRejected(reason, error=error, provider=config.name, status=status)
    raise Permanent(reason, provider=config.name, status=status)


def _headers() -> dict[str, str]:
    return {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded",
            "X-Request-ID": request_id() or new_request_id()}


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None

"""The authorization-code flow with PKCE, from a verified connect link to an active account.

`start` makes the provider's authorize URL with a random `state` and an S256 code
challenge, and remembers (state -> provider, owner, link nonce, verifier) in Redis for
STATE_TTL, encrypted like the tokens. `finish` takes that record with GETDEL, so a state
works once, exchanges the code with the verifier, finds whose account it is and stores
the tokens (what a connect means for the sync is engine/lifecycle.py). Redis rather than
Postgres: expiry is native and GETDEL makes single use atomic without a cleanup job;
losing a pending state only means clicking the link again.
"""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass

import redis
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from ..config import Settings
from ..logging import register_secret
from ..reliability.errors import SyncError, Transient
from ..reliability.locks import redis_client
from . import oauth_http
from .crypto import cipher_for
from .grants import store_grant
from .identity import identify
from .links import LinkClaims
from .registry import registry_for

log = logging.getLogger(__name__)
STATE_TTL = 600  # seconds from the redirect to the provider until the callback
_STATE_KEY = "sync:oauth:state:{}"


class ConnectRejected(Exception):
    """The callback cannot complete; `status` is the HTTP answer (400, or 502 when the
    provider is unavailable)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class ConnectStart:
    authorize_url: str
    state: str


@dataclass(frozen=True)
class Connected:
    provider: str
    external_account_id: str
    owner: str
    account_id: int
    previous_status: str | None  # None: a new account


def start(claims: LinkClaims, settings: Settings) -> ConnectStart:
    registry = registry_for(settings)
    config = registry.get(claims.provider)
    pkce = WebApplicationClient(config.client_id)
    verifier = pkce.create_code_verifier(64)
    register_secret(verifier)
    state = secrets.token_urlsafe(32)
    redirect_uri = registry.redirect_uri(config.name)
    session = OAuth2Session(config.client_id, scope=list(config.scopes),
                            redirect_uri=redirect_uri)
    url, _ = session.authorization_url(
        config.authorize_url, state=state, code_challenge_method="S256",
        code_challenge=pkce.create_code_challenge(verifier, "S256"), **config.authorize_params)
    record = {"provider": config.name, "owner": claims.owner, "link_nonce": claims.nonce,
              "verifier": verifier, "redirect_uri": redirect_uri}
    _redis(lambda r: r.set(_STATE_KEY.format(state),
                           cipher_for(settings.secret_keys).encrypt(json.dumps(record)),
                           ex=STATE_TTL))
    log.info("connect started", extra={"provider": config.name, "owner": claims.owner})
    return ConnectStart(url, state)


def finish(provider: str, state: str, code: str | None, error: str | None,
           settings: Settings) -> Connected:
    record = _take_state(state, settings)
    if record is None:
        raise ConnectRejected(400, "unknown, expired or already used state")
    register_secret(code)  # a code of a flow we started: kept out of logs from here on
    if record["provider"] != provider:
        raise ConnectRejected(400, "state was issued for another provider")
    if error or not code:
        raise ConnectRejected(400, f"the provider did not authorize: {error or 'no code'}")
    config = registry_for(settings).get(provider)
    try:
        tokens = oauth_http.exchange_code(config, code, record["verifier"],
                                          record["redirect_uri"])
        identity = identify(config, tokens)
    except Transient as exc:
        raise ConnectRejected(502, f"{provider} is unavailable, connect again: {exc.reason}")
    except SyncError as exc:
        raise ConnectRejected(400, f"authorization failed: {exc.reason}")
    stored = store_grant(provider, identity.external_id, record["owner"], tokens, settings,
                         owner_emails=identity.emails)
    log.info("connect finished", extra={"provider": provider, "owner": record["owner"],
                                        "account_id": stored.account_id,
                                        "link_nonce": record["link_nonce"]})
    return Connected(provider, identity.external_id, record["owner"], stored.account_id,
                     stored.previous_status)


def _take_state(state: str, settings: Settings) -> dict | None:
    if not state:
        return None
    stored = _redis(lambda r: r.getdel(_STATE_KEY.format(state)))
    if stored is None:
        return None
    return json.loads(cipher_for(settings.secret_keys).decrypt(stored.decode("ascii")))


def _redis(op):
    try:
        return op(redis_client())
    except redis.RedisError as exc:
        raise Transient(f"redis unavailable for connect state ({type(exc).__name__})") from exc

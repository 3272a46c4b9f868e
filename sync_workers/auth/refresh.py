"""Single-flight refresh: lock the account's token row, re-read, refresh only if still due.

The lock is PostgreSQL's row lock (`SELECT ... FOR UPDATE`), not a Redis lock with a TTL:
- it cannot expire while the holder is still waiting on the provider, so two refreshes
  never overlap (with Salesforce rotation the loser would send a refresh token the winner
  just killed, get invalid_grant and park a healthy account);
- it dies with the holder's connection, so a crashed worker frees it at once;
- the re-read, the provider's answer (new access token and rotated refresh token) and the
  status change on revocation commit together in the transaction that holds it.
The cost is one pooled connection held for at most one token request per waiting caller.
"""
from __future__ import annotations

import logging
from dataclasses import replace

from psycopg2 import errors as pg_errors

from ..config import Settings
from ..counters import count_token_refresh
from ..reliability.errors import Transient
from ..store import accounts as repo
from ..store.db import transaction
from . import oauth_http
from .crypto import cipher_for
from .grants import alert_reauth_required
from .registry import ProviderConfig, registry_for
from .stored import AccountParked, StoredGrant, Token, usable_grant

log = logging.getLogger(__name__)
# Longest wait for another process's refresh: its token request times out after 35 s.
LOCK_WAIT = "45s"


def refresh_if_due(account_id: int, settings: Settings) -> Token:
    """The account's token, refreshed if it is still due once the lock is ours.
    Raises AccountParked when the grant is gone, Transient when the provider is away."""
    cipher = cipher_for(settings.secret_keys)
    registry = registry_for(settings)
    revoked: oauth_http.GrantRejected | None = None
    parked_now: str | None = None
    with transaction(lock_timeout=LOCK_WAIT) as tx:
        try:
            row = repo.read_token(account_id, lock=True, tx=tx)
        except pg_errors.LockNotAvailable:
            raise Transient(f"account {account_id}: another process is still refreshing "
                            f"its token") from None
        grant = usable_grant(row, account_id, cipher)
        config = registry.get(grant.provider)
        if not grant.needs_refresh():
            return grant.token(config)  # refreshed by someone else while we waited
        try:
            fresh = _refresh(grant, config)
        except oauth_http.GrantRejected as exc:
            count_token_refresh(config.name, "revoked")
            revoked = exc
            parked_now = repo.mark_reauth_required(account_id, exc.reason, tx=tx)
        except Transient:  # RateLimited too: the provider is away, the grant is fine
            count_token_refresh(config.name, "transient")
            raise
        else:
            count_token_refresh(config.name, "ok")
            # Same transaction as the new access token: a rotated refresh token is never lost.
            refresh_enc = row.refresh_token_enc if fresh.refresh_token == grant.refresh_token \
                else cipher.encrypt(fresh.refresh_token)
            version = repo.store_refreshed(account_id, cipher.encrypt(fresh.access_token),
                                           refresh_enc, fresh.expires_at, fresh.extras, tx=tx)
            return replace(fresh, version=version).token(config)
    # Committed: the account is parked for every other caller before anyone hears of it.
    if parked_now:
        alert_reauth_required(account_id, grant.provider, revoked.reason)
    raise AccountParked(revoked.reason, account_id=account_id,
                        provider=grant.provider) from revoked


def _refresh(grant: StoredGrant, config: ProviderConfig) -> StoredGrant:
    if grant.refresh_token is None:
        raise oauth_http.GrantRejected(f"{config.name} granted no refresh token: reconnect "
                                       f"the account", error="no_refresh_token",
                                       provider=config.name)
    response = oauth_http.refresh(config, grant.refresh_token)
    fresh = grant.refreshed(config, response)
    if config.rotation == "always" and fresh.refresh_token == grant.refresh_token:
        log.warning("refresh token not rotated", extra={"account_id": grant.account_id,
                                                        "provider": config.name})
    log.info("token refreshed", extra={"account_id": grant.account_id,
                                       "provider": config.name,
                                       "rotated": fresh.refresh_token != grant.refresh_token})
    return fresh

"""A grant's start and end in storage: store a new grant's tokens with its account, revoke
it at the provider and drop its tokens, and the one alert when a grant is found gone.

What follows a connect or a disconnect for the sync (a reconciliation, push channels) is
the engine's (engine/lifecycle.py, engine/disconnect.py); this module only keeps tokens.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

from ..config import Settings, get_settings
from ..logging import register_secret
from ..reliability.errors import Permanent
from ..store import accounts as repo
from ..store.db import transaction
from . import oauth_http
from .crypto import cipher_for
from .registry import ProviderConfig, registry_for
from .stored import AccountNotFound, grant_fields

log = logging.getLogger(__name__)
REAUTH_ALERT = "account_reauth_required"


@dataclass(frozen=True)
class StoredAccount:
    account_id: int
    previous_status: str | None  # None: a new account


def store_grant(provider: str, external_account_id: str, owner: str,
                token_response: Mapping[str, Any], settings: Settings | None = None, *,
                owner_emails: tuple[str, ...] = ()) -> StoredAccount:
    """Store a new grant's tokens and make the account active, in one transaction; the
    owner's addresses are those of this sign-in (a reconnect refreshes them)."""
    settings = settings or get_settings()
    config = registry_for(settings).get(provider)
    cipher = cipher_for(settings.secret_keys)
    fields = grant_fields(config, token_response)
    with transaction() as tx:
        account_id, before = repo.activate(provider, external_account_id, owner,
                                          owner_emails, tx=tx)
        repo.save_tokens(account_id, cipher.encrypt(fields.access_token),
                         cipher.encrypt(fields.refresh_token) if fields.refresh_token else None,
                         fields.expires_at, fields.extras, tx=tx)
    log.info("account connected",
             extra={"account_id": account_id, "provider": provider, "previous_status": before})
    return StoredAccount(account_id, before)


def alert_reauth_required(account_id: int, provider: str, reason: str) -> None:
    """The one alert per parking: a person has to reconnect the account."""
    log.error(REAUTH_ALERT, extra={"event": REAUTH_ALERT, "account_id": account_id,
                                   "provider": provider, "reason": reason})


def end_grant(account_id: int, settings: Settings | None = None,
              revoke_at_provider: bool = True) -> str:
    """Revoke the grant where the provider can, then disable the account and drop its
    tokens. A failed revocation raises and changes nothing. Returns what happened there."""
    settings = settings or get_settings()
    row = repo.read_token(account_id)
    if row is None:
        raise AccountNotFound(f"account {account_id} does not exist")
    config = registry_for(settings).get(row.provider)
    outcome = "skipped"
    if row.access_token_enc is None:
        outcome = "no tokens stored"
    elif revoke_at_provider and config.revoke_url is None:
        outcome = f"{config.name} has no revocation endpoint: remove the app's access there"
    elif revoke_at_provider:
        # A refresh token takes the whole grant down; an access token alone may not.
        token = cipher_for(settings.secret_keys).decrypt(
            row.refresh_token_enc or row.access_token_enc)
        register_secret(token)
        outcome = _revoke(config, token)
    with transaction() as tx:
        repo.set_status(account_id, "disabled", "disconnected by an operator", tx=tx)
        repo.delete_tokens(account_id, tx=tx)
    log.info("account disconnected", extra={"account_id": account_id,
                                            "provider": config.name, "revocation": outcome})
    return outcome


def _revoke(config: ProviderConfig, token: str) -> str:
    try:
        oauth_http.revoke(config, token)
    except Permanent as exc:
        if exc.status in (400, 404):  # the provider no longer knows the token
            return "already invalid at the provider"
        raise
    return "revoked at the provider"

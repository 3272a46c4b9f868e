"""An account's life: connected (active), parked (reauth_required), disconnected (disabled).

A reconnect after parking or disconnecting schedules a full reconciliation of the account,
which supersedes the tasks parked meanwhile: the sync converges state, so one pass over
the account covers whatever those triggers were about.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

from kombu.exceptions import OperationalError as KombuOperationalError

from ..config import Settings, get_settings
from ..logging import register_secret
from ..reliability.errors import Permanent
from ..store import accounts as repo
from ..store.db import cursor
from . import oauth_http
from .crypto import cipher_for
from .registry import ProviderConfig, registry_for
from .stored import AccountNotFound, grant_fields

log = logging.getLogger(__name__)
RECONCILE_ACCOUNT = "sync.reconcile_account"  # routed to the reconcile queue
OPEN_PUSH_CHANNEL = "sync.open_push_channel"  # routed to the poll queue
REAUTH_ALERT = "account_reauth_required"


@dataclass(frozen=True)
class Activation:
    account_id: int
    previous_status: str | None  # None: a new account
    reconciliation_task_id: str | None


def activate_account(provider: str, external_account_id: str, owner: str,
                     token_response: Mapping[str, Any],
                     settings: Settings | None = None) -> Activation:
    """Store a new grant's tokens and make the account active, in one transaction."""
    settings = settings or get_settings()
    config = registry_for(settings).get(provider)
    cipher = cipher_for(settings.secret_keys)
    fields = grant_fields(config, token_response)
    with cursor() as cur:
        account_id, before = repo.activate(cur, provider, external_account_id, owner)
        repo.save_tokens(cur, account_id, cipher.encrypt(fields.access_token),
                         cipher.encrypt(fields.refresh_token) if fields.refresh_token else None,
                         fields.expires_at, fields.extras)
    log.info("account connected",
             extra={"account_id": account_id, "provider": provider, "previous_status": before})
    # Published after the commit, so the reconciliation finds the account active.
    returning = before in ("reauth_required", "disabled")
    task_id = schedule_reconciliation(account_id) if returning else None
    return Activation(account_id, before, task_id)


def request_push_channel(account_id: int, provider: str) -> None:
    """Calendars that push changes get a channel as soon as a person connects them."""
    if provider != "google":
        return
    from ..celery_app import app  # noqa: PLC0415

    try:
        app.send_task(OPEN_PUSH_CHANNEL, kwargs={"account_id": account_id})
    except KombuOperationalError as exc:  # the hourly poll covers the account meanwhile
        log.error("push channel not requested", extra={"account_id": account_id,
                                                       "error_type": type(exc).__name__})


def schedule_reconciliation(account_id: int) -> str | None:
    """Send the full reconciliation of the account; it replaces the account's parked tasks.

    If the broker refuses the message, the parked tasks stay recorded as parked (listed by
    `sync-workers accounts parked`) and None is returned: the account is connected anyway.
    """
    from ..celery_app import app  # noqa: PLC0415 (the receiver imports this module early)

    try:
        result = app.send_task(RECONCILE_ACCOUNT, kwargs={"account_id": account_id})
    except KombuOperationalError as exc:
        log.error("reconciliation not scheduled", extra={"account_id": account_id,
                                                         "error_type": type(exc).__name__})
        return None
    superseded = repo.supersede_parked(account_id, result.id)
    log.info("reconciliation scheduled", extra={"account_id": account_id,
                                                "reconcile_task_id": result.id,
                                                "parked_superseded": superseded})
    return result.id


def alert_reauth_required(account_id: int, provider: str, reason: str) -> None:
    """The one alert per parking: a person has to reconnect the account."""
    log.error(REAUTH_ALERT, extra={"event": REAUTH_ALERT, "account_id": account_id,
                                   "provider": provider, "reason": reason})


def disconnect(account_id: int, settings: Settings | None = None,
               revoke_at_provider: bool = True) -> str:
    """Revoke the grant where the provider can, then disable the account and drop its
    tokens. A failed revocation raises and changes nothing. Returns what happened there."""
    settings = settings or get_settings()
    with cursor() as cur:
        row = repo.read_token(cur, account_id)
    if row is None:
        raise AccountNotFound(f"account {account_id} does not exist")
    config = registry_for(settings).get(row["provider"])
    _close_push_channels(account_id)
    outcome = "skipped"
    if row["access_token_enc"] is None:
        outcome = "no tokens stored"
    elif revoke_at_provider and config.revoke_url is None:
        outcome = f"{config.name} has no revocation endpoint: remove the app's access there"
    elif revoke_at_provider:
        # A refresh token takes the whole grant down; an access token alone may not.
        token = cipher_for(settings.secret_keys).decrypt(
            row["refresh_token_enc"] or row["access_token_enc"])
        register_secret(token)
        outcome = _revoke(config, token)
    with cursor() as cur:
        repo.set_status(cur, account_id, "disabled", "disconnected by an operator")
        repo.delete_tokens(cur, account_id)
    log.info("account disconnected", extra={"account_id": account_id,
                                            "provider": config.name, "revocation": outcome})
    return outcome


def _close_push_channels(account_id: int) -> None:
    """Stop the account's push channels while its token still works. Best effort: a channel
    left open only sends notifications that the receiver then refuses (403)."""
    from ..engine.channels import close_all  # noqa: PLC0415 (engine builds on auth)

    try:
        closed = close_all(account_id)
    except Exception as exc:  # noqa: BLE001 (disconnecting must not depend on it)
        log.warning("push channels not stopped", extra={"account_id": account_id,
                                                        "error_type": type(exc).__name__})
        return
    if closed:
        log.info("push channels stopped", extra={"account_id": account_id, "closed": closed})


def _revoke(config: ProviderConfig, token: str) -> str:
    try:
        oauth_http.revoke(config, token)
    except Permanent as exc:
        if exc.status in (400, 404):  # the provider no longer knows the token
            return "already invalid at the provider"
        raise
    return "revoked at the provider"

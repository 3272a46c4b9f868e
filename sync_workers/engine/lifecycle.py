"""What connecting an account means for the sync: an account that comes back (after
parking or disconnecting) gets a full reconciliation, and a calendar that pushes changes
gets a push channel.

The reconciliation supersedes the tasks parked meanwhile: the sync converges state, so one
pass over the account covers whatever those triggers were about. Only publishing and the
store here (no provider calls), so the receiver's connect callback can use it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

from kombu.exceptions import OperationalError as KombuOperationalError

from .. import dispatch
from ..auth.grants import store_grant
from ..config import Settings
from ..store import accounts as repo

log = logging.getLogger(__name__)
PUSHING_CALENDARS = ("google",)  # providers whose changes arrive through a push channel
RETURNING = ("reauth_required", "disabled")


@dataclass(frozen=True)
class Activation:
    account_id: int
    previous_status: str | None  # None: a new account
    reconciliation_task_id: str | None


def activate_account(provider: str, external_account_id: str, owner: str,
                     token_response: Mapping[str, Any], settings: Settings | None = None, *,
                     owner_emails: tuple[str, ...] = ()) -> Activation:
    """Store a new grant and, for a returning account, schedule its reconciliation."""
    stored = store_grant(provider, external_account_id, owner, token_response, settings,
                         owner_emails=owner_emails)
    return _activation(stored.account_id, stored.previous_status)


def account_connected(account_id: int, provider: str,
                      previous_status: str | None) -> Activation:
    """After a person finished the connect flow (its grant is stored)."""
    activation = _activation(account_id, previous_status)
    request_push_channel(account_id, provider)
    return activation


def _activation(account_id: int, previous_status: str | None) -> Activation:
    # Published after the grant's commit, so the reconciliation finds the account active.
    task_id = schedule_reconciliation(account_id) if previous_status in RETURNING else None
    return Activation(account_id, previous_status, task_id)


def request_push_channel(account_id: int, provider: str) -> None:
    """Calendars that push changes get a channel as soon as a person connects them."""
    if provider not in PUSHING_CALENDARS:
        return
    try:
        dispatch.send(dispatch.OPEN_PUSH_CHANNEL, {"account_id": account_id})
    except KombuOperationalError as exc:  # the hourly poll covers the account meanwhile
        log.error("push channel not requested", extra={"account_id": account_id,
                                                       "error_type": type(exc).__name__})


def schedule_reconciliation(account_id: int) -> str | None:
    """Send the full reconciliation of the account; it replaces the account's parked tasks.

    If the broker refuses the message, the parked tasks stay recorded as parked (listed by
    `sync-workers accounts parked`) and None is returned: the account is connected anyway.
    """
    try:
        result = dispatch.send(dispatch.RECONCILE_ACCOUNT, {"account_id": account_id})
    except KombuOperationalError as exc:
        log.error("reconciliation not scheduled", extra={"account_id": account_id,
                                                         "error_type": type(exc).__name__})
        return None
    superseded = repo.supersede_parked(account_id, result.id)
    log.info("reconciliation scheduled", extra={"account_id": account_id,
                                                "reconcile_task_id": result.id,
                                                "parked_superseded": superseded})
    return result.id

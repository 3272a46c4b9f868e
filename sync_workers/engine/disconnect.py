"""Disconnecting an account: stop its push channels while its token still works, then end
the grant (revoked at the provider where it can be, tokens dropped, account disabled)."""
from __future__ import annotations

import logging

from ..auth.grants import end_grant
from ..config import Settings
from .channels import close_all

log = logging.getLogger(__name__)


def disconnect(account_id: int, settings: Settings | None = None,
               revoke_at_provider: bool = True) -> str:
    """A failed revocation raises and leaves the account as it was. Returns what happened
    at the provider."""
    _close_push_channels(account_id)
    return end_grant(account_id, settings, revoke_at_provider)


def _close_push_channels(account_id: int) -> None:
    """Best effort: a channel left open only sends notifications that the receiver then
    refuses (403)."""
    try:
        closed = close_all(account_id)
    except Exception as exc:  # noqa: BLE001 (disconnecting must not depend on it)
        log.warning("push channels not stopped", extra={"account_id": account_id,
                                                        "error_type": type(exc).__name__})
        return
    if closed:
        log.info("push channels stopped", extra={"account_id": account_id, "closed": closed})

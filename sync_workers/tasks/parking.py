"""Parked work: tasks stopped because their account needs re-authorisation.

ReliableTask calls `park_task` on AuthRevoked: the task ends (no retry, no dead letter) and
is recorded in `parked_tasks`. When the account is connected again, a full reconciliation
supersedes the parked rows (engine/lifecycle.py).
"""
from __future__ import annotations

import logging

from ..auth import AccountParked
from ..auth.grants import alert_reauth_required
from ..engine.lifecycle import schedule_reconciliation
from ..reliability.errors import AuthRevoked
from ..store import accounts as repo
from ..store.db import transaction

log = logging.getLogger(__name__)


def park_task(task, exc: AuthRevoked, args, kwargs) -> None:
    kwargs = dict(kwargs or {})
    account_id = exc.account_id if exc.account_id is not None else kwargs.get("account_id")
    request = task.request
    parked_now = status = None
    with transaction() as tx:
        if account_id is not None:
            if not isinstance(exc, AccountParked):
                # An adapter found the grant gone: the account is parked from now on too.
                parked_now = repo.mark_reauth_required(account_id, exc.reason, tx=tx)
            status = repo.status_for_share(account_id, tx=tx)  # waits for a reconnect in flight
        row_id = repo.park(task_id=request.id, task_name=task.name,
                           args=list(args or ()), kwargs=kwargs, account_id=account_id,
                           reason=exc.reason, request_id=request.get("x_request_id"), tx=tx)
    if parked_now:
        alert_reauth_required(account_id, parked_now, exc.reason)
    log.warning("task parked", extra={"account_id": account_id, "reason": exc.reason,
                                      "parked_task_row": row_id})
    if status == "active":
        # Reconnected between the failure and this record: the reconnect's reconciliation
        # has already superseded the rows it saw, so this one needs its own.
        schedule_reconciliation(account_id)

"""Parked work: tasks stopped because their account needs re-authorisation."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def park_task(task, exc, args, kwargs) -> None:
    log.warning("task parked: account needs re-authorisation",
                extra={"account_id": getattr(exc, "account_id", None), "reason": exc.reason})

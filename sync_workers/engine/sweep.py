"""The intent sweeper: work recorded in PostgreSQL or requested in Redis that nobody served.

A link's intent (store/intent.py) that stays dirty past the threshold, with no reconcile
waiting for it, lost its message (a worker killed before the publish, a broker restarted
without its queue): it is queued again. A listing request (reliability/coalesce.py) left
unserved past the threshold lost its holder: the listing is queued again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import dispatch
from ..reliability.coalesce import waiting
from ..store import accounts, intent
from .changes import listing_of_lock
from .enqueue import publish_reconcile

log = logging.getLogger(__name__)
SWEEP_LIMIT = 2000  # links per sweep: a backlog larger than this drains over several


@dataclass(frozen=True)
class Swept:
    dirty: int  # links found dirty past the threshold
    requeued: int  # ...whose reconcile was queued again
    relisted: int  # listings queued again


def sweep(older_than_seconds: float) -> Swept:
    stale = intent.stale(older_than_seconds, SWEEP_LIMIT)
    requeued = sum(publish_reconcile(d.link_id, d.account_id, lost_after=older_than_seconds)
                   for d in stale)
    relisted = 0
    for name in waiting(older_than_seconds):
        account_id, resource = listing_of_lock(name)
        account = accounts.get(account_id)
        if account is None or account.status != "active":
            continue  # parked or gone: its reconnect lists it in full
        dispatch.send(dispatch.POLL_ACCOUNT, {"account_id": account_id, "resource": resource})
        relisted += 1
    if requeued or relisted:
        log.warning("lost work queued again", extra={"dirty": len(stale), "requeued": requeued,
                                                     "relisted": relisted})
    return Swept(len(stale), requeued, relisted)

"""Enqueue reconciles: the intent durably first, then at most one message waiting per link.

The intent (store/intent.py) is what guarantees the reconcile: it is written before any
publish, in the same transaction as a listing's cursor, so a worker killed before its
publish, or a broker that lost its queue, leaves it for the sweeper (`sweep_intent`).
The Redis mark only dedupes: set when a reconcile is queued (its value: when it is due to
start), cleared when that reconcile starts reading, so a change after the read always
queues another run while a burst of triggers before it collapses into one.
"""
from __future__ import annotations

import time
from typing import Iterable

from .. import dispatch
from ..reliability.locks import redis_client
from ..store import cursors, intent
from ..store.db import transaction

PENDING_SECONDS = 600  # a lost mark only delays dedupe; it never blocks a later change


def _mark(link_id: int) -> str:
    return f"sync:pending:link:{link_id}"


def enqueue_reconcile(link_id: int, account_id: int | None = None) -> bool:
    """Record that `link_id` must be reconciled and queue it unless a run is already
    waiting. True when queued."""
    intent.mark([link_id])
    return publish_reconcile(link_id, account_id)


def enqueue_listed(account_id: int, link_ids: Iterable[int], *, resource: str | None = None,
                   cursor: str | None = None) -> int:
    """What a listing found: the intent of every link and the listing's new cursor in one
    transaction (a cursor never passes a change whose intent is not durable), then the
    publishes. The number queued."""
    ids = sorted(set(link_ids))
    with transaction() as tx:
        intent.mark(ids, tx=tx)
        if resource is not None:
            cursors.put(account_id, resource, cursor, tx=tx)
    return sum(publish_reconcile(link_id, account_id) for link_id in ids)


def publish_reconcile(link_id: int, account_id: int | None = None, *,
                      lost_after: float | None = None) -> bool:
    """Queue a reconcile unless the mark says one is waiting. With `lost_after`, a mark
    due longer ago than that many seconds is taken for a lost publish and replaced."""
    client = redis_client()
    now = time.time()
    if not client.set(_mark(link_id), now, nx=True, ex=PENDING_SECONDS):
        due = client.get(_mark(link_id))
        if lost_after is None or (due is not None and now - float(due) < lost_after):
            return False
        client.set(_mark(link_id), now, ex=PENDING_SECONDS)
    try:
        dispatch.send(dispatch.RECONCILE_LINK, {"link_id": link_id, "account_id": account_id})
    except Exception:
        client.delete(_mark(link_id))
        raise
    return True


def reconcile_started(link_id: int) -> None:
    redis_client().delete(_mark(link_id))


def reconcile_scheduled(link_id: int, countdown: float) -> None:
    """A retry of the link's reconcile will start in `countdown` seconds: the mark says so,
    so neither a trigger nor the sweeper queues a second run meanwhile."""
    redis_client().set(_mark(link_id), time.time() + countdown,
                       ex=int(countdown) + PENDING_SECONDS)

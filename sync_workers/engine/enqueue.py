"""Enqueue reconciles, at most one waiting per link.

A link's mark is set when its reconcile is queued and cleared when that reconcile starts
reading, so a change that lands after the read always queues another run, while a burst
of triggers before it collapses into one.
"""
from __future__ import annotations

from .. import dispatch
from ..reliability.locks import redis_client

PENDING_SECONDS = 600  # a lost mark only delays dedupe; it never blocks a later change


def _mark(link_id: int) -> str:
    return f"sync:pending:link:{link_id}"


def enqueue_reconcile(link_id: int, account_id: int | None = None) -> bool:
    """Queue a reconcile of `link_id` unless one is already waiting. True when queued."""
    client = redis_client()
    if not client.set(_mark(link_id), "1", nx=True, ex=PENDING_SECONDS):
        return False
    try:
        dispatch.send(dispatch.RECONCILE_LINK, {"link_id": link_id, "account_id": account_id})
    except Exception:
        client.delete(_mark(link_id))
        raise
    return True


def reconcile_started(link_id: int) -> None:
    redis_client().delete(_mark(link_id))

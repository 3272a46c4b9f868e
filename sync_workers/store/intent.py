"""Durable intent: which links must be reconciled (`sync_links.dirty_since`, `dirty_seq`).

A trigger bumps `dirty_seq` and sets `dirty_since` if unset; a reconcile reads the sequence
before it reads either side and, once it succeeds, clears the intent only if the sequence is
unchanged (a trigger meanwhile keeps it, and has queued another run). What stays dirty past
a threshold is found by the sweeper.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .db import Tx, fetch_value, joined


@dataclass(frozen=True)
class Dirty:
    link_id: int
    account_id: int  # the calendar account (the task's log and metrics context)


def mark(link_ids: Iterable[int], *, tx: Tx | None = None) -> None:
    ids = sorted(set(link_ids))
    if not ids:
        return
    with joined(tx) as tx:
        tx.execute("""UPDATE sync_links SET dirty_seq = dirty_seq + 1,
                          dirty_since = COALESCE(dirty_since, now())
                      WHERE id = ANY(%s)""", (ids,))


def sequence(link_id: int, *, tx: Tx | None = None) -> int | None:
    with joined(tx) as tx:
        tx.execute("SELECT dirty_seq FROM sync_links WHERE id = %s", (link_id,))
        return fetch_value(tx)


def clear(link_id: int, seen_sequence: int | None = None, *, tx: Tx | None = None) -> bool:
    """Clear the intent if no trigger came after `seen_sequence` (None: whatever came).
    True when cleared."""
    with joined(tx) as tx:
        tx.execute("""UPDATE sync_links SET dirty_since = NULL
                      WHERE id = %s AND dirty_since IS NOT NULL
                        AND (%s::bigint IS NULL OR dirty_seq = %s::bigint)""",
                   (link_id, seen_sequence, seen_sequence))
        return tx.rowcount == 1


def stale(older_than_seconds: float, limit: int, *, tx: Tx | None = None) -> list[Dirty]:
    """Links dirty for longer than the threshold whose accounts can be worked on (a parked
    or disabled account's work waits in parked_tasks or for its reconnect)."""
    with joined(tx) as tx:
        tx.execute("""SELECT l.id AS link_id, l.calendar_account_id AS account_id
                      FROM sync_links l
                      JOIN accounts cal ON cal.id = l.calendar_account_id
                      JOIN accounts crm ON crm.id = l.crm_account_id
                      WHERE l.dirty_since < now() - make_interval(secs => %s)
                        AND cal.status = 'active' AND crm.status = 'active'
                      ORDER BY l.dirty_since LIMIT %s""", (older_than_seconds, limit))
        return [Dirty(**row) for row in tx.fetchall()]


def count_dirty(*, tx: Tx | None = None) -> int:
    with joined(tx) as tx:
        tx.execute("SELECT count(*) FROM sync_links WHERE dirty_since IS NOT NULL")
        return fetch_value(tx)

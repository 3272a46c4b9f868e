"""The poller's cursors (`sync_cursors`): one per account and resource.

Their ages, for `status` and metrics, are the fleet read model's (fleet.py).
"""
from __future__ import annotations

from .db import Tx, fetch_value, joined


def get(account_id: int, resource: str, *, tx: Tx | None = None) -> str | None:
    with joined(tx) as tx:
        tx.execute("SELECT cursor FROM sync_cursors WHERE account_id = %s AND resource = %s",
                   (account_id, resource))
        return fetch_value(tx)


def put(account_id: int, resource: str, value: str | None, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("""INSERT INTO sync_cursors (account_id, resource, cursor)
                      VALUES (%s, %s, %s) ON CONFLICT (account_id, resource)
                      DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()""",
                   (account_id, resource, value))

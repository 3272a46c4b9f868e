"""The poller's cursors (`sync_cursors`): one per account and resource."""
from __future__ import annotations

from datetime import datetime

from .db import cursor


def get(account_id: int, resource: str) -> str | None:
    with cursor() as cur:
        cur.execute("SELECT cursor FROM sync_cursors WHERE account_id = %s AND resource = %s",
                    (account_id, resource))
        row = cur.fetchone()
    return row["cursor"] if row else None


def put(account_id: int, resource: str, value: str | None) -> None:
    with cursor() as cur:
        cur.execute("""INSERT INTO sync_cursors (account_id, resource, cursor)
                       VALUES (%s, %s, %s) ON CONFLICT (account_id, resource)
                       DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()""",
                    (account_id, resource, value))


def ages() -> list[dict]:
    """Every cursor with its age, for `status` and metrics."""
    with cursor() as cur:
        cur.execute("""SELECT account_id, resource, updated_at,
                              extract(epoch FROM now() - updated_at) AS age_seconds
                       FROM sync_cursors ORDER BY account_id, resource""")
        return cur.fetchall()


def updated_at(account_id: int, resource: str) -> datetime | None:
    with cursor() as cur:
        cur.execute("""SELECT updated_at FROM sync_cursors WHERE account_id = %s
                       AND resource = %s""", (account_id, resource))
        row = cur.fetchone()
    return row["updated_at"] if row else None

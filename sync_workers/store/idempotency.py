"""Idempotency keys: written before the call they protect, reused by every retry."""
from __future__ import annotations

import uuid

from .db import cursor


def key_for(scope: str, operation: str) -> str:
    """The key of `operation` in `scope`, created on first use and the same ever after."""
    with cursor() as cur:
        cur.execute(
            """INSERT INTO idempotency_keys (scope, operation, key) VALUES (%s, %s, %s)
               ON CONFLICT (scope, operation) DO NOTHING""",
            (scope, operation, uuid.uuid4().hex))
        cur.execute("SELECT key FROM idempotency_keys WHERE scope = %s AND operation = %s",
                    (scope, operation))
        return cur.fetchone()["key"]


def complete(scope: str, operation: str, result: str) -> None:
    with cursor() as cur:
        cur.execute("""UPDATE idempotency_keys SET result = %s, completed_at = now()
                       WHERE scope = %s AND operation = %s""", (result, scope, operation))

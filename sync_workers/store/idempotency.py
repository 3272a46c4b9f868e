"""Idempotency keys: written before the call they protect, reused by every retry."""
from __future__ import annotations

import uuid

from .db import Tx, fetch_value, joined


def key_for(scope: str, operation: str, *, tx: Tx | None = None) -> str:
    """The key of `operation` in `scope`, created on first use and the same ever after."""
    with joined(tx) as tx:
        tx.execute(
            """INSERT INTO idempotency_keys (scope, operation, key) VALUES (%s, %s, %s)
               ON CONFLICT (scope, operation) DO NOTHING""",
            (scope, operation, uuid.uuid4().hex))
        tx.execute("SELECT key FROM idempotency_keys WHERE scope = %s AND operation = %s",
                   (scope, operation))
        return fetch_value(tx)


def complete(scope: str, operation: str, result: str, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("""UPDATE idempotency_keys SET result = %s, completed_at = now()
                      WHERE scope = %s AND operation = %s""", (result, scope, operation))

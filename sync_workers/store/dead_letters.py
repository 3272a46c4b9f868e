"""The `dead_letters` table: record once, list, show, mark replayed or discarded.

`DeadLetter` is what is recorded; reads return `DeadLetterRecord` (the stored row, with its
id and status) or, for listings, `DeadLetterSummary`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from .db import Tx, columns, fetch_all, fetch_one, fetch_value, joined
from .records import DeadLetterRecord, DeadLetterSummary

STATUSES = ("open", "replayed", "discarded")


@dataclass(frozen=True)
class DeadLetter:
    task_id: str
    task_name: str
    queue: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    error_type: str
    error_message: str
    traceback: str | None
    attempts: int
    request_id: str | None
    account_id: int | None
    first_failed_at: datetime
    last_failed_at: datetime
    replay_of: int | None = None


def record(letter: DeadLetter, *, tx: Tx | None = None) -> int | None:
    """Insert once per task id; a second delivery of the same letter changes nothing.

    Returns the new row id, or None when the task id was already recorded.
    """
    with joined(tx) as tx:
        tx.execute(
            """INSERT INTO dead_letters (task_id, task_name, queue, args, kwargs, error_type,
                   error_message, traceback, attempts, request_id, account_id,
                   first_failed_at, last_failed_at, replay_of)
               VALUES (%(task_id)s, %(task_name)s, %(queue)s, %(args)s, %(kwargs)s,
                   %(error_type)s, %(error_message)s, %(traceback)s, %(attempts)s,
                   %(request_id)s, %(account_id)s, %(first_failed_at)s, %(last_failed_at)s,
                   %(replay_of)s)
               ON CONFLICT (task_id) DO NOTHING
               RETURNING id""",
            {**letter.__dict__, "args": Json(letter.args), "kwargs": Json(letter.kwargs)},
        )
        return fetch_value(tx)


def list_letters(status: str | None = None, task_name: str | None = None,
                 limit: int = 100, *, tx: Tx | None = None) -> list[DeadLetterSummary]:
    with joined(tx) as tx:
        tx.execute(
            f"""SELECT {columns(DeadLetterSummary)} FROM dead_letters
                WHERE (%(status)s IS NULL OR status = %(status)s)
                  AND (%(task)s IS NULL OR task_name = %(task)s)
                ORDER BY id DESC LIMIT %(limit)s""",
            {"status": status, "task": task_name, "limit": limit},
        )
        return fetch_all(tx, DeadLetterSummary)


def get(letter_id: int, *, tx: Tx | None = None) -> DeadLetterRecord | None:
    with joined(tx) as tx:
        tx.execute(f"SELECT {columns(DeadLetterRecord)} FROM dead_letters WHERE id = %s",
                   (letter_id,))
        return fetch_one(tx, DeadLetterRecord)


def find_by_task_id(task_id: str, *, tx: Tx | None = None) -> DeadLetterRecord | None:
    with joined(tx) as tx:
        tx.execute(f"SELECT {columns(DeadLetterRecord)} FROM dead_letters WHERE task_id = %s",
                   (task_id,))
        return fetch_one(tx, DeadLetterRecord)


def mark_replayed(letter_id: int, new_task_id: str, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute(
            """UPDATE dead_letters SET status = 'replayed', replayed_task_id = %s,
                      replayed_at = now() WHERE id = %s""",
            (new_task_id, letter_id),
        )


def discard(letter_id: int, reason: str, *, tx: Tx | None = None) -> bool:
    with joined(tx) as tx:
        tx.execute(
            """UPDATE dead_letters SET status = 'discarded', discard_reason = %s,
                      discarded_at = now() WHERE id = %s AND status = 'open'""",
            (reason, letter_id),
        )
        return tx.rowcount == 1


def count_open(*, tx: Tx | None = None) -> int:
    with joined(tx) as tx:
        tx.execute("SELECT count(*) AS n FROM dead_letters WHERE status = 'open'")
        return fetch_value(tx)

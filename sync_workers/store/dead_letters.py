"""The `dead_letters` table: record once, list, show, mark replayed or discarded."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from .db import cursor

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


def record(letter: DeadLetter) -> int | None:
    """Insert once per task id; a second delivery of the same letter changes nothing.

    Returns the new row id, or None when the task id was already recorded.
    """
    with cursor() as cur:
        cur.execute(
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
        row = cur.fetchone()
    return row["id"] if row else None


def list_letters(status: str | None = None, task_name: str | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
    with cursor() as cur:
        cur.execute(
            """SELECT id, task_id, task_name, error_type, error_message, attempts, account_id,
                      request_id, status, first_failed_at, last_failed_at, replayed_task_id
               FROM dead_letters
               WHERE (%(status)s IS NULL OR status = %(status)s)
                 AND (%(task)s IS NULL OR task_name = %(task)s)
               ORDER BY id DESC LIMIT %(limit)s""",
            {"status": status, "task": task_name, "limit": limit},
        )
        return cur.fetchall()


def get(letter_id: int) -> dict[str, Any] | None:
    with cursor() as cur:
        cur.execute("SELECT * FROM dead_letters WHERE id = %s", (letter_id,))
        return cur.fetchone()


def find_by_task_id(task_id: str) -> dict[str, Any] | None:
    with cursor() as cur:
        cur.execute("SELECT * FROM dead_letters WHERE task_id = %s", (task_id,))
        return cur.fetchone()


def mark_replayed(letter_id: int, new_task_id: str) -> None:
    with cursor() as cur:
        cur.execute(
            """UPDATE dead_letters SET status = 'replayed', replayed_task_id = %s,
                      replayed_at = now() WHERE id = %s""",
            (new_task_id, letter_id),
        )


def discard(letter_id: int, reason: str) -> bool:
    with cursor() as cur:
        cur.execute(
            """UPDATE dead_letters SET status = 'discarded', discard_reason = %s,
                      discarded_at = now() WHERE id = %s AND status = 'open'""",
            (reason, letter_id),
        )
        return cur.rowcount == 1


def count_open() -> int:
    with cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM dead_letters WHERE status = 'open'")
        return cur.fetchone()["n"]

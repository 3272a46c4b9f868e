"""`accounts`, `oauth_tokens` and `parked_tasks`: an account, its tokens, its stopped work.

Token columns hold ciphertext only; encryption lives in auth/ (this module never sees a
plaintext token). Functions that take `cur` run inside the caller's transaction, so a
refresh can lock, re-read and write in one.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg2.extras import Json, RealDictCursor

from .db import cursor
from .records import Account

_TOKEN_COLUMNS = """a.id AS account_id, a.provider, a.external_account_id, a.owner, a.status,
                    a.last_error, t.access_token_enc, t.refresh_token_enc, t.expires_at,
                    t.extras, t.version"""


# --- accounts ------------------------------------------------------------------------------


def activate(cur: RealDictCursor, provider: str, external_account_id: str,
             owner: str) -> tuple[int, str | None]:
    """Create the account or make it active again. Returns (id, status before; None if new)."""
    cur.execute("""SELECT id, status FROM accounts
                   WHERE provider = %s AND external_account_id = %s FOR UPDATE""",
                (provider, external_account_id))
    before = cur.fetchone()
    cur.execute(
        """INSERT INTO accounts (provider, external_account_id, owner)
           VALUES (%s, %s, %s)
           ON CONFLICT (provider, external_account_id) DO UPDATE
           SET owner = EXCLUDED.owner, status = 'active', last_error = NULL,
               updated_at = now(),
               status_changed_at = CASE WHEN accounts.status = 'active'
                                        THEN accounts.status_changed_at ELSE now() END
           RETURNING id""",
        (provider, external_account_id, owner))
    return cur.fetchone()["id"], (before["status"] if before else None)


def set_status(cur: RealDictCursor, account_id: int, status: str,
               last_error: str | None = None) -> None:
    cur.execute("""UPDATE accounts SET status = %s, last_error = %s, updated_at = now(),
                          status_changed_at = now()
                   WHERE id = %s""", (status, last_error, account_id))


def mark_reauth_required(cur: RealDictCursor, account_id: int, reason: str) -> str | None:
    """Park an active account. Returns its provider if this call changed it, else None."""
    cur.execute("""UPDATE accounts SET status = 'reauth_required', last_error = %s,
                          updated_at = now(), status_changed_at = now()
                   WHERE id = %s AND status = 'active' RETURNING provider""",
                (reason, account_id))
    row = cur.fetchone()
    return row["provider"] if row else None


def get(account_id: int) -> dict[str, Any] | None:
    with cursor() as cur:
        cur.execute("""SELECT a.*, t.expires_at, t.version AS token_version, t.refreshed_at,
                              t.refresh_token_enc IS NOT NULL AS has_refresh_token,
                              t.extras,
                              (SELECT count(*) FROM parked_tasks p
                               WHERE p.account_id = a.id AND p.status = 'parked') AS parked
                       FROM accounts a LEFT JOIN oauth_tokens t ON t.account_id = a.id
                       WHERE a.id = %s""", (account_id,))
        return cur.fetchone()


def get_account(account_id: int) -> Account | None:
    with cursor() as cur:
        cur.execute("""SELECT id, provider, external_account_id, owner, status, last_error,
                              updated_at FROM accounts WHERE id = %s""", (account_id,))
        row = cur.fetchone()
    return Account(**row) if row else None


def list_all(status: str | None = None, provider: str | None = None) -> list[dict[str, Any]]:
    with cursor() as cur:
        cur.execute("""SELECT id, provider, external_account_id, owner, status, last_error,
                              updated_at
                       FROM accounts
                       WHERE (%(status)s IS NULL OR status = %(status)s)
                         AND (%(provider)s IS NULL OR provider = %(provider)s)
                       ORDER BY id""", {"status": status, "provider": provider})
        return cur.fetchall()


# --- tokens --------------------------------------------------------------------------------


def save_tokens(cur: RealDictCursor, account_id: int, access_enc: str, refresh_enc: str | None,
                expires_at: datetime | None, extras: dict[str, Any]) -> int:
    """Store a new grant's tokens (replacing older ones). Returns the new version."""
    cur.execute(
        """INSERT INTO oauth_tokens (account_id, access_token_enc, refresh_token_enc,
                                     expires_at, extras)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (account_id) DO UPDATE
           SET access_token_enc = EXCLUDED.access_token_enc,
               refresh_token_enc = EXCLUDED.refresh_token_enc,
               expires_at = EXCLUDED.expires_at, extras = EXCLUDED.extras,
               version = oauth_tokens.version + 1, updated_at = now()
           RETURNING version""",
        (account_id, access_enc, refresh_enc, expires_at, Json(extras)))
    return cur.fetchone()["version"]


def read_token(cur: RealDictCursor, account_id: int, *, lock: bool = False) -> dict | None:
    """The account with its token columns (None where it has none).

    `lock` first takes the token row's lock (held until commit), then reads in a new
    statement: under READ COMMITTED that read sees everything committed by the holder we
    waited for, the account's status included (a single SELECT ... FOR UPDATE over the join
    would re-check only the locked row and could return the account's old status).
    """
    if lock:
        cur.execute("SELECT 1 FROM oauth_tokens WHERE account_id = %s FOR UPDATE",
                    (account_id,))
    cur.execute(f"""SELECT {_TOKEN_COLUMNS}
                    FROM accounts a LEFT JOIN oauth_tokens t ON t.account_id = a.id
                    WHERE a.id = %s""", (account_id,))
    return cur.fetchone()


def store_refreshed(cur: RealDictCursor, account_id: int, access_enc: str,
                    refresh_enc: str | None, expires_at: datetime | None,
                    extras: dict[str, Any]) -> int:
    """The result of a refresh: access and (possibly rotated) refresh token together."""
    cur.execute(
        """UPDATE oauth_tokens SET access_token_enc = %s, refresh_token_enc = %s,
                  expires_at = %s, extras = %s, version = version + 1,
                  refreshed_at = now(), updated_at = now()
           WHERE account_id = %s RETURNING version""",
        (access_enc, refresh_enc, expires_at, Json(extras), account_id))
    return cur.fetchone()["version"]


def expire_now(cur: RealDictCursor, account_id: int) -> None:
    cur.execute("""UPDATE oauth_tokens SET expires_at = now(), version = version + 1,
                          updated_at = now()
                   WHERE account_id = %s""", (account_id,))


def delete_tokens(cur: RealDictCursor, account_id: int) -> None:
    cur.execute("DELETE FROM oauth_tokens WHERE account_id = %s", (account_id,))


def lock_all_tokens(cur: RealDictCursor) -> list[dict[str, Any]]:
    cur.execute("""SELECT account_id, access_token_enc, refresh_token_enc FROM oauth_tokens
                   ORDER BY account_id FOR UPDATE""")
    return cur.fetchall()


def replace_ciphertexts(cur: RealDictCursor, account_id: int, access_enc: str,
                        refresh_enc: str | None) -> None:
    cur.execute("""UPDATE oauth_tokens SET access_token_enc = %s, refresh_token_enc = %s,
                          version = version + 1, updated_at = now()
                   WHERE account_id = %s""", (access_enc, refresh_enc, account_id))


# --- parked work ---------------------------------------------------------------------------


def status_for_share(cur: RealDictCursor, account_id: int) -> str | None:
    """The account's status, held against a concurrent reconnect until commit."""
    cur.execute("SELECT status FROM accounts WHERE id = %s FOR SHARE", (account_id,))
    row = cur.fetchone()
    return row["status"] if row else None


def park(cur: RealDictCursor, *, task_id: str, task_name: str, args: list, kwargs: dict,
         account_id: int | None, reason: str, request_id: str | None) -> int | None:
    """Record a parked task once per task id. Returns the row id, None if already parked."""
    cur.execute(
        """INSERT INTO parked_tasks (task_id, task_name, args, kwargs, account_id, reason,
                                     request_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (task_id) DO NOTHING RETURNING id""",
        (task_id, task_name, Json(list(args)), Json(dict(kwargs)), account_id, reason,
         request_id))
    row = cur.fetchone()
    return row["id"] if row else None


def supersede_parked(account_id: int, by_task_id: str) -> int:
    """Mark the account's parked tasks as replaced by a reconciliation; returns how many."""
    with cursor() as cur:
        cur.execute("""UPDATE parked_tasks SET status = 'superseded', superseded_by = %s,
                              resolved_at = now()
                       WHERE account_id = %s AND status = 'parked'""", (by_task_id, account_id))
        return cur.rowcount


def parked_tasks(account_id: int | None = None, status: str | None = None) -> list[dict]:
    with cursor() as cur:
        cur.execute("""SELECT * FROM parked_tasks
                       WHERE (%(account)s IS NULL OR account_id = %(account)s)
                         AND (%(status)s IS NULL OR status = %(status)s)
                       ORDER BY id""", {"account": account_id, "status": status})
        return cur.fetchall()

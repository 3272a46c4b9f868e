"""`accounts`, `oauth_tokens` and `parked_tasks`: an account, its tokens, its stopped work.

Token columns hold ciphertext only; encryption lives in auth/ (this module never sees a
plaintext token). A refresh locks, re-reads and writes in one caller's `tx`; a read that
locks takes a `tx`, since its lock is held until that transaction ends.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from .db import Tx, columns, fetch_all, fetch_one, fetch_value, joined
from .records import Account, AccountDetails, ParkedTask, TokenCiphertexts, TokenRow

_TOKEN_COLUMNS = """a.id AS account_id, a.provider, a.external_account_id, a.owner, a.status,
                    a.last_error, t.access_token_enc, t.refresh_token_enc, t.expires_at,
                    t.extras, t.version"""


# --- accounts ------------------------------------------------------------------------------


def activate(provider: str, external_account_id: str, owner: str,
             owner_emails: tuple[str, ...] = (), *,
             tx: Tx | None = None) -> tuple[int, str | None]:
    """Create the account or make it active again, with the owner's addresses of this
    sign-in. Returns (id, status before; None if new)."""
    with joined(tx) as tx:
        tx.execute("""SELECT status FROM accounts
                      WHERE provider = %s AND external_account_id = %s FOR UPDATE""",
                   (provider, external_account_id))
        before = fetch_value(tx)
        tx.execute(
            """INSERT INTO accounts (provider, external_account_id, owner, owner_emails)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (provider, external_account_id) DO UPDATE
               SET owner = EXCLUDED.owner, owner_emails = EXCLUDED.owner_emails,
                   status = 'active', last_error = NULL,
                   updated_at = now(),
                   status_changed_at = CASE WHEN accounts.status = 'active'
                                            THEN accounts.status_changed_at ELSE now() END
               RETURNING id""",
            (provider, external_account_id, owner, list(owner_emails)))
        return fetch_value(tx), before


def set_status(account_id: int, status: str, last_error: str | None = None, *,
               tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("""UPDATE accounts SET status = %s, last_error = %s, updated_at = now(),
                             status_changed_at = now()
                      WHERE id = %s""", (status, last_error, account_id))


def mark_reauth_required(account_id: int, reason: str, *, tx: Tx | None = None) -> str | None:
    """Park an active account. Returns its provider if this call changed it, else None."""
    with joined(tx) as tx:
        tx.execute("""UPDATE accounts SET status = 'reauth_required', last_error = %s,
                             updated_at = now(), status_changed_at = now()
                      WHERE id = %s AND status = 'active' RETURNING provider""",
                   (reason, account_id))
        return fetch_value(tx)


def get(account_id: int, *, tx: Tx | None = None) -> AccountDetails | None:
    with joined(tx) as tx:
        tx.execute("""SELECT a.id, a.provider, a.external_account_id, a.owner, a.status,
                             a.last_error, a.created_at, a.updated_at, a.status_changed_at,
                             t.expires_at, t.version AS token_version, t.refreshed_at,
                             t.refresh_token_enc IS NOT NULL AS has_refresh_token,
                             t.extras,
                             (SELECT count(*) FROM parked_tasks p
                              WHERE p.account_id = a.id AND p.status = 'parked') AS parked
                      FROM accounts a LEFT JOIN oauth_tokens t ON t.account_id = a.id
                      WHERE a.id = %s""", (account_id,))
        return fetch_one(tx, AccountDetails)


def get_account(account_id: int, *, tx: Tx | None = None) -> Account | None:
    with joined(tx) as tx:
        tx.execute(f"SELECT {columns(Account)} FROM accounts WHERE id = %s", (account_id,))
        return fetch_one(tx, Account)


def list_all(status: str | None = None, provider: str | None = None, *,
             tx: Tx | None = None) -> list[Account]:
    with joined(tx) as tx:
        tx.execute(f"""SELECT {columns(Account)} FROM accounts
                       WHERE (%(status)s IS NULL OR status = %(status)s)
                         AND (%(provider)s IS NULL OR provider = %(provider)s)
                       ORDER BY id""", {"status": status, "provider": provider})
        return fetch_all(tx, Account)


# --- tokens --------------------------------------------------------------------------------


def save_tokens(account_id: int, access_enc: str, refresh_enc: str | None,
                expires_at: datetime | None, extras: dict[str, Any], *,
                tx: Tx | None = None) -> int:
    """Store a new grant's tokens (replacing older ones). Returns the new version."""
    with joined(tx) as tx:
        tx.execute(
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
        return fetch_value(tx)


def read_token(account_id: int, *, lock: bool = False, tx: Tx | None = None) -> TokenRow | None:
    """The account with its token columns (None where it has none).

    `lock` first takes the token row's lock (held until the caller's `tx` ends), then reads
    in a new statement: under READ COMMITTED that read sees everything committed by the
    holder we waited for, the account's status included (a single SELECT ... FOR UPDATE
    over the join would re-check only the locked row and could return the old status).
    """
    if lock and tx is None:
        raise TypeError("read_token(lock=True) takes the caller's tx: the lock lasts as "
                        "long as it")
    with joined(tx) as tx:
        if lock:
            tx.execute("SELECT 1 FROM oauth_tokens WHERE account_id = %s FOR UPDATE",
                       (account_id,))
        tx.execute(f"""SELECT {_TOKEN_COLUMNS}
                       FROM accounts a LEFT JOIN oauth_tokens t ON t.account_id = a.id
                       WHERE a.id = %s""", (account_id,))
        return fetch_one(tx, TokenRow)


def store_refreshed(account_id: int, access_enc: str, refresh_enc: str | None,
                    expires_at: datetime | None, extras: dict[str, Any], *,
                    tx: Tx | None = None) -> int:
    """The result of a refresh: access and (possibly rotated) refresh token together."""
    with joined(tx) as tx:
        tx.execute(
            """UPDATE oauth_tokens SET access_token_enc = %s, refresh_token_enc = %s,
                      expires_at = %s, extras = %s, version = version + 1,
                      refreshed_at = now(), updated_at = now()
               WHERE account_id = %s RETURNING version""",
            (access_enc, refresh_enc, expires_at, Json(extras), account_id))
        return fetch_value(tx)


def expire_now(account_id: int, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("""UPDATE oauth_tokens SET expires_at = now(), version = version + 1,
                             updated_at = now()
                      WHERE account_id = %s""", (account_id,))


def delete_tokens(account_id: int, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("DELETE FROM oauth_tokens WHERE account_id = %s", (account_id,))


def lock_all_tokens(*, tx: Tx) -> list[TokenCiphertexts]:
    """Every token row, locked until `tx` ends."""
    tx.execute(f"SELECT {columns(TokenCiphertexts)} FROM oauth_tokens "
               f"ORDER BY account_id FOR UPDATE")
    return fetch_all(tx, TokenCiphertexts)


def replace_ciphertexts(account_id: int, access_enc: str, refresh_enc: str | None, *,
                        tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("""UPDATE oauth_tokens SET access_token_enc = %s, refresh_token_enc = %s,
                             version = version + 1, updated_at = now()
                      WHERE account_id = %s""", (access_enc, refresh_enc, account_id))


# --- parked work ---------------------------------------------------------------------------


def status_for_share(account_id: int, *, tx: Tx) -> str | None:
    """The account's status, held against a concurrent reconnect until `tx` ends."""
    tx.execute("SELECT status FROM accounts WHERE id = %s FOR SHARE", (account_id,))
    return fetch_value(tx)


def park(*, task_id: str, task_name: str, args: list, kwargs: dict, account_id: int | None,
         reason: str, request_id: str | None, tx: Tx | None = None) -> int | None:
    """Record a parked task once per task id. Returns the row id, None if already parked."""
    with joined(tx) as tx:
        tx.execute(
            """INSERT INTO parked_tasks (task_id, task_name, args, kwargs, account_id, reason,
                                         request_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (task_id) DO NOTHING RETURNING id""",
            (task_id, task_name, Json(list(args)), Json(dict(kwargs)), account_id, reason,
             request_id))
        return fetch_value(tx)


def supersede_parked(account_id: int, by_task_id: str, *, tx: Tx | None = None) -> int:
    """Mark the account's parked tasks as replaced by a reconciliation; returns how many."""
    with joined(tx) as tx:
        tx.execute("""UPDATE parked_tasks SET status = 'superseded', superseded_by = %s,
                             resolved_at = now()
                      WHERE account_id = %s AND status = 'parked'""", (by_task_id, account_id))
        return tx.rowcount


def parked_tasks(account_id: int | None = None, status: str | None = None, *,
                 tx: Tx | None = None) -> list[ParkedTask]:
    with joined(tx) as tx:
        tx.execute(f"""SELECT {columns(ParkedTask)} FROM parked_tasks
                       WHERE (%(account)s IS NULL OR account_id = %(account)s)
                         AND (%(status)s IS NULL OR status = %(status)s)
                       ORDER BY id""", {"account": account_id, "status": status})
        return fetch_all(tx, ParkedTask)

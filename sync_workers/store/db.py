"""A psycopg2 connection pool per process, made on first use, and `transaction()`.

Celery's prefork workers fork after start-up; a pool inherited across a fork would share
sockets between processes, so the pool is keyed by pid and re-made in the child.

Every repository function takes an optional `tx`: given one, it runs inside the caller's
transaction (`with transaction() as tx: ...`, so the caller sees where it starts and ends);
without, it runs in a transaction of its own.
"""
from __future__ import annotations

import dataclasses
import os
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterator, Protocol, TypeVar
from urllib.parse import urlparse, urlunparse

import psycopg2
import psycopg2.extras
from psycopg2 import sql
from psycopg2.pool import ThreadedConnectionPool

from ..config import get_settings

POOL_WAIT_SECONDS = 15  # a caller waits this long for a free connection, then retries


class WaitingPool:
    """A ThreadedConnectionPool whose callers wait for a free connection instead of failing
    at once: a worker on the threads pool runs more tasks at a time than it keeps
    connections (each holds one only for a transaction). A wait past POOL_WAIT_SECONDS is
    an OperationalError, which tasks retry."""

    def __init__(self, url: str, maxconn: int) -> None:
        self._pool = ThreadedConnectionPool(1, maxconn, url, connect_timeout=5)
        self._free = threading.BoundedSemaphore(maxconn)

    def getconn(self) -> psycopg2.extensions.connection:
        if not self._free.acquire(timeout=POOL_WAIT_SECONDS):
            raise psycopg2.OperationalError(
                f"no free database connection within {POOL_WAIT_SECONDS} s "
                f"(SYNC_DB_POOL_MAX is too low for the worker's concurrency)")
        try:
            return self._pool.getconn()
        except BaseException:
            self._free.release()
            raise

    def putconn(self, conn: psycopg2.extensions.connection, close: bool = False) -> None:
        try:
            self._pool.putconn(conn, close=close)
        finally:
            self._free.release()

    def closeall(self) -> None:
        self._pool.closeall()


_pools: dict[tuple[int, str], WaitingPool] = {}
_lock = threading.Lock()


def _pool(url: str) -> WaitingPool:
    key = (os.getpid(), url)
    with _lock:
        if key not in _pools:
            _pools[key] = WaitingPool(url, get_settings().db_pool_max)
        return _pools[key]


@contextmanager
def connection(url: str | None = None) -> Iterator[psycopg2.extensions.connection]:
    """A pooled connection inside one transaction: committed on success, else rolled back."""
    url = url or get_settings().database_url
    pool = _pool(url)
    conn = pool.getconn()
    broken = False
    try:
        with conn:  # commits or rolls back; does not close
            yield conn
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        broken = True
        raise
    finally:
        pool.putconn(conn, close=broken or conn.closed != 0)


class Tx(Protocol):
    """An open transaction, as repositories use it (a psycopg2 RealDictCursor)."""

    @property
    def rowcount(self) -> int: ...
    def execute(self, query: Any, vars: Any = None) -> Any: ...
    def fetchone(self) -> dict[str, Any] | None: ...
    def fetchall(self) -> list[dict[str, Any]]: ...


@contextmanager
def transaction(url: str | None = None, *, lock_timeout: str | None = None,
                statement_timeout: str | None = None) -> Iterator[Tx]:
    """One transaction: committed when the block ends, rolled back if it raises.

    The timeouts (PostgreSQL intervals such as "45s") hold for this transaction only.
    """
    with connection(url) as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        if lock_timeout is not None:
            cur.execute("SET LOCAL lock_timeout = %s", (lock_timeout,))
        if statement_timeout is not None:
            cur.execute("SET LOCAL statement_timeout = %s", (statement_timeout,))
        yield cur


@contextmanager
def joined(tx: Tx | None) -> Iterator[Tx]:
    """The caller's transaction, or a new one for this call alone."""
    if tx is not None:
        yield tx
        return
    with transaction() as own:
        yield own


def cursor(url: str | None = None) -> AbstractContextManager[Tx]:
    """Raw SQL in one transaction, for tests and scripts; product code calls repositories."""
    return transaction(url)


# --- from rows to records ------------------------------------------------------------------

R = TypeVar("R")


def columns(record: type, table: str | None = None) -> str:
    """The select list of a record whose fields are named like the columns."""
    prefix = f"{table}." if table else ""
    return ", ".join(prefix + f.name for f in dataclasses.fields(record))


def to_record(cls: type[R], row: dict[str, Any]) -> R:
    # bytea arrives as a memoryview over the result; a record keeps plain bytes.
    return cls(**{k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()})


def fetch_one(tx: Tx, cls: type[R]) -> R | None:
    row = tx.fetchone()
    return to_record(cls, row) if row is not None else None


def fetch_all(tx: Tx, cls: type[R]) -> list[R]:
    return [to_record(cls, row) for row in tx.fetchall()]


def fetch_value(tx: Tx) -> Any:
    """The single column of the row the last statement returned; None when there is none."""
    row = tx.fetchone()
    return next(iter(row.values())) if row is not None else None


def fetch_column(tx: Tx) -> list[Any]:
    """The single column of every row the last statement returned."""
    return [next(iter(row.values())) for row in tx.fetchall()]


def close_pools() -> None:
    with _lock:
        for key, pool in list(_pools.items()):
            if key[0] == os.getpid():
                pool.closeall()
            del _pools[key]


def ensure_database(url: str) -> bool:
    """Create the database named in `url` when it is missing. True when it was created."""
    try:
        psycopg2.connect(url, connect_timeout=5).close()
        return False  # it exists; managed servers may not even let us see `postgres`
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    conn = psycopg2.connect(admin, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            try:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg2.errors.DuplicateDatabase:
                return False  # created by a concurrent process meanwhile
            return True
    finally:
        conn.close()

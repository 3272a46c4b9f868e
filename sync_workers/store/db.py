"""A psycopg2 connection pool per process, made on first use.

Celery's prefork workers fork after start-up; a pool inherited across a fork would share
sockets between processes, so the pool is keyed by pid and re-made in the child.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse, urlunparse

import psycopg2
import psycopg2.extras
from psycopg2 import sql
from psycopg2.pool import ThreadedConnectionPool

from ..config import get_settings

_pools: dict[tuple[int, str], ThreadedConnectionPool] = {}
_lock = threading.Lock()


def _pool(url: str) -> ThreadedConnectionPool:
    key = (os.getpid(), url)
    with _lock:
        if key not in _pools:
            _pools[key] = ThreadedConnectionPool(1, get_settings().db_pool_max, url,
                                                 connect_timeout=5)
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


@contextmanager
def cursor(url: str | None = None) -> Iterator[psycopg2.extras.RealDictCursor]:
    with connection(url) as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        yield cur


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

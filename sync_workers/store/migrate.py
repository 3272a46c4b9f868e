"""Plain SQL migrations, applied in file-name order under a PostgreSQL advisory lock.

Several processes may start at once (workers, receiver, beat); the advisory lock makes
them take turns, and each applied file is recorded, so running it again is a no-op.
"""
from __future__ import annotations

import logging
from importlib import resources

import psycopg2

from ..config import get_settings

log = logging.getLogger(__name__)
_LOCK_KEY = 0x5E7C_0001  # any constant shared by every sync-workers process


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files(__package__) / "migrations"
    return sorted((f.name, f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql"))


def migrate(url: str | None = None) -> list[str]:
    """Apply what is missing; returns the names applied by this call."""
    conn = psycopg2.connect(url or get_settings().database_url, connect_timeout=5)
    applied = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            cur.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                               name text PRIMARY KEY,
                               applied_at timestamptz NOT NULL DEFAULT now())""")
            cur.execute("SELECT name FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            for name, text in migration_files():
                if name in done:
                    continue
                cur.execute(text)
                cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
                log.info("migration applied", extra={"migration": name})
    finally:
        conn.close()
    return applied


def pending(url: str | None = None) -> list[str]:
    conn = psycopg2.connect(url or get_settings().database_url, connect_timeout=5)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not cur.fetchone()[0]:
                return [name for name, _ in migration_files()]
            cur.execute("SELECT name FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
    finally:
        conn.close()
    return [name for name, _ in migration_files() if name not in done]

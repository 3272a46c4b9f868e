"""Migrations: idempotent and safe when several processes start at once."""
from __future__ import annotations

import subprocess
import sys
import uuid
from urllib.parse import urlparse, urlunparse

import psycopg2
import pytest

from sync_workers.config import get_settings
from sync_workers.store.db import ensure_database
from sync_workers.store.migrate import migrate, migration_files, pending

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_database():
    base = urlparse(get_settings().database_url)
    name = f"sync_workers_mig_{uuid.uuid4().hex[:8]}"
    url = urlunparse(base._replace(path=f"/{name}"))
    ensure_database(url)
    yield url
    admin = psycopg2.connect(urlunparse(base._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_migrate_twice_applies_once(fresh_database):
    names = [name for name, _ in migration_files()]
    assert migrate(fresh_database) == names
    assert migrate(fresh_database) == []
    assert pending(fresh_database) == []


def test_concurrent_migrations_take_turns(fresh_database):
    code = ("import sys; from sync_workers.store.migrate import migrate; "
            "print(len(migrate(sys.argv[1])))")
    procs = [subprocess.Popen([sys.executable, "-c", code, fresh_database],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(5)]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    counts = sorted(int(out.strip().splitlines()[-1]) for out, _ in results)
    assert counts == [0, 0, 0, 0, len(migration_files())]
    with psycopg2.connect(fresh_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM schema_migrations")
        assert cur.fetchone()[0] == len(migration_files())


def test_links_made_before_meetings_were_known_survive_the_migrations(fresh_database):
    """Migrations 0007-0010 (owner e-mails, the rep's CRM user, one meeting many copies,
    meeting people) keep every existing account, pair and link, each link deciding."""
    old = [(name, text) for name, text in migration_files() if name < "0007"]
    conn = psycopg2.connect(fresh_database)
    with conn, conn.cursor() as cur:
        cur.execute("""CREATE TABLE schema_migrations (name text PRIMARY KEY,
                           applied_at timestamptz NOT NULL DEFAULT now())""")
        for name, text in old:
            cur.execute(text)
            cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
        cur.execute("""INSERT INTO accounts (provider, external_account_id, owner)
                       VALUES ('google', 'rep@example.com', 'o'), ('salesforce', 'org/u', 'o')
                       RETURNING id""")
        calendar, crm = (row[0] for row in cur.fetchall())
        cur.execute("INSERT INTO sync_pairs VALUES (%s, %s)", (calendar, crm))
        cur.execute("""INSERT INTO sync_links (calendar_account_id, crm_account_id,
                           calendar_event_id, crm_event_id, crm_contact_id, origin)
                       VALUES (%s, %s, 'e1', '00U1', '0031', 'calendar'),
                              (%s, %s, 'e2', '00U2', '0032', 'calendar')""",
                    (calendar, crm, calendar, crm))
    conn.close()
    applied = migrate(fresh_database)
    assert applied == [name for name, _ in migration_files() if name >= "0007"]
    conn = psycopg2.connect(fresh_database)
    with conn, conn.cursor() as cur:
        cur.execute("""SELECT calendar_event_id, crm_event_id, role, status, ical_uid,
                              crm_people FROM sync_links ORDER BY id""")
        assert cur.fetchall() == [("e1", "00U1", "decider", "active", None, []),
                                  ("e2", "00U2", "decider", "active", None, [])]
        cur.execute("SELECT owner_emails FROM accounts ORDER BY id")
        assert cur.fetchall() == [([],), ([],)]
        cur.execute("SELECT crm_user_id FROM sync_pairs")
        assert cur.fetchall() == [(None,)]
    conn.close()

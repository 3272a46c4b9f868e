"""The fleet read model: what `sync-workers status` prints and what /metrics exports as
gauges, read by one piece of SQL so the two never disagree.

Reads PostgreSQL in one short transaction (a slow database must not hold a scrape or the
operator's prompt), and the broker's queue lengths from Redis.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..config import get_settings
from ..dispatch import QUEUES
from ..reliability.locks import redis_client
from .db import fetch_all, fetch_value, transaction

# Kombu keeps a Redis queue as one list per priority step ("reconcile", and
# "reconcile\x06\x163" ... for priorities 3, 6, 9); the depth is their sum.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@dataclass(frozen=True)
class AccountCount:
    provider: str
    status: str
    n: int


@dataclass(frozen=True)
class CursorAge:
    account_id: int
    resource: str
    updated_at: datetime
    age_seconds: float


@dataclass(frozen=True)
class FleetState:
    accounts: tuple[AccountCount, ...]
    links: dict[str, int]  # by status
    open_dead_letters: int
    parked_tasks: dict[int, int] = field(default_factory=dict)  # by account id
    cursors: tuple[CursorAge, ...] = ()

    @property
    def parked_accounts(self) -> int:
        """Accounts that need re-authorisation."""
        return sum(a.n for a in self.accounts if a.status == "reauth_required")


def read_fleet(database_url: str | None = None) -> FleetState:
    with transaction(database_url, statement_timeout="2s") as tx:
        tx.execute("""SELECT provider, status, count(*) AS n FROM accounts
                      GROUP BY provider, status ORDER BY provider, status""")
        accounts = tuple(fetch_all(tx, AccountCount))
        tx.execute("SELECT status, count(*) AS n FROM sync_links GROUP BY status ORDER BY status")
        links = {row["status"]: row["n"] for row in tx.fetchall()}
        tx.execute("SELECT count(*) AS n FROM dead_letters WHERE status = 'open'")
        open_letters = fetch_value(tx)
        tx.execute("""SELECT account_id, count(*) AS n FROM parked_tasks
                      WHERE status = 'parked' GROUP BY account_id ORDER BY account_id""")
        parked = {row["account_id"]: row["n"] for row in tx.fetchall()}
        tx.execute("""SELECT account_id, resource, updated_at,
                             extract(epoch FROM now() - updated_at)::float AS age_seconds
                      FROM sync_cursors ORDER BY account_id, resource""")
        cursors = tuple(fetch_all(tx, CursorAge))
    return FleetState(accounts, links, open_letters, parked, cursors)


def queue_depths(broker_url: str | None = None) -> dict[str, int] | None:
    """Messages waiting per queue in the broker (None: the broker is not Redis)."""
    url = broker_url or get_settings().broker_url
    if not url.startswith(("redis://", "rediss://")):
        return None
    pipe = redis_client(url).pipeline(transaction=False)
    for queue in QUEUES:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
    lengths = pipe.execute()
    step = len(_PRIORITY_SUFFIXES)
    return {queue: sum(lengths[i * step:(i + 1) * step]) for i, queue in enumerate(QUEUES)}

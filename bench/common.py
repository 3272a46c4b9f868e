"""What the benchmarks share: their own database and Redis database, set before any
sync_workers import reads the settings, and small statistics helpers."""
from __future__ import annotations

import os
import statistics
from urllib.parse import urlparse, urlunparse

BENCH_DATABASE = os.environ.get("SYNC_BENCH_DATABASE", "sync_workers_bench")
BENCH_REDIS_DB = int(os.environ.get("SYNC_BENCH_REDIS_DB", "9"))


def use_bench_environment(**extra: str) -> None:
    db = urlparse(os.environ.get("SYNC_DATABASE_URL",
                                 "postgresql://postgres@127.0.0.1:5432/sync_workers"))
    redis_url = urlparse(os.environ.get("SYNC_REDIS_URL", "redis://127.0.0.1:6379/0"))
    bench_redis = urlunparse(redis_url._replace(path=f"/{BENCH_REDIS_DB}"))
    os.environ.update({
        "SYNC_ENVIRONMENT": "test",
        "SYNC_DATABASE_URL": urlunparse(db._replace(path=f"/{BENCH_DATABASE}")),
        "SYNC_REDIS_URL": bench_redis,
        "SYNC_BROKER_URL": bench_redis,
        "SYNC_LOG_LEVEL": "WARNING",
        **extra,
    })


def prepare_store() -> None:
    """A migrated, empty bench database and an empty bench Redis database."""
    from sync_workers.config import get_settings
    from sync_workers.reliability.locks import redis_client
    from sync_workers.store.db import cursor, ensure_database
    from sync_workers.store.migrate import migrate

    url = get_settings().database_url
    ensure_database(url)
    migrate(url)
    with cursor() as cur:
        cur.execute("""SELECT string_agg(quote_ident(tablename), ', ') AS t FROM pg_tables
                       WHERE schemaname = 'public' AND tablename <> 'schema_migrations'""")
        cur.execute(f"TRUNCATE {cur.fetchone()['t']} RESTART IDENTITY CASCADE")
    redis_client().flushdb()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    return {"requests": len(latencies), "rps": len(latencies) / seconds,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}

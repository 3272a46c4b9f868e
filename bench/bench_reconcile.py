#!/usr/bin/env python
"""Reconciles per second through real Celery workers against the sandbox, beside a no-op
task through the same workers, and provider calls per change.

    python bench/bench_reconcile.py [--links N] [--workers W] [--concurrency C]
    make bench BENCH_ARGS="--links 200 --workers 2"

Needs PostgreSQL and Redis, found as the tests find them (SYNC_DATABASE_URL and
SYNC_REDIS_URL name the servers). It uses a database and a Redis database of its own
(sync_workers_bench and 9 by default), which it empties. The sandbox runs in this process.
It prints figures and asserts nothing about time.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, default=100, help="appointments booked (N)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (W)")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size per worker")
    parser.add_argument("--database", default="sync_workers_bench")
    parser.add_argument("--redis-db", type=int, default=9)
    return parser.parse_args(argv)


def bench_environment(database: str, redis_db: int) -> dict[str, str]:
    """The service's settings pointed at the bench's own database and Redis database."""
    db = urlparse(os.environ.get("SYNC_DATABASE_URL",
                                 "postgresql://postgres@127.0.0.1:5432/sync_workers"))
    redis_url = urlparse(os.environ.get("SYNC_REDIS_URL", "redis://127.0.0.1:6379/0"))
    bench_redis = urlunparse(redis_url._replace(path=f"/{redis_db}"))
    return {
        "SYNC_ENVIRONMENT": "test",
        "SYNC_DATABASE_URL": urlunparse(db._replace(path=f"/{database}")),
        "SYNC_REDIS_URL": bench_redis,
        "SYNC_BROKER_URL": bench_redis,
        "SYNC_METRICS_PORT": "0",  # several workers on one host
        "SYNC_PUBLIC_URL": "http://127.0.0.1:9",  # the sandbox's push notifications go nowhere
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.update(bench_environment(args.database, args.redis_db))
    sys.path.insert(0, str(REPO))
    from sync_workers.sandbox.server import Sandbox  # noqa: PLC0415 (after the environment)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandbox's access log
    sandbox = Sandbox().start()
    os.environ.update(sandbox.env())  # before any settings are read: workers inherit them
    try:
        from bench.reconcile_run import run  # noqa: PLC0415

        run(sandbox, count=args.links, workers=args.workers, concurrency=args.concurrency)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()

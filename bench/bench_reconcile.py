"""Reconciles per second through real Celery workers against the sandbox, beside a no-op
task through the same workers, and provider calls per change.

    python bench/bench_reconcile.py [--links N] [--workers W] [--concurrency C]
                                    [--pool threads|prefork] [--latency SECONDS]
    make bench BENCH_ARGS="--links 200 --workers 2"

Needs PostgreSQL and Redis (`make services`); uses the benchmarks' own database and Redis
database (bench/common.py: sync_workers_bench and 9), which it empties. The sandbox runs
in this process, the workers are real `celery worker` processes. It prints figures and
asserts nothing about time.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import use_bench_environment  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, default=100, help="appointments booked (N)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (W)")
    parser.add_argument("--concurrency", type=int, default=8, help="pool size per worker")
    parser.add_argument("--pool", choices=("threads", "prefork"), default="threads",
                        help="the workers' pool (threads, as deployed)")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds the sandbox takes per provider API call")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from sync_workers.sandbox.server import Sandbox

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandbox's access log
    sandbox = Sandbox().start()
    # Before any settings are read; the workers inherit it. INFO: the bench counts the
    # workers' "reconciled" records.
    use_bench_environment(**sandbox.env(), SYNC_LOG_LEVEL="INFO",
                          SYNC_METRICS_PORT="0",  # several workers on one host
                          SYNC_PUBLIC_URL="http://127.0.0.1:9")  # push notifications: nowhere
    try:
        from bench.reconcile_run import run

        run(sandbox, count=args.links, workers=args.workers, concurrency=args.concurrency,
            pool=args.pool, latency=args.latency)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()

"""Webhook requests per second and latency of the receiver under gunicorn, beside a bare
Flask endpoint on the same gunicorn settings, measured in the same run.

    python bench/bench_receiver.py [--requests 4000] [--concurrency 16] [--workers 2]

Needs PostgreSQL and Redis (`make services`); uses its own database and Redis database.
Each request is a valid Google push notification with a new message number, so every one
is verified (channel lookup, constant-time token check), deduplicated and enqueued.
"""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import prepare_store, summary, use_bench_environment  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(app: str, port: int, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--worker-class", "gthread", "--threads", "4", "--log-level", "warning",
         app], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"gunicorn for {app} did not start")


def make_channel() -> dict[str, str]:
    from sync_workers.store import endpoints
    from sync_workers.store.db import cursor

    with cursor() as cur:
        cur.execute("""INSERT INTO accounts (provider, external_account_id, owner)
                       VALUES ('google', 'bench@example.com', 'bench') RETURNING id""")
        account_id = cur.fetchone()["id"]
    endpoints.add_push_channel(account_id, "google", "bench-channel", "bench-token",
                               datetime.now(timezone.utc) + timedelta(days=1))
    return {"X-Goog-Channel-ID": "bench-channel", "X-Goog-Channel-Token": "bench-token",
            "X-Goog-Resource-State": "exists", "X-Goog-Resource-ID": "bench-resource"}


def load(port: int, total: int, concurrency: int, headers: dict[str, str]) -> dict:
    counter = iter(range(2, total + 2))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                break
            started = time.perf_counter()
            conn.request("POST", "/webhooks/google/calendar", body=b"",
                         headers={**headers, "X-Goog-Message-Number": str(number)})
            resp = conn.getresponse()
            resp.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {**summary(latencies, time.perf_counter() - started), "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per target")
    parser.add_argument("--concurrency", type=int, default=16, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()

    use_bench_environment()
    prepare_store()
    headers = make_channel()
    results = {}
    for name, app in (("bare Flask endpoint (baseline)", "bench.bare_app:app"),
                      ("receiver: Google push", "sync_workers.receiver.wsgi:app")):
        port = free_port()
        proc = start_gunicorn(app, port, args.workers)
        try:
            load(port, min(200, args.requests), args.concurrency, headers)  # warm-up
            results[name] = load(port, args.requests, args.concurrency, headers)
        finally:
            proc.terminate()
            proc.wait(10)
        print(f"  {name}: done", file=sys.stderr)

    from sync_workers.reliability.locks import redis_client

    queued = redis_client().llen("events")
    print(f"\nreceiver benchmark: {args.requests} requests, {args.concurrency} connections, "
          f"gunicorn gthread {args.workers}x4, {os.cpu_count()} cores")
    print(f"{'target':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for name, r in results.items():
        print(f"{name:<34}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}  {r['statuses']}")
    print(f"events queued by the receiver: {queued}")
    redis_client().flushdb()


if __name__ == "__main__":
    main()

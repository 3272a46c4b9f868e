"""One process of the single-flight test: THREADS threads call get_valid_token together.

Run as `python -m tests.integration.auth_single_flight_child ACCOUNT MARKER THREADS` with
the sandbox's SYNC_* URLs in the environment. Each thread reports itself ready in Redis;
when the test sets the go key, all threads of all processes call at once. Prints one JSON
list: per thread the SHA-256 of the token it got (never the token) and its version.
"""
from __future__ import annotations

import hashlib
import json
import sys
import threading
import time

from sync_workers.auth import get_valid_token
from sync_workers.logging import configure_logging
from sync_workers.reliability.locks import redis_client


def main(account_id: int, marker: str, threads: int) -> None:
    configure_logging("INFO")
    client = redis_client()
    go = threading.Event()
    results: list[dict] = [{} for _ in range(threads)]

    def call(i: int) -> None:
        client.incr(f"probe:ready:{marker}")
        go.wait(30)
        try:
            token = get_valid_token(account_id)
            results[i] = {"sha": hashlib.sha256(token.access_token.encode()).hexdigest(),
                          "version": token.version}
        except Exception as exc:  # noqa: BLE001 (reported to the test, which fails on it)
            results[i] = {"error": f"{type(exc).__name__}: {exc}"}

    workers = [threading.Thread(target=call, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while not client.get(f"probe:go:{marker}") and time.monotonic() < deadline:
        time.sleep(0.001)
    go.set()
    for worker in workers:
        worker.join()
    print(json.dumps(results))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))

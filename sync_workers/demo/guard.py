"""One demo at a time per Redis database: two would share the queues, and each one's worker
would run the other's tasks against the wrong sandbox (and each run disables the demo
accounts of the runs before it).

The claim is a Redis key with a short TTL that a thread keeps alive, so a demo killed
without its clean-up frees the database within TTL seconds.
"""
from __future__ import annotations

import os
import socket
import threading

from ..reliability.locks import redis_client

KEY = "sync:demo:running"
TTL = 30

# Compare-and-act, so a run never refreshes or deletes a claim that has passed to another.
_REFRESH = "if redis.call('get', KEYS[1]) == ARGV[1] then " \
           "return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then " \
           "return redis.call('del', KEYS[1]) else return 0 end"


class DemoAlreadyRunning(RuntimeError):
    pass


class RunClaim:
    def __init__(self, run_id: str) -> None:
        self.client = redis_client()
        self.token = f"run {run_id}, pid {os.getpid()} on {socket.gethostname()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep_alive, name="demo-claim",
                                        daemon=True)

    def acquire(self) -> None:
        if not self.client.set(KEY, self.token, nx=True, ex=TTL):
            holder = (self.client.get(KEY) or b"?").decode()
            raise DemoAlreadyRunning(
                f"another demo ({holder}) runs against this Redis database; stop it, or "
                f"point SYNC_REDIS_URL and SYNC_BROKER_URL at another database")
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.client.eval(_RELEASE, 1, KEY, self.token)

    def _keep_alive(self) -> None:
        while not self._stop.wait(TTL / 3):
            try:
                self.client.eval(_REFRESH, 1, KEY, self.token, TTL)
            except Exception:  # noqa: BLE001 (Redis blips: the next round tries again)
                pass

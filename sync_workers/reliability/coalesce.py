"""Coalesced runs: one holder at a time, and any number of requests during its run cause
at most one more run.

A caller first leaves a request (a member of one sorted set, scored by when it asked), then
tries the lock. The holder takes requests one at a time and runs once per request it took;
a caller that finds the lock held returns at once, because the holder will see its request
(it checks again after releasing, so a request made just before the release is not left
behind). A request whose holder died stays in the set, with its time, for a sweeper.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from .locks import LockBusy, held_lock, redis_client

REQUESTS_KEY = "sync:coalesce:requests"
T = TypeVar("T")


def request_run(name: str) -> None:
    redis_client().zadd(REQUESTS_KEY, {name: time.time()})


def coalesced(name: str, body: Callable[[], T], *, owner: str | None = None) -> list[T]:
    """Request a run of `body` under the lock `name`; the results of the runs this caller
    made (none when another holder serves the request)."""
    client = redis_client()
    request_run(name)
    results: list[T] = []
    while True:
        entered = False
        try:
            with held_lock(name, owner=owner):
                entered = True
                while client.zrem(REQUESTS_KEY, name):
                    results.append(body())
        except LockBusy:
            if entered:
                raise  # a lock inside the body, not ours
            return results
        if client.zscore(REQUESTS_KEY, name) is None:
            return results


def waiting(older_than_seconds: float) -> list[str]:
    """Requests nobody served for longer than the threshold (their holder died)."""
    return [member.decode() for member in redis_client().zrangebyscore(
        REQUESTS_KEY, "-inf", time.time() - older_than_seconds)]

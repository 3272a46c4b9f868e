"""Redis client and cross-process locks (one worker per link, one refresh per account)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import redis

from ..config import get_settings
from .errors import Transient

_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_client(url: str | None = None) -> redis.Redis:
    """One client per process and URL, made on first use (never at import, never pre-fork)."""
    url = url or get_settings().redis_url
    key = (os.getpid(), url)
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                             health_check_interval=30)
    return _clients[key]


# A lock a task holds outlives the task's hard time limit by this much, so it never expires
# under a live run; a dead run's lock is taken back by its redelivery (`owner`) or expires.
TASK_LOCK_MARGIN = 30


def task_lock_ttl() -> float:
    return get_settings().task_time_limit + TASK_LOCK_MARGIN


class LockBusy(Transient):
    """Another worker holds the lock; retry later instead of waiting for it here."""


@contextmanager
def held_lock(name: str, ttl: float | None = None, wait: float = 0.0,
              owner: str | None = None) -> Iterator[None]:
    """Hold `name` for at most `ttl` seconds (the TTL must outlast the work it guards; by
    default, a task's: `task_lock_ttl()`).

    `owner`: a name no other live run can have. A lock still held under it was left by a
    run that died (a redelivered message keeps its task id, and comes back only once its
    run is gone: worker lost, or past the visibility timeout); it is taken back at once
    rather than waited out for its whole TTL.
    """
    lock = redis_client().lock(f"sync:lock:{name}", timeout=ttl or task_lock_ttl(),
                               blocking=wait > 0, blocking_timeout=wait or None)
    try:
        acquired = lock.acquire(token=owner) or (owner is not None and _take_back(lock, owner))
    except redis.RedisError as exc:
        raise Transient(f"lock {name}: redis unavailable ({type(exc).__name__})") from exc
    if not acquired:
        raise LockBusy(f"lock {name} is held by another worker")
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass  # expired meanwhile: the TTL was the guard, nothing left to release


def _take_back(lock: redis.lock.Lock, owner: str) -> bool:
    """Renew the lock's TTL if it is held under `owner` (atomic compare in Lua)."""
    lock.local.token = lock.redis.get_encoder().encode(owner)
    try:
        return lock.reacquire()
    except redis.exceptions.LockNotOwnedError:
        lock.local.token = None
        return False

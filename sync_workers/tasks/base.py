"""The base task class: applies the one retry policy so tasks never look at status codes.

A task body raises our errors (reliability.errors). This class decides:
- retryable errors (Transient, RateLimited, Conflict, AuthExpired) -> retry with the
  policy's delay, never sooner than the server's Retry-After; rate-limit waits do not spend
  the retry budget (they are the provider pacing us, not the call failing);
- a wait longer than the policy's cap, exhausted retries, Permanent, InvalidInput, or an
  unexpected exception -> the task fails, and the task_failure hook dead-letters it;
- AuthRevoked -> the account is parked (parking.py), the task ends without a dead letter.
A message whose pool process was killed is re-delivered (reject_on_worker_lost); after
`max_deliveries` such deliveries of one run it is dead-lettered instead of looping.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import kombu.exceptions
import psycopg2
import redis
from celery import Task
from celery.exceptions import Reject

from .. import counters
from ..config import get_settings
from ..reliability.errors import (
    AuthRevoked,
    InvalidInput,
    Permanent,
    RateLimited,
    SyncError,
    Transient,
)
from ..reliability.locks import LockBusy, redis_client
from ..reliability.retry import RetryPolicy, TooLongWait
from ..sync.errors import InvalidModel
from .parking import park_task

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x_attempt"  # failures that spent the retry budget so far
FIRST_FAILED_HEADER = "x_first_failed_at"
RATE_WAITED_HEADER = "x_rate_waited"  # seconds this task has waited out rate limits so far
_CARRIED_HEADERS = ("x_request_id", "x_replay_of", ATTEMPT_HEADER, FIRST_FAILED_HEADER,
                    RATE_WAITED_HEADER)
_BROKER_ERRORS = (OSError, redis.RedisError, kombu.exceptions.OperationalError)
_INFRA_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError, redis.ConnectionError,
                 redis.TimeoutError)


def policy_from_settings() -> RetryPolicy:
    s = get_settings()
    return RetryPolicy(max_attempts=s.retry_max_attempts, base_delay=s.retry_base_delay,
                       max_delay=s.retry_max_delay)


class ReliableTask(Task):
    abstract = True
    max_retries = None  # the policy decides, not Celery's counter
    max_deliveries = 3  # re-deliveries after a killed worker before giving up
    _policy: RetryPolicy | None = None

    @property
    def policy(self) -> RetryPolicy:
        if self._policy is None:
            self._policy = policy_from_settings()
        return self._policy

    def __call__(self, *args, **kwargs):
        if self.request.called_directly:
            return self.run(*args, **kwargs)
        self._count_delivery()
        try:
            return self.run(*args, **kwargs)
        except AuthRevoked as exc:
            return self.on_parked(exc, args, kwargs)
        except InvalidModel as exc:  # the core refused a value: as any invalid input
            raise InvalidInput(exc.reason) from exc
        except SyncError as exc:
            if not exc.retryable:
                raise
            self._retry_or_fail(exc)
        except _INFRA_ERRORS as exc:
            self._retry_or_fail(Transient(f"{type(exc).__name__}: {exc}"), cause=exc)

    def _retry_or_fail(self, exc: SyncError, cause: BaseException | None = None):
        headers = self._headers()
        budget_spent = int(headers.get(ATTEMPT_HEADER) or 0)
        # Waiting for a provider's pacing, or for another worker holding the same record's
        # lock (its TTL bounds the wait), is not this task failing: no budget is spent.
        waiting = isinstance(exc, (RateLimited, LockBusy))
        attempt = budget_spent + (0 if waiting else 1)
        if not waiting and not self.policy.can_retry(attempt):
            log.warning("retries exhausted", extra={"error_type": type(exc).__name__,
                                                    "reason": exc.reason, "attempts": attempt})
            raise exc from cause
        try:
            delay = self.policy.next_delay(max(attempt, 1), getattr(exc, "retry_after", None))
        except TooLongWait as wait:
            raise Permanent(f"{exc.reason}; {wait}", provider=exc.provider,
                            status=exc.status) from exc
        if isinstance(exc, RateLimited):
            headers[RATE_WAITED_HEADER] = self._rate_wait(exc, headers, delay, cause)
        headers.update({ATTEMPT_HEADER: attempt,
                        FIRST_FAILED_HEADER: headers.get(FIRST_FAILED_HEADER) or _now_iso()})
        log.info("retrying", extra={"error_type": type(exc).__name__, "reason": exc.reason,
                                    "attempt": attempt, "countdown": round(delay, 3)})
        counters.count_retry(self.name, type(exc).__name__, delay,
                             rate_limited_by=(exc.provider or "unknown")
                             if isinstance(exc, RateLimited) else None)
        try:
            retry = self.retry(exc=exc, countdown=delay, headers=headers, throw=False)
        except Reject as rejected:
            if not isinstance(rejected.reason, _BROKER_ERRORS):
                raise
            # The broker is unreachable: a dead letter would drop a healthy task. The
            # message stays unacked and the worker restores it when the broker is back (a
            # reconcile's intent is also in PostgreSQL, where the sweeper finds it).
            log.warning("retry not published: broker unreachable; the message is kept",
                        extra={"error_type": type(rejected.reason).__name__})
            raise Reject(rejected.reason, requeue=True) from None
        self.on_retry_scheduled(delay)
        raise retry

    def _rate_wait(self, exc: RateLimited, headers: dict, delay: float,
                   cause: BaseException | None) -> float:
        """Rate-limit waits spend no retries but have a total budget: an account throttled
        for that long ends in a dead letter with the reason, not a retry loop forever."""
        waited = float(headers.get(RATE_WAITED_HEADER) or 0) + delay
        budget = get_settings().rate_limit_budget
        if waited > budget:
            raise Permanent(f"{exc.reason}; rate-limited for {round(waited - delay)} s in "
                            f"total, past the wait budget of {budget} s (SYNC_RATE_LIMIT_"
                            f"BUDGET)", provider=exc.provider, status=exc.status) from cause
        return round(waited, 3)

    def on_retry_scheduled(self, countdown: float) -> None:
        """A retry is published to run in `countdown` seconds (a hook for subclasses)."""

    def _headers(self) -> dict:
        """Our headers, carried into the retry (a retry's headers replace the message's)."""
        req = self.request
        return {name: req.get(name) for name in _CARRIED_HEADERS if req.get(name)}

    def _count_delivery(self) -> None:
        """Count deliveries of this run; one killed again and again must not loop forever."""
        key = f"sync:deliveries:{self.request.id}:{self.request.retries}"
        try:
            client = redis_client()
            count = client.incr(key)
            client.expire(key, 86400)
        except redis.RedisError:
            return  # counting is a guard, not a reason to fail the task
        if count > self.max_deliveries:
            raise Permanent(f"worker process lost {count - 1} times while running this task")

    def on_parked(self, exc: AuthRevoked, args, kwargs):
        """The account needs re-authorisation: the work is recorded as parked."""
        park_task(self, exc, args, kwargs)
        counters.count_parked(self.name)
        return None


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()



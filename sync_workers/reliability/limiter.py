"""The fleet-wide limiter: one pause and one call budget per provider account, in Redis.

Every worker consults it before a call (`before_call`), so a 429 on account A pauses every
worker's calls to A until the server's Retry-After / X-RateLimit-Reset, while account B
goes on; a rate limit without a server hint pauses A for a wait that doubles with each
consecutive one (capped), and calm lets the count lapse. The proactive budgets keep us
under the documented quotas before the server has to say so (a fixed window: simple, and
at worst twice the budget across a window's edge, still under the providers' hard limits
as set here). Salesforce's budget is its daily allowance, paced from `Sforce-Limit-Info`
(providers/salesforce_pacing.py).

Without Redis the limiter lets calls through: the providers' own 429s remain the guard.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

from ..config import get_settings
from .errors import RateLimited
from .locks import redis_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    calls: int
    per_seconds: int


# From ../providers docs: Google 600 requests/min per user; Graph 10,000 per 10 min per
# mailbox; HubSpot 110 per 10 s per installed account; Calendly 500/min per user.
BUDGETS = {
    "google": Budget(600, 60),
    "microsoft": Budget(10_000, 600),
    "hubspot": Budget(110, 10),
    "calendly": Budget(500, 60),
}
FIRST_WAIT = 2.0  # seconds, a rate limit without a hint; doubles per consecutive one
STRIKES_LAPSE = 2.0  # the strike count lapses after this many times the last wait

# Keep the later of the stored and the new resume time (never shorten a pause).
_EXTEND_PAUSE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return tostring(math.max(current, tonumber(ARGV[1])))
"""


class FleetLimiter:
    def __init__(self, provider: str, account_id: int, budget: Budget | None = None) -> None:
        self.provider = provider
        self.account_id = account_id
        self.budget = budget if budget is not None else BUDGETS.get(provider)
        base = f"sync:limit:{provider}:{account_id}"
        self._pause_key, self._strikes_key, self._calls_key = (
            f"{base}:pause", f"{base}:strikes", f"{base}:calls")

    def before_call(self) -> None:
        """RateLimited (with the wait) while the account is paused or over its budget."""
        now = time.time()
        try:
            pipe = redis_client().pipeline(transaction=False)
            pipe.get(self._pause_key)
            window = None
            if self.budget is not None:
                window = int(now // self.budget.per_seconds)
                key = f"{self._calls_key}:{window}"
                pipe.incr(key)
                pipe.expire(key, self.budget.per_seconds * 2)
            replies = pipe.execute()
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable: calling anyway",
                        extra={"provider": self.provider, "error_type": type(exc).__name__})
            return
        resume_at = float(replies[0] or 0)
        if resume_at > now:
            raise self._limited(f"{self.provider} account {self.account_id} is paused by a "
                                f"rate limit", resume_at - now)
        if window is not None and replies[1] > self.budget.calls:
            ends = (window + 1) * self.budget.per_seconds
            raise self._limited(f"{self.provider} account {self.account_id} used its budget "
                                f"of {self.budget.calls} calls per {self.budget.per_seconds} s",
                                ends - now)

    def rate_limited(self, error: RateLimited) -> RateLimited:
        """The server said slow down: pause the account for every worker. The error that
        comes back carries the wait every caller must honour."""
        wait = error.retry_after
        try:
            client = redis_client()
            if wait is None:
                strikes = client.incr(self._strikes_key)
                wait = min(FIRST_WAIT * 2 ** (strikes - 1), get_settings().retry_max_delay)
                client.expire(self._strikes_key, int(wait * STRIKES_LAPSE) + 1)
            resume_at = float(client.eval(_EXTEND_PAUSE, 1, self._pause_key,
                                          time.time() + wait, int(wait * 1000) + 1))
        except redis.RedisError:
            return error  # the task's own backoff still applies
        wait = max(wait, resume_at - time.time())
        log.warning("provider rate limit: account paused",
                    extra={"provider": self.provider, "account_id": self.account_id,
                           "pause_seconds": round(wait, 3),
                           "server_hint": error.retry_after is not None})
        return RateLimited(error.reason, retry_after=wait, provider=error.provider,
                           status=error.status)

    def _limited(self, reason: str, wait: float) -> RateLimited:
        return RateLimited(reason, retry_after=max(wait, 0.001), provider=self.provider)

"""Slow down before the org's daily API allowance runs out, not after.

Every Salesforce answer says how much of the rolling 24-hour allowance is used
(`Sforce-Limit-Info: api-usage=18/5000`). `observe` (a requests response hook) keeps the
last figure per account in Redis, so every worker sees it; `check` refuses to start an
operation once usage passes PAUSE_AT, with RateLimited, so the tasks back off while the
org's users and other integrations still have calls left. The server's own 403
REQUEST_LIMIT_EXCEEDED stays the hard stop (classify turns it into RateLimited too).

A remembered figure expires after REMEMBER_SECONDS: calls age out of the rolling window,
so after a pause one call probes the org again. Pacing is a courtesy: without Redis it
lets calls through rather than stopping the sync.
"""
from __future__ import annotations

import logging

import redis
import requests

from ..config import Settings, get_settings
from ..reliability.errors import InvalidInput, RateLimited
from ..reliability.locks import redis_client
from ..schemas.salesforce import ApiUsage, load_sforce_limit_info

log = logging.getLogger(__name__)
PAUSE_AT = 0.9  # share of the daily allowance after which new operations wait
REMEMBER_SECONDS = 300
USAGE_HEADER = "Sforce-Limit-Info"
_KEY = "sync:salesforce:api-usage:{}"


class ApiPacing:
    def __init__(self, account_id: int, *, pause_at: float = PAUSE_AT,
                 settings: Settings | None = None) -> None:
        self.account_id = account_id
        self.pause_at = pause_at
        self.settings = settings
        self._key = _KEY.format(account_id)

    def observe(self, resp: requests.Response, *args, **kwargs) -> None:
        """Response hook: remember the usage the answer reports (errors report it too)."""
        header = resp.headers.get(USAGE_HEADER)
        if header is None:
            return
        try:
            usage = load_sforce_limit_info(header)
            redis_client().set(self._key, f"{usage.used}/{usage.limit}", ex=REMEMBER_SECONDS)
        except InvalidInput as error:
            log.warning("salesforce usage header unreadable",
                        extra={"account_id": self.account_id, "reason": error.reason})
        except redis.RedisError as error:
            self._redis_down(error)

    def check(self) -> None:
        """RateLimited when the last known usage is past PAUSE_AT of the allowance."""
        usage, remembered_for = self._last_usage()
        if usage is None or usage.used < self.pause_at * usage.limit:
            return
        # Our own pause, not the server's demand: keep it under the retry cap, so the task
        # is retried rather than parked for waiting too long.
        wait = min(max(remembered_for, 1), (self.settings or get_settings()).retry_max_delay)
        log.warning("salesforce api usage high: pausing",
                    extra={"account_id": self.account_id, "api_used": usage.used,
                           "api_limit": usage.limit, "retry_after": wait})
        raise RateLimited(f"salesforce API usage {usage.used}/{usage.limit} is past "
                          f"{self.pause_at:.0%} of the daily allowance",
                          retry_after=wait, provider="salesforce")

    def _last_usage(self) -> tuple[ApiUsage | None, int]:
        try:
            pipe = redis_client().pipeline()
            raw, ttl = pipe.get(self._key).ttl(self._key).execute()
        except redis.RedisError as error:
            self._redis_down(error)
            return None, 0
        if raw is None:
            return None, 0
        return load_sforce_limit_info(f"api-usage={raw.decode()}"), ttl

    def _redis_down(self, error: redis.RedisError) -> None:
        log.warning("salesforce pacing without redis",
                    extra={"account_id": self.account_id, "reason": type(error).__name__})

"""The HTTP edge every adapter uses: timeouts, X-Request-ID, errors turned into ours.

Adapters and the OAuth token calls use `ProviderHttp.request(...)` and get a successful
`requests.Response` or one of our error types; nothing above this layer looks at a status
code.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests

from ..counters import count_provider_call
from ..logging import new_request_id, redact, request_id
from .classify import classify_exception, classify_response
from .errors import RateLimited
from .limiter import FleetLimiter

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read
_local = threading.local()


def shared_session(provider: str) -> requests.Session:
    """One session per thread and provider, kept across tasks, so calls reuse connections
    (TLS set up once). It keeps no cookies: one session serves many accounts, and every
    call carries its own account's token. Per thread: a Session is not thread-safe."""
    if getattr(_local, "pid", None) != os.getpid():  # new thread, or a forked child
        _local.sessions, _local.pid = {}, os.getpid()
    sessions = _local.sessions
    if provider not in sessions:
        session = requests.Session()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        sessions[provider] = session
    return sessions[provider]


class ProviderHttp:
    def __init__(self, provider: str, session: requests.Session | None = None,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 limiter: FleetLimiter | None = None) -> None:
        """`limiter`: the account's fleet-wide limiter, consulted before every call and
        told of every rate limit (OAuth token calls have none)."""
        self.provider = provider
        self.session = session or shared_session(provider)
        self.timeout = timeout
        self.limiter = limiter

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                **kwargs: Any) -> requests.Response:
        if self.limiter is not None:
            self.limiter.before_call()
        headers = {"X-Request-ID": request_id() or new_request_id(), **(headers or {})}
        started = time.monotonic()
        try:
            resp = self.session.request(method, url, headers=headers,
                                        timeout=kwargs.pop("timeout", self.timeout), **kwargs)
        except requests.RequestException as exc:
            count_provider_call(self.provider, None, time.monotonic() - started)
            log.warning("provider call failed", extra=self._fields(method, url, None, started))
            raise classify_exception(exc, self.provider) from exc
        count_provider_call(self.provider, resp.status_code, time.monotonic() - started)
        log.info("provider call", extra=self._fields(method, url, resp.status_code, started))
        error = classify_response(resp, self.provider)
        if isinstance(error, RateLimited) and self.limiter is not None:
            error = self.limiter.rate_limited(error)
        if error is not None:
            raise error
        return resp

    def _fields(self, method: str, url: str, status: int | None, started: float) -> dict:
        return {"provider": self.provider, "method": method, "url": redact(url.split("?")[0]),
                "status": status, "elapsed_ms": round((time.monotonic() - started) * 1000, 1)}

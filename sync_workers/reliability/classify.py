"""Turn one HTTP outcome into our error types, once, at the adapter boundary.

connection errors, timeouts, 408, 5xx        -> Transient
429, Google 403 rate-limit reasons,
Salesforce REQUEST_LIMIT_EXCEEDED           -> RateLimited (with the server's wait, if any)
401                                          -> AuthExpired
409 on a write, 412                          -> Conflict
other 4xx                                    -> Permanent
"""
from __future__ import annotations

import json
from typing import Any

import requests

from .errors import AuthExpired, Conflict, Permanent, RateLimited, SyncError, Transient
from .retry import parse_retry_after

# Google's 403s of its usage limits ("Calendar usage limits exceeded": quotaExceeded; the
# rate limits), and anything else in the usageLimits domain, are waits, not refusals.
_GOOGLE_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
_GOOGLE_RATE_DOMAIN = "usageLimits"
_SALESFORCE_RATE_CODES = {"REQUEST_LIMIT_EXCEEDED"}


def classify_exception(exc: BaseException, provider: str | None = None) -> SyncError:
    """A failure before any HTTP answer: the server may or may not have acted."""
    if isinstance(exc, SyncError):
        return exc
    kind = type(exc).__name__
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return Transient(f"{kind} talking to {provider or 'provider'}", provider=provider)
    return Transient(f"{kind}: {exc}", provider=provider)


def classify_response(resp: requests.Response, provider: str | None = None) -> SyncError | None:
    """None for success (2xx, 3xx); otherwise the error to raise."""
    return classify_status(resp.status_code, resp.headers, _json_or_none(resp), provider,
                           now=None)


def classify_status(status: int, headers: Any, body: Any, provider: str | None = None,
                    now: float | None = None) -> SyncError | None:
    if status < 400:
        return None
    reason = f"HTTP {status} from {provider or 'provider'}: {_error_text(body)}"
    kw = {"provider": provider, "status": status}
    wait = parse_retry_after(headers, now=now)
    if status == 429 or _is_rate_limit_body(body):
        return RateLimited(reason, retry_after=wait, **kw)
    if status == 408 or status >= 500:
        return RateLimited(reason, retry_after=wait, **kw) if wait else Transient(reason, **kw)
    if status == 401:
        return AuthExpired(reason, **kw)
    if status in (409, 412):
        return Conflict(reason, **kw)
    return Permanent(reason, **kw)


def _is_rate_limit_body(body: Any) -> bool:
    return bool(_google_reasons(body) & _GOOGLE_RATE_REASONS
                or _GOOGLE_RATE_DOMAIN in _google_reasons(body, key="domain")
                or _salesforce_codes(body) & _SALESFORCE_RATE_CODES)


def _google_reasons(body: Any, key: str = "reason") -> set[str]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return {e.get(key) for e in body["error"].get("errors", []) if isinstance(e, dict)}
    return set()


def _salesforce_codes(body: Any) -> set[str]:
    if isinstance(body, list):
        return {e.get("errorCode") for e in body if isinstance(e, dict)}
    return set()


def _error_text(body: Any) -> str:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        return f"{first.get('errorCode', '')} {first.get('message', '')}".strip()
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("code") or "")
        return str(body.get("message") or body.get("error_description") or err or "")
    return "" if body is None else str(body)[:200]


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except (ValueError, json.JSONDecodeError):
        return resp.text[:500] or None

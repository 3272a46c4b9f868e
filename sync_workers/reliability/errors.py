"""Our error types. Adapters raise these; tasks decide by type, never by status code.

Every error carries `reason`, a short text that ends up in logs and dead letters, and
optionally the `provider` and HTTP `status` it came from (for metrics, not decisions).
"""
from __future__ import annotations


class SyncError(Exception):
    retryable = False

    def __init__(self, reason: str, *, provider: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider = provider
        self.status = status


class Transient(SyncError):
    """The call may work if repeated later: network trouble, timeouts, 5xx, 408."""
    retryable = True


class RateLimited(Transient):
    """The provider asked us to slow down; never retry before `retry_after` seconds."""

    def __init__(self, reason: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(reason, **kw)
        self.retry_after = retry_after


class AuthExpired(SyncError):
    """The access token was rejected (401): refresh once and repeat the call once."""
    retryable = True


class AuthRevoked(SyncError):
    """The grant is gone (invalid_grant): park the account until a person reconnects it."""

    def __init__(self, reason: str, *, account_id: int | None = None, **kw) -> None:
        super().__init__(reason, **kw)
        self.account_id = account_id


class Conflict(SyncError):
    """Someone changed the record since we read it (412, 409 on a write): re-read, re-plan."""
    retryable = True


class Permanent(SyncError):
    """Repeating the same call cannot succeed: 4xx other than the above."""


class InvalidInput(Permanent):
    """The payload itself is wrong (schema, time zone, missing field): dead-letter it."""

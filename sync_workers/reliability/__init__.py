"""Error types, error classification, retry policy, locks and idempotency keys."""
from .errors import (
                     AuthExpired,
                     AuthRevoked,
                     Conflict,
                     InvalidInput,
                     Permanent,
                     RateLimited,
                     SyncError,
                     Transient,
)

__all__ = ["AuthExpired", "AuthRevoked", "Conflict", "InvalidInput", "Permanent", "RateLimited",
           "SyncError", "Transient"]

"""What the store returns: frozen values, one per table family (Link is the core's)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Account:
    id: int
    provider: str
    external_account_id: str
    owner: str
    status: str  # active | reauth_required | disabled
    last_error: str | None = None
    updated_at: datetime | None = None

"""What the store returns: frozen values, one per row shape (Link is the core's).

Field names are the column names, in the table's order, so `asdict(record)` prints what
an operator saw when the store returned rows; hashes and ciphertexts stay out of reprs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# --- accounts and tokens -------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    id: int
    provider: str
    external_account_id: str
    owner: str
    status: str  # active | reauth_required | disabled
    last_error: str | None = None
    updated_at: datetime | None = None
    owner_emails: tuple[str, ...] = ()  # the signed-in owner's addresses (calendars)

    def __post_init__(self) -> None:
        object.__setattr__(self, "owner_emails", tuple(self.owner_emails or ()))


@dataclass(frozen=True)
class AccountDetails:
    """`accounts show`: the account, its token's state (never the token), parked count."""
    id: int
    provider: str
    external_account_id: str
    owner: str
    status: str
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    expires_at: datetime | None  # the token columns are None for an account without one
    token_version: int | None
    refreshed_at: datetime | None
    has_refresh_token: bool
    extras: dict[str, Any] | None
    parked: int


@dataclass(frozen=True)
class TokenRow:
    """An account with its token's ciphertexts (None where it has no token): what auth
    decrypts."""
    account_id: int
    provider: str
    external_account_id: str
    owner: str
    status: str
    last_error: str | None
    access_token_enc: str | None = field(repr=False)
    refresh_token_enc: str | None = field(repr=False)
    expires_at: datetime | None
    extras: dict[str, Any] | None
    version: int | None


@dataclass(frozen=True)
class TokenCiphertexts:
    """One token row's ciphertexts, for re-encryption under a new key."""
    account_id: int
    access_token_enc: str = field(repr=False)
    refresh_token_enc: str | None = field(repr=False)


@dataclass(frozen=True)
class ParkedTask:
    id: int
    task_id: str
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    account_id: int | None
    reason: str
    request_id: str | None
    status: str  # parked | superseded
    superseded_by: str | None  # the reconciliation's task id
    parked_at: datetime
    resolved_at: datetime | None


# --- push channels and webhook endpoints ---------------------------------------------------


@dataclass(frozen=True)
class PushChannel:
    id: int
    account_id: int
    provider: str
    channel_id: str
    resource_id: str | None
    token_hash: bytes = field(repr=False)
    expires_at: datetime
    status: str  # active | stopped
    created_at: datetime
    stopped_at: datetime | None


@dataclass(frozen=True)
class ChannelSummary:
    """A push channel as operators list it: no token hash."""
    account_id: int
    channel_id: str
    status: str
    expires_at: datetime


@dataclass(frozen=True)
class WebhookEndpoint:
    id: int
    account_id: int
    provider: str
    secret_hash: bytes = field(repr=False)
    organization_id: str | None
    created_at: datetime


# --- dead letters ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetterRecord:
    """A stored dead letter (`dead_letters.DeadLetter` is what is recorded)."""
    id: int
    task_id: str
    task_name: str
    queue: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    error_type: str
    error_message: str
    traceback: str | None
    attempts: int
    request_id: str | None
    account_id: int | None
    first_failed_at: datetime
    last_failed_at: datetime
    status: str  # open | replayed | discarded
    replay_of: int | None
    replayed_task_id: str | None
    replayed_at: datetime | None
    discard_reason: str | None
    discarded_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class DeadLetterSummary:
    """A dead letter as `dlq list` shows it: no payload, no traceback."""
    id: int
    task_id: str
    task_name: str
    error_type: str
    error_message: str
    attempts: int
    account_id: int | None
    request_id: str | None
    status: str
    first_failed_at: datetime
    last_failed_at: datetime
    replayed_task_id: str | None


# --- links, for operators (the sync itself reads `sync.Link`) ------------------------------


@dataclass(frozen=True)
class LinkSummary:
    """A link as `links list` shows it."""
    id: int
    status: str
    calendar_account_id: int
    calendar_event_id: str
    crm_account_id: int
    crm_event_id: str | None
    crm_contact_id: str | None
    reconciled_at: datetime | None


@dataclass(frozen=True)
class LinkRow:
    """The whole `sync_links` row with both accounts' providers."""
    id: int
    calendar_account_id: int
    crm_account_id: int
    calendar_event_id: str
    crm_event_id: str | None
    crm_contact_id: str | None
    calendar_fingerprint: str | None
    crm_fingerprint: str | None
    calendar_version: str | None
    crm_version: str | None
    status: str
    last_contact_email: str | None
    origin: str
    reconciled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    calendar_provider: str
    crm_provider: str


@dataclass(frozen=True)
class LinkChange:
    """One `sync_log` row: a field the sync changed on one side."""
    side: str
    action: str
    field: str
    old_value: str | None
    new_value: str | None
    request_id: str | None
    at: datetime


@dataclass(frozen=True)
class LinkDetails:
    """`links show`: the link and its latest changes, newest first."""
    link: LinkRow
    changes: tuple[LinkChange, ...]

"""Google push channels: open when an account connects, replace before expiry, close on
disconnect. Channels cannot be renewed: open the new one first, then stop the old, so
there is never a gap (a notification arriving twice meanwhile is deduplicated)."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

from ..config import get_settings
from ..reliability.errors import SyncError
from ..store import accounts, endpoints
from ..store.records import PushChannel
from .adapters import calendar_of

log = logging.getLogger(__name__)
CHANNEL_TTL = timedelta(days=7)
RENEW_BEFORE = timedelta(days=1)


def push_address() -> str:
    return f"{get_settings().public_url}/webhooks/google/calendar"


def open_channel(account_id: int) -> str:
    """A channel on the account's primary calendar, the one the sync reads."""
    calendar = calendar_of(account_id)
    channel_id, token = uuid.uuid4().hex, endpoints.new_secret()
    info = calendar.watch(channel_id, push_address(), token, int(CHANNEL_TTL.total_seconds()))
    # Stored before the first `exists` can matter; the `sync` message needs no lookup.
    endpoints.add_push_channel(account_id, "google", info.channel_id, token, info.expires_at,
                               info.resource_id)
    log.info("push channel opened", extra={"account_id": account_id, "channel": channel_id,
                                           "expires_at": info.expires_at.isoformat()})
    return channel_id


def close_channel(channel: PushChannel) -> None:
    calendar_of(channel.account_id).stop_watch(channel.channel_id, channel.resource_id)
    endpoints.mark_channel_stopped(channel.channel_id)


def renew_expiring(now: datetime | None = None) -> int:
    """Replace every channel due; each on its own, so one account's trouble never costs
    the others their push. Returns how many were replaced."""
    now = now or datetime.now(timezone.utc)
    renewed = 0
    for channel in endpoints.channels_expiring_before(now + RENEW_BEFORE):
        account = accounts.get_account(channel.account_id)
        if account is None or account.status != "active":
            # Parked or disconnected: no token to call with, nothing to push for. Marked
            # stopped here; Google lets the channel run out, the receiver refuses it.
            endpoints.mark_channel_stopped(channel.channel_id)
            log.info("push channel of an inactive account stopped",
                     extra={"account_id": channel.account_id, "channel": channel.channel_id})
            continue
        try:
            open_channel(channel.account_id)
            close_channel(channel)
        except SyncError as exc:  # this channel is tried again at the next run, while due
            log.warning("push channel not renewed", extra={
                "account_id": channel.account_id, "channel": channel.channel_id,
                "error_type": type(exc).__name__, "reason": exc.reason})
            continue
        renewed += 1
    return renewed


def close_all(account_id: int) -> int:
    channels = endpoints.active_channels(account_id)
    for channel in channels:
        close_channel(channel)
    return len(channels)

"""Push channels and webhook endpoints: what a delivery must match to be believed.

Only hashes of channel tokens and endpoint secrets are stored; a delivery is checked by
hashing what it presents and comparing in constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from .db import Tx, columns, fetch_all, fetch_one, fetch_value, joined
from .records import ChannelSummary, PushChannel, WebhookEndpoint


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def matches(presented: str | None, stored_hash: bytes | None) -> bool:
    if not presented or stored_hash is None:
        return False
    return hmac.compare_digest(_digest(presented), stored_hash)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def add_push_channel(account_id: int, provider: str, channel_id: str, token: str,
                     expires_at: datetime, resource_id: str | None = None, *,
                     tx: Tx | None = None) -> int:
    with joined(tx) as tx:
        tx.execute(
            """INSERT INTO push_channels (account_id, provider, channel_id, resource_id,
                   token_hash, expires_at)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
            (account_id, provider, channel_id, resource_id, _digest(token), expires_at),
        )
        return fetch_value(tx)


def get_push_channel(channel_id: str, *, tx: Tx | None = None) -> PushChannel | None:
    with joined(tx) as tx:
        tx.execute(f"SELECT {columns(PushChannel)} FROM push_channels WHERE channel_id = %s",
                   (channel_id,))
        return fetch_one(tx, PushChannel)


def channels_expiring_before(when: datetime, *, tx: Tx | None = None) -> list[PushChannel]:
    with joined(tx) as tx:
        tx.execute(f"""SELECT {columns(PushChannel)} FROM push_channels
                       WHERE status = 'active' AND expires_at < %s ORDER BY expires_at""",
                   (when,))
        return fetch_all(tx, PushChannel)


def active_channels(account_id: int, *, tx: Tx | None = None) -> list[PushChannel]:
    """The account's channels that still deliver: active and not expired."""
    with joined(tx) as tx:
        tx.execute(f"""SELECT {columns(PushChannel)} FROM push_channels
                       WHERE account_id = %s AND status = 'active'
                         AND expires_at > now()""", (account_id,))
        return fetch_all(tx, PushChannel)


def list_channels(account_id: int | None = None, *,
                  tx: Tx | None = None) -> list[ChannelSummary]:
    """Active and stopped channels by id, for operators (never their token hashes)."""
    with joined(tx) as tx:
        tx.execute(f"""SELECT {columns(ChannelSummary)} FROM push_channels
                       WHERE %(a)s IS NULL OR account_id = %(a)s ORDER BY id""",
                   {"a": account_id})
        return fetch_all(tx, ChannelSummary)


def mark_channel_stopped(channel_id: str, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("""UPDATE push_channels SET status = 'stopped', stopped_at = now()
                      WHERE channel_id = %s""", (channel_id,))


def add_webhook_endpoint(account_id: int, provider: str, secret: str,
                         organization_id: str | None = None, *, tx: Tx | None = None) -> int:
    with joined(tx) as tx:
        tx.execute(
            """INSERT INTO webhook_endpoints (account_id, provider, secret_hash, organization_id)
               VALUES (%s, %s, %s, %s) RETURNING id""",
            (account_id, provider, _digest(secret), organization_id),
        )
        return fetch_value(tx)


def get_webhook_endpoint(endpoint_id: int, *, tx: Tx | None = None) -> WebhookEndpoint | None:
    with joined(tx) as tx:
        tx.execute(f"SELECT {columns(WebhookEndpoint)} FROM webhook_endpoints WHERE id = %s",
                   (endpoint_id,))
        return fetch_one(tx, WebhookEndpoint)

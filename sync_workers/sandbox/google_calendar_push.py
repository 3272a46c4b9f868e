"""Google Calendar push notifications: watch channels and what they POST.

A channel gets a `sync` message when it is made and an `exists` message for every change
of its calendar while it lives (not stopped, not expired on the sandbox clock). Messages
have an EMPTY body; everything is in X-Goog-* headers. They go through
`state.webhooks.send`, so the sandbox's delivery faults (drop, duplicate, delay, reorder)
apply, and like Google's they are sent once, never retried. Callers hold `state.lock`.
"""
from __future__ import annotations

import ipaddress
import random
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from .core import SandboxState
from .google_calendar_errors import (
    GoogleApiError,
    invalid,
    not_found,
    parse_error,
    required,
)

MAX_LIFETIME_S = 7 * 24 * 3600  # the default, and the longest Google grants for events
_CHANNEL_ID = re.compile(r"[A-Za-z0-9\-_+/=]{1,64}")
_PROJECT = "sandbox-project"
_USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    owner: str
    calendar_key: tuple[str, str]
    address: str
    token: str | None
    expiration_ms: int
    stopped: bool = False
    message_number: int = 0

    def live(self, now_ms: int) -> bool:
        return not self.stopped and now_ms < self.expiration_ms

    def resource(self) -> dict[str, Any]:
        out = {"kind": "api#channel", "id": self.id, "resourceId": self.resource_id,
               "resourceUri": self.resource_uri}
        if self.token is not None:
            out["token"] = self.token
        out["expiration"] = str(self.expiration_ms)
        return out


class Channels:
    def __init__(self, state: SandboxState, rng: random.Random) -> None:
        self.state = state
        self.rng = rng
        self.items: list[Channel] = []

    def watch(self, owner: str, calendar_key: tuple[str, str], resource_id: str,
              resource_uri: str, body: Any) -> Channel:
        if not isinstance(body, dict):
            raise parse_error()
        now_ms = self._now_ms()
        channel_id = _channel_id(body.get("id"))
        if any(c.id == channel_id and c.live(now_ms) for c in self.items):
            raise GoogleApiError(400, "channelIdNotUnique", "Channel id not unique.")
        _check_type(body.get("type"))
        channel = Channel(channel_id, resource_id, resource_uri, owner, calendar_key,
                          _address(body.get("address")), _token(body.get("token")),
                          _expiration(body, now_ms))
        self.items.append(channel)
        channel.message_number = 1  # the sync message is always number 1
        self._send(channel, "sync")
        return channel

    def stop(self, owner: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise parse_error()
        channel_id, resource_id = body.get("id"), body.get("resourceId")
        if not channel_id or not resource_id:
            raise required()
        now_ms = self._now_ms()
        wanted = (channel_id, resource_id, owner)
        for channel in self.items:
            if (channel.id, channel.resource_id, channel.owner) == wanted and channel.live(now_ms):
                channel.stopped = True
                return
        error = not_found()
        error.message = error.top_message = (
            f"Channel '{channel_id}' not found for project '{_PROJECT}'")
        raise error

    def notify(self, calendar_key: tuple[str, str]) -> None:
        now_ms = self._now_ms()
        for channel in self.items:
            if channel.calendar_key == calendar_key and channel.live(now_ms):
                # Numbers grow per channel but are not consecutive, as Google documents.
                channel.message_number += self.rng.randint(1, 3)
                self._send(channel, "exists")

    def describe(self) -> list[dict[str, Any]]:
        now_ms = self._now_ms()
        return [{**c.resource(), "address": c.address, "owner": c.owner,
                 "calendarId": c.calendar_key[1], "stopped": c.stopped,
                 "live": c.live(now_ms), "lastMessageNumber": c.message_number}
                for c in self.items]

    def _send(self, channel: Channel, resource_state: str) -> None:
        expires = datetime.fromtimestamp(channel.expiration_ms / 1000, tz=timezone.utc)
        headers = {
            "User-Agent": _USER_AGENT,
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": format_datetime(expires, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": resource_state,
            "X-Goog-Message-Number": str(channel.message_number),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        self.state.webhooks.send("google", channel.address, headers, b"")

    def _now_ms(self) -> int:
        return int(self.state.clock.time() * 1000)


def _channel_id(value: Any) -> str:
    if value is None or value == "":
        raise required()
    if not isinstance(value, str) or not _CHANNEL_ID.fullmatch(value):
        raise invalid("Invalid channel id: at most 64 characters of [A-Za-z0-9-_+/=].")
    return value


def _check_type(value: Any) -> None:
    if value is None:
        raise required()
    if value not in ("web_hook", "webhook"):
        raise GoogleApiError(400, "push.channelTypeNotSupported",
                             f"Channel type '{value}' is not supported.", domain="push")


def _address(value: Any) -> str:
    if not value:
        raise required()
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise invalid(f"Invalid webhook address: {value}")
    # Google only calls https URLs; the sandbox lets plain http through to loopback only,
    # where test receivers listen.
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise GoogleApiError(400, "push.webhookUrlNotHttps",
                             f"WebHook callback must be HTTPS: {value}", domain="push")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 256):
        raise invalid("Invalid channel token: a string of at most 256 characters.")
    return value


def _expiration(body: dict[str, Any], now_ms: int) -> int:
    """Requested expiration (ms string) or params.ttl (seconds), capped at the maximum."""
    latest = now_ms + MAX_LIFETIME_S * 1000
    wanted = body.get("expiration")
    ttl = (body.get("params") or {}).get("ttl") if isinstance(body.get("params"), dict) else None
    try:
        if wanted is not None:
            requested = int(wanted)
        elif ttl is not None:
            requested = now_ms + int(ttl) * 1000
        else:
            return latest
    except (TypeError, ValueError):
        raise invalid(f"Invalid value for: expiration ({wanted!r})") from None
    if requested <= now_ms:
        raise invalid("The expiration time must be in the future.")
    return min(requested, latest)

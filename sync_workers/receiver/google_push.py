"""Google Calendar push notifications: verify the channel, dedupe, enqueue, answer.

A notification has an empty body; everything is in the X-Goog-* headers. The channel
token, set by us when the channel was created, is the only proof of origin: compared in
constant time against the stored hash. `sync` messages only confirm a new channel.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, request

from ..store import endpoints
from .errors import error_response
from .intake import BrokerUnavailable

google_push = Blueprint("google_push", __name__)
RESOURCE_STATES = {"sync", "exists", "not_exists"}


@google_push.post("/webhooks/google/calendar")
def receive():
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    token = request.headers.get("X-Goog-Channel-Token")
    state = request.headers.get("X-Goog-Resource-State", "")
    number = request.headers.get("X-Goog-Message-Number", "")
    if not channel_id or not token:
        return error_response(401, "missing channel id or channel token")
    if len(channel_id) > 64 or state not in RESOURCE_STATES or not number.isdigit():
        return error_response(400, "malformed notification headers")
    channel = current_app.extensions["sync_channels"].get(channel_id)
    if channel is None or not endpoints.matches(token, channel.token_hash):
        return error_response(403, "unknown channel or wrong channel token")
    if channel.status != "active" or channel.expires_at < datetime.now(timezone.utc):
        return error_response(403, "channel stopped or expired")
    if state == "sync":
        return "", 200
    event = {"provider": "google", "kind": "calendar_changed",
             "account_id": channel.account_id, "channel_id": channel_id,
             "resource_state": state, "message_number": int(number)}
    try:
        current_app.extensions["sync_intake"].accept(
            f"google:{channel_id}:{number}", event,
            summary=f"google channel {channel_id} message {number}")
    except BrokerUnavailable as exc:
        return error_response(503, str(exc))
    return "", 200

"""Connect links: who may start connecting which provider for which owner, until when.

    link = base64url(payload) "." base64url(HMAC-SHA256(key, base64url(payload)))
    payload = JSON {"v": 1, "provider": ..., "owner": ..., "exp": unix seconds, "nonce": ...}

base64url without padding; the MAC covers the encoded payload exactly as sent, so a host
application needs no canonical JSON. Signed with the first SYNC_SECRET_KEY (UTF-8 bytes),
accepted with any configured key (rotation). See docs/connect-links.md.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Sequence
from urllib.parse import quote

VERSION = 1
DEFAULT_TTL = 3600


class InvalidLink(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaims:
    provider: str
    owner: str
    expires_at: int
    nonce: str


def sign_link(provider: str, owner: str, key: str, ttl: int = DEFAULT_TTL,
              now: float | None = None, nonce: str | None = None) -> str:
    if ttl <= 0:
        raise ValueError("a connect link needs a positive time to live")
    payload = {"v": VERSION, "provider": provider, "owner": owner,
               "exp": int((time.time() if now is None else now) + ttl),
               "nonce": nonce or secrets.token_urlsafe(16)}
    encoded = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{encoded}.{_b64(_mac(key, encoded))}"


def verify_link(link: str, keys: Sequence[str], now: float | None = None) -> LinkClaims:
    encoded, dot, signature = (link or "").partition(".")
    if not encoded or not dot or not signature:
        raise InvalidLink("missing or malformed connect link")
    try:
        given = _unb64(signature)
        payload = json.loads(_unb64(encoded))
    except (ValueError, binascii.Error):
        raise InvalidLink("malformed connect link") from None
    if not any(hmac.compare_digest(_mac(key, encoded), given) for key in keys):
        raise InvalidLink("connect link signature does not verify")
    claims = _claims(payload)
    if claims.expires_at <= (time.time() if now is None else now):
        raise InvalidLink("connect link has expired")
    return claims


def start_url(public_url: str, provider: str, link: str) -> str:
    return f"{public_url.rstrip('/')}/oauth/{quote(provider)}/start?link={quote(link)}"


def _claims(payload: object) -> LinkClaims:
    if not isinstance(payload, dict) or payload.get("v") != VERSION:
        raise InvalidLink(f"connect link payload is not version {VERSION}")
    provider, owner = payload.get("provider"), payload.get("owner")
    exp, nonce = payload.get("exp"), payload.get("nonce")
    if not (isinstance(provider, str) and isinstance(owner, str) and owner
            and isinstance(exp, int) and isinstance(nonce, str) and nonce):
        raise InvalidLink("connect link payload lacks provider, owner, exp or nonce")
    return LinkClaims(provider, owner, exp, nonce)


def _mac(key: str, encoded: str) -> bytes:
    return hmac.new(key.encode("utf-8"), encoded.encode("ascii"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

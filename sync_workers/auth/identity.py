"""Whose consent a token response carries: the provider's stable id of the user or org,
and the owner's e-mail addresses where the sign-in names them (never the id: Google's
`sub` is an opaque number, Microsoft's `oid` a GUID).

The id_token is read without checking its signature: it came straight from the token
endpoint over TLS in answer to our own request, which OpenID Connect Core 3.1.3.7 accepts
in place of the signature. It only names the account; it grants nothing.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from ..reliability.errors import Permanent
from . import oauth_http
from .registry import ProviderConfig


@dataclass(frozen=True)
class Identity:
    external_id: str
    emails: tuple[str, ...] = ()  # lower-case; empty where the provider names none


def identify(config: ProviderConfig, tokens: Mapping[str, Any]) -> Identity:
    if config.identity == "id_token":
        claims = _id_token_claims(config, tokens.get("id_token"))
        return Identity(_first_claim(config, claims), _emails(config, claims))
    return Identity(external_account_id(config, tokens))


def _first_claim(config: ProviderConfig, claims: Mapping[str, Any]) -> str:
    for name in config.identity_claims:
        if claims.get(name):
            return str(claims[name])
    raise _missing(config, f"id_token claims {', '.join(config.identity_claims)}")


def _emails(config: ProviderConfig, claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The owner's addresses among the e-mail claims; one Google marks unverified is not
    the owner's to claim. A sign-in name without an @ (a phone number) is no address."""
    if claims.get("email_verified") is False:
        return ()
    found = []
    for name in config.email_claims:
        value = str(claims.get(name) or "").strip().lower()
        if "@" in value and value not in found:
            found.append(value)
    return tuple(found)


def external_account_id(config: ProviderConfig, tokens: Mapping[str, Any]) -> str:
    if config.identity == "id_token":
        return _first_claim(config, _id_token_claims(config, tokens.get("id_token")))
    if config.identity == "identity_url":  # .../id/<org id>/<user id>
        parts = [p for p in urlsplit(str(tokens.get("id") or "")).path.split("/") if p]
        if len(parts) < 3 or parts[-3] != "id":
            raise _missing(config, "identity URL `id`")
        return f"{parts[-2]}/{parts[-1]}"
    if config.identity == "token_info":
        info = oauth_http.token_info(config, tokens["access_token"])
        values = [info.get(name) for name in config.token_info_fields]
        if not all(values):
            raise _missing(config, f"token info fields {', '.join(config.token_info_fields)}")
        return "/".join(str(v) for v in values)
    raise ValueError(f"{config.name}: unknown identity source {config.identity!r}")


def _id_token_claims(config: ProviderConfig, id_token: str | None) -> dict[str, Any]:
    try:
        payload = (id_token or "").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise _missing(config, "a readable id_token (was the openid scope granted?)") from None
    if not isinstance(claims, dict):
        raise _missing(config, "id_token claims")
    return claims


def _missing(config: ProviderConfig, what: str) -> Permanent:
    return Permanent(f"{config.name} token response lacks {what}", provider=config.name)

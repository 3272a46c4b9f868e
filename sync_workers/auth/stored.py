"""Between a token row and what callers get: decrypt, decide freshness, shape a Token.

Every plaintext token that passes through here is registered with the log redaction, so
whatever logs it later by mistake prints [REDACTED].
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from ..logging import register_secret
from ..reliability.errors import AuthRevoked, Permanent
from ..store.records import TokenRow
from .crypto import TokenCipher
from .registry import ProviderConfig

# Refresh this long before the provider's expiry: a token must outlive the call it is for.
REFRESH_LEEWAY = timedelta(seconds=120)


class AccountParked(AuthRevoked):
    """AuthRevoked for an account already marked (reauth_required or disabled) by auth."""


class AccountNotFound(Permanent):
    pass


@dataclass(frozen=True)
class Token:
    """What a caller needs to address the provider's API as this account."""
    account_id: int
    provider: str
    access_token: str = field(repr=False)
    api_base_url: str
    expires_at: datetime | None  # None: the provider does not say (Salesforce)
    version: int
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def authorization(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def url(self, url_or_path: str) -> str:
        if url_or_path.startswith(("https://", "http://")):
            return url_or_path
        return f"{self.api_base_url}/{url_or_path.lstrip('/')}"


@dataclass(frozen=True)
class StoredGrant:
    """One account's decrypted token row."""
    account_id: int
    provider: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    extras: dict[str, Any]
    version: int

    def needs_refresh(self, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False  # refreshed on demand, after a 401 (see tokens.invalidate)
        return self.expires_at - (now or utcnow()) <= REFRESH_LEEWAY

    def token(self, config: ProviderConfig) -> Token:
        try:
            base = config.api_base(self.extras)
        except ValueError as exc:
            raise Permanent(str(exc), provider=self.provider) from None
        return Token(self.account_id, self.provider, self.access_token, base,
                     self.expires_at, self.version, dict(self.extras))

    def refreshed(self, config: ProviderConfig, response: Mapping[str, Any]) -> "StoredGrant":
        """This grant after a refresh answer; no refresh token in it keeps ours."""
        fields = grant_fields(config, response)
        return replace(self, access_token=fields.access_token,
                       refresh_token=fields.refresh_token or self.refresh_token,
                       expires_at=fields.expires_at, extras={**self.extras, **fields.extras})


@dataclass(frozen=True)
class GrantFields:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    extras: dict[str, Any]


def grant_fields(config: ProviderConfig, response: Mapping[str, Any]) -> GrantFields:
    """What we keep of a token endpoint's answer."""
    for name in ("access_token", "refresh_token", "id_token"):
        register_secret(response.get(name))
    if not response.get("access_token"):
        raise Permanent(f"{config.name} token response has no access_token",
                        provider=config.name)
    expires_in = response.get("expires_in")
    expires_at = utcnow() + timedelta(seconds=int(expires_in)) \
        if config.expires_in_response and expires_in else None
    extras = {k: response[k] for k in config.keep_fields if k in response}
    return GrantFields(response["access_token"], response.get("refresh_token"), expires_at,
                       extras)


def usable_grant(row: TokenRow | None, account_id: int, cipher: TokenCipher) -> StoredGrant:
    """The decrypted grant of an active account; AccountParked for any other status."""
    if row is None:
        raise AccountNotFound(f"account {account_id} does not exist")
    if row.status != "active":
        raise AccountParked(f"account {account_id} is {row.status}: "
                            f"{row.last_error or 'reconnect it to resume'}",
                            account_id=account_id, provider=row.provider)
    if row.access_token_enc is None:
        raise Permanent(f"account {account_id} has no stored tokens", provider=row.provider)
    access = cipher.decrypt(row.access_token_enc)
    refresh = cipher.decrypt(row.refresh_token_enc) if row.refresh_token_enc else None
    register_secret(access)
    register_secret(refresh)
    return StoredGrant(account_id, row.provider, access, refresh, row.expires_at,
                       dict(row.extras or {}), row.version)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

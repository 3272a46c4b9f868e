"""The one question the rest of the code asks: `get_valid_token(account_id)`.

A fresh stored token is returned without a lock or a provider call; one that is due goes
through the single-flight refresh (refresh.py). `invalidate` is how a 401 makes a token due
for providers that never say when it expires (Salesforce).
"""
from __future__ import annotations

from ..config import Settings, get_settings
from ..store import accounts as repo
from ..store.db import transaction
from .crypto import cipher_for
from .refresh import refresh_if_due
from .registry import registry_for
from .stored import Token, usable_grant


def get_valid_token(account_id: int, settings: Settings | None = None) -> Token:
    """A token valid for at least REFRESH_LEEWAY (or of unknown expiry).

    Raises AccountParked (an AuthRevoked) for an account that needs re-authorisation,
    Transient when the provider cannot refresh right now, AccountNotFound.
    """
    settings = settings or get_settings()
    grant = usable_grant(repo.read_token(account_id), account_id, cipher_for(settings.secret_keys))
    if not grant.needs_refresh():
        return grant.token(registry_for(settings).get(grant.provider))
    return refresh_if_due(account_id, settings)


def invalidate(token: Token, settings: Settings | None = None) -> bool:
    """The provider rejected `token`: make it due, unless a newer one replaced it already.

    True when this call marked it; the next get_valid_token refreshes (once, however many
    callers saw the same 401).
    """
    settings = settings or get_settings()
    cipher = cipher_for(settings.secret_keys)
    with transaction() as tx:
        row = repo.read_token(token.account_id, lock=True, tx=tx)
        if row is None or row.access_token_enc is None \
                or cipher.decrypt(row.access_token_enc) != token.access_token:
            return False
        repo.expire_now(token.account_id, tx=tx)
        return True


def rotate_encryption(settings: Settings | None = None) -> int:
    """Re-encrypt every stored token with the first SYNC_SECRET_KEY; returns rows done.

    One transaction: a failure (a row matching no key) leaves every row as it was.
    """
    cipher = cipher_for((settings or get_settings()).secret_keys)
    with transaction() as tx:
        rows = repo.lock_all_tokens(tx=tx)
        for row in rows:
            refresh = row.refresh_token_enc
            repo.replace_ciphertexts(row.account_id, cipher.rotate(row.access_token_enc),
                                     cipher.rotate(refresh) if refresh else None, tx=tx)
    return len(rows)

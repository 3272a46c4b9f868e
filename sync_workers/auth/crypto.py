"""Tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256) with keys derived from SYNC_SECRET_KEY.

The configured secrets are free-form strings, so each one is stretched into a Fernet key
with HKDF-SHA256 (a distinct `info`, so the same secret used to sign connect links yields
an unrelated key here). MultiFernet encrypts with the first key and decrypts with any, which
is key rotation: put the new key first, keep the old ones until `rotate` has re-encrypted
every row, then drop them.
"""
from __future__ import annotations

import base64
from functools import lru_cache
from typing import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"sync-workers"
_INFO = b"oauth-tokens-at-rest v1"


class TokenDecryptionError(RuntimeError):
    """A stored token was encrypted with a key that is no longer configured."""


def fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(
        secret.encode("utf-8"))
    return base64.urlsafe_b64encode(derived)


class TokenCipher:
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("SYNC_SECRET_KEY: at least one key is needed to encrypt tokens")
        self._fernet = MultiFernet([Fernet(fernet_key(s)) for s in secrets])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise TokenDecryptionError(
                "stored OAuth tokens cannot be decrypted with any key in SYNC_SECRET_KEY: was "
                "the key replaced without keeping the old one after it (new,old)?") from None

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext encrypted with the first key."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise TokenDecryptionError(
                "cannot re-encrypt: a stored token matches no key in SYNC_SECRET_KEY") from None


@lru_cache(maxsize=8)
def cipher_for(secrets: tuple[str, ...]) -> TokenCipher:
    """One cipher per key set (HKDF runs once per process, not per token)."""
    return TokenCipher(secrets)

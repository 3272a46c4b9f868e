"""Tokens at rest: Fernet keys derived from SYNC_SECRET_KEY, rotation, wrong keys."""
from __future__ import annotations

import pytest

from sync_workers.auth.crypto import TokenCipher, TokenDecryptionError, fernet_key

TOKEN = "ya29.a0AfH6SMBx-secret-access-token-value"


def test_a_token_round_trips_and_the_ciphertext_hides_it():
    cipher = TokenCipher(["k1"])
    ciphertext = cipher.encrypt(TOKEN)

    assert cipher.decrypt(ciphertext) == TOKEN
    assert TOKEN not in ciphertext and TOKEN[5:15] not in ciphertext
    assert cipher.encrypt(TOKEN) != ciphertext  # a fresh IV each time


def test_a_wrong_key_fails_with_an_error_naming_the_setting():
    ciphertext = TokenCipher(["k1"]).encrypt(TOKEN)
    with pytest.raises(TokenDecryptionError, match="SYNC_SECRET_KEY"):
        TokenCipher(["k2"]).decrypt(ciphertext)


def test_rotation_old_key_decrypts_new_key_encrypts_and_rotate_re_encrypts():
    old_ciphertext = TokenCipher(["old"]).encrypt(TOKEN)
    both = TokenCipher(["new", "old"])

    assert both.decrypt(old_ciphertext) == TOKEN
    rotated = both.rotate(old_ciphertext)
    assert TokenCipher(["new"]).decrypt(rotated) == TOKEN
    assert TokenCipher(["new"]).decrypt(both.encrypt(TOKEN)) == TOKEN
    with pytest.raises(TokenDecryptionError):
        TokenCipher(["old"]).decrypt(rotated)


def test_rotate_refuses_a_token_of_an_unknown_key():
    with pytest.raises(TokenDecryptionError, match="SYNC_SECRET_KEY"):
        TokenCipher(["new"]).rotate(TokenCipher(["gone"]).encrypt(TOKEN))


def test_key_derivation_is_stable_and_distinct_per_secret():
    assert fernet_key("a") == fernet_key("a")
    assert fernet_key("a") != fernet_key("b")
    assert len(fernet_key("short")) == 44  # a valid Fernet key from any secret length


def test_no_keys_is_a_configuration_error():
    with pytest.raises(ValueError, match="SYNC_SECRET_KEY"):
        TokenCipher([])

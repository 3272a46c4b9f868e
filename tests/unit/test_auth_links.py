"""Connect links: signing, verification, expiry, key rotation, and the documented scheme."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from sync_workers.auth.links import InvalidLink, sign_link, start_url, verify_link

KEY = "first-key"
NOW = 1_800_000_000


def test_a_signed_link_verifies_to_its_claims():
    link = sign_link("google", "alice@example.com", KEY, ttl=600, now=NOW, nonce="n1")

    claims = verify_link(link, (KEY,), now=NOW + 599)

    assert (claims.provider, claims.owner, claims.expires_at, claims.nonce) == \
        ("google", "alice@example.com", NOW + 600, "n1")


def test_each_link_gets_its_own_nonce():
    assert sign_link("google", "a", KEY, now=NOW) != sign_link("google", "a", KEY, now=NOW)


def test_a_link_signed_with_an_older_configured_key_still_verifies():
    link = sign_link("hubspot", "bob", "old-key", now=NOW)
    assert verify_link(link, ("new-key", "old-key"), now=NOW).owner == "bob"


@pytest.mark.parametrize("now, reason", [(NOW + 600, "expired"), (NOW + 10_000, "expired")])
def test_an_expired_link_is_refused(now, reason):
    link = sign_link("google", "a", KEY, ttl=600, now=NOW)
    with pytest.raises(InvalidLink, match=reason):
        verify_link(link, (KEY,), now=now)


def test_a_link_signed_with_another_key_is_refused():
    with pytest.raises(InvalidLink, match="signature"):
        verify_link(sign_link("google", "a", "someone-else", now=NOW), (KEY,), now=NOW)


def test_a_changed_payload_breaks_the_signature():
    payload, signature = sign_link("google", "alice", KEY, now=NOW).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "owner": "mallory"}).encode())
    with pytest.raises(InvalidLink, match="signature"):
        verify_link(forged.decode().rstrip("=") + "." + signature, (KEY,), now=NOW)


@pytest.mark.parametrize("link", ["", "no-dot", ".", "abc.", ".abc", "a.b.c", "%%%.$$$",
                                  "é.é"])
def test_malformed_links_are_refused(link):
    with pytest.raises(InvalidLink):
        verify_link(link, (KEY,), now=NOW)


def _host_signed(payload: dict, key: str = KEY) -> str:
    """A host application following docs/connect-links.md, without our code."""
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    mac = hmac.new(key.encode(), encoded.encode(), hashlib.sha256).digest()
    return encoded + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_a_link_made_by_a_host_application_from_the_documented_scheme_verifies():
    link = _host_signed({"v": 1, "provider": "salesforce", "owner": "crm-user-7",
                         "exp": NOW + 60, "nonce": "host-nonce"})
    assert verify_link(link, (KEY,), now=NOW).provider == "salesforce"


@pytest.mark.parametrize("payload", [
    {"v": 2, "provider": "google", "owner": "a", "exp": NOW + 60, "nonce": "n"},
    {"v": 1, "provider": "google", "owner": "", "exp": NOW + 60, "nonce": "n"},
    {"v": 1, "provider": "google", "owner": "a", "exp": "soon", "nonce": "n"},
    {"v": 1, "provider": "google", "owner": "a", "exp": NOW + 60},
    ["not", "an", "object"],
])
def test_a_well_signed_but_incomplete_payload_is_refused(payload):
    with pytest.raises(InvalidLink):
        verify_link(_host_signed(payload), (KEY,), now=NOW)


def test_a_link_needs_a_positive_ttl():
    with pytest.raises(ValueError):
        sign_link("google", "a", KEY, ttl=0)


def test_start_url_quotes_the_link():
    assert start_url("https://sync.example.com/", "google", "a+b.c/d") == \
        "https://sync.example.com/oauth/google/start?link=a%2Bb.c/d"

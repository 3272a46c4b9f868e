"""When a stored token is due, and what a refresh answer changes."""
from __future__ import annotations

from datetime import timedelta

import pytest

from sync_workers.auth.registry import ProviderRegistry
from sync_workers.auth.stored import REFRESH_LEEWAY, StoredGrant, grant_fields, utcnow
from sync_workers.config import load_settings
from sync_workers.reliability.errors import Permanent

REGISTRY = ProviderRegistry.from_settings(load_settings({}))
NOW = utcnow()


def grant(provider="google", expires_in: float | None = 3600, **kw) -> StoredGrant:
    expires = None if expires_in is None else NOW + timedelta(seconds=expires_in)
    fields = {"account_id": 1, "provider": provider, "access_token": "old-access",
              "refresh_token": "old-refresh", "expires_at": expires,
              "extras": {"scope": "a"}, "version": 3, **kw}
    return StoredGrant(**fields)


def test_the_leeway_is_between_one_and_five_minutes():
    assert timedelta(seconds=60) <= REFRESH_LEEWAY <= timedelta(seconds=300)


@pytest.mark.parametrize("left, due", [(3600, False), (REFRESH_LEEWAY.total_seconds() + 1, False),
                                       (REFRESH_LEEWAY.total_seconds(), True), (0, True),
                                       (-60, True)])
def test_a_token_is_due_inside_the_leeway(left, due):
    assert grant(expires_in=left).needs_refresh(NOW) is due


def test_a_token_of_unknown_expiry_is_never_due_by_time():
    assert not grant("salesforce", expires_in=None).needs_refresh(NOW)


def test_a_refresh_without_a_refresh_token_keeps_ours():
    fresh = grant().refreshed(REGISTRY.get("google"),
                              {"access_token": "new-access", "expires_in": 3599})
    assert (fresh.access_token, fresh.refresh_token) == ("new-access", "old-refresh")
    assert fresh.expires_at > NOW + timedelta(seconds=3500)


def test_a_rotated_refresh_token_replaces_ours():
    fresh = grant("microsoft").refreshed(REGISTRY.get("microsoft"), {
        "access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 3599,
        "scope": "Calendars.ReadWrite", "id_token": "not-kept"})
    assert fresh.refresh_token == "new-refresh"
    assert fresh.extras == {"scope": "Calendars.ReadWrite"}


def test_salesforce_keeps_instance_url_and_has_no_expiry():
    fields = grant_fields(REGISTRY.get("salesforce"), {
        "access_token": "00D!x", "instance_url": "https://na1.sf.test", "signature": "s"})
    assert fields.expires_at is None
    assert fields.extras == {"instance_url": "https://na1.sf.test"}


def test_an_answer_without_access_token_is_permanent():
    with pytest.raises(Permanent, match="access_token"):
        grant_fields(REGISTRY.get("google"), {"token_type": "Bearer"})

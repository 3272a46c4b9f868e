from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sync_workers.schemas.time import to_utc
from sync_workers.sync import fingerprint

NOON = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
BASE = {"title": "Demo", "start": NOON, "all_day": False, "contact_email": "a@b.c",
        "location": None}


@pytest.mark.parametrize("variant", [
    {"start": to_utc("2024-05-06T12:00:00Z", field="start")},
    {"start": to_utc("2024-05-06T12:00:00+00:00", field="start")},
    {"start": NOON.astimezone(ZoneInfo("Europe/Paris"))},
    {"start": NOON.astimezone(timezone(timedelta(hours=-5)))},
    {"start": NOON.replace(microsecond=400)},
    {"title": "Demo  \n"},
    {"contact_email": " A@B.C"},
    {"location": "  "},
], ids=str)
def test_equal_meaning_gives_equal_fingerprints(variant):
    assert fingerprint({**BASE, **variant}) == fingerprint(BASE)


@pytest.mark.parametrize("variant", [
    {"start": NOON + timedelta(seconds=1)},
    {"title": "demo"},
    {"all_day": True},
    {"location": "Room"},
    {"start": date(2024, 5, 6)},
], ids=str)
def test_different_values_give_different_fingerprints(variant):
    assert fingerprint({**BASE, **variant}) != fingerprint(BASE)


def test_key_order_does_not_matter_and_the_hash_is_stable():
    assert fingerprint(dict(reversed(BASE.items()))) == fingerprint(BASE)
    # Pinned format: a fingerprint stored today must match the same state next release.
    canonical_json = b'{"start":"2024-05-06T12:00:00Z","title":"Demo"}'
    assert fingerprint({"title": "Demo", "start": NOON}) == \
        hashlib.sha256(canonical_json).hexdigest()

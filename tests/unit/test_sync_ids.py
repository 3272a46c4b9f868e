from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_workers.sync import calendar_event_id_for_crm

GOOGLE_CLIENT_ID = re.compile(r"[a-v0-9]{5,1024}")


@given(st.text(min_size=1, max_size=300))
def test_ids_are_valid_google_event_ids(crm_event_id):
    assert GOOGLE_CLIENT_ID.fullmatch(calendar_event_id_for_crm(crm_event_id))


def test_ids_are_stable_across_releases():
    # Pinned: changing this would duplicate every event created before the change.
    assert calendar_event_id_for_crm("00U5g00000XyZabEAF") == \
        "rgvlh6gocs3iqprhr1duoofc2sj52oakndavofgp75jeoi178r00"


@pytest.mark.parametrize("a, b", [
    (("00U5g00000XyZabEAF", "salesforce"), ("00U5g00000XyZabEAG", "salesforce")),
    (("00U5g00000XyZabEAF", "salesforce"), ("00u5g00000xyzabeaf", "salesforce")),  # case counts
    (("123", "salesforce"), ("123", "hubspot")),
])
def test_different_records_get_different_ids(a, b):
    assert calendar_event_id_for_crm(a[0], namespace=a[1]) != \
        calendar_event_id_for_crm(b[0], namespace=b[1])


def test_an_empty_id_is_refused():
    with pytest.raises(ValueError):
        calendar_event_id_for_crm("")

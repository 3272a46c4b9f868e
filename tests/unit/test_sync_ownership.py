from __future__ import annotations

import pytest

from sync_workers.sync import CANONICAL_FIELDS, DEFAULT_OWNERSHIP, Ownership

DEFAULT = dict(DEFAULT_OWNERSHIP.owners)


def test_default_table_crm_owns_the_contact_calendar_the_event():
    assert {name for name, side in DEFAULT.items() if side == "crm"} == {
        "contact_name", "contact_email", "contact_company", "other_people"}
    assert {name for name, side in DEFAULT.items() if side == "calendar"} == {
        "title", "start", "end", "all_day", "location", "status"}


def test_a_table_loads_from_a_dict():
    table = Ownership.from_dict({**DEFAULT, "location": "crm"})
    assert table.owner("location") == "crm" and table.owner("title") == "calendar"


@pytest.mark.parametrize("data, message", [
    ({**DEFAULT, "colour": "crm"}, "unknown fields"),
    ({name: side for name, side in DEFAULT.items() if name != "title"}, "no owner"),
    ({**DEFAULT, "title": "hubspot"}, "sides must be"),
    ({**DEFAULT, "start": "crm"}, "one span"),
])
def test_a_bad_table_fails_loudly(data, message):
    with pytest.raises(ValueError, match=message):
        Ownership.from_dict(data)


def test_the_table_cannot_change_after_loading():
    data = dict(DEFAULT)
    table = Ownership.from_dict(data)
    data["title"] = "crm"
    assert table.owner("title") == "calendar"
    assert set(table.owners) == set(CANONICAL_FIELDS)


def test_the_meetings_other_people_can_only_be_the_crms():
    with pytest.raises(ValueError, match="other_people.*only be the CRM's"):
        Ownership.from_dict({**DEFAULT, "other_people": "calendar"})

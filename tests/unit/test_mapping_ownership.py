"""The ownership table from YAML: the shipped default, and refusals naming the field."""
from __future__ import annotations

import pytest

from sync_workers.mapping.ownership import OwnershipError, load_ownership, parse_ownership
from sync_workers.sync import DEFAULT_OWNERSHIP

DEFAULT = dict(DEFAULT_OWNERSHIP.owners)


def test_the_shipped_file_is_the_default_table():
    assert load_ownership() == DEFAULT_OWNERSHIP


def test_a_file_can_give_the_title_to_the_crm(tmp_path):
    path = tmp_path / "ownership.yaml"
    path.write_text("\n".join(f"{k}: {'crm' if k == 'title' else v}"
                              for k, v in DEFAULT.items()))
    assert load_ownership(str(path)).owner("title") == "crm"


@pytest.mark.parametrize("change, reason", [
    ({"titel": "crm"}, "unknown fields \\['titel'\\]"),
    ({"title": None}, "sides must be one of"),
    ({"start": "crm"}, "one span and need one owner"),
    ({"contact_email": "calendar"}, "contact_email: the calendar cannot own contact data"),
    ({"other_people": "calendar"}, "other_people.*only be the CRM's"),
], ids=["unknown field", "no side", "a split span", "contact data", "other people"])
def test_a_table_the_sync_cannot_honour_is_refused_naming_the_field(change, reason):
    with pytest.raises(OwnershipError, match=reason):
        parse_ownership({**DEFAULT, **change}, where="test.yaml")


def test_a_missing_field_and_a_bad_file_are_refused(tmp_path):
    with pytest.raises(OwnershipError, match="no owner for \\['status'\\]"):
        parse_ownership({k: v for k, v in DEFAULT.items() if k != "status"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [")
    with pytest.raises(OwnershipError, match="bad.yaml"):
        load_ownership(str(bad))

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from sync_workers.sync import (
    Appointment,
    Attendee,
    Contact,
    ContactCard,
    calendar_view,
    contact_view,
    crm_view,
    normalize,
    replace_contact_block,
)

from .sync_builders import ADA, T0, all_day, synced, timed


def test_both_views_of_a_synced_pair_are_equal():
    _, appointment, crm = synced()
    assert calendar_view(appointment) == crm_view(crm.activity, crm.contact) == {
        "title": "Demo call", "start": T0, "end": timed().end, "all_day": False,
        "location": "Room 1", "status": "scheduled", "contact_name": "Ada Lovelace",
        "contact_email": "ada@example.com", "contact_company": "Analytical Engines",
        "other_people": None}


@pytest.mark.parametrize("change, field, expected", [
    ({"status": "tentative"}, "status", "scheduled"),
    ({"status": "cancelled"}, "status", "canceled"),
    ({"title": "   "}, "title", None),
    ({"location": " Room 2\n"}, "location", "Room 2"),
    ({"span": all_day()}, "end", all_day().end),
    ({"attendees": ()}, "contact_email", None),  # the e-mail counts only with its attendee
    ({"description": "no block"}, "contact_name", None),
])
def test_calendar_view(change, field, expected):
    _, appointment, _ = synced()
    assert calendar_view(replace(appointment, **change))[field] == expected


def test_a_cancelled_event_without_times_has_a_view():
    view = calendar_view(Appointment("e", "cancelled", None))
    assert view["status"] == "canceled" and view["start"] is None


@pytest.mark.parametrize("contact, expected", [
    (None, (None, None, None)),
    (replace(ADA, deleted=True), (None, None, None)),
    (Contact("003X", last_name="Lovelace"), ("Lovelace", None, None)),
    (Contact("003X", " Ada ", " de  Lovelace", " ADA@X.io ", "Acme\nLtd"),
     ("Ada de Lovelace", "ada@x.io", "Acme Ltd")),
])
def test_contact_view(contact, expected):
    view = contact_view(contact)
    assert (view["contact_name"], view["contact_email"], view["contact_company"]) == expected


@pytest.mark.parametrize("field, value, expected", [
    ("title", "  a  b ", "a  b"),
    ("contact_name", " a \n b ", "a b"),
    ("contact_email", "A@B.C", "a@b.c"),
    ("location", "", None),
    ("all_day", 1, True),
])
def test_normalize(field, value, expected):
    assert normalize(field, value) == expected


def test_normalize_refuses_unknown_fields():
    with pytest.raises(ValueError):
        normalize("colour", "red")


def test_the_crm_view_keeps_the_attendee_rule_out():
    _, appointment, crm = synced()
    assert crm_view(crm.activity, crm.contact)["contact_email"] == "ada@example.com"
    assert calendar_view(replace(appointment, attendees=(Attendee("x@y.z"),)))[
        "contact_email"] is None


def test_normalize_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="no time zone"):
        normalize("start", datetime(2024, 5, 6, 12))


def test_the_meetings_other_people_read_alike_on_both_sides():
    grace = Contact("003G", "Grace", "Hopper", "Grace@Navy.example", None)
    _, appointment, crm = synced()
    shown = replace(appointment, description=replace_contact_block(
        appointment.description, ContactCard("Ada Lovelace", "ada@example.com",
                                             "Analytical Engines"),
        (ContactCard("Grace Hopper", "grace@navy.example"),)))
    assert calendar_view(shown)["other_people"] == \
        crm_view(crm.activity, crm.contact, (grace,))["other_people"] == \
        (("Grace Hopper", "grace@navy.example", None),)

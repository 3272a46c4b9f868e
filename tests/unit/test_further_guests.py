"""Which guests are the meeting's further people: all but its contact, known by address."""
from __future__ import annotations

from sync_workers.engine.people import _further_guests
from sync_workers.sync import Attendee, Contact, Link

LINK = Link(1, 1, 2, "e1", last_contact_email="ada@client.example")
ADA, ALAN = Attendee("ada@client.example"), Attendee("alan@bletchley.example")


def test_the_contact_is_known_by_address_not_by_place():
    assert _further_guests((ALAN, ADA), LINK, None) == (ALAN,)


def test_a_contact_whose_address_changed_in_the_crm_is_still_the_contact():
    moved = Attendee("moved@client.example")
    contact = Contact("003A", email="moved@client.example")
    assert _further_guests((ALAN, moved), LINK, contact) == (ALAN,)
    assert _further_guests((ALAN, ADA), LINK, contact) == (ALAN,)


def test_without_a_known_contact_the_first_guest_is_it():
    assert _further_guests((ADA, ALAN), Link(1, 1, 2, "e1"), None) == (ALAN,)

"""Who is a guest (sync/guests.py) and which meetings are in the window (sync/window.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from sync_workers.sync import Appointment, Attendee, TimeSpan
from sync_workers.sync.guests import CalendarOwner, guests, has_left
from sync_workers.sync.window import SyncWindow

REP = CalendarOwner.of(["Rep@Ours.example"], internal_domains=["partner.example"])
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("attendee, guest", [
    (Attendee("ada@client.example"), True),
    (Attendee("ADA@Client.Example "), True),                          # as typed
    (Attendee("rep@ours.example"), False),                            # the owner, by address
    (Attendee("rep.alias@elsewhere.example", is_self=True), False),   # the owner, by flag
    (Attendee("colleague@ours.example"), False),                      # same domain
    (Attendee("team@eu.ours.example"), False),                        # a subdomain of ours
    (Attendee("friend@partner.example"), False),                      # SYNC_INTERNAL_DOMAINS
    (Attendee("room-1@resource.calendar.google.com", resource=True), False),
    (Attendee(None, "Dial-in"), False),                               # no address
    (Attendee("not-an-address"), False),
    (Attendee("ada@client.example", response="declined"), False),    # not coming
    (Attendee("ada@client.example", response="tentative"), True),
    (Attendee("ada@client.example", organizer=True), True),          # an outside organizer
], ids=repr)
def test_who_is_a_guest(attendee, guest):
    assert REP.is_guest(attendee) is guest


def test_a_public_mail_domain_is_not_internal_by_the_owners_address():
    owner = CalendarOwner.of(["rep@gmail.com"])
    assert owner.is_guest(Attendee("client@gmail.com"))
    assert not owner.is_guest(Attendee("rep@gmail.com"))


def test_guests_keep_their_order_once_each():
    meeting = Appointment("e1", "confirmed", TimeSpan(NOW, NOW + timedelta(hours=1), False),
                          attendees=(Attendee("rep@ours.example", is_self=True, organizer=True),
                                     Attendee("b@client.example"), Attendee("a@client.example"),
                                     Attendee("B@client.example")))
    assert [g.email for g in guests(meeting, REP)] == ["b@client.example", "a@client.example"]


WINDOW = SyncWindow.around(NOW, backfill_days=30, horizon_days=365)


@pytest.mark.parametrize("start, end, covered", [
    (NOW - timedelta(days=3), NOW - timedelta(days=3, hours=-1), True),
    (NOW - timedelta(days=200), NOW - timedelta(days=200, hours=-1), False),
    (NOW - timedelta(days=31), NOW - timedelta(days=29), True),       # ends inside
    (NOW + timedelta(days=364), NOW + timedelta(days=364, hours=1), True),
    (NOW + timedelta(days=366), NOW + timedelta(days=366, hours=1), False),
    (date(2026, 11, 6), date(2026, 11, 7), True),                     # all-day, 29.5 days ago
    (date(2026, 11, 1), date(2026, 11, 2), False),
], ids=repr)
def test_the_window(start, end, covered):
    span = TimeSpan(start, end, all_day=isinstance(start, date) and not isinstance(start,
                                                                                  datetime))
    assert WINDOW.covers(span) is covered


def test_a_cancelled_event_without_times_is_outside():
    assert not WINDOW.covers(None)


def _copy(*attendees: Attendee, status: str = "confirmed") -> Appointment:
    return Appointment("e1", status, TimeSpan(NOW, NOW + timedelta(hours=1), False),
                       attendees=attendees)


@pytest.mark.parametrize("appointment, left", [
    (None, True),                                                        # gone
    (_copy(Attendee("rep@ours.example", is_self=True, response="declined")), True),
    (_copy(Attendee("REP@ours.example", response="declined")), True),   # by address
    (_copy(Attendee("rep@ours.example", is_self=True, response="accepted")), False),
    (_copy(Attendee("ada@client.example", response="declined")), False),  # someone else
    (_copy(Attendee("rep@ours.example", is_self=True), status="cancelled"), False),  # called off
], ids=repr)
def test_who_has_left_their_copy(appointment, left):
    assert has_left(appointment, REP) is left

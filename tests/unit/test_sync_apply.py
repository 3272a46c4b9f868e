"""apply_calendar_patch: what the calendar adapter sends. Its result must read back as
the calendar's view with the patch laid over it, or plan() would never settle."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_workers.sync import Attendee, apply_calendar_patch, calendar_view
from sync_workers.sync.fields import normalize_all

from .sync_builders import T0, all_day, synced

texts = st.none() | st.text(alphabet="aB <&>\n", max_size=8)
emails = st.sampled_from([None, "ada@example.com", "NEW@example.com", "other@x.org"])
patches = st.fixed_dictionaries({}, optional={
    "title": texts, "location": texts, "status": st.sampled_from(["scheduled", "canceled"]),
    "contact_name": texts, "contact_email": emails, "contact_company": texts,
})


@given(patches, st.sampled_from(["", "notes", "<p>notes</p>"]), st.booleans())
def test_the_result_reads_back_as_view_plus_patch(patch, user_text, attendee_removed):
    link, appointment, _ = synced()
    appointment = replace(appointment, description=user_text + appointment.description,
                          attendees=appointment.attendees[:1 if attendee_removed else 2])
    patched = apply_calendar_patch(link, appointment, patch)
    assert calendar_view(patched) == {**calendar_view(appointment), **normalize_all(patch)}


def test_a_span_patch_replaces_the_span():
    link, appointment, _ = synced()
    patched = apply_calendar_patch(link, appointment, {
        "start": all_day().start, "end": all_day().end, "all_day": True})
    assert patched.span == all_day()


def test_a_create_patch_builds_the_event_from_nothing():
    link, appointment, _ = synced()
    patch = {**calendar_view(appointment), "crm_event_id": "00U1", "crm_contact_id": "003A"}
    created = apply_calendar_patch(link, None, patch)
    assert created.event_id == "evt1" and created.status == "confirmed"
    assert calendar_view(created) == calendar_view(appointment)
    assert dict(created.crm_refs) == {"crm_event_id": "00U1", "crm_contact_id": "003A"}


@pytest.mark.parametrize("current, status, expected", [
    ("confirmed", "canceled", "cancelled"),
    ("tentative", "scheduled", "tentative"),
    ("cancelled", "scheduled", "confirmed"),
])
def test_status(current, status, expected):
    link, appointment, _ = synced()
    assert apply_calendar_patch(link, replace(appointment, status=current),
                                {"status": status}).status == expected


def test_keys_set_and_cleared():
    link, appointment, _ = synced()
    patched = apply_calendar_patch(link, appointment,
                                   {"crm_event_id": "00U9", "crm_contact_id": None})
    assert dict(patched.crm_refs) == {"crm_event_id": "00U9"}


def test_other_attendees_and_a_changed_title_leave_the_contact_alone():
    link, appointment, _ = synced()
    appointment = replace(appointment, attendees=(*appointment.attendees, Attendee("z@z.z")))
    patched = apply_calendar_patch(link, appointment, {"title": "New"})
    assert patched.attendees == appointment.attendees
    assert patched.description == appointment.description


def test_unknown_patch_fields_are_refused():
    link, appointment, _ = synced()
    with pytest.raises(ValueError, match="colour"):
        apply_calendar_patch(link, appointment, {"colour": "red"})


def test_a_patch_without_both_ends_keeps_the_other():
    link, appointment, _ = synced()
    later = T0 + timedelta(minutes=30)
    patched = apply_calendar_patch(link, appointment, {"start": later})
    assert patched.span.start == later and patched.span.end == appointment.span.end

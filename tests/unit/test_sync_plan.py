"""plan(): one row per rule. Each row changes one thing on a converged link and states
the writes it must cause; every row then checks that applying them converges."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from sync_workers.sync import (
    Attendee,
    CrmSide,
    Ownership,
    Plan,
    apply_calendar_patch,
    calendar_view,
    plan,
    replace_contact_block,
)

from .sync_builders import ADA, GRACE, T0, all_day, apply_plan, card_of, synced, timed


def edit_appointment(**changes):
    return lambda link, appointment, crm: (link, replace(appointment, **changes), crm)


def edit_activity(**changes):
    return lambda link, appointment, crm: (
        link, appointment, CrmSide(replace(crm.activity, **changes), crm.contact))


def edit_link(**changes):
    return lambda link, appointment, crm: (replace(link, **changes), appointment, crm)


def both(*edits):
    def run(link, appointment, crm):
        for edit in edits:
            link, appointment, crm = edit(link, appointment, crm)
        return link, appointment, crm
    return run


def calendar_gone(link, appointment, crm):
    return link, None, crm


def activity_gone(link, appointment, crm):
    return link, appointment, CrmSide(None, crm.contact)


def contact_deleted(link, appointment, crm):
    return link, appointment, CrmSide(crm.activity, replace(crm.contact, deleted=True))


def merged_into_grace(link, appointment, crm):
    return link, appointment, CrmSide(replace(crm.activity, who_id=GRACE.id), GRACE)


def contact_email_changed(link, appointment, crm):
    return link, appointment, CrmSide(crm.activity,
                                      replace(crm.contact, email="ada@new.example"))


def attendee_removed(link, appointment, crm):
    return link, replace(appointment, attendees=appointment.attendees[:1]), crm


def block_edited(link, appointment, crm):
    edited = replace_contact_block(appointment.description,
                                   replace(card_of(ADA), name="Someone Else"))
    return link, replace(appointment, description=edited), crm


moved = timed(T0 + timedelta(hours=2), minutes=30)
span_patch = {"start": moved.start, "end": moved.end, "all_day": False}

RULES = [
    # (rule, edit, expected plan fields; "link" is the expected link_patch subset)
    ("converged sides write nothing", lambda *sides: sides, {"is_noop": True}),
    ("representation-only differences are converged",
     edit_appointment(title="  Demo call ", attendees=(Attendee("ADA@Example.com"),)),
     {"is_noop": True}),
    ("tentative reads as scheduled", edit_appointment(status="tentative"), {"is_noop": True}),
    ("calendar-owned title flows to the CRM", edit_appointment(title="Pricing call"),
     {"crm_action": "update", "crm_patch": {"title": "Pricing call"},
      "calendar_action": "none"}),
    ("a CRM edit of a calendar-owned field is overwritten", edit_activity(subject="Renamed"),
     {"crm_action": "update", "crm_patch": {"title": "Demo call"}, "calendar_action": "none"}),
    ("a moved event carries the whole span", edit_appointment(span=moved),
     {"crm_patch": span_patch}),
    ("a location cleared in the calendar is cleared in the CRM",
     edit_appointment(location=""), {"crm_patch": {"location": None}}),
    ("a CRM cancel is overwritten by the calendar's status", edit_activity(status="canceled"),
     {"crm_patch": {"status": "scheduled"}}),
    ("CRM-owned contact e-mail flows to the calendar", contact_email_changed,
     {"calendar_action": "update", "calendar_patch": {"contact_email": "ada@new.example"},
      "crm_action": "none", "link": {"last_contact_email": "ada@new.example"}}),
    ("an edited contact block is put back", block_edited,
     {"calendar_patch": {"contact_name": "Ada Lovelace"}, "crm_action": "none"}),
    ("a removed contact attendee is invited back", attendee_removed,
     {"calendar_patch": {"contact_email": "ada@example.com"}}),
    ("deleted CRM contact: block removed, link goes on without a contact", contact_deleted,
     {"calendar_patch": {"contact_name": None, "contact_email": None, "contact_company": None,
                         "crm_contact_id": None},
      "crm_action": "none", "link": {"crm_contact_id": None, "last_contact_email": None}}),
    ("merged contact: the activity's new who_id is followed", merged_into_grace,
     {"calendar_patch": {"contact_name": "Grace Hopper", "contact_email": "grace@example.com",
                         "contact_company": "Navy", "crm_contact_id": GRACE.id},
      "crm_action": "none", "link": {"crm_contact_id": GRACE.id}}),
    ("calendar cancelled -> CRM activity canceled", edit_appointment(status="cancelled"),
     {"crm_action": "update", "crm_patch": {"status": "canceled"}, "calendar_action": "none",
      "link": {"status": "canceled"}}),
    ("calendar deleted -> CRM activity canceled", calendar_gone,
     {"crm_action": "update", "crm_patch": {"status": "canceled"},
      "link": {"status": "canceled"}}),
    ("calendar deleted with on_calendar_delete=delete -> CRM activity deleted", calendar_gone,
     {"crm_action": "delete", "crm_patch": {}, "link": {"status": "deleted"}},
     {"on_calendar_delete": "delete"}),
    ("an already canceled pair stays quiet",
     both(edit_appointment(status="cancelled"), edit_activity(status="canceled"),
          edit_link(status="canceled")),
     {"calendar_action": "none", "crm_action": "none", "link": {"status": "absent"}}),
    ("a gone pair on a deleted link stays quiet",
     both(calendar_gone, activity_gone, edit_link(status="deleted")), {"is_noop": True},
     {"on_calendar_delete": "delete"}),
    ("restored calendar event revives the canceled activity",
     both(edit_activity(status="canceled"), edit_link(status="canceled")),
     {"crm_patch": {"status": "scheduled"}, "link": {"status": "active"}}),
    ("deleted CRM activity is re-created from the calendar", activity_gone,
     {"crm_action": "create", "calendar_action": "none",
      "crm_patch": {"title": "Demo call", "location": "Room 1", "status": "scheduled",
                    "start": T0, "end": T0 + timedelta(hours=1), "all_day": False,
                    "calendar_event_id": "evt1", "contact_id": ADA.id}}),
    ("deleted CRM activity of a canceled link stays deleted",
     both(activity_gone, edit_link(status="canceled")), {"is_noop": True}),
    ("a cleared external id is restored", edit_activity(external_id=None),
     {"crm_patch": {"calendar_event_id": "evt1"}, "calendar_action": "none"}),
    ("a never-seen calendar event is created from the CRM",
     both(calendar_gone, edit_link(calendar_fingerprint=None)),
     {"calendar_action": "create", "crm_action": "none",
      "calendar_patch": {"title": "Demo call", "location": "Room 1", "status": "scheduled",
                         "start": T0, "end": T0 + timedelta(hours=1), "all_day": False,
                         "contact_name": "Ada Lovelace", "contact_email": "ada@example.com",
                         "contact_company": "Analytical Engines", "other_people": None,
                         "crm_event_id": "00U1", "crm_contact_id": ADA.id}}),
    ("no calendar event for a canceled CRM activity",
     both(calendar_gone, edit_link(calendar_fingerprint=None), edit_activity(status="canceled")),
     {"is_noop": True}),
    ("converged sides with unrecorded fingerprints only update the link",
     edit_link(calendar_fingerprint="old", crm_fingerprint=None),
     {"calendar_action": "none", "crm_action": "none", "is_noop": False}),
]


def _run(rule):
    name, edit, expected, *options = rule
    link, appointment, crm = edit(*synced())
    return link, appointment, crm, expected, (options[0] if options else {})


@pytest.mark.parametrize("rule", RULES, ids=[rule[0] for rule in RULES])
def test_rule(rule):
    link, appointment, crm, expected, options = _run(rule)
    result = plan(link, appointment, crm, **options)
    for name, value in expected.items():
        if name == "link":
            assert {k: result.link_patch.get(k, "absent") for k in value} == value
        else:
            assert getattr(result, name) == value, name


@pytest.mark.parametrize("rule", RULES, ids=[rule[0] for rule in RULES])
def test_applying_the_plan_converges(rule):
    link, appointment, crm, _, options = _run(rule)
    after = apply_plan(link, appointment, crm, plan(link, appointment, crm, **options))
    assert plan(*after, **options).is_noop


def test_a_changed_email_replaces_the_old_attendee_only():
    link, appointment, crm = contact_email_changed(*synced())
    patched = apply_calendar_patch(link, appointment, plan(link, appointment, crm).calendar_patch)
    assert [a.email for a in patched.attendees] == ["me@ours.example", "ada@new.example"]


def test_a_merged_contact_replaces_the_old_attendee_and_keeps_the_user_text():
    link, appointment, crm = merged_into_grace(*synced())
    patched = apply_calendar_patch(link, appointment, plan(link, appointment, crm).calendar_patch)
    assert [a.email for a in patched.attendees] == ["me@ours.example", "grace@example.com"]
    assert patched.description.startswith("Agenda: pricing\n\n")
    assert calendar_view(patched)["contact_name"] == "Grace Hopper"


def test_a_deleted_contact_leaves_the_attendee_and_the_user_text():
    link, appointment, crm = contact_deleted(*synced())
    patched = apply_calendar_patch(link, appointment, plan(link, appointment, crm).calendar_patch)
    assert patched.description == "Agenda: pricing"
    assert patched.attendees == appointment.attendees
    assert "crm_contact_id" not in patched.crm_refs


def test_a_crm_create_hands_its_id_to_the_calendar():
    link, appointment, crm = activity_gone(*synced())
    first = plan(link, appointment, crm)
    assert "crm_event_id" not in first.calendar_patch
    completed = first.after_crm_create("00U2")
    assert completed.calendar_action == "update"
    assert completed.calendar_patch == {"crm_event_id": "00U2"}
    assert completed.link_patch["crm_event_id"] == "00U2"


def test_after_crm_create_needs_a_create():
    with pytest.raises(ValueError):
        Plan().after_crm_create("00U2")


def test_long_titles_count_as_converged_once_truncated():
    link, appointment, crm = synced()
    appointment = replace(appointment, title="A very long title indeed")
    limits = {"title": 7}
    first = plan(link, appointment, crm, crm_max_lengths=limits)
    assert first.crm_patch == {"title": "A very"}  # cut to 7, trailing space dropped
    after = apply_plan(link, appointment, crm, first)
    assert plan(*after, crm_max_lengths=limits).is_noop


def test_all_day_events_converge():
    link, appointment, crm = synced(span=all_day(days=2))
    assert plan(link, appointment, crm).is_noop
    moved_day = replace(appointment, span=all_day(days=3))
    assert plan(link, moved_day, crm).crm_patch == {
        "start": moved_day.span.start, "end": moved_day.span.end, "all_day": True}


def test_ownership_is_configuration():
    crm_titles = Ownership.from_dict({
        "title": "crm", "start": "calendar", "end": "calendar", "all_day": "calendar",
        "location": "calendar", "status": "calendar", "contact_name": "crm",
        "contact_email": "crm", "contact_company": "crm", "other_people": "crm"})
    link, appointment, crm = edit_activity(subject="Renamed in CRM")(*synced())
    result = plan(link, appointment, crm, crm_titles)
    assert (result.calendar_patch, result.crm_patch) == ({"title": "Renamed in CRM"}, {})


def test_a_contact_that_is_not_the_activitys_who_id_is_refused():
    link, appointment, crm = synced()
    with pytest.raises(ValueError, match="who_id"):
        CrmSide(crm.activity, GRACE)


def test_without_an_activity_the_contact_must_be_the_links():
    link, appointment, _ = synced()
    with pytest.raises(ValueError, match="link"):
        plan(link, appointment, CrmSide(None, GRACE))


def test_on_calendar_delete_takes_cancel_or_delete_only():
    with pytest.raises(ValueError, match="on_calendar_delete"):
        plan(*synced(), on_calendar_delete="archive")


def test_on_a_copy_someone_else_organizes_only_the_private_keys_are_written():
    both = Plan(calendar_action="update",
                calendar_patch={"title": "Ours", "contact_name": "Ada", "crm_event_id": "00U1"},
                crm_action="none")
    assert both.keys_only_on_calendar().calendar_patch == {"crm_event_id": "00U1"}
    fields_only = replace(both, calendar_patch={"title": "Ours"})
    narrowed = fields_only.keys_only_on_calendar()
    assert (narrowed.calendar_action, narrowed.calendar_patch) == ("none", {})
    assert narrowed.is_noop
    assert Plan(calendar_action="create").keys_only_on_calendar().calendar_action == "create"


def test_an_occurrence_gets_only_its_meetings_fields_on_the_calendar():
    link, appointment, crm = activity_gone(*synced())
    completed = plan(link, appointment, crm).after_crm_create("00U2").for_occurrence(link)
    assert completed.calendar_action == "none" and completed.calendar_patch == {}
    assert completed.link_patch["crm_event_id"] == "00U2"
    moved = Plan(calendar_action="update",
                 calendar_patch={"title": "New", "contact_name": "Ada", "crm_event_id": "x"},
                 link_patch={"last_contact_email": "ada.new@example.com"})
    kept = moved.for_occurrence(replace(link, last_contact_email="ada@example.com"))
    assert kept.calendar_patch == {"title": "New"}
    assert "last_contact_email" not in kept.link_patch  # the attendee was not replaced

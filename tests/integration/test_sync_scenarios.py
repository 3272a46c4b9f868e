"""The sync scenarios, each against the sandbox with a real worker process."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sync_workers.sandbox import salesforce_admin as sf
from tests.integration.sync_support import (
    CLIENT,
    dead_letters,
    link_of,
    make_pair,
    settle,
    sync_log,
    utc,
)

pytestmark = pytest.mark.integration
NINE = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def pair(sandbox, db, redis_db, session_worker):
    return make_pair(sandbox)


def booked(pair, redis_db, **kw) -> dict:
    event = pair.book(**kw)
    pair.poll()

    def linked():
        crm = pair.crm_event_for(event["id"])
        private = pair.event(event["id"]).get("extendedProperties", {}).get("private", {})
        return crm and crm.get("WhoId") and private.get("crm_event_id") == crm["Id"]
    settle(redis_db, linked, "the booking to be linked on both sides")
    return event


def test_booking_creates_contact_and_crm_event_and_links_them(pair, redis_db):
    event = booked(pair, redis_db)
    crm = pair.crm_event_for(event["id"])
    (contact,) = [c for c in pair.contacts() if c["Email"] == CLIENT]
    assert crm["Subject"] == "Intro call" and crm["WhoId"] == contact["Id"]
    assert utc(crm["StartDateTime"]) == NINE
    assert utc(crm["EndDateTime"]) == NINE + timedelta(minutes=30)
    assert crm["Appointment_Status__c"] == "Scheduled"
    calendar = pair.event(event["id"])
    assert calendar["extendedProperties"]["private"]["crm_contact_id"] == contact["Id"]
    assert "[CRM contact]" in calendar["description"] and CLIENT in calendar["description"]
    link = link_of(pair, event["id"])
    assert (link.crm_event_id, link.crm_contact_id) == (crm["Id"], contact["Id"])
    assert {row["field"] for row in sync_log(link.link_id)} >= {"title", "start", "end"}
    assert pair.invitations_sent(event["id"]) == []  # the sync never e-mails guests


def test_converged_means_silent(pair, redis_db):
    event = booked(pair, redis_db)
    writes = len(pair.writes())
    for _ in range(3):  # our own writes echo back as changes: they must die at once
        pair.poll()
        pair.poll("crm")
    settle(redis_db, lambda: True, "echo polls")
    assert len(pair.writes()) == writes
    assert len([e for e in pair.crm_events() if e["Calendar_Event_Id__c"] == event["id"]]) == 1


def test_reschedule_in_calendar_moves_the_crm_event(pair, redis_db):
    event = booked(pair, redis_db)
    later = NINE + timedelta(hours=3)
    pair.edit(event["id"], start={"dateTime": later.isoformat()},
              end={"dateTime": (later + timedelta(minutes=45)).isoformat()})
    pair.poll()
    settle(redis_db, lambda: utc(pair.crm_event_for(event["id"])["StartDateTime"]) == later,
           "the CRM event to move")
    crm = pair.crm_event_for(event["id"])
    assert utc(crm["EndDateTime"]) == later + timedelta(minutes=45)


def test_times_edited_in_crm_are_overwritten_by_the_calendar(pair, redis_db):
    event = booked(pair, redis_db)
    crm = pair.crm_event_for(event["id"])
    sf.update_as_user(pair.state, "Event", crm["Id"], {
        "StartDateTime": "2027-03-02T15:00:00Z", "EndDateTime": "2027-03-02T16:00:00Z",
        "Subject": "Renamed in CRM"})
    pair.poll("crm")
    settle(redis_db, lambda: utc(pair.crm_event_for(event["id"])["StartDateTime"]) == NINE,
           "the calendar's times to win")
    assert pair.crm_event_for(event["id"])["Subject"] == "Intro call"
    calendar = pair.event(event["id"])
    assert utc(calendar["start"]["dateTime"]) == NINE  # the calendar was not touched


def test_cancel_in_calendar_marks_the_crm_event_canceled(pair, redis_db):
    event = booked(pair, redis_db)
    pair.delete(event["id"])
    pair.poll()
    settle(redis_db,
           lambda: pair.crm_event_for(event["id"])["Appointment_Status__c"] == "Canceled",
           "the CRM event to be canceled")
    assert link_of(pair, event["id"]).status == "canceled"


def test_contact_renamed_and_company_changed_in_crm_follow_on_the_calendar(pair, redis_db):
    event = booked(pair, redis_db)
    contact_id = pair.crm_event_for(event["id"])["WhoId"]
    account_id = sf.create_as_user(pair.state, "Account", {"Name": "Analytical Engines Ltd"})
    sf.update_as_user(pair.state, "Contact", contact_id,
                      {"FirstName": "Ada", "LastName": "King", "AccountId": account_id})
    pair.poll("crm")

    def followed():
        description = pair.event(event["id"]).get("description", "")
        return "Ada King" in description and "Analytical Engines Ltd" in description
    settle(redis_db, followed, "the contact block to follow")
    assert link_of(pair, event["id"]).crm_contact_id == contact_id  # the link survives


def test_contact_email_changed_in_crm_replaces_the_attendee(pair, redis_db):
    event = booked(pair, redis_db)
    contact_id = pair.crm_event_for(event["id"])["WhoId"]
    sf.update_as_user(pair.state, "Contact", contact_id, {"Email": "ada@newmail.example"})
    pair.poll("crm")

    def replaced():
        emails = {a["email"] for a in pair.event(event["id"]).get("attendees", [])}
        return "ada@newmail.example" in emails and CLIENT not in emails
    settle(redis_db, replaced, "the attendee to be replaced")
    assert link_of(pair, event["id"]).crm_contact_id == contact_id


def test_contacts_merged_in_crm_the_event_follows_the_master(pair, redis_db):
    event = booked(pair, redis_db)
    loser = pair.crm_event_for(event["id"])["WhoId"]
    master = sf.create_as_user(pair.state, "Contact", {"FirstName": "Augusta", "LastName":
                                                        "Lovelace", "Email": "augusta@client.example"})
    sf.merge_contacts(pair.state, master, [loser])
    pair.poll("crm")
    settle(redis_db, lambda: link_of(pair, event["id"]).crm_contact_id == master,
           "the link to follow the merge")
    assert "Augusta Lovelace" in pair.event(event["id"])["description"]


def test_the_same_trigger_three_times_and_out_of_order(pair, redis_db):
    event = pair.book()
    first = NINE + timedelta(hours=1)
    for _ in range(3):
        pair.poll()
    pair.edit(event["id"], start={"dateTime": first.isoformat()},
              end={"dateTime": (first + timedelta(minutes=30)).isoformat()})
    pair.poll("crm")  # an unrelated, late trigger arrives first
    pair.poll()
    settle(redis_db, lambda: (crm := pair.crm_event_for(event["id"])) is not None
           and utc(crm["StartDateTime"]) == first, "convergence")
    matching = [e for e in pair.crm_events() if e["Calendar_Event_Id__c"] == event["id"]]
    assert len(matching) == 1
    assert len([c for c in pair.contacts() if c["Email"] == CLIENT]) == 1


def test_meeting_created_in_crm_gets_a_calendar_event(pair, redis_db):
    contact = sf.create_as_user(pair.state, "Contact", {"LastName": "Babbage",
                                                         "Email": "charles@client.example"})
    crm_id = sf.create_as_user(pair.state, "Event", {  # the rep's own meeting
        "Subject": "Demo", "WhoId": contact, "StartDateTime": "2027-03-04T10:00:00Z",
        "EndDateTime": "2027-03-04T11:00:00Z"}, user_id=pair.rep_user)
    pair.poll("crm")
    settle(redis_db, lambda: (sf.record(pair.state, "Event", crm_id) or {}).get(
        "Calendar_Event_Id__c"), "the calendar event to be created")
    event_id = sf.record(pair.state, "Event", crm_id)["Calendar_Event_Id__c"]
    event = pair.event(event_id)
    assert event["summary"] == "Demo"
    assert event["extendedProperties"]["private"]["crm_event_id"][:15] == crm_id[:15]
    assert "charles@client.example" in {a["email"] for a in event["attendees"]}


def test_contact_deleted_in_crm_the_event_stays_and_loses_its_contact(pair, redis_db):
    """Salesforce deletes a contact's Events with it. The calendar owns the appointment, so
    the CRM Event is re-created (same external id, no WhoId); the CRM owns the contact, so
    its block leaves the calendar and no contact is re-created; the guest stays invited."""
    event = booked(pair, redis_db)
    old = pair.crm_event_for(event["id"])
    sf.delete_as_user(pair.state, "Contact", old["WhoId"])
    assert pair.crm_event_for(event["id"]) is None  # the cascade took the Event too
    link = link_of(pair, event["id"])
    writes = len(pair.writes())
    # deleted/ reports a deletion once its minute has closed, so the CRM poll would see it
    # up to a minute later: trigger the link as that poll (or a webhook) will.
    pair.trigger(link.link_id)

    def recreated():
        crm = pair.crm_event_for(event["id"])
        return crm and crm["Id"] != old["Id"] and link_of(pair, event["id"]).crm_event_id
    settle(redis_db, recreated, "the CRM event to be re-created")

    crm = pair.crm_event_for(event["id"])
    assert crm["WhoId"] is None and crm["Subject"] == "Intro call"
    assert utc(crm["StartDateTime"]) == NINE and crm["Appointment_Status__c"] == "Scheduled"
    calendar = pair.event(event["id"])
    assert calendar["status"] == "confirmed" and "[CRM contact]" not in calendar.get(
        "description", "")
    assert calendar["extendedProperties"]["private"] == {"crm_event_id": crm["Id"]}
    assert CLIENT in {a["email"] for a in calendar["attendees"]}
    link = link_of(pair, event["id"])
    assert (link.crm_event_id, link.crm_contact_id, link.status) == (crm["Id"], None, "active")
    assert not [c for c in pair.contacts() if c["Email"] == CLIENT]
    assert len(pair.writes()) == writes + 2  # one upsert in the CRM, one patch of the event

    for _ in range(2):  # the echoes of both writes, and another look: nothing more to do
        pair.poll()
        pair.poll("crm")
        pair.trigger(link.link_id)
        settle(redis_db, lambda: True, "echo polls")
    assert len(pair.writes()) == writes + 2
    assert [e["Id"] for e in pair.crm_events()
            if e["Calendar_Event_Id__c"] == event["id"]] == [crm["Id"]]


def test_an_event_the_loader_rejects_is_dead_lettered_and_the_rest_synced(pair, redis_db):
    good = pair.book(title="Good")
    # Google stores a zero-length event; our model needs its end after its start.
    empty = pair.book(title="Empty", minutes=0)
    pair.poll()
    settle(redis_db, lambda: pair.crm_event_for(good["id"]) and dead_letters(),
           "the good event to sync and the empty one to be dead-lettered")

    (letter,) = dead_letters()
    assert letter["task_name"] == "sync.reconcile_calendar_event"
    assert letter["kwargs"] == {"account_id": pair.calendar_account, "event_id": empty["id"]}
    assert letter["error_type"] == "InvalidInput" and letter["status"] == "open"
    assert f"google event {empty['id']}" in letter["error_message"]
    assert "is not after its start" in letter["error_message"]
    assert pair.crm_event_for(empty["id"]) is None and link_of(pair, empty["id"]) is None

    # The user fixes it: the next listing carries it, and it syncs like any booking.
    pair.edit(empty["id"], end={"dateTime": (NINE + timedelta(minutes=15)).isoformat()})
    pair.poll()
    settle(redis_db, lambda: pair.crm_event_for(empty["id"]), "the fixed event to sync")
    assert utc(pair.crm_event_for(empty["id"])["EndDateTime"]) == NINE + timedelta(minutes=15)


def test_a_crm_record_the_schema_rejects_is_dead_lettered_alone_and_polls_go_on(
        pair, redis_db):
    """An admin's new picklist value the mapping does not know: that meeting waits in the
    dead letters (its replay reads it alone again); the others sync, and the next poll
    does not fail on it."""
    # The admin adds a value to the picklist (the emulator: the field defined again).
    sf.remove_custom_field(pair.state, "Event", "Appointment_Status__c")
    sf.add_custom_field(pair.state, "Event", "Appointment_Status__c", "picklist",
                        picklist=["Scheduled", "Canceled", "Tentative"], default="Scheduled")
    contact = sf.create_as_user(pair.state, "Contact", {"LastName": "Babbage",
                                                         "Email": "charles@client.example"})
    bad = sf.create_event_as(pair.state, pair.rep_user, {
        "Subject": "Odd status", "WhoId": contact, "Appointment_Status__c": "Tentative",
        "StartDateTime": "2027-03-04T10:00:00Z", "EndDateTime": "2027-03-04T11:00:00Z"})
    good = sf.create_event_as(pair.state, pair.rep_user, {
        "Subject": "Demo", "WhoId": contact, "StartDateTime": "2027-03-05T10:00:00Z",
        "EndDateTime": "2027-03-05T11:00:00Z"})
    pair.poll("crm")
    settle(redis_db, lambda: (sf.record(pair.state, "Event", good) or {}).get(
        "Calendar_Event_Id__c"), "the good meeting to reach the calendar")
    (letter,) = dead_letters()
    assert letter["task_name"] == "sync.reconcile_crm_record"
    assert letter["kwargs"] == {"account_id": pair.crm_account, "record_id": bad}
    assert "Appointment_Status__c" in letter["error_message"]
    sf.update_as_user(pair.state, "Event", good, {"Subject": "Demo (renamed)"})
    pair.poll("crm")  # the calendar owns the title: the next poll puts it back
    settle(redis_db, lambda: sf.record(pair.state, "Event", good)["Subject"] == "Demo",
           "the next poll to go on past the rejected record")
    assert len(dead_letters()) == 1

"""Every guest is a CRM person of the one meeting: the first is its contact (WhoId), the
others are related to it (Salesforce Shared Activities), the calendar's contact block
lists them all; a guest who already is a Lead is linked to the Lead; a guest who leaves
the event leaves the CRM meeting. Against the sandbox with a real worker process."""
from __future__ import annotations

import pytest

from sync_workers.providers.salesforce import Salesforce
from sync_workers.sandbox import salesforce_admin as sf
from sync_workers.store import links
from tests.fixtures.accounts import connected_account, sandbox_settings
from tests.integration.sync_support import CLIENT, dead_letters, link_of, make_pair, settle

pytestmark = pytest.mark.integration
GRACE, ALAN = "grace@navy.example", "alan@bletchley.example"


@pytest.fixture
def pair(sandbox, db, redis_db, session_worker):
    return make_pair(sandbox)


def related(pair, crm_id: str) -> set[str]:
    return {r["RelationId"] for r in sf.records(pair.state, "EventRelation")
            if r["EventId"] == crm_id and r.get("IsParent")}


def people_by_email(pair) -> dict[str, str]:
    return {c["Email"]: c["Id"] for c in pair.contacts()}


def block_emails(pair, event_id: str) -> list[str]:
    description = pair.event(event_id).get("description") or ""
    return [line.split(": ", 1)[1] for line in description.splitlines()
            if line.startswith("Email: ")]


def three_guests_synced(pair, redis_db) -> dict:
    event = pair.book(attendees=(CLIENT, GRACE, ALAN))
    pair.poll()

    def all_related():
        crm = pair.crm_event_for(event["id"])
        return crm and len(related(pair, crm["Id"])) == 3 \
            and block_emails(pair, event["id"]) == [CLIENT, GRACE, ALAN]
    settle(redis_db, all_related, "three people related and listed")
    return event


def test_three_guests_give_one_meeting_with_three_people(pair, redis_db):
    event = three_guests_synced(pair, redis_db)
    crm = pair.crm_event_for(event["id"])
    people = people_by_email(pair)
    assert set(people) == {CLIENT, GRACE, ALAN} and len(pair.crm_events()) == 1
    assert crm["WhoId"] == people[CLIENT]
    assert related(pair, crm["Id"]) == set(people.values())
    assert set(link_of(pair, event["id"]).crm_people) == {people[GRACE], people[ALAN]}
    writes = len(pair.writes())
    pair.reconcile_now(link_of(pair, event["id"]).link_id)
    settle(redis_db, lambda: True, "one more reconcile")
    assert len(pair.writes()) == writes and dead_letters() == []


def test_a_guest_who_leaves_the_event_leaves_the_crm_meeting(pair, redis_db):
    event = three_guests_synced(pair, redis_db)
    crm_id = pair.crm_event_for(event["id"])["Id"]
    kept = [a for a in pair.event(event["id"])["attendees"] if a["email"] != ALAN]
    pair.edit(event["id"], attendees=kept)
    pair.poll()
    settle(redis_db, lambda: block_emails(pair, event["id"]) == [CLIENT, GRACE],
           "Alan to leave the contact block")
    people = people_by_email(pair)
    assert related(pair, crm_id) == {people[CLIENT], people[GRACE]}
    assert ALAN in people  # the contact stays in the CRM: only the meeting lets go of him


def test_a_guest_who_is_a_lead_is_linked_to_the_lead(pair, redis_db):
    lead = sf.add_lead(pair.state, CLIENT, "Lovelace", "Analytical Engines", "Ada")
    event = pair.book()
    pair.poll()
    settle(redis_db, lambda: (pair.crm_event_for(event["id"]) or {}).get("WhoId"),
           "the booking to reach the CRM")
    assert pair.crm_event_for(event["id"])["WhoId"] == lead
    assert pair.contacts() == [] and dead_letters() == []
    assert "Analytical Engines" in (pair.event(event["id"]).get("description") or "")


def test_without_shared_activities_the_first_guest_is_kept_and_it_says_so_once(
        sandbox, db, redis_db, session_worker):
    # An org of its own: the worker keeps each account's describe for ten minutes, and
    # account ids start again in every test (another test's CRM account 2 has it on).
    connected_account(sandbox, "google", "someone.else@example.com")
    pair = make_pair(sandbox)
    sf.set_shared_activities(pair.state, False)
    event = pair.book(attendees=(CLIENT, GRACE))
    pair.poll()
    settle(redis_db, lambda: (pair.crm_event_for(event["id"]) or {}).get("WhoId"),
           "the booking to reach the CRM")
    pair.reconcile_now(link_of(pair, event["id"]).link_id)
    settle(redis_db, lambda: True, "one more reconcile")
    crm = pair.crm_event_for(event["id"])
    assert crm["WhoId"] == people_by_email(pair)[CLIENT] and dead_letters() == []
    assert sf.records(pair.state, "EventRelation") == [] or \
        related(pair, crm["Id"]) == {crm["WhoId"]}
    warned = [r for r in session_worker.records()
              if "Shared Activities are off" in (r.get("message") or "")
              and r.get("account_id") == pair.crm_account]
    assert len(warned) == 1


def test_a_duplicate_rule_names_the_record_to_link_and_new_guests_may_be_leads(pair):
    crm = Salesforce(pair.crm_account, settings=sandbox_settings(pair.sandbox))
    existing = sf.create_as_user(pair.state, "Contact", {"LastName": "Hopper",
                                                         "Email": GRACE})
    sf.add_duplicate_rule(pair.state, "Contact", "block")
    linked = crm.create_contact(GRACE, "Grace Hopper", "key-1")
    assert linked.id == existing and len(pair.contacts()) == 1
    lead = crm.create_contact(ALAN, "Alan Turing", "key-2", as_lead=True)
    record = sf.record(pair.state, "Lead", lead.id)
    assert (record["LastName"], record["Company"], record["Email"]) == \
        ("Turing", "[not provided]", ALAN)
    assert crm.find_contact_by_email(ALAN).id == lead.id
    assert links.for_account(pair.crm_account) == []


def test_a_contact_taken_off_the_event_stays_off_and_the_next_guest_is_the_contact(
        pair, redis_db):
    event = three_guests_synced(pair, redis_db)
    crm_id = pair.crm_event_for(event["id"])["Id"]
    people = people_by_email(pair)
    without_ada = [a for a in pair.event(event["id"])["attendees"] if a["email"] != CLIENT]
    pair.edit(event["id"], attendees=without_ada)
    pair.poll()
    settle(redis_db, lambda: block_emails(pair, event["id"]) == [GRACE, ALAN],
           "Grace to be the meeting's contact")
    crm = sf.record(pair.state, "Event", crm_id)
    assert crm["WhoId"] == people[GRACE]
    assert related(pair, crm_id) == {people[GRACE], people[ALAN]}
    attendees = {a["email"] for a in pair.event(event["id"])["attendees"]}
    assert CLIENT not in attendees  # the rep's decision stands: never put back

    nobody = [a for a in pair.event(event["id"])["attendees"]
              if a["email"] not in (GRACE, ALAN)]
    pair.edit(event["id"], attendees=nobody)
    pair.poll()
    settle(redis_db, lambda: not sf.record(pair.state, "Event", crm_id)["WhoId"],
           "the meeting to lose its last guest")
    crm = sf.record(pair.state, "Event", crm_id)
    assert crm["Appointment_Status__c"] == "Scheduled" and related(pair, crm_id) == set()
    assert "[CRM contact]" not in (pair.event(event["id"]).get("description") or "")
    assert {a["email"] for a in pair.event(event["id"])["attendees"]} & \
        {CLIENT, GRACE, ALAN} == set()
    writes = len(pair.writes())
    pair.reconcile_now(link_of(pair, event["id"]).link_id)
    settle(redis_db, lambda: True, "one more reconcile")
    assert len(pair.writes()) == writes and dead_letters() == []

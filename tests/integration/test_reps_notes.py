"""What a person wrote in the CRM stays: the rep's notes on a meeting survive its sync,
later reconciles and calendar edits. Against the sandbox with a real worker process."""
from __future__ import annotations

import pytest

from sync_workers.sandbox import salesforce_admin as sf
from tests.integration.sync_support import link_of, make_pair, settle

pytestmark = pytest.mark.integration
NOTES = "Budget approved in Q1.\nNext: send the security questionnaire."


@pytest.fixture
def pair(sandbox, db, redis_db, session_worker):
    return make_pair(sandbox)


def test_the_reps_notes_on_a_crm_meeting_survive_its_sync_and_later_edits(pair, redis_db):
    contact = sf.create_as_user(pair.state, "Contact", {"LastName": "Lovelace",
                                                         "Email": "ada@client.example"})
    crm_id = sf.create_event_as(pair.state, pair.rep_user, {
        "Subject": "Discovery", "WhoId": contact, "Description": NOTES,
        "StartDateTime": "2027-03-04T10:00:00Z", "EndDateTime": "2027-03-04T11:00:00Z"})
    pair.poll("crm")
    settle(redis_db, lambda: (sf.record(pair.state, "Event", crm_id) or {}).get(
        "Calendar_Event_Id__c"), "the CRM meeting to reach the calendar")
    event_id = sf.record(pair.state, "Event", crm_id)["Calendar_Event_Id__c"]
    assert sf.record(pair.state, "Event", crm_id)["Description"] == NOTES

    pair.edit(event_id, summary="Discovery (moved room)")
    pair.poll()
    settle(redis_db, lambda: sf.record(pair.state, "Event", crm_id)["Subject"]
           == "Discovery (moved room)", "the calendar's edit to reach the CRM")
    link_id = link_of(pair, event_id).link_id
    for _ in range(10):
        pair.reconcile_now(link_id)
    settle(redis_db, lambda: True, "ten more reconciles")
    assert sf.record(pair.state, "Event", crm_id)["Description"] == NOTES

"""One meeting in two reps' calendars is one CRM meeting: both copies linked to it, the
organizer's copy deciding, a colleague declining changing nothing in the CRM, no path
ending in a database integrity error. Both ways Google shows one meeting to two users:
the same event id (a Google-organized meeting) and different ids with one iCalUID (an
invitation from outside Google). Against the sandbox with a real worker process."""
from __future__ import annotations

import pytest

from sync_workers.sandbox import google_calendar as gcal
from sync_workers.store import links
from tests.integration.sync_support import (
    CLIENT,
    REP,
    colleague_of,
    dead_letters,
    link_of,
    make_pair,
    settle,
)

pytestmark = pytest.mark.integration
COLLEAGUE = "robin@example.com"


@pytest.fixture
def team(sandbox, db, redis_db, session_worker):
    rep = make_pair(sandbox)
    return rep, colleague_of(rep, COLLEAGUE)


def _status(rep, crm_id: str) -> str:
    return next(e for e in rep.crm_events() if e["Id"] == crm_id)["Appointment_Status__c"]


def test_a_meeting_organized_in_google_is_one_crm_meeting_for_both_reps(team, redis_db):
    rep, colleague = team
    event = rep.book(attendees=(CLIENT, COLLEAGUE))
    assert colleague.event(event["id"])["iCalUID"] == event["iCalUID"]  # same id, 2 copies
    rep.poll()
    settle(redis_db, lambda: (rep.crm_event_for(event["id"]) or {}).get("WhoId"),
           "the organizer's copy to reach the CRM")
    colleague.poll()
    decider, copy = link_of(rep, event["id"]), link_of(colleague, event["id"])
    settle(redis_db, lambda: colleague.event(event["id"]).get("extendedProperties", {})
           .get("private", {}).get("crm_event_id") == decider.crm_event_id,
           "the colleague's copy to carry the CRM meeting's id")
    copy = link_of(colleague, event["id"])
    assert (decider.role, copy.role) == ("decider", "copy")
    assert copy.crm_event_id == decider.crm_event_id and len(rep.crm_events()) == 1
    assert [c["Email"] for c in rep.contacts()] == [CLIENT] and dead_letters() == []

    gcal.respond(rep.state, COLLEAGUE, event["id"], "declined")
    colleague.poll()
    settle(redis_db, lambda: link_of(colleague, event["id"]).status == "detached",
           "the colleague's copy to be detached")
    assert _status(rep, decider.crm_event_id) == "Scheduled"

    rep.delete(event["id"])
    rep.poll()
    settle(redis_db, lambda: _status(rep, decider.crm_event_id) == "Canceled",
           "the organizer's cancel to cancel the CRM meeting")
    assert len(rep.crm_events()) == 1 and dead_letters() == []


def test_an_invitation_from_outside_is_one_crm_meeting_and_only_its_cancel_cancels(
        team, redis_db):
    rep, colleague = team
    copies = gcal.invite_from_outside(rep.state, "host@partner.example", [REP, COLLEAGUE], {
        "summary": "Partner sync", "attendees": [{"email": CLIENT}],
        "start": {"dateTime": "2027-03-02T15:00:00Z"},
        "end": {"dateTime": "2027-03-02T16:00:00Z"}})
    mine, theirs = copies[REP]["id"], copies[COLLEAGUE]["id"]
    assert mine != theirs and copies[REP]["iCalUID"] == copies[COLLEAGUE]["iCalUID"]
    rep.poll()
    settle(redis_db, lambda: (rep.crm_event_for(mine) or {}).get("WhoId"),
           "the first copy to reach the CRM")
    colleague.poll()
    settle(redis_db, lambda: link_of(colleague, theirs) is not None
           and link_of(colleague, theirs).crm_event_id is not None, "the second copy's link")
    first, second = link_of(rep, mine), link_of(colleague, theirs)
    assert (first.role, second.role) == ("decider", "copy")  # the first linked decides
    assert len(rep.crm_events()) == 1 and dead_letters() == []

    rep.delete(mine)  # the deciding rep removes the meeting from their own calendar only
    rep.poll()
    settle(redis_db, lambda: link_of(colleague, theirs).role == "decider",
           "the colleague's copy to take over")
    assert link_of(rep, mine).status == "detached"
    assert _status(rep, first.crm_event_id) == "Scheduled"

    gcal.outside_cancel(rep.state, copies[REP]["iCalUID"])
    colleague.poll()
    settle(redis_db, lambda: _status(rep, first.crm_event_id) == "Canceled",
           "the organizer's cancel to cancel the CRM meeting")
    assert len(rep.crm_events()) == 1 and dead_letters() == []
    assert sorted(link.role for link in links.for_account(rep.crm_account)) == \
        ["copy", "decider"]

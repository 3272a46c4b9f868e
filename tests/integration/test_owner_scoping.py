"""Whose CRM meetings: a pair names the rep's CRM user; meetings the sync creates are the
rep's, and a meeting made in the CRM reaches only its owner's calendar. Against the
sandbox (Salesforce Users and OwnerId as documented) with a real worker process."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from sync_workers.cli import main as cli
from sync_workers.sandbox import salesforce_admin as sf
from sync_workers.store import links
from tests.fixtures.accounts import connected_account
from tests.integration.sync_support import make_pair, settle

pytestmark = pytest.mark.integration


@pytest.fixture
def pair(sandbox, db, redis_db, session_worker):
    return make_pair(sandbox)


def run(*args, exit_code: int = 0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result.output


def test_the_meeting_a_booking_creates_belongs_to_the_rep(pair, redis_db):
    event = pair.book()
    pair.poll()
    settle(redis_db, lambda: (pair.crm_event_for(event["id"]) or {}).get("WhoId"),
           "the booking to reach the CRM")
    owner = pair.crm_event_for(event["id"])["OwnerId"]
    assert owner == pair.rep_user != sf.integration_user_id(pair.state)


def _crm_meeting(pair, owner: str, subject: str) -> str:
    contact = sf.create_as_user(pair.state, "Contact", {"LastName": "Lovelace",
                                                         "Email": "ada@client.example"})
    return sf.create_event_as(pair.state, owner, {
        "Subject": subject, "WhoId": contact, "StartDateTime": "2027-03-04T10:00:00Z",
        "EndDateTime": "2027-03-04T11:00:00Z"})


def test_a_colleagues_crm_meeting_never_reaches_the_reps_calendar(pair, redis_db):
    bob = sf.add_user(pair.state, "bob@example.com", "Bob", "Colleague")
    theirs = _crm_meeting(pair, bob, "Bob's call")
    mine = _crm_meeting(pair, pair.rep_user, "Riley's call")
    pair.poll("crm")
    settle(redis_db, lambda: (sf.record(pair.state, "Event", mine) or {}).get(
        "Calendar_Event_Id__c"), "the rep's CRM meeting to reach the calendar")
    assert not (sf.record(pair.state, "Event", theirs) or {}).get("Calendar_Event_Id__c")
    titles = [e.get("summary") for e in pair.calendar_events()]
    assert titles == ["Riley's call"]
    assert all(link.crm_event_id[:15] != theirs[:15]
               for link in links.for_account(pair.crm_account))


def test_pair_finds_the_rep_by_email_or_is_told_who(sandbox, db, redis_db):
    calendar = connected_account(sandbox, "google", "new.rep@example.com")
    crm = connected_account(sandbox, "salesforce")
    refused = run("pair", "--calendar", calendar, "--crm", crm, exit_code=1)
    assert "no active salesforce user has the e-mail new.rep@example.com" in refused
    assert "--crm-user" in refused and links.crm_account_for(calendar) is None

    inactive = sf.add_user(sandbox.state, "new.rep@example.com", active=False)
    assert "no active salesforce user" in run("pair", "--calendar", calendar, "--crm", crm,
                                              exit_code=1)
    assert f"no active user {inactive}" in run("pair", "--calendar", calendar, "--crm", crm,
                                               "--crm-user", inactive, exit_code=1)

    other = sf.add_user(sandbox.state, "renamed.rep@example.com", "New", "Rep")
    assert f"as salesforce user {other}" in run("pair", "--calendar", calendar, "--crm", crm,
                                                "--crm-user", other)
    assert links.crm_user_for(calendar) == other

    by_email = sf.add_user(sandbox.state, "new.rep@example.com", "New", "Rep")
    assert f"as salesforce user {by_email}" in run("pair", "--calendar", calendar,
                                                   "--crm", crm)
    assert links.crm_user_for(calendar) == by_email


def test_one_crm_user_pairs_with_one_calendar(pair, sandbox):
    second = connected_account(sandbox, "google", "second@example.com")
    out = run("pair", "--calendar", second, "--crm", pair.crm_account,
              "--crm-user", pair.rep_user, exit_code=1)
    assert f"paired with calendar account {pair.calendar_account} already" in out
    assert links.crm_user_for(pair.calendar_account) == pair.rep_user

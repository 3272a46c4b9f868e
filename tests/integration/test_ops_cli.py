"""The operator's commands against the real database, Redis and sandbox: status, links,
reconcile and poll now, pair."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from sync_workers.cli import main as cli
from sync_workers.sandbox import salesforce_admin as sf
from sync_workers.store import cursors, dead_letters, links
from sync_workers.store.db import cursor
from tests.fixtures.accounts import connected_account
from tests.integration.sync_support import link_of, make_pair, settle

pytestmark = pytest.mark.integration


def run(*args: str, exit_code: int = 0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


@pytest.fixture
def pair(sandbox, db, redis_db):
    return make_pair(sandbox)


def linked_booking(pair) -> tuple[dict, int]:
    """A booking with a link but no reconcile queued: only the command under test runs it."""
    event = pair.book()
    return event, links.ensure(pair.calendar_account, pair.crm_account, event["id"],
                               origin="calendar")


def test_reconcile_one_link_now_writes_then_converges(pair):
    event, link_id = linked_booking(pair)
    out = run("reconcile", link_id).stdout
    assert f"[1/1] link {link_id}: written (" in out and "written 1" in out
    crm = pair.crm_event_for(event["id"])
    assert crm and crm["WhoId"] == link_of(pair, event["id"]).crm_contact_id

    again = run("reconcile", link_id).stdout
    assert f"[1/1] link {link_id}: converged" in again and "converged 1" in again


def test_reconcile_an_account_goes_through_every_link(pair):
    first = linked_booking(pair)[1]
    second = links.ensure(pair.calendar_account, pair.crm_account,
                          pair.book(title="Follow-up", attendees=("bo@client.example",))["id"],
                          origin="calendar")
    out = run("reconcile", "--account", pair.crm_account).stdout.splitlines()
    assert out[:2] == [f"[1/2] link {first}: written (2 write(s))",
                       f"[2/2] link {second}: written (2 write(s))"]
    assert out[2] == "written 2"


def test_reconcile_reports_a_failed_link_and_exits_1(pair):
    out = run("reconcile", 999999, exit_code=1).stdout
    assert "link 999999: failed: Permanent: link 999999 does not exist" in out


def test_reconcile_takes_a_link_or_an_account_not_both(pair):
    assert "either a LINK_ID or --account" in run("reconcile", exit_code=2).output
    assert "either a LINK_ID" in run("reconcile", 1, "--account", 2, exit_code=2).output
    assert "account 424242 does not exist" in run("reconcile", "--account", 424242,
                                                  exit_code=1).output
    assert "has no links" in run("reconcile", "--account", pair.calendar_account).stdout


def test_poll_now_lists_and_queues_for_the_workers(pair, redis_db, session_worker):
    event = pair.book()
    out = run("poll", pair.calendar_account).stdout
    assert out.strip() == "calendar:events: listed 1 change(s), queued 1 reconcile(s)"
    settle(redis_db, lambda: pair.crm_event_for(event["id"]), "the worker to reconcile")
    assert cursors.get(pair.calendar_account, "calendar:events")

    crm = run("poll", pair.crm_account, "--resource", "crm:records").stdout
    assert crm.startswith("crm:records: listed ")
    settle(redis_db, lambda: True, "echo reconciles")


def test_links_show_and_list(pair):
    event, link_id = linked_booking(pair)
    run("reconcile", link_id)
    link = links.get(link_id)

    text = run("links", "show", link_id).stdout
    assert f"link {link_id}  status active  origin calendar" in text
    assert f"event {event['id']}" in text and f"event {link.crm_event_id}" in text
    assert f"contact {link.crm_contact_id}" in text
    assert f"fingerprint {link.calendar_fingerprint[:16]}" in text
    assert "latest changes (10):" in text and " crm       create  end: " in text

    shown = json.loads(run("links", "show", link_id, "--json", "--changes", 3).stdout)
    assert shown["link"]["crm_event_id"] == link.crm_event_id
    assert shown["link"]["calendar_provider"] == "google"
    assert shown["link"]["crm_version"] == link.crm_version
    assert len(shown["changes"]) == 3 and {"side", "field", "new_value"} <= set(shown["changes"][0])
    assert "does not exist" in run("links", "show", 999999, exit_code=1).output

    lines = run("links", "list", "--account", pair.calendar_account, "--json").stdout
    listed = [json.loads(line) for line in lines.splitlines()]
    assert [row["id"] for row in listed] == [link_id]
    assert str(link_id) in run("links", "list").stdout
    assert run("links", "list", "--account", 999999).stdout.strip() == "no links"


def test_status_shows_the_whole_fleet(pair, redis_db):
    event, link_id = linked_booking(pair)
    run("reconcile", link_id)
    cursors.put(pair.calendar_account, "calendar:events", "token-1")
    dead_letters.record(dead_letters.DeadLetter(
        task_id="status-test", task_name="sync.reconcile_link", queue="reconcile", args=[],
        kwargs={"link_id": link_id}, error_type="Permanent", error_message="boom",
        traceback=None, attempts=1, request_id=None, account_id=pair.calendar_account,
        first_failed_at=datetime.now(timezone.utc), last_failed_at=datetime.now(timezone.utc)))
    with cursor() as cur:
        cur.execute("""UPDATE accounts SET status = 'reauth_required' WHERE id = %s""",
                    (pair.crm_account,))
        cur.execute("""INSERT INTO parked_tasks (task_id, task_name, account_id, reason)
                       VALUES ('parked-1', 'sync.reconcile_link', %s, 'revoked')""",
                    (pair.crm_account,))

    state = json.loads(run("status", "--json").stdout)
    assert {(a["provider"], a["status"], a["n"]) for a in state["accounts"]} == \
        {("google", "active", 1), ("salesforce", "reauth_required", 1)}
    assert state["links"] == {"active": 1}
    assert state["dead_letters_open"] == 1
    assert state["parked_tasks"] == {"total": 1, "by_account": {str(pair.crm_account): 1}}
    assert set(state["queues"]) == {"events", "reconcile", "poll", "dlq"}
    (cursor_row,) = state["cursors"]
    assert cursor_row["account_id"] == pair.calendar_account and cursor_row["age_seconds"] < 60

    text = run("status").stdout
    assert "google: active 1; salesforce: reauth_required 1" in text
    assert "links         active 1" in text
    assert "dead letters  1 open" in text
    assert f"parked tasks  1  (accounts {pair.crm_account}: 1)" in text
    assert "queues        events " in text and "dlq " in text
    assert "calendar:events" in text
    assert "token-1" not in text  # a cursor value is the provider's, not shown


def test_pair_checks_the_kinds_of_accounts(sandbox, db, redis_db):
    calendar = connected_account(sandbox, "google", "rep2@example.com")
    crm = connected_account(sandbox, "salesforce")
    rep = sf.add_user(sandbox.state, "rep2@example.com", "Rita", "Rep")
    out = run("pair", "--calendar", calendar, "--crm", crm).stdout
    assert out.strip() == (f"paired calendar account {calendar} (google) with CRM account "
                           f"{crm} (salesforce), as salesforce user {rep} (Rita Rep, "
                           f"rep2@example.com)")
    assert links.crm_account_for(calendar) == crm
    assert "not a calendar" in run("pair", "--calendar", crm, "--crm", calendar,
                                   exit_code=1).output
    assert "does not exist" in run("pair", "--calendar", calendar, "--crm", 999999,
                                   exit_code=1).output


def test_every_operator_command_has_help():
    for args in (["status"], ["links"], ["links", "show"], ["links", "list"], ["reconcile"],
                 ["poll"], ["pair"]):
        out = run(*args, "--help").stdout
        assert "Usage:" in out and len(out.splitlines()) > 3

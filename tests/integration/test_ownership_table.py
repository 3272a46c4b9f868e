"""A non-default ownership table (the CRM owns the title) is honoured both ways, and a
table the sync cannot honour stops a process at start-up naming the field. Reconciles
run in this process, as `sync-workers reconcile` runs them, against the sandbox."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sync_workers.engine.reconcile import reconcile
from sync_workers.mapping.ownership import DEFAULT_OWNERSHIP_PATH
from sync_workers.sandbox import salesforce_admin as sf
from tests.fixtures.accounts import sandbox_settings
from tests.integration.sync_support import link_of, make_pair, settle

pytestmark = pytest.mark.integration


@pytest.fixture
def crm_titles(tmp_path):
    path = tmp_path / "ownership.yaml"
    path.write_text(DEFAULT_OWNERSHIP_PATH.read_text().replace("title: calendar", "title: crm"))
    return str(path)


def test_the_crm_owns_the_title_both_ways_and_the_calendar_the_rest(
        sandbox, db, redis_db, session_worker, crm_titles):
    pair = make_pair(sandbox)
    event = pair.book(title="Intro call")
    pair.poll()
    settle(redis_db, lambda: (pair.crm_event_for(event["id"]) or {}).get("WhoId"),
           "the booking to reach the CRM")
    link_id = link_of(pair, event["id"]).link_id
    crm_id = pair.crm_event_for(event["id"])["Id"]
    settings = sandbox_settings(sandbox, ownership_file=crm_titles)

    sf.update_as_user(pair.state, "Event", crm_id, {"Subject": "Intro (CRM's name)"})
    reconcile(link_id, settings=settings)
    assert pair.event(event["id"])["summary"] == "Intro (CRM's name)"

    pair.edit(event["id"], summary="Renamed in the calendar", location="Room 9")
    reconcile(link_id, settings=settings)
    crm = sf.record(pair.state, "Event", crm_id)
    assert pair.event(event["id"])["summary"] == "Intro (CRM's name)"  # the CRM's again
    assert (crm["Subject"], crm["Location"]) == ("Intro (CRM's name)", "Room 9")
    assert reconcile(link_id, settings=settings).result == "converged"


def test_a_table_giving_contact_data_to_the_calendar_stops_a_process(tmp_path):
    bad = tmp_path / "ownership.yaml"
    bad.write_text(DEFAULT_OWNERSHIP_PATH.read_text().replace("contact_email: crm",
                                                              "contact_email: calendar"))
    run = subprocess.run([sys.executable, "-c", "import sync_workers.celery_app"],
                         env={**os.environ, "SYNC_OWNERSHIP_FILE": str(bad)},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "contact_email: the calendar cannot own contact data" in run.stderr

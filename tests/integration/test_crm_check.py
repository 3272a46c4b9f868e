"""`sync-workers crm check`: an org without the sync's fields is told what to create and
where, exits 1 naming all three, and passes once they exist; `pair` refuses until then."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from sync_workers.cli import main as cli
from sync_workers.sandbox import salesforce_admin as sf
from tests.fixtures.accounts import connected_account

pytestmark = pytest.mark.integration
SYNC_FIELDS = (("Event", "Calendar_Event_Id__c"), ("Contact", "Sync_Contact_Id__c"),
               ("Event", "Appointment_Status__c"))


def run(*args, exit_code: int = 0) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result.output


def test_an_org_without_the_fields_is_told_what_to_create_until_it_has_them(
        sandbox, db, redis_db):
    calendar = connected_account(sandbox, "google", "rep@example.com")
    crm = connected_account(sandbox, "salesforce")
    sf.add_user(sandbox.state, "rep@example.com", "Riley", "Rep")
    for sobject, name in SYNC_FIELDS:
        assert sf.remove_custom_field(sandbox.state, sobject, name)

    out = run("crm", "check", crm, exit_code=1)
    for piece in ("Event.Calendar_Event_Id__c", "Contact.Sync_Contact_Id__c",
                  "Event.Appointment_Status__c"):
        assert f"MISSING  {piece}" in out
    assert "Text(255), External ID, Unique" in out and "Scheduled (default) and Canceled" in out
    assert "3 required piece(s) missing" in out
    refused = run("pair", "--calendar", calendar, "--crm", crm, exit_code=1)
    assert "is not ready" in refused and f"sync-workers crm check {crm}" in refused

    sf.add_custom_field(sandbox.state, "Event", "Calendar_Event_Id__c", external_id=True,
                        unique=True)
    sf.add_custom_field(sandbox.state, "Contact", "Sync_Contact_Id__c", external_id=True)
    sf.add_custom_field(sandbox.state, "Event", "Appointment_Status__c", "picklist",
                        picklist=["Scheduled", "Canceled"], default="Scheduled")
    out = run("crm", "check", crm)
    assert "ready for the sync" in out and "MISSING" not in out
    assert "paired calendar account" in run("pair", "--calendar", calendar, "--crm", crm)


def test_crm_check_has_help():
    assert "Usage:" in run("crm", "check", "--help")

"""The Salesforce adapter against the sandbox over HTTP: idempotent upserts, guarded
updates, the describe-driven body (defaults, truncation, picklists, a describe gone
stale), contacts, incremental changes, pacing, session refresh and request ids."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from sync_workers.logging import log_context
from sync_workers.mapping import DEFAULT_PATH, parse_mapping
from sync_workers.providers.salesforce import Salesforce
from sync_workers.reliability.errors import Conflict, InvalidInput, RateLimited
from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as admin
from sync_workers.schemas.salesforce import STATUS_FIELD
from sync_workers.schemas.time import to_utc
from sync_workers.sync.models import Contact
from tests.fixtures.accounts import connected_account, sandbox_settings

pytestmark = pytest.mark.integration
ADAPTER_LOGGER = "sync_workers.providers.salesforce"
START = datetime(2030, 5, 6, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def settings(sandbox, db, redis_db):
    return sandbox_settings(sandbox)


@pytest.fixture
def account(sandbox, settings):
    return connected_account(sandbox, "salesforce", settings=settings)


@pytest.fixture
def salesforce(account, settings):
    return Salesforce(account, settings=settings)


def meeting(**changes):
    return {"title": "Intro call", "start": START, "end": START + timedelta(minutes=30),
            "all_day": False, "location": "Zoom", "status": "scheduled", "contact_id": None,
            **changes}


def api_calls(sandbox, method=None, path=None) -> list[dict]:
    return [e for e in sandbox.state.log.entries("salesforce", method, path)
            if e["path"].startswith("/services/data/")]


def statuses(sandbox, method, path) -> list[int]:
    return [e["status"] for e in api_calls(sandbox, method, path)]


def header(entry: dict, name: str) -> str | None:
    return next((v for k, v in entry["headers"].items() if k.lower() == name.lower()), None)


def warnings_logged(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ADAPTER_LOGGER and r.levelno == logging.WARNING]


def stamp(record: dict) -> datetime:
    return to_utc(record["SystemModstamp"], field="SystemModstamp")


# --- activities --------------------------------------------------------------------------

def test_upserting_twice_with_one_external_id_makes_one_event(sandbox, salesforce):
    first = salesforce.upsert_activity("evt1", meeting())
    second = salesforce.upsert_activity("evt1", meeting(title="Intro call (moved)"))

    assert statuses(sandbox, "PATCH", "/Calendar_Event_Id__c/evt1$") == [201, 200]
    assert [r["Id"] for r in admin.records(sandbox.state, "Event")] == [first.id]
    assert (second.id, second.external_id, second.subject) == \
        (first.id, "evt1", "Intro call (moved)")
    assert "evt1" in second.description  # the mapping's template names the calendar event


def test_an_update_with_a_stale_version_is_a_conflict(sandbox, salesforce):
    activity = salesforce.upsert_activity("evt1", meeting())
    sandbox.state.clock.advance(2)  # If-Unmodified-Since counts whole seconds
    admin.update_as_user(sandbox.state, "Event", activity.id, {"Location": "Room 4"})

    with pytest.raises(Conflict):
        salesforce.update_activity(activity, {"title": "Renamed"})
    assert admin.record(sandbox.state, "Event", activity.id)["Subject"] == "Intro call"
    assert header(api_calls(sandbox, "PATCH")[-1], "If-Unmodified-Since")

    updated = salesforce.update_activity(salesforce.get_activity(activity.id),
                                         {"title": "Renamed"})
    assert (updated.subject, updated.location) == ("Renamed", "Room 4")


def test_deleting_twice_is_fine_and_a_deleted_event_is_gone(sandbox, salesforce):
    activity = salesforce.upsert_activity("evt1", meeting())

    salesforce.delete_activity(activity.id)
    salesforce.delete_activity(activity.id)

    assert statuses(sandbox, "DELETE", "/sobjects/Event/") == [204, 404]
    assert salesforce.get_activity(activity.id) is None
    assert salesforce.find_activity("evt1") is None
    with pytest.raises(Conflict):  # re-read and re-plan: the plan sees it gone
        salesforce.update_activity(activity, {"title": "Too late"})


# --- the describe-driven body ------------------------------------------------------------

def test_a_required_field_added_at_run_time_gets_a_default_and_one_warning(
        sandbox, salesforce, caplog):
    salesforce.upsert_activity("evt1", meeting())  # the describe is cached now
    admin.add_custom_field(sandbox.state, "Event", "Region__c", required=True)

    with caplog.at_level(logging.WARNING, logger=ADAPTER_LOGGER):
        activity = salesforce.upsert_activity("evt2", meeting())

    assert statuses(sandbox, "PATCH", "/evt2$") == [400, 201]  # stale, then fresh describe
    assert len(api_calls(sandbox, "GET", "/describe$")) == 2
    assert admin.record(sandbox.state, "Event", activity.id)["Region__c"] == "-"
    [warning] = warnings_logged(caplog)
    assert (warning.msg, warning.object, warning.field) == \
        ("salesforce_required_field_defaulted", "Event", "Region__c")


def test_an_event_made_before_a_required_field_existed_still_updates(
        sandbox, salesforce, caplog):
    activity = salesforce.upsert_activity("evt1", meeting())
    admin.add_custom_field(sandbox.state, "Event", "Region__c", required=True)

    with caplog.at_level(logging.WARNING, logger=ADAPTER_LOGGER):
        updated = salesforce.update_activity(activity, {"title": "Renamed"})

    record = admin.record(sandbox.state, "Event", activity.id)
    assert (updated.subject, record["Region__c"]) == ("Renamed", "-")
    assert [w.field for w in warnings_logged(caplog)] == ["Region__c"]


def test_a_subject_longer_than_the_field_is_cut_to_its_length(sandbox, salesforce):
    activity = salesforce.upsert_activity("evt1", meeting(title="x" * 300))

    assert activity.subject == "x" * 255
    assert salesforce.max_lengths()["title"] == 255  # for plan(): cut counts as converged


def _mapping_with_defaults(defaults: dict):
    config = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    config["objects"]["Event"]["defaults"] = defaults
    return parse_mapping(config)


def _deactivate_status(sandbox, value: str) -> None:
    """What an admin does in Setup (the sandbox has no helper for it): the value leaves the
    describe, and the restricted picklist refuses it."""
    with sandbox.state.lock:
        field = admin.org(sandbox.state).type("Event").field(STATUS_FIELD)
        field.picklist = tuple(v for v in field.picklist if v != value)


def test_a_status_deactivated_meanwhile_becomes_the_configured_default(
        sandbox, account, settings, caplog):
    salesforce = Salesforce(account, settings=settings,
                            mapping=_mapping_with_defaults({STATUS_FIELD: "Scheduled"}))
    salesforce.upsert_activity("evt1", meeting())  # cached while Canceled was active
    _deactivate_status(sandbox, "Canceled")

    with caplog.at_level(logging.WARNING, logger=ADAPTER_LOGGER):
        activity = salesforce.upsert_activity("evt2", meeting(status="canceled"))

    assert statuses(sandbox, "PATCH", "/evt2$") == [400, 201]  # refused, then re-described
    assert admin.record(sandbox.state, "Event", activity.id)[STATUS_FIELD] == "Scheduled"
    [warning] = warnings_logged(caplog)
    assert (warning.msg, warning.field, warning.value) == \
        ("salesforce_picklist_value_replaced", STATUS_FIELD, "Canceled")


def test_without_a_configured_default_it_is_invalid_input_and_nothing_is_written(
        sandbox, salesforce):
    _deactivate_status(sandbox, "Canceled")

    with pytest.raises(InvalidInput, match="Canceled"):
        salesforce.upsert_activity("evt1", meeting(status="canceled"))
    assert api_calls(sandbox, "PATCH") == []


# --- contacts ----------------------------------------------------------------------------

def test_find_contact_by_email_with_quotes_and_backslashes(sandbox, salesforce):
    emails = ("o'brien@example.com", "back\\slash@example.com", "plain@example.com")
    ids = {email: admin.seed(sandbox.state, "Contact", {"LastName": "X", "Email": email})
           for email in emails}

    for email, contact_id in ids.items():
        assert salesforce.find_contact_by_email(email).id == contact_id
    assert salesforce.find_contact_by_email("O'Brien@Example.com").id == ids[emails[0]]
    for injection in ("x' OR Email != 'y@example.com", "x\\' OR Email != 'y@example.com"):
        assert salesforce.find_contact_by_email(injection) is None
    assert set(statuses(sandbox, "GET", "/query$")) == {200}
    with pytest.raises(InvalidInput):
        salesforce.get_contact("003' OR Id != '")


def test_creating_a_contact_twice_with_one_key_makes_one_contact(sandbox, salesforce):
    first = salesforce.create_contact("ada@example.com", "Ada King Lovelace", "key-1")
    again = salesforce.create_contact("ada@example.com", "Ada King Lovelace", "key-1")

    assert again == first == Contact(first.id, "Ada King", "Lovelace", "ada@example.com")
    assert statuses(sandbox, "PATCH", "/Sync_Contact_Id__c/key-1$") == [201, 200]
    assert len(admin.records(sandbox.state, "Contact")) == 1
    assert salesforce.create_contact("grace@example.com", None, "key-2").last_name == "grace"


def test_a_contact_has_its_company_and_reads_as_deleted_once_deleted(sandbox, salesforce):
    company = admin.seed(sandbox.state, "Account", {"Name": "Acme"})
    contact_id = admin.seed(sandbox.state, "Contact", {
        "FirstName": "Grace", "LastName": "Hopper", "Email": "grace@acme.test",
        "AccountId": company})

    assert salesforce.get_contact(contact_id) == \
        Contact(contact_id, "Grace", "Hopper", "grace@acme.test", "Acme")
    admin.delete_as_user(sandbox.state, "Contact", contact_id)
    assert salesforce.get_contact(contact_id).deleted


# --- changes -----------------------------------------------------------------------------

def _event(subject: str) -> dict:
    return {"Subject": subject, "StartDateTime": "2030-05-06T09:00:00Z",
            "EndDateTime": "2030-05-06T09:30:00Z"}


def test_changes_since_reads_every_page_and_finds_deletions(sandbox, salesforce):
    state = sandbox.state
    admin.configure(state, query_batch_size=2)
    now = state.clock.now()
    before, since = now - timedelta(minutes=10), now - timedelta(minutes=5)
    edited, removed, _untouched = (admin.seed(state, "Event", _event(f"Old {i}"), at=before)
                                   for i in range(3))
    same_second = [admin.seed(state, "Event", _event(f"Same {i}"), at=now - timedelta(minutes=2))
                   for i in range(3)]
    renamed, gone = (admin.seed(state, "Contact", {"LastName": name}, at=before)
                     for name in ("Old", "Gone"))
    admin.update_as_user(state, "Event", edited, {"Location": "Moved"})
    admin.delete_as_user(state, "Event", removed)
    admin.update_as_user(state, "Contact", renamed, {"LastName": "New"})
    admin.delete_as_user(state, "Contact", gone)
    state.clock.advance(61)  # deleted/ reports the minutes that have passed

    changes = salesforce.changes_since(since, state.clock.now())

    assert sorted(changes.activity_ids) == sorted([*same_second, edited])
    assert api_calls(sandbox, "GET", r"/query/01g")  # the equal stamps straddled pages
    assert (changes.deleted_activity_ids, changes.contact_ids, changes.deleted_contact_ids) \
        == ((removed,), (renamed,), (gone,))
    assert changes.newest == max(stamp(admin.record(state, sobject, record_id)) for
                                 sobject, record_id in (("Event", edited), ("Event", removed),
                                                        ("Contact", renamed),
                                                        ("Contact", gone)))


# --- pacing, sessions, request ids -------------------------------------------------------

def test_pacing_pauses_before_the_org_refuses(sandbox, salesforce, account, settings):
    admin.configure(sandbox.state, daily_api_limit=10)
    contact_id = admin.seed(sandbox.state, "Contact", {"LastName": "X"})

    made = 0
    with pytest.raises(RateLimited) as paused:
        for _ in range(20):
            salesforce.get_contact(contact_id)
            made += 1

    assert made == 9 and admin.api_usage(sandbox.state) == (9, 10)
    assert paused.value.retry_after > 0
    assert 403 not in {e["status"] for e in api_calls(sandbox)}
    with pytest.raises(RateLimited):  # another worker knows it too, from Redis
        Salesforce(account, settings=settings).find_contact_by_email("a@example.com")
    assert admin.api_usage(sandbox.state) == (9, 10)


def test_an_expired_session_is_refreshed_once_transparently(sandbox, salesforce):
    activity = salesforce.upsert_activity("evt1", meeting())
    oauth.expire_access_tokens(sandbox.state, "salesforce")

    assert salesforce.get_activity(activity.id) == activity
    assert statuses(sandbox, "GET", f"/sobjects/Event/{activity.id}$")[-2:] == [401, 200]
    assert len(oauth.refresh_requests(sandbox.state, "salesforce")) == 1


def test_every_call_carries_the_request_id(sandbox, salesforce):
    with log_context(request_id="req-sf-1"):
        salesforce.upsert_activity("evt1", meeting())

    calls = api_calls(sandbox)
    assert len(calls) == 3  # describe, upsert, read back
    assert {header(e, "X-Request-ID") for e in calls} == {"req-sf-1"}

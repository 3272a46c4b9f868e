"""The HubSpot emulator's properties API: definitions of default properties, custom
properties (a unique-value one for calendar ids) and groups, and an admin's changes
(options, required properties) at run time."""
from __future__ import annotations

import pytest

from sync_workers.sandbox import hubspot_admin as admin
from tests.integration.sandbox.test_hubspot_support import (
    Api,
    error_of,
    issues_of,
    meeting_body,
)

UID = {"name": "sync_ical_uid", "label": "Calendar event UID", "type": "string",
       "fieldType": "text", "groupName": "sync_workers", "hasUniqueValue": True}


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def test_default_property_definitions(api):
    listed = api.get("/crm/v3/properties/meetings").json()["results"]
    by_name = {p["name"]: p for p in listed}
    outcome = by_name["hs_meeting_outcome"]
    assert (outcome["type"], outcome["fieldType"]) == ("enumeration", "select")
    assert [o["value"] for o in outcome["options"]] == \
        ["SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"]
    assert by_name["hs_lastmodifieddate"]["modificationMetadata"] == \
        {"archivable": False, "readOnlyDefinition": True, "readOnlyValue": True}
    assert by_name["hs_timestamp"]["type"] == "datetime"
    owner = api.get("/crm/v3/properties/contacts/hubspot_owner_id").json()
    assert owner["referencedObjectType"] == "OWNER" and owner["externalOptions"] is True
    domain = api.get("/crm/v3/properties/0-1/hs_email_domain").json()
    assert domain["calculated"] is True and domain["hasUniqueValue"] is False
    assert error_of(api.get("/crm/v3/properties/contacts/nope")) == (404, "OBJECT_NOT_FOUND")


def test_create_a_group_and_a_unique_property_then_use_it_as_id_property(api):
    assert error_of(api.post("/crm/v3/properties/meetings", json=UID)) == \
        (400, "VALIDATION_ERROR")  # the group does not exist yet
    group = api.post("/crm/v3/properties/meetings/groups",
                     json={"name": "sync_workers", "label": "Calendar sync"})
    assert group.status_code == 201
    created = api.post("/crm/v3/properties/meetings", json=UID)
    assert created.status_code == 201
    assert created.json()["hasUniqueValue"] is True
    assert created.json()["modificationMetadata"]["readOnlyDefinition"] is False
    assert error_of(api.post("/crm/v3/properties/meetings", json=UID)) == \
        (409, "OBJECT_ALREADY_EXISTS")
    first = api.post("/crm/v3/objects/meetings",
                     json=meeting_body(sync_ical_uid="evt1@google.com")).json()["id"]
    got = api.get("/crm/v3/objects/meetings/evt1@google.com",
                  params={"idProperty": "sync_ical_uid", "properties": "sync_ical_uid"})
    assert got.json()["id"] == first
    dup = api.post("/crm/v3/objects/meetings", json=meeting_body(sync_ical_uid="evt1@google.com"))
    assert issues_of(dup) == [("sync_ical_uid", "INVALID_PROPERTY_VALUE")]
    upsert = api.post("/crm/v3/objects/meetings/batch/upsert", json={"inputs": [
        {"idProperty": "sync_ical_uid", "id": "evt1@google.com",
         "properties": {"hs_meeting_title": "Renamed"}},
        {"idProperty": "sync_ical_uid", "id": "evt2@google.com",
         "properties": {"hs_timestamp": "2026-03-03T09:00:00Z"}}]}).json()
    assert [(r["id"] == first, r["new"]) for r in upsert["results"]] == \
        [(True, False), (False, True)]


def test_type_and_field_type_must_fit(api):
    bad = {**UID, "groupName": "meeting", "type": "number", "fieldType": "text"}
    assert error_of(api.post("/crm/v3/properties/meetings", json=bad)) == \
        (400, "VALIDATION_ERROR")
    enum = {"name": "room", "label": "Room", "type": "enumeration", "fieldType": "select",
            "groupName": "meeting"}
    assert error_of(api.post("/crm/v3/properties/meetings", json=enum))[0] == 400  # no options
    enum["options"] = [{"label": "Blue", "value": "blue"}]
    assert api.post("/crm/v3/properties/meetings", json=enum).status_code == 201


def test_admin_adds_an_option_and_makes_a_property_required(sandbox, api):
    followup = meeting_body(hs_meeting_outcome="NEEDS_FOLLOWUP")
    bad = api.post("/crm/v3/objects/meetings", json=followup)
    assert issues_of(bad) == [("hs_meeting_outcome", "INVALID_OPTION")]
    admin.add_option(sandbox.state, "meetings", "hs_meeting_outcome", "NEEDS_FOLLOWUP",
                     "Needs follow-up")
    ok = api.post("/crm/v3/objects/meetings", json=followup)
    assert ok.status_code == 201
    options = api.get("/crm/v3/properties/meetings/hs_meeting_outcome").json()["options"]
    assert options[-1]["value"] == "NEEDS_FOLLOWUP"

    admin.make_required(sandbox.state, "meetings", "hs_meeting_location")
    missing = api.post("/crm/v3/objects/meetings", json=meeting_body())
    assert issues_of(missing) == [("hs_meeting_location", "MISSING_REQUIRED_PROPERTY")]
    clearing = api.patch(f"/crm/v3/objects/meetings/{ok.json()['id']}",
                         json={"properties": {"hs_meeting_location": ""}})
    assert issues_of(clearing) == [("hs_meeting_location", "MISSING_REQUIRED_PROPERTY")]
    # Other edits of a record that predates the rule still go through.
    assert api.patch(f"/crm/v3/objects/meetings/{ok.json()['id']}",
                     json={"properties": {"hs_meeting_title": "x"}}).status_code == 200


def test_admin_custom_property_helper_and_archiving(sandbox, api):
    admin.add_property(sandbox.state, "contacts", "calendar_id", unique=True)
    contact = api.create("contacts", email="a@example.com", calendar_id="cal-1")
    assert api.get("/crm/v3/objects/contacts/cal-1", params={"idProperty": "calendar_id"}
                   ).json()["id"] == contact
    assert api.delete("/crm/v3/properties/contacts/calendar_id").status_code == 204
    assert api.get("/crm/v3/properties/contacts/calendar_id").status_code == 404
    assert api.get("/crm/v3/properties/contacts/calendar_id",
                   params={"archived": "true"}).json()["archived"] is True
    assert error_of(api.delete("/crm/v3/properties/contacts/email")) == (400, "VALIDATION_ERROR")

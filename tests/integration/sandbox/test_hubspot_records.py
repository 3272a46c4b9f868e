"""The HubSpot emulator's CRM v3 objects over real HTTP: contacts and meetings, unique
e-mails and `idProperty`, validation, archiving, paging, batches, merge, associations and
owners."""
from __future__ import annotations

import re

import pytest

from sync_workers.sandbox import hubspot_admin as admin
from tests.integration.sandbox.test_hubspot_support import (
    TO_CONTACT,
    Api,
    error_of,
    issues_of,
    meeting_body,
)

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def owner_id(api) -> str:
    return api.get("/crm/v3/owners").json()["results"][0]["id"]


# --- contacts ---------------------------------------------------------------------------

def test_create_and_read_a_contact(api):
    resp = api.post("/crm/v3/objects/contacts", json={"properties": {
        "email": "Jane@Example.com", "firstname": "Jane", "lastname": "Doe", "company": "Acme"}})
    assert resp.status_code == 201
    created = resp.json()
    assert resp.headers["Location"].endswith(f"/crm/v3/objects/contacts/{created['id']}")
    assert created["id"].isdigit() and created["archived"] is False
    props = created["properties"]
    assert props["email"] == "jane@example.com"  # stored lower-cased
    assert props["hs_object_id"] == created["id"]
    assert ISO_MS.match(props["createdate"]) and props["createdate"] == created["createdAt"]
    got = api.get(f"/crm/v3/objects/contacts/{created['id']}").json()
    # Without `properties`: the documented default set, unset ones as null.
    assert sorted(got["properties"]) == ["createdate", "email", "firstname", "hs_object_id",
                                        "lastmodifieddate", "lastname"]
    picked = api.get(f"/crm/v3/objects/contacts/{created['id']}",
                     params={"properties": "company,jobtitle,no_such_prop"}).json()
    assert picked["properties"]["company"] == "Acme"
    assert picked["properties"]["jobtitle"] is None
    assert "no_such_prop" not in picked["properties"]


def test_a_duplicate_email_is_409_with_the_existing_id(api):
    first = api.create("contacts", email="dup@example.com")
    resp = api.post("/crm/v3/objects/contacts",
                    json={"properties": {"email": "DUP@example.com", "firstname": "B"}})
    assert error_of(resp) == (409, "CONFLICT")
    assert resp.json()["message"] == f"Contact already exists. Existing ID: {first}"
    other = api.create("contacts", email="other@example.com")
    taken = api.patch(f"/crm/v3/objects/contacts/{other}",
                      json={"properties": {"email": "dup@example.com"}})
    assert error_of(taken) == (409, "CONFLICT")


def test_id_property_email_reads_and_updates(api):
    contact = api.create("contacts", email="by.email@example.com", firstname="Old")
    got = api.get("/crm/v3/objects/contacts/by.email@example.com",
                  params={"idProperty": "email"})
    assert got.json()["id"] == contact
    patched = api.patch("/crm/v3/objects/contacts/by.email@example.com",
                        params={"idProperty": "email"},
                        json={"properties": {"firstname": "New"}})
    assert patched.status_code == 200 and patched.json()["properties"]["firstname"] == "New"
    assert error_of(api.get("/crm/v3/objects/contacts/by.email@example.com")) == \
        (404, "OBJECT_NOT_FOUND")  # an e-mail is not an id without idProperty
    assert error_of(api.get("/crm/v3/objects/contacts/Old",
                            params={"idProperty": "firstname"})) == (400, "VALIDATION_ERROR")


def test_validation_lists_every_bad_property(api):
    contact = api.create("contacts", email="v@example.com")
    resp = api.patch(f"/crm/v3/objects/contacts/{contact}", json={"properties": {
        "hs_object_id": "5", "favorite_color": "red", "email": "not-an-email",
        "hs_email_domain": "x.com", "lifecyclestage": "Lead"}})
    assert issues_of(resp) == [("hs_object_id", "READ_ONLY_VALUE"),
                               ("favorite_color", "PROPERTY_DOESNT_EXIST"),
                               ("email", "INVALID_EMAIL"),
                               ("hs_email_domain", "READ_ONLY_VALUE"),
                               ("lifecyclestage", "INVALID_OPTION")]
    # Nothing of a rejected write is kept.
    assert api.get(f"/crm/v3/objects/contacts/{contact}").json()["properties"]["email"] == \
        "v@example.com"


def test_empty_string_clears_and_only_changes_move_lastmodifieddate(sandbox, api):
    contact = api.create("contacts", email="c@example.com", company="Acme")
    before = api.get(f"/crm/v3/objects/contacts/{contact}").json()
    sandbox.state.clock.advance(5)
    api.patch(f"/crm/v3/objects/contacts/{contact}", json={"properties": {"company": "Acme"}})
    same = api.get(f"/crm/v3/objects/contacts/{contact}").json()
    assert same["properties"]["lastmodifieddate"] == before["properties"]["lastmodifieddate"]
    api.patch(f"/crm/v3/objects/contacts/{contact}", json={"properties": {"company": ""}})
    after = api.get(f"/crm/v3/objects/contacts/{contact}", params={"properties": "company"})
    assert after.json()["properties"]["company"] is None
    assert after.json()["properties"]["lastmodifieddate"] > \
        before["properties"]["lastmodifieddate"]


def test_delete_archives_and_archived_true_reads_it(api):
    contact = api.create("contacts", email="gone@example.com")
    assert api.delete(f"/crm/v3/objects/contacts/{contact}").status_code == 204
    assert api.delete(f"/crm/v3/objects/contacts/{contact}").status_code == 204  # idempotent
    assert error_of(api.get(f"/crm/v3/objects/contacts/{contact}")) == (404, "OBJECT_NOT_FOUND")
    archived = api.get(f"/crm/v3/objects/contacts/{contact}", params={"archived": "true"})
    assert archived.status_code == 200
    assert archived.json()["archived"] is True and ISO_MS.match(archived.json()["archivedAt"])
    listed = api.get("/crm/v3/objects/contacts", params={"archived": "true"}).json()
    assert [r["id"] for r in listed["results"]] == [contact]
    # The e-mail of an archived contact is free again.
    assert api.create("contacts", email="gone@example.com") != contact


def test_list_pages_with_after(api):
    ids = [api.create("contacts", email=f"p{n}@example.com") for n in range(5)]
    seen, after = [], None
    while True:
        params = {"limit": 2, "properties": "email"}
        if after:
            params["after"] = after
        page = api.get("/crm/v3/objects/contacts", params=params).json()
        seen += [r["id"] for r in page["results"]]
        nxt = page.get("paging", {}).get("next")
        if not nxt:
            break
        assert nxt["after"] == str(int(seen[-1]) + 1) or nxt["after"] in ids
        after = nxt["after"]
    assert seen == ids
    assert error_of(api.get("/crm/v3/objects/contacts/abc")) == (404, "OBJECT_NOT_FOUND")
    assert error_of(api.get("/crm/v3/objects/widgets")) == (400, "VALIDATION_ERROR")


# --- meetings -----------------------------------------------------------------------------

def test_meeting_defaults_hs_timestamp_and_checks_outcome_and_owner(api):
    body = meeting_body()
    del body["properties"]["hs_timestamp"]
    body["properties"]["hs_meeting_outcome"] = "SCHEDULED"
    body["properties"]["hubspot_owner_id"] = owner_id(api)
    created = api.post("/crm/v3/objects/meetings", json=body)
    assert created.status_code == 201
    props = created.json()["properties"]
    assert props["hs_timestamp"] == props["hs_meeting_start_time"] == "2026-03-02T09:00:00.000Z"
    assert ISO_MS.match(props["hs_lastmodifieddate"])
    got = api.get(f"/crm/v3/objects/meetings/{created.json()['id']}").json()
    assert sorted(got["properties"]) == ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]
    bad = meeting_body(hs_meeting_outcome="Scheduled", hubspot_owner_id="999")
    resp = api.post("/crm/v3/objects/meetings", json=bad)
    assert issues_of(resp) == [("hs_meeting_outcome", "INVALID_OPTION"),
                               ("hubspot_owner_id", "INVALID_OWNER_ID")]
    assert "was not one of the allowed options" in resp.json()["errors"][0]["message"]


def test_meeting_requires_hs_timestamp(api):
    body = meeting_body()
    del body["properties"]["hs_timestamp"], body["properties"]["hs_meeting_start_time"]
    assert issues_of(api.post("/crm/v3/objects/meetings", json=body)) == \
        [("hs_timestamp", "MISSING_REQUIRED_PROPERTY")]


def test_timestamps_in_every_accepted_form(api):
    meeting = api.create("meetings", hs_timestamp="1772442000000",
                         hs_meeting_start_time="2026-03-02T10:00:00+01:00",
                         hs_meeting_end_time=1772445600000)
    props = api.get(f"/crm/v3/objects/meetings/{meeting}", params={
        "properties": "hs_timestamp,hs_meeting_start_time,hs_meeting_end_time"}).json()
    assert props["properties"]["hs_timestamp"] == "2026-03-02T09:00:00.000Z"
    assert props["properties"]["hs_meeting_start_time"] == "2026-03-02T09:00:00.000Z"
    assert props["properties"]["hs_meeting_end_time"] == "2026-03-02T10:00:00.000Z"
    resp = api.patch(f"/crm/v3/objects/meetings/{meeting}",
                     json={"properties": {"hs_meeting_end_time": "tomorrow"}})
    assert issues_of(resp) == [("hs_meeting_end_time", "INVALID_LONG")]


# --- associations -------------------------------------------------------------------------

def test_inline_and_v4_associations(api):
    alice = api.create("contacts", email="alice@example.com")
    bob = api.create("contacts", email="bob@example.com")
    meeting = api.post("/crm/v3/objects/meetings", json=meeting_body([alice])).json()["id"]
    put = api.put(f"/crm/v4/objects/meetings/{meeting}/associations/default/contacts/{bob}")
    assert put.status_code == 200
    assert put.json()["results"][0]["associationSpec"] == TO_CONTACT[0]
    listed = api.get(f"/crm/v4/objects/meetings/{meeting}/associations/contacts").json()
    assert [(r["toObjectId"], r["associationTypes"]) for r in listed["results"]] == [
        (alice, [{"category": "HUBSPOT_DEFINED", "typeId": 200, "label": None}]),
        (bob, [{"category": "HUBSPOT_DEFINED", "typeId": 200, "label": None}])]
    from_contact = api.get(f"/crm/v4/objects/contacts/{bob}/associations/meetings").json()
    assert from_contact["results"][0]["associationTypes"][0]["typeId"] == 199
    v3 = api.get(f"/crm/v3/objects/meetings/{meeting}", params={"associations": "contacts"})
    assert v3.json()["associations"]["contacts"]["results"] == [
        {"id": alice, "type": "meeting_event_to_contact"},
        {"id": bob, "type": "meeting_event_to_contact"}]
    assert api.delete(f"/crm/v4/objects/meetings/{meeting}/associations/contacts/{alice}"
                      ).status_code == 204
    assert [r["toObjectId"] for r in api.get(
        f"/crm/v4/objects/meetings/{meeting}/associations/contacts").json()["results"]] == [bob]


def test_labelled_put_and_bad_associations(sandbox, api):
    alice = api.create("contacts", email="alice@example.com")
    meeting = api.create("meetings", hs_timestamp="2026-03-02T09:00:00Z")
    labelled = api.put(f"/crm/v4/objects/meetings/{meeting}/associations/contacts/{alice}",
                       json=TO_CONTACT)
    assert labelled.status_code == 201
    assert labelled.json()["fromObjectTypeId"] == "0-47"
    wrong = api.put(f"/crm/v4/objects/meetings/{meeting}/associations/contacts/{alice}",
                    json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 199}])
    assert error_of(wrong) == (400, "VALIDATION_ERROR")
    missing = api.post("/crm/v3/objects/meetings", json=meeting_body(["999999"]))
    assert error_of(missing) == (400, "VALIDATION_ERROR")
    assert len(admin.records(sandbox.state, "meetings")) == 1  # nothing created
    v3 = api.put(f"/crm/v3/objects/meetings/{meeting}/associations/contacts/{alice}/200")
    assert v3.status_code == 200


# --- batches ----------------------------------------------------------------------------

def test_batch_create_read_update_upsert_archive(api):
    created = api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": "b1@example.com"}},
        {"properties": {"email": "b2@example.com"}}]})
    assert created.status_code == 201 and created.json()["status"] == "COMPLETE"
    ids = [r["id"] for r in created.json()["results"]]
    read = api.post("/crm/v3/objects/contacts/batch/read", json={
        "properties": ["email"], "inputs": [{"id": ids[0]}, {"id": "424242"}]})
    assert read.status_code == 207
    assert read.json()["errors"][0]["context"] == {"ids": ["424242"]}
    by_email = api.post("/crm/v3/objects/contacts/batch/read", json={
        "idProperty": "email", "inputs": [{"id": "b2@example.com"}]}).json()
    assert [r["id"] for r in by_email["results"]] == [ids[1]]
    updated = api.post("/crm/v3/objects/contacts/batch/update", json={"inputs": [
        {"id": ids[0], "properties": {"firstname": "One"}}]})
    assert updated.status_code == 200
    upsert = api.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": [
        {"idProperty": "email", "id": "b1@example.com", "properties": {"lastname": "L"}},
        {"idProperty": "email", "id": "b3@example.com", "properties": {"lastname": "N"}}]})
    assert [r["new"] for r in upsert.json()["results"]] == [False, True]
    assert api.post("/crm/v3/objects/contacts/batch/archive",
                    json={"inputs": [{"id": ids[1]}]}).status_code == 204
    assert api.get(f"/crm/v3/objects/contacts/{ids[1]}").status_code == 404


def test_batch_is_all_or_nothing_unless_trace_ids(api):
    api.create("contacts", email="taken@example.com")
    atomic = api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": "fresh@example.com"}},
        {"properties": {"email": "taken@example.com"}}]})
    assert error_of(atomic) == (409, "CONFLICT")
    assert api.get("/crm/v3/objects/contacts/fresh@example.com",
                   params={"idProperty": "email"}).status_code == 404
    multi = api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"objectWriteTraceId": "t1", "properties": {"email": "fresh@example.com"}},
        {"objectWriteTraceId": "t2", "properties": {"nope": "1", "email": "x@example.com"}}]})
    assert multi.status_code == 207
    assert multi.json()["numErrors"] == 1
    assert multi.json()["errors"][0]["context"]["objectWriteTraceId"] == ["t2"]
    assert multi.json()["results"][0]["objectWriteTraceId"] == "t1"
    too_many = api.post("/crm/v3/objects/contacts/batch/read",
                        json={"inputs": [{"id": str(n)} for n in range(101)]})
    assert error_of(too_many) == (400, "VALIDATION_ERROR")


# --- merge and owners -------------------------------------------------------------------

def test_merge_keeps_the_primary_and_redirects_the_merged_id(api):
    primary = api.create("contacts", email="p@example.com", firstname="Pat")
    other = api.create("contacts", email="o@example.com", company="Acme")
    meeting = api.post("/crm/v3/objects/meetings", json=meeting_body([other])).json()["id"]
    merged = api.post("/crm/v3/objects/contacts/merge",
                      json={"primaryObjectId": primary, "objectIdToMerge": other})
    assert merged.status_code == 200
    props = merged.json()["properties"]
    assert props["company"] == "Acme" and props["hs_additional_emails"] == "o@example.com"
    assert props["hs_merged_object_ids"] == other
    assert api.get(f"/crm/v3/objects/contacts/{other}").json()["id"] == primary
    assert error_of(api.post("/crm/v3/objects/contacts",
                             json={"properties": {"email": "o@example.com"}}))[0] == 409
    assert [r["toObjectId"] for r in api.get(
        f"/crm/v4/objects/meetings/{meeting}/associations/contacts").json()["results"]] == \
        [primary]


def test_owners_list_and_lookup(sandbox, api):
    added = admin.add_owner(sandbox.state, "rep@example.com", "Rae", "Rep")
    owners = api.get("/crm/v3/owners").json()["results"]
    rep = next(o for o in owners if o["id"] == added)
    assert rep == {**rep, "email": "rep@example.com", "firstName": "Rae", "lastName": "Rep",
                   "type": "PERSON", "archived": False}
    assert isinstance(rep["userId"], int)
    assert api.get(f"/crm/v3/owners/{added}").json()["email"] == "rep@example.com"
    assert api.get("/crm/v3/owners", params={"email": "rep@example.com"}).json()[
        "results"][0]["id"] == added
    admin.archive_owner(sandbox.state, added)
    resp = api.post("/crm/v3/objects/meetings", json=meeting_body(hubspot_owner_id=added))
    assert issues_of(resp) == [("hubspot_owner_id", "INVALID_OWNER_ID")]

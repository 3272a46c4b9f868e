"""The Salesforce emulator's sObject resources over real HTTP: ids, save rules, Event time
rules, upsert by external id, conditional requests, run-time admin changes and merge."""
from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
import requests

from sync_workers.sandbox import salesforce_admin as admin
from sync_workers.sandbox.salesforce_common import checksum, normalize_id
from tests.integration.sandbox.salesforce_client import Api


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def create(api, sobject: str, **fields) -> str:
    resp = api.post(f"/sobjects/{sobject}", json=fields)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def error_of(resp) -> tuple[int, str, list | None]:
    body = resp.json()
    assert isinstance(body, list), body
    return resp.status_code, body[0]["errorCode"], body[0].get("fields")


def timed_event(**extra):
    return {"Subject": "Sync", "StartDateTime": "2024-05-01T10:00:00Z", **extra}


# --- ids ----------------------------------------------------------------------------------

def test_ids_have_key_prefixes_and_the_18_char_checksum(api):
    ids = {s: create(api, s, **f) for s, f in [("Account", {"Name": "Acme"}),
                                               ("Contact", {"LastName": "Doe"}),
                                               ("Event", timed_event(DurationInMinutes=5))]}
    assert [ids[s][:3] for s in ("Account", "Contact", "Event")] == ["001", "003", "00U"]
    contact = ids["Contact"]
    assert len(contact) == 18 and checksum(contact[:15]) == contact[15:]
    # The 15-char form and a lower-cased 18-char id reach the same record.
    for variant in (contact[:15], contact.lower()):
        assert api.get(f"/sobjects/Contact/{variant}").json()["Id"] == contact
    # A lower-cased 15-char id is another id: not found.
    assert error_of(api.get(f"/sobjects/Contact/{contact[:15].swapcase()}"))[:2] == \
        (404, "NOT_FOUND")
    assert error_of(api.get(f"/sobjects/Event/{contact}"))[:2] == (404, "NOT_FOUND")
    assert normalize_id("not-an-id") is None
    assert normalize_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"  # a documented pair


def test_get_with_fields_and_unknown_paths(api):
    contact = create(api, "Contact", LastName="Doe", Email="doe@example.com")
    body = api.get(f"/sobjects/Contact/{contact}", params={"fields": "Email,LastName"}).json()
    assert list(body) == ["attributes", "Email", "LastName", "Id"]
    assert error_of(api.get(f"/sobjects/Contact/{contact}", params={"fields": "Nope"}))[:2] == \
        (400, "INVALID_FIELD")
    assert error_of(api.get("/sobjects/Widget__c"))[:2] == (404, "NOT_FOUND")
    assert error_of(api.get("/sobjects/Contact/notAnId"))[:2] == (404, "NOT_FOUND")
    assert error_of(api.put(f"/sobjects/Contact/{contact}", json={}))[:2] == \
        (405, "METHOD_NOT_ALLOWED")


# --- save rules -----------------------------------------------------------------------------

@pytest.mark.parametrize("fields, expected", [
    ({"FirstName": "x"}, (400, "REQUIRED_FIELD_MISSING", ["LastName"])),
    ({"LastName": "x", "Nope__c": 1}, (400, "INVALID_FIELD", None)),
    ({"LastName": "x", "Name": "y"}, (400, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Name"])),
    ({"LastName": "x", "Email": "not-an-email"}, (400, "INVALID_EMAIL_ADDRESS", ["Email"])),
    ({"LastName": "x" * 81}, (400, "STRING_TOO_LONG", ["LastName"])),
    ({"LastName": "x", "AccountId": "garbage"}, (400, "MALFORMED_ID", ["AccountId"])),
])
def test_contact_save_errors(api, fields, expected):
    assert error_of(api.post("/sobjects/Contact", json=fields)) == expected


def test_non_json_bodies_are_rejected(api):
    assert error_of(api.post("/sobjects/Contact", data="{"))[:2] == (400, "JSON_PARSER_ERROR")
    assert error_of(api.post("/sobjects/Contact", json=[{"LastName": "x"}]))[:2] == \
        (400, "JSON_PARSER_ERROR")


def test_empty_string_is_stored_as_null_and_every_save_moves_the_timestamps(sandbox, api):
    contact = create(api, "Contact", LastName="Doe", Title="CEO")
    before = api.get(f"/sobjects/Contact/{contact}").json()
    sandbox.state.clock.advance(5)
    assert api.patch(f"/sobjects/Contact/{contact}", json={"Title": ""}).status_code == 204
    after = api.get(f"/sobjects/Contact/{contact}").json()
    assert after["Title"] is None
    assert after["SystemModstamp"] > before["SystemModstamp"]
    sandbox.state.clock.advance(5)
    api.patch(f"/sobjects/Contact/{contact}", json={})  # no change still counts as an edit
    assert api.get(f"/sobjects/Contact/{contact}").json()["LastModifiedDate"] > \
        after["LastModifiedDate"]


# --- Event rules -----------------------------------------------------------------------------

def test_event_duration_and_end_are_derived_from_each_other(api):
    by_duration = create(api, "Event", **timed_event(DurationInMinutes=45))
    by_end = create(api, "Event", **timed_event(EndDateTime="2024-05-01T12:00:00+02:00"))
    first = api.get(f"/sobjects/Event/{by_duration}").json()
    second = api.get(f"/sobjects/Event/{by_end}").json()
    assert first["EndDateTime"] == "2024-05-01T10:45:00.000+0000"
    assert first["ActivityDateTime"] == first["StartDateTime"]
    assert second["DurationInMinutes"] == 0  # 12:00+02:00 is 10:00Z

    # Moving the start keeps the duration.
    api.patch(f"/sobjects/Event/{by_duration}", json={"StartDateTime": "2024-05-02T08:00:00Z"})
    moved = api.get(f"/sobjects/Event/{by_duration}").json()
    assert (moved["EndDateTime"], moved["DurationInMinutes"]) == \
        ("2024-05-02T08:45:00.000+0000", 45)


@pytest.mark.parametrize("fields, expected", [
    (timed_event(), (400, "REQUIRED_FIELD_MISSING", ["DurationInMinutes"])),
    ({"Subject": "x", "DurationInMinutes": 5}, (400, "REQUIRED_FIELD_MISSING",
                                                ["ActivityDateTime"])),
    (timed_event(DurationInMinutes=30, EndDateTime="2024-05-01T11:00:00Z"),
     (400, "FIELD_INTEGRITY_EXCEPTION", ["DurationInMinutes", "EndDateTime"])),
    (timed_event(EndDateTime="2024-05-01T09:00:00Z"),
     (400, "FIELD_INTEGRITY_EXCEPTION", ["EndDateTime"])),
    (timed_event(DurationInMinutes=15 * 24 * 60),
     (400, "FIELD_INTEGRITY_EXCEPTION", ["DurationInMinutes"])),
    (timed_event(DurationInMinutes=5, Subject="s" * 256), (400, "STRING_TOO_LONG", ["Subject"])),
    (timed_event(DurationInMinutes=5, ShowAs="Maybe"),
     (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["ShowAs"])),
    (timed_event(DurationInMinutes=5, StartDateTime="tomorrow"), (400, "JSON_PARSER_ERROR", None)),
])
def test_event_save_errors(api, fields, expected):
    assert error_of(api.post("/sobjects/Event", json=fields)) == expected


def test_all_day_events_end_on_their_last_day(api):
    event = create(api, "Event", Subject="Offsite", IsAllDayEvent=True, ActivityDate="2024-06-10",
                   EndDateTime="2024-06-12T00:00:00Z")
    body = api.get(f"/sobjects/Event/{event}").json()
    assert body["StartDateTime"] == "2024-06-10T00:00:00.000+0000"
    assert body["EndDateTime"] == "2024-06-12T00:00:00.000+0000"  # inclusive, not the 13th
    assert (body["DurationInMinutes"], body["EndDate"], body["ActivityDateTime"]) == \
        (3 * 1440, "2024-06-12", None)
    one_day = create(api, "Event", Subject="Holiday", IsAllDayEvent=True, ActivityDate="2024-06-20")
    assert api.get(f"/sobjects/Event/{one_day}").json()["DurationInMinutes"] == 1440


def test_who_id_must_be_an_existing_contact(api):
    account = create(api, "Account", Name="Acme")
    contact = create(api, "Contact", LastName="Doe", AccountId=account)
    missing = contact[:9] + "ZZZZZZ"  # a well-formed Contact id nobody has
    cases = [(account, "FIELD_INTEGRITY_EXCEPTION"), (missing, "INVALID_CROSS_REFERENCE_KEY"),
             ("xyz", "MALFORMED_ID")]
    for who, code in cases:
        resp = api.post("/sobjects/Event", json=timed_event(DurationInMinutes=5, WhoId=who))
        assert error_of(resp) == (400, code, ["WhoId"])
    event = create(api, "Event", **timed_event(DurationInMinutes=5, WhoId=contact[:15]))
    body = api.get(f"/sobjects/Event/{event}").json()
    assert (body["WhoId"], body["AccountId"]) == (contact, account)


def test_deleting_a_contact_deletes_its_events(api):
    contact = create(api, "Contact", LastName="Doe")
    event = create(api, "Event", **timed_event(DurationInMinutes=5, WhoId=contact))
    assert api.delete(f"/sobjects/Contact/{contact}").status_code == 204
    assert error_of(api.get(f"/sobjects/Event/{event}")) == (404, "ENTITY_IS_DELETED", [])
    assert error_of(api.delete(f"/sobjects/Contact/{contact}"))[:2] == (404, "ENTITY_IS_DELETED")


# --- upsert ------------------------------------------------------------------------------------

def test_upsert_status_codes(sandbox, api):
    url = "/sobjects/Event/Calendar_Event_Id__c/evt-1"
    created = api.patch(url, json=timed_event(DurationInMinutes=30))
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "success": True, "errors": [],
                              "created": True}
    updated = api.patch(url, json={"Location": "Room 1"})
    assert (updated.status_code, updated.json()["created"]) == (200, False)
    # Before API 46.0 an update answers 204 without a body, and a create has no "created".
    old_api = Api(sandbox, version="45.0")
    assert old_api.patch(url, json={"Location": "Room 2"}).status_code == 204
    assert "created" not in old_api.patch("/sobjects/Event/Calendar_Event_Id__c/evt-2",
                                          json=timed_event(DurationInMinutes=5)).json()
    # Text external ids match case-insensitively (the field is not case-sensitive).
    assert api.patch(url.upper().replace("/SOBJECTS/EVENT/CALENDAR_EVENT_ID__C", "/sobjects/"
                     "Event/Calendar_Event_Id__c"), json={"Location": "Room 3"}).status_code == 200


def test_upsert_errors(sandbox, api):
    for _ in range(2):
        admin.seed(sandbox.state, "Contact", {"LastName": "Twin", "Sync_Contact_Id__c": "twin"})
    several = api.patch("/sobjects/Contact/Sync_Contact_Id__c/twin", json={"Title": "x"})
    assert several.status_code == 300
    assert all(u.startswith("/services/data/v59.0/sobjects/Contact/003") for u in several.json())

    assert error_of(api.patch("/sobjects/Event/Nope__c/1", json={}))[:2] == (404, "NOT_FOUND")
    assert error_of(api.patch("/sobjects/Event/Subject/1", json={}))[:2] == (404, "NOT_FOUND")
    both = api.patch("/sobjects/Event/Calendar_Event_Id__c/evt-9",
                     json=timed_event(DurationInMinutes=5, Calendar_Event_Id__c="evt-9"))
    assert error_of(both) == (400, "INVALID_FIELD", ["Calendar_Event_Id__c"])
    only_update = api.patch("/sobjects/Event/Calendar_Event_Id__c/evt-9",
                            params={"updateOnly": "true"}, json={"Subject": "x"})
    assert error_of(only_update)[:2] == (404, "NOT_FOUND")


def test_unique_external_id_rejects_duplicates(api):
    create(api, "Event", **timed_event(DurationInMinutes=5, Calendar_Event_Id__c="same"))
    again = api.post("/sobjects/Event",
                     json=timed_event(DurationInMinutes=5, Calendar_Event_Id__c="SAME"))
    assert error_of(again) == (400, "DUPLICATE_VALUE", [])


# --- conditional requests ------------------------------------------------------------------

def test_if_unmodified_since_on_patch(sandbox, api):
    event = create(api, "Event", **timed_event(DurationInMinutes=5))
    read_at = sandbox.state.clock.now()
    sandbox.state.clock.advance(60)
    admin.update_as_user(sandbox.state, "Event", event, {"Location": "changed by a user"})
    stale = {"If-Unmodified-Since": format_datetime(read_at, usegmt=True)}
    fresh = {"If-Unmodified-Since": format_datetime(sandbox.state.clock.now(), usegmt=True)}

    assert error_of(api.patch(f"/sobjects/Event/{event}", json={"Location": "mine"},
                              headers=stale))[:2] == (412, "PRECONDITION_FAILED")
    assert api.patch(f"/sobjects/Event/{event}", json={"Location": "mine"},
                     headers=fresh).status_code == 204
    bad = api.patch(f"/sobjects/Event/{event}", json={}, headers={"If-Unmodified-Since": "soon"})
    assert bad.status_code == 400
    # Salesforce doesn't support conditional headers on DELETE: the header is ignored.
    assert api.delete(f"/sobjects/Event/{event}", headers=stale).status_code == 204


def test_etags_only_on_account(api):
    account = create(api, "Account", Name="Acme")
    contact = create(api, "Contact", LastName="Doe")
    etag = api.get(f"/sobjects/Account/{account}").headers["ETag"]
    assert "ETag" not in api.get(f"/sobjects/Contact/{contact}").headers
    cached = api.get(f"/sobjects/Account/{account}", headers={"If-None-Match": etag})
    assert cached.status_code == 304

    assert api.patch(f"/sobjects/Account/{account}", json={"Phone": "1"},
                     headers={"If-Match": etag}).status_code == 204
    stale = api.patch(f"/sobjects/Account/{account}", json={"Phone": "2"},
                      headers={"If-Match": etag})
    assert error_of(stale)[:2] == (412, "PRECONDITION_FAILED")
    assert api.patch(f"/sobjects/Contact/{contact}", json={"Title": "x"},
                     headers={"If-Match": '"whatever"'}).status_code == 204  # ignored


# --- admin changes at run time ----------------------------------------------------------------

def test_required_field_added_at_run_time(sandbox, api):
    existing = create(api, "Event", **timed_event(DurationInMinutes=5))
    resp = requests.post(f"{sandbox.urls['salesforce']}/_sandbox/salesforce/fields", timeout=5,
                         json={"sobject": "Event", "name": "Region__c", "required": True,
                               "length": 20})
    assert resp.status_code == 201

    field = {f["name"]: f for f in api.get("/sobjects/Event/describe").json()["fields"]}[
        "Region__c"]
    assert (field["createable"], field["nillable"], field["defaultedOnCreate"]) == \
        (True, False, False)
    missing = api.post("/sobjects/Event", json=timed_event(DurationInMinutes=5))
    assert error_of(missing) == (400, "REQUIRED_FIELD_MISSING", ["Region__c"])
    assert missing.json()[0]["message"] == "Required fields are missing: [Region__c]"
    create(api, "Event", **timed_event(DurationInMinutes=5, Region__c="EMEA"))
    # Universally required: any later save of an older record needs it too.
    assert error_of(api.patch(f"/sobjects/Event/{existing}", json={"Location": "x"}))[1] == \
        "REQUIRED_FIELD_MISSING"


def test_validation_rules(sandbox, api):
    admin.add_validation_rule(sandbox.state, "Contact", "Email_required", "Email is required",
                              field="Email", kind="required")
    requests.post(f"{sandbox.urls['salesforce']}/_sandbox/salesforce/validation-rules",
                  json={"sobject": "Contact", "name": "Corporate_email", "kind": "regex",
                        "field": "Email", "pattern": r".+@acme\.com",
                        "message": "Use an acme.com address"}, timeout=5).raise_for_status()

    no_email = api.post("/sobjects/Contact", json={"LastName": "Doe"})
    assert no_email.json() == [{"message": "Email is required",
                                "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                "fields": ["Email"]}]
    wrong = api.post("/sobjects/Contact", json={"LastName": "Doe", "Email": "doe@gmail.com"})
    assert error_of(wrong) == (400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", ["Email"])
    create(api, "Contact", LastName="Doe", Email="doe@acme.com")


def test_user_edits_move_system_modstamp_and_show_another_user(sandbox, api):
    contact = create(api, "Contact", LastName="Doe")
    mine = api.get(f"/sobjects/Contact/{contact}").json()
    sandbox.state.clock.advance(3)
    admin.update_as_user(sandbox.state, "Contact", contact, {"Title": "VP"})
    theirs = api.get(f"/sobjects/Contact/{contact}").json()
    assert theirs["SystemModstamp"] > mine["SystemModstamp"]
    assert theirs["LastModifiedById"] != mine["LastModifiedById"]

    sandbox.state.clock.advance(3)
    admin.touch(sandbox.state, "Contact", contact)  # a system-only change
    touched = api.get(f"/sobjects/Contact/{contact}").json()
    assert touched["SystemModstamp"] > theirs["SystemModstamp"]
    assert touched["LastModifiedDate"] == theirs["LastModifiedDate"]


def test_merge_contacts(sandbox, api):
    master = create(api, "Contact", LastName="Doe", Email="jane@example.com")
    loser = create(api, "Contact", LastName="Doe", Email="jane.doe@example.com")
    event = create(api, "Event", **timed_event(DurationInMinutes=5, WhoId=loser))
    before = api.get(f"/sobjects/Event/{event}").json()
    sandbox.state.clock.advance(2)

    resp = requests.post(f"{sandbox.urls['salesforce']}/_sandbox/salesforce/merge", timeout=5,
                         json={"master_id": master, "loser_ids": [loser],
                               "fields": {"Title": "Merged"}})
    assert resp.status_code == 200 and resp.json()["Title"] == "Merged"

    assert error_of(api.get(f"/sobjects/Contact/{loser}"))[:2] == (404, "ENTITY_IS_DELETED")
    moved = api.get(f"/sobjects/Event/{event}").json()
    assert moved["WhoId"] == master
    assert moved["SystemModstamp"] > before["SystemModstamp"]
    rows = api.get("/queryAll", params={"q": "SELECT Id, IsDeleted, MasterRecordId FROM Contact "
                                             f"WHERE Id = '{loser}'"}).json()["records"]
    assert (rows[0]["IsDeleted"], rows[0]["MasterRecordId"]) == (True, master)
    with pytest.raises(Exception):
        admin.merge_contacts(sandbox.state, master, [master])


def test_undelete_restores_the_same_id_with_its_events(sandbox, api):
    contact = create(api, "Contact", LastName="Doe")
    event = create(api, "Event", **timed_event(DurationInMinutes=5, WhoId=contact))
    admin.delete_as_user(sandbox.state, "Contact", contact)
    admin.undelete(sandbox.state, "Contact", contact)
    assert api.get(f"/sobjects/Contact/{contact}").status_code == 200
    assert api.get(f"/sobjects/Event/{event}").status_code == 200


def test_seed_can_back_date_records(sandbox):
    at = sandbox.state.clock.now() - timedelta(days=2)
    record_id = admin.seed(sandbox.state, "Contact", {"LastName": "Old"}, at=at)
    record = admin.record(sandbox.state, "Contact", record_id)
    assert record["SystemModstamp"] == at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    with pytest.raises(ValueError):
        admin.seed(sandbox.state, "Contact", {"LastName": "Future"},
                   at=sandbox.state.clock.now() + timedelta(days=1))


def test_record_control_routes(sandbox, api):
    control = f"{sandbox.urls['salesforce']}/_sandbox/salesforce/records"
    at = (sandbox.state.clock.now() - timedelta(hours=1)).isoformat()
    seeded = requests.post(f"{control}/Contact", json={"fields": {"LastName": "Seeded"},
                                                        "at": at}, timeout=5).json()["id"]
    imported = requests.post(f"{control}/Contact/import", timeout=5,
                             json={"rows": [{"LastName": "I1"}, {"LastName": "I2"}]}).json()
    assert len(imported["ids"]) == 2
    before = requests.get(f"{control}/Contact/{seeded}", timeout=5).json()
    edited = requests.patch(f"{control}/Contact/{seeded}", json={"fields": {"Title": "CFO"}},
                            timeout=5).json()
    assert edited["Title"] == "CFO"
    assert edited["SystemModstamp"] > before["SystemModstamp"]  # back-dated by an hour
    assert requests.delete(f"{control}/Contact/{seeded}", timeout=5).status_code == 204
    listed = requests.get(f"{control}/Contact", params={"include_deleted": "1"}, timeout=5).json()
    assert {r["Id"]: r["IsDeleted"] for r in listed}[seeded] is True
    requests.post(f"{control}/Contact/{seeded}/undelete", timeout=5).raise_for_status()
    assert requests.get(f"{control}/Contact/{seeded}", timeout=5).json()["IsDeleted"] is False
    bad = requests.post(f"{control}/Contact", json={"fields": {"Title": "no name"}}, timeout=5)
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    # Control routes don't use the API allowance.
    assert admin.api_usage(sandbox.state)[0] == 0

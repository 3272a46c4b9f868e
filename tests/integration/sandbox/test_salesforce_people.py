"""People in the Salesforce emulator over real HTTP: Shared Activities (EventRelation,
EventWhoRelation and how a client detects the setting), Leads (as WhoId, conversion) and
duplicate rules (DUPLICATES_DETECTED, Sforce-Duplicate-Rule-Header). What each behaviour
rests on is in sync_workers/sandbox/salesforce_people.py."""
from __future__ import annotations

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sync_workers.sandbox import salesforce_admin as sf
from tests.integration.sandbox.salesforce_client import Api


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def create(api, sobject: str, **fields) -> str:
    resp = api.post(f"/sobjects/{sobject}", json=fields)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def error_of(resp) -> tuple[int, str]:
    body = resp.json()
    assert isinstance(body, list), body
    return resp.status_code, body[0]["errorCode"]


def meeting(**extra):
    return {"Subject": "Demo", "StartDateTime": "2030-01-07T10:00:00Z", "DurationInMinutes": 30,
            **extra}


def relate(api, event: str, person: str, **flags) -> requests.Response:
    return api.post("/sobjects/EventRelation", json={"EventId": event, "RelationId": person,
                                                     **flags})


def relations(api, event: str) -> dict[str, dict]:
    rows = api.records("SELECT Id, RelationId, IsParent, IsInvitee, IsWhat FROM EventRelation "
                       f"WHERE EventId = '{event}'")
    return {r["RelationId"]: r for r in rows}


# --- Shared Activities: EventRelation ------------------------------------------------------

def test_an_event_with_three_related_contacts(api):
    account = create(api, "Account", Name="Acme")
    ann, bob, cy = (create(api, "Contact", LastName=n, AccountId=account) for n in "ABC")
    event = create(api, "Event", **meeting(WhoId=ann))

    assert relate(api, event, bob, IsParent=True).status_code == 201
    resp = relate(api, event, cy, IsParent=True, IsInvitee=True)
    assert resp.status_code == 201 and resp.json()["id"].startswith("0RE")

    rows = relations(api, event)
    assert set(rows) == {ann, bob, cy}
    assert {p: (r["IsParent"], r["IsInvitee"], r["IsWhat"]) for p, r in rows.items()} == {
        ann: (True, False, False),   # the WhoId: a who relation, made by Salesforce
        bob: (True, False, False),   # IsInvitee defaults to false when IsParent is set
        cy: (True, True, False)}
    got = api.get(f"/sobjects/EventRelation/{rows[bob]['Id']}").json()
    assert (got["EventId"], got["AccountId"], got["Status"]) == (event, account, "New")
    assert api.get(f"/sobjects/Event/{event}").json()["WhoId"] == ann

    # EventWhoRelation: the who rows only (IsParent and not IsWhat), with their Type.
    who = api.records(f"SELECT Id, RelationId, Type FROM EventWhoRelation "
                      f"WHERE EventId = '{event}'")
    assert {(w["RelationId"], w["Type"]) for w in who} == {(p, "Contact") for p in (ann, bob, cy)}
    rows_by_id = {r["Id"] for r in rows.values()}
    assert {w["Id"] for w in who} == rows_by_id
    names = api.records("SELECT Relation.Name FROM EventRelation "
                        f"WHERE EventId = '{event}' AND IsParent = true AND IsInvitee = true")
    assert [r["Relation"]["Name"] for r in names] == ["C"]


def test_a_relation_without_flags_is_an_invitee_and_users_can_only_be_invitees(sandbox, api):
    contact = create(api, "Contact", LastName="Who")
    guest = create(api, "Contact", LastName="Guest")
    event = create(api, "Event", **meeting(WhoId=contact))
    user = sf.add_user(sandbox.state, "rep@example.com", "Rep", "User")

    assert relate(api, event, guest).status_code == 201
    assert relate(api, event, user).status_code == 201
    rows = relations(api, event)
    assert (rows[guest]["IsInvitee"], rows[guest]["IsParent"]) == (True, False)
    assert (rows[user]["IsInvitee"], rows[user]["IsParent"]) == (True, False)
    assert error_of(relate(api, create(api, "Event", **meeting()), user, IsParent=True)) == \
        (400, "FIELD_INTEGRITY_EXCEPTION")
    # One relation per person: make an invitee a who by updating its relation.
    assert error_of(relate(api, event, guest, IsParent=True)) == (400, "DUPLICATE_VALUE")
    resp = api.patch(f"/sobjects/EventRelation/{rows[guest]['Id']}", json={"IsParent": True})
    assert resp.status_code == 204
    assert relations(api, event)[guest]["IsParent"] is True


def test_the_51st_contact_is_refused(api):
    event = create(api, "Event", **meeting())
    contacts = [create(api, "Contact", LastName=f"C{i}") for i in range(51)]
    for contact in contacts[:50]:
        assert relate(api, event, contact, IsParent=True).status_code == 201

    resp = relate(api, event, contacts[50], IsParent=True)

    assert error_of(resp) == (400, "LIMIT_EXCEEDED")
    assert "50" in resp.json()[0]["message"]
    assert len(relations(api, event)) == 50
    # The first who related became the WhoId; invitees don't count against the 50.
    assert api.get(f"/sobjects/Event/{event}").json()["WhoId"] == contacts[0]
    assert relate(api, event, contacts[50]).status_code == 201


def test_who_id_changes_and_deleting_the_primary_relation_promotes_the_next(api):
    ann, bob, cy = (create(api, "Contact", LastName=n) for n in "ABC")
    event = create(api, "Event", **meeting(WhoId=ann))
    relate(api, event, bob, IsParent=True)

    assert api.patch(f"/sobjects/Event/{event}", json={"WhoId": cy}).status_code == 204
    rows = relations(api, event)
    assert set(rows) == {bob, cy}  # ann was only the who: her relation went with it
    assert rows[cy]["IsParent"] is True

    assert api.delete(f"/sobjects/EventRelation/{rows[cy]['Id']}").status_code == 204
    assert api.get(f"/sobjects/Event/{event}").json()["WhoId"] == bob
    deleted = api.get("/queryAll", params={"q": "SELECT Id, IsDeleted FROM EventRelation "
                                                f"WHERE Id = '{rows[cy]['Id']}'"}).json()
    assert deleted["records"][0]["IsDeleted"] is True

    # Deleting the event deletes its relations.
    assert api.delete(f"/sobjects/Event/{event}").status_code == 204
    assert relations(api, event) == {}


def test_an_event_with_a_what_has_a_what_relation(api):
    account = create(api, "Account", Name="Acme")
    contact = create(api, "Contact", LastName="Doe")
    event = create(api, "Event", **meeting(WhoId=contact, WhatId=account))
    rows = relations(api, event)
    assert (rows[account]["IsParent"], rows[account]["IsWhat"]) == (True, True)
    who = api.records(f"SELECT RelationId FROM EventWhoRelation WHERE EventId = '{event}'")
    assert [w["RelationId"] for w in who] == [contact]


def test_a_lead_is_alone_among_the_whos(api):
    lead = create(api, "Lead", LastName="Lee", Company="Leads Inc")
    contact = create(api, "Contact", LastName="Doe")
    event = create(api, "Event", **meeting(WhoId=lead))
    assert error_of(relate(api, event, contact, IsParent=True)) == \
        (400, "FIELD_INTEGRITY_EXCEPTION")
    assert relate(api, event, contact).status_code == 201  # as an invitee: fine


# --- detecting Shared Activities --------------------------------------------------------------

def shared_activities_seen(api) -> tuple[bool, bool]:
    """Two ways a client can tell: EventWhoRelation exists, IsParent is an EventRelation
    field (createable)."""
    names = {o["name"] for o in api.get("/sobjects").json()["sobjects"]}
    fields = {f["name"]: f for f in api.get("/sobjects/EventRelation/describe").json()["fields"]}
    return "EventWhoRelation" in names, bool(fields.get("IsParent", {}).get("createable"))


def test_a_client_detects_shared_activities_on_and_off(sandbox, api):
    assert shared_activities_seen(api) == (True, True)
    describe = api.get("/sobjects/EventWhoRelation/describe")
    assert describe.status_code == 200 and describe.json()["createable"] is False

    sf.set_shared_activities(sandbox.state, False)

    assert shared_activities_seen(api) == (False, False)
    assert error_of(api.get("/sobjects/EventWhoRelation/describe")) == (404, "NOT_FOUND")
    fields = {f["name"] for f in api.get("/sobjects/EventRelation/describe").json()["fields"]}
    assert {"IsParent", "IsWhat", "IsInvitee", "AccountId"}.isdisjoint(fields)
    assert {"EventId", "RelationId", "Status", "RespondedDate", "Response"} <= fields
    resp = api.get("/query", params={"q": "SELECT Id FROM EventWhoRelation"})
    assert error_of(resp) == (400, "INVALID_TYPE")


def test_without_shared_activities_relations_are_invitees_only(sandbox, api):
    sf.set_shared_activities(sandbox.state, False)
    ann, bob = (create(api, "Contact", LastName=n) for n in "AB")
    event = create(api, "Event", **meeting(WhoId=ann))

    resp = relate(api, event, bob, IsParent=True)

    assert error_of(resp) == (400, "INVALID_FIELD")
    assert "No such column 'IsParent'" in resp.json()[0]["message"]
    assert relate(api, event, bob).status_code == 201  # an invitee
    rows = api.records(f"SELECT RelationId, Status FROM EventRelation WHERE EventId = '{event}'")
    assert [(r["RelationId"], r["Status"]) for r in rows] == [(bob, "New")]  # no who row
    resp = api.get("/query", params={"q": "SELECT IsParent FROM EventRelation"})
    assert error_of(resp) == (400, "INVALID_FIELD")

    sf.set_shared_activities(sandbox.state, True)  # back on: WhoId becomes a who relation
    rows = relations(api, event)
    assert (rows[ann]["IsParent"], rows[bob]["IsInvitee"]) == (True, True)


# --- Leads --------------------------------------------------------------------------------------

def test_a_lead_as_who_id_and_found_by_email(sandbox, api):
    lead = sf.add_lead(sandbox.state, "lee@example.com", "Lee", "Leads Inc", first_name="Ada")
    assert lead.startswith("00Q") and len(lead) == 18

    rows = api.records("SELECT Id, Name, Company, Status, IsConverted, ConvertedContactId "
                       "FROM Lead WHERE Email = 'LEE@example.com'")
    assert [(r["Id"], r["Name"], r["Company"], r["Status"], r["IsConverted"],
             r["ConvertedContactId"]) for r in rows] == \
        [(lead, "Ada Lee", "Leads Inc", "Open - Not Contacted", False, None)]

    event = create(api, "Event", **meeting(WhoId=lead))
    got = api.records(f"SELECT WhoId, Who.Type, Who.Email FROM Event WHERE Id = '{event}'")[0]
    assert (got["WhoId"], got["Who"]["Type"], got["Who"]["Email"]) == \
        (lead, "Lead", "lee@example.com")
    who = api.records(f"SELECT RelationId, Type FROM EventWhoRelation WHERE EventId = '{event}'")
    assert [(w["RelationId"], w["Type"]) for w in who] == [(lead, "Lead")]


def test_lead_describe_and_required_fields(api):
    fields = {f["name"]: f for f in api.get("/sobjects/Lead/describe").json()["fields"]}
    required = {n for n, f in fields.items()
                if f["createable"] and not f["nillable"] and not f["defaultedOnCreate"]}
    assert required == {"LastName", "Company"}
    assert {"value": "Open - Not Contacted", "label": "Open - Not Contacted", "active": True,
            "defaultValue": True, "validFor": None} in fields["Status"]["picklistValues"]
    assert not fields["IsConverted"]["createable"] and fields["ConvertedContactId"]["referenceTo"] \
        == ["Contact"]
    assert api.get("/sobjects/Lead/describe").json()["keyPrefix"] == "00Q"
    resp = api.post("/sobjects/Lead", json={"LastName": "Lee"})
    assert error_of(resp) == (400, "REQUIRED_FIELD_MISSING")
    assert resp.json()[0]["fields"] == ["Company"]


def test_a_converted_lead_cannot_be_a_who_id(sandbox, api):
    lead = sf.add_lead(sandbox.state, "lee@example.com", "Lee", "Leads Inc")
    event = create(api, "Event", **meeting(WhoId=lead))

    contact = sf.convert_lead(sandbox.state, lead)

    got = api.get(f"/sobjects/Lead/{lead}").json()
    assert (got["IsConverted"], got["ConvertedContactId"], got["Status"]) == \
        (True, contact, "Closed - Converted")
    person = api.get(f"/sobjects/Contact/{contact}").json()
    assert (person["LastName"], person["Email"]) == ("Lee", "lee@example.com")
    assert api.get(f"/sobjects/Account/{person['AccountId']}").json()["Name"] == "Leads Inc"
    assert api.get(f"/sobjects/Event/{event}").json()["WhoId"] == contact  # moved along
    resp = api.post("/sobjects/Event", json=meeting(WhoId=lead))
    assert error_of(resp) == (400, "CANNOT_UPDATE_CONVERTED_LEAD")
    assert resp.json()[0]["fields"] == ["WhoId"]
    assert error_of(api.patch(f"/sobjects/Lead/{lead}", json={"Title": "x"})) == \
        (400, "CANNOT_UPDATE_CONVERTED_LEAD")


# --- duplicate rules ----------------------------------------------------------------------------

def test_a_duplicate_contact_is_refused_with_the_duplicate_result(sandbox, api):
    first = create(api, "Contact", LastName="Doe", Email="jane@example.com")
    rule = sf.add_duplicate_rule(sandbox.state, "Contact", "block")

    resp = api.post("/sobjects/Contact", json={"LastName": "Doe2", "Email": "JANE@example.com"},
                    headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})

    assert resp.status_code == 400
    [error] = resp.json()
    assert list(error) == ["duplicateResut", "errorCode", "message"]  # sic, up to v59.0
    assert (error["errorCode"], error["message"]) == ("DUPLICATES_DETECTED",
                                                      "Use one of these records?")
    result = error["duplicateResut"]
    assert (result["allowSave"], result["duplicateRule"], result["duplicateRuleEntityType"],
            result["errorMessage"]) == (False, rule, "Contact", "Use one of these records?")
    [match] = result["matchResults"]
    assert (match["entityType"], match["errors"], match["matchEngine"], match["size"],
            match["success"]) == ("Contact", [], "ExactMatchEngine", 1, True)
    assert match["matchRecords"] == [{
        "additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
        "record": {"attributes": {"type": "Contact",
                                  "url": f"/services/data/v59.0/sobjects/Contact/{first}"},
                   "Id": first}}]
    assert len(api.records("SELECT Id FROM Contact WHERE Email = 'jane@example.com'")) == 1


def test_allow_save_passes_an_alerting_rule(sandbox, api):
    create(api, "Contact", LastName="Doe", Email="jane@example.com")
    sf.add_duplicate_rule(sandbox.state, "Contact", "allow")
    body = {"LastName": "Doe2", "Email": "jane@example.com"}

    refused = api.post("/sobjects/Contact", json=body)
    assert error_of(refused) == (400, "DUPLICATES_DETECTED")
    assert refused.json()[0]["duplicateResut"]["allowSave"] is True

    saved = api.post("/sobjects/Contact", json=body, headers={
        "Sforce-Duplicate-Rule-Header": "allowSave=true; includeRecordDetails=false"})
    assert saved.status_code == 201
    assert len(api.records("SELECT Id FROM Contact WHERE Email = 'jane@example.com'")) == 2


def test_the_header_needs_api_52(sandbox):
    api = Api(sandbox, version="51.0")
    create(api, "Contact", LastName="Doe", Email="jane@example.com")
    sf.add_duplicate_rule(sandbox.state, "Contact", "allow")
    resp = api.post("/sobjects/Contact", json={"LastName": "Doe", "Email": "jane@example.com"},
                    headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})
    assert error_of(resp) == (400, "DUPLICATES_DETECTED")


def test_upsert_creating_checks_duplicate_rules_and_leads_when_the_rule_says_so(sandbox, api):
    lead = sf.add_lead(sandbox.state, "lee@example.com", "Lee", "Leads Inc")
    sf.add_duplicate_rule(sandbox.state, "Contact", "block", compare_to=("Contact", "Lead"))

    resp = api.patch("/sobjects/Contact/Sync_Contact_Id__c/c-1",
                     json={"LastName": "Lee", "Email": "lee@example.com"})

    assert error_of(resp) == (400, "DUPLICATES_DETECTED")
    [match] = resp.json()[0]["duplicateResut"]["matchResults"]
    assert match["entityType"] == "Lead"
    assert [m["record"]["Id"] for m in match["matchRecords"]] == [lead]


def test_the_key_is_spelled_duplicate_result_from_v60(sandbox):
    api = Api(sandbox, version="62.0")
    first = create(api, "Contact", LastName="Doe", Email="jane@example.com")
    sf.add_duplicate_rule(sandbox.state, "Contact", "block")
    resp = api.post("/sobjects/Contact", json={"LastName": "Doe", "Email": "jane@example.com"},
                    headers={"Sforce-Duplicate-Rule-Header": "includeRecordDetails=true"})
    [error] = resp.json()
    record = error["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]
    assert (record["Id"], record["Email"], record["LastName"]) == \
        (first, "jane@example.com", "Doe")


# --- simple-salesforce, unchanged ---------------------------------------------------------------

class HttpsToLoopbackHttp(HTTPAdapter):
    def send(self, request, **kwargs):
        request.url = "http://" + request.url.removeprefix("https://")
        return super().send(request, **kwargs)


def test_simple_salesforce_relates_a_contact_and_queries_leads(sandbox, api):
    session = requests.Session()
    session.mount(sandbox.urls["salesforce"].replace("http://", "https://"), HttpsToLoopbackHttp())
    client = Salesforce(instance_url=api.token["instance_url"],
                        session_id=api.token["access_token"], session=session, version="59.0")
    contact = client.Contact.create({"LastName": "Doe"})["id"]
    other = client.Contact.create({"LastName": "Roe"})["id"]
    event = client.Event.create(meeting(WhoId=contact))["id"]

    created = client.EventRelation.create({"EventId": event, "RelationId": other,
                                           "IsParent": True})
    assert created["success"] and created["id"].startswith("0RE")
    rows = client.query("SELECT RelationId, IsParent FROM EventRelation "
                        f"WHERE EventId = '{event}'")["records"]
    assert {r["RelationId"] for r in rows} == {contact, other}

    lead = sf.add_lead(sandbox.state, "lee@example.com", "Lee", "Leads Inc")
    found = client.query("SELECT Id, Company FROM Lead WHERE Email = 'lee@example.com'")
    assert [(r["Id"], r["Company"]) for r in found["records"]] == [(lead, "Leads Inc")]

    sf.add_duplicate_rule(sandbox.state, "Lead", "block")
    with pytest.raises(SalesforceMalformedRequest) as err:
        client.Lead.create({"LastName": "Lee", "Company": "X", "Email": "lee@example.com"})
    assert err.value.content[0]["errorCode"] == "DUPLICATES_DETECTED"


# --- control routes -----------------------------------------------------------------------------

def test_control_routes(sandbox, api):
    base = f"{sandbox.urls['salesforce']}/_sandbox/salesforce"
    resp = requests.post(f"{base}/shared-activities", json={"enabled": False}, timeout=5)
    assert resp.json() == {"enabled": False} and not sf.shared_activities(sandbox.state)
    requests.post(f"{base}/shared-activities", json={"enabled": True}, timeout=5)

    lead = requests.post(f"{base}/leads", timeout=5, json={
        "email": "lee@example.com", "last_name": "Lee", "company": "Leads Inc"}).json()["id"]
    rule = requests.post(f"{base}/duplicate-rules", timeout=5, json={
        "sobject": "Lead", "action": "block"}).json()["name"]
    assert [r["name"] for r in sf.settings(sandbox.state)["duplicate_rules"]] == [rule]
    resp = api.post("/sobjects/Lead", json={"LastName": "Lee", "Company": "X",
                                            "Email": "lee@example.com"})
    assert error_of(resp) == (400, "DUPLICATES_DETECTED")
    assert requests.delete(f"{base}/duplicate-rules/{rule}", timeout=5).json() == \
        {"removed": True}

    contact = requests.post(f"{base}/leads/{lead}/convert", timeout=5).json()["contact_id"]
    assert api.get(f"/sobjects/Lead/{lead}").json()["ConvertedContactId"] == contact

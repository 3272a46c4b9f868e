"""simple-salesforce, an independent and widely used client, works unchanged against the
Salesforce emulator: if it didn't, the emulator would differ from the real API somewhere.

simple-salesforce always builds https:// URLs from instance_url. The sandbox serves plain
http on loopback, so the session we hand it gets a transport adapter that sends
https://127.0.0.1:PORT to http://127.0.0.1:PORT; the emulator itself is not changed.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as admin


class HttpsToLoopbackHttp(HTTPAdapter):
    """Rewrites the https:// URLs simple-salesforce builds to the sandbox's http."""

    def send(self, request, **kwargs):
        request.url = "http://" + request.url.removeprefix("https://")
        return super().send(request, **kwargs)


def client(sandbox, token: dict) -> Salesforce:
    origin = sandbox.urls["salesforce"]
    session = requests.Session()
    session.mount(origin.replace("http://", "https://"), HttpsToLoopbackHttp())
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                      session=session, version="59.0")


@pytest.fixture
def sf(sandbox):
    token = oauth.mint_grant(sandbox.state, "salesforce", oauth.DEFAULT_SUBJECTS["salesforce"])
    return client(sandbox, token)


def test_create_get_update_delete_round_trip(sf):
    created = sf.Contact.create({"FirstName": "Ada", "LastName": "Lovelace",
                                 "Email": "ada@example.com"})
    assert created["success"] and len(created["id"]) == 18 and created["id"].startswith("003")

    got = sf.Contact.get(created["id"])
    assert got["attributes"]["type"] == "Contact"
    assert (got["Name"], got["Email"]) == ("Ada Lovelace", "ada@example.com")
    assert got["SystemModstamp"].endswith(".000+0000")

    assert sf.Contact.update(created["id"], {"Title": "Countess"}) == 204
    assert sf.Contact.get(created["id"])["Title"] == "Countess"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Contact.get(created["id"])
    assert err.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_upsert_and_get_by_external_id(sf):
    event = {"Subject": "Intro call", "StartDateTime": "2024-05-01T10:00:00Z",
             "DurationInMinutes": 30}
    assert sf.Event.upsert("Calendar_Event_Id__c/g-123", event) == 201
    # API 46.0+ answers an upsert that updates with 200 {"created": false}, not 204.
    response = sf.Event.upsert("Calendar_Event_Id__c/g-123", {"Location": "Zoom"},
                               raw_response=True)
    assert response.status_code == 200 and response.json()["created"] is False

    got = sf.Event.get_by_custom_id("Calendar_Event_Id__c", "g-123")
    assert (got["Location"], got["EndDateTime"]) == ("Zoom", "2024-05-01T10:30:00.000+0000")

    for sync_id in ("dup", "dup"):  # Sync_Contact_Id__c is an external id, not unique
        sf.Contact.create({"LastName": "Twin", "Sync_Contact_Id__c": sync_id})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Contact.upsert("Sync_Contact_Id__c/dup", {"Title": "x"})


def test_query_all_follows_next_records_url(sandbox, sf):
    admin.configure(sandbox.state, query_batch_size=3)
    for i in range(8):
        admin.seed(sandbox.state, "Contact", {"LastName": f"Paged {i}"})

    result = sf.query_all("SELECT Id, LastName FROM Contact ORDER BY LastName")

    assert result["totalSize"] == 8 and result["done"] is True
    assert [r["LastName"] for r in result["records"]] == [f"Paged {i}" for i in range(8)]
    pages = sandbox.state.log.entries("salesforce", "GET", r"/query")
    assert len(pages) == 3  # 3 + 3 + 2 records


def test_describe(sf):
    objects = {o["name"]: o for o in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Event"} <= set(objects)
    assert objects["Event"]["keyPrefix"] == "00U"

    fields = {f["name"]: f for f in sf.Event.describe()["fields"]}
    ext = fields["Calendar_Event_Id__c"]
    assert ext["externalId"] and ext["unique"] and ext["custom"] and ext["nillable"]
    assert fields["Subject"]["length"] == 255
    assert fields["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    assert {"value": "Busy", "label": "Busy", "active": True, "defaultValue": True,
            "validFor": None} in fields["ShowAs"]["picklistValues"]


def test_updated_and_deleted(sandbox, sf):
    start = sandbox.state.clock.now() - timedelta(minutes=5)
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    sandbox.state.clock.advance(120)  # seconds are ignored: let the minute close
    end = sandbox.state.clock.now()

    updated = sf.Contact.updated(start, end)
    deleted = sf.Contact.deleted(start, end)

    assert updated["ids"] == [kept]
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
    assert deleted["latestDateCovered"].endswith(":00.000+0000")


def test_errors_raise_the_client_exceptions(sandbox, sf):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Contact.create({"FirstName": "No last name"})
    assert err.value.content == [{"message": "Required fields are missing: [LastName]",
                                  "errorCode": "REQUIRED_FIELD_MISSING",
                                  "fields": ["LastName"]}]

    sf.query("SELECT Id FROM Contact")
    assert sf.api_usage["api-usage"].used >= 1

    oauth.expire_access_tokens(sandbox.state, "salesforce")
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Contact")

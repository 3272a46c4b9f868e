"""HubSpot's own Python client (hubspot-api-client, generated from HubSpot's OpenAPI specs)
against the emulator. The client knows nothing of the sandbox: if paths, verbs, bodies or
status codes drifted from the real API, its models and error handling would break here.
The client is a development dependency (pyproject.toml), as Google's and Salesforce's are."""
from __future__ import annotations

import hubspot
import pytest
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.contacts import (
    ApiException,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.meetings import (
    AssociationSpec as MeetingAssociationSpec,
)
from hubspot.crm.objects.meetings import (
    PublicAssociationsForObject,
    PublicObjectId,
)
from hubspot.crm.objects.meetings import (
    SimplePublicObjectInputForCreate as MeetingInput,
)
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

from sync_workers.sandbox import hubspot_admin as admin
from sync_workers.sandbox import oauth


@pytest.fixture
def client(sandbox):
    admin.configure(sandbox.state, search_lag=0)
    token = oauth.mint_grant(sandbox.state, "hubspot", oauth.DEFAULT_SUBJECTS["hubspot"])
    return hubspot.Client.create(access_token=token["access_token"],
                                 host=sandbox.urls["hubspot_api"])


def test_contacts_create_get_update_search_archive(client):
    contacts = client.crm.contacts
    created = contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "sdk@example.com", "firstname": "Sam"}, associations=[]))
    assert created.id.isdigit() and created.properties["email"] == "sdk@example.com"
    assert created.created_at.tzinfo is not None  # parsed as an aware datetime
    got = contacts.basic_api.get_by_id("sdk@example.com", id_property="email",
                                       properties=["firstname", "company"])
    assert got.id == created.id and got.properties["company"] is None
    updated = contacts.basic_api.update(created.id, SimplePublicObjectInput(
        properties={"company": "Acme"}))
    assert updated.properties["company"] == "Acme"
    found = contacts.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[
            Filter(property_name="email", operator="EQ", value="sdk@example.com")])],
        properties=["company"], limit=10))
    assert found.total == 1 and found.results[0].properties["company"] == "Acme"
    page = contacts.basic_api.get_page(limit=1, properties=["email"])
    assert [r.id for r in page.results] == [created.id] and page.paging is None
    batch = contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=created.id)], properties=["email"],
        properties_with_history=[]))
    assert batch.status == "COMPLETE" and batch.results[0].id == created.id
    contacts.basic_api.archive(created.id)
    archived = contacts.basic_api.get_by_id(created.id, archived=True)
    assert archived.archived is True


def test_errors_raise_api_exception_with_hubspot_bodies(client):
    contacts = client.crm.contacts
    first = contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "twice@example.com"}, associations=[]))
    with pytest.raises(ApiException) as caught:
        contacts.basic_api.create(SimplePublicObjectInputForCreate(
            properties={"email": "twice@example.com"}, associations=[]))
    assert caught.value.status == 409
    assert f"Existing ID: {first.id}" in caught.value.body
    with pytest.raises(ApiException) as missing:
        contacts.basic_api.get_by_id("424242")
    assert missing.value.status == 404


def test_meetings_with_associations_owners_and_properties(client):
    contact = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "guest@example.com"}, associations=[]))
    owner = client.crm.owners.owners_api.get_page(email="sandbox.user@example.com").results[0]
    assert owner.type == "PERSON" and owner.user_id
    client.crm.properties.groups_api.create("meetings", PropertyGroupCreate(
        name="sync_workers", label="Calendar sync"))
    prop = client.crm.properties.core_api.create("meetings", PropertyCreate(
        name="sync_ical_uid", label="iCal UID", type="string", field_type="text",
        group_name="sync_workers", has_unique_value=True))
    assert prop.has_unique_value is True and prop.modification_metadata.read_only_value is False
    outcome = client.crm.properties.core_api.get_by_name("meetings", "hs_meeting_outcome")
    assert "CANCELED" in [o.value for o in outcome.options]
    meetings = client.crm.objects.meetings
    meeting = meetings.basic_api.create(MeetingInput(
        properties={"hs_timestamp": "2026-03-02T09:00:00Z", "hs_meeting_title": "Intro",
                    "hs_meeting_outcome": "SCHEDULED", "hubspot_owner_id": owner.id,
                    "sync_ical_uid": "evt@google.com"},
        associations=[PublicAssociationsForObject(
            to=PublicObjectId(id=contact.id),
            types=[MeetingAssociationSpec(association_category="HUBSPOT_DEFINED",
                                          association_type_id=200)])]))
    by_uid = meetings.basic_api.get_by_id("evt@google.com", id_property="sync_ical_uid",
                                          associations=["contacts"])
    assert by_uid.id == meeting.id
    assert by_uid.associations["contacts"].results[0].id == contact.id
    v4 = client.crm.associations.v4.basic_api
    listed = v4.get_page("meetings", meeting.id, "contacts")
    assert [r.to_object_id for r in listed.results] == [contact.id]
    assert listed.results[0].association_types[0].type_id == 200
    second = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "second@example.com"}, associations=[]))
    v4.create("meetings", meeting.id, "contacts", second.id, [AssociationSpec(
        association_category="HUBSPOT_DEFINED", association_type_id=200)])
    v4.create_default("meetings", meeting.id, "contacts", contact.id)
    assert len(v4.get_page("meetings", meeting.id, "contacts").results) == 2
    v4.archive("meetings", meeting.id, "contacts", second.id)
    assert len(v4.get_page("meetings", meeting.id, "contacts").results) == 1

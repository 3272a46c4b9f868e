from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from sync_workers.reliability.errors import InvalidInput
from sync_workers.schemas import (
    ApiUsage,
    load_outbound_message,
    load_salesforce_contact,
    load_salesforce_event,
    load_sforce_limit_info,
    salesforce_id18,
)
from sync_workers.sync import TimeSpan

EVENT = {
    "attributes": {"type": "Event",
                   "url": "/services/data/v60.0/sobjects/Event/00U5g00000XyZabEAF"},
    "Id": "00U5g00000XyZabEAF", "Subject": "Demo call", "IsAllDayEvent": False,
    "ActivityDate": "2024-05-06", "ActivityDateTime": "2024-05-06T12:00:00.000+0000",
    "StartDateTime": "2024-05-06T12:00:00.000+0000", "EndDateTime": "2024-05-06T13:00:00.000+0000",
    "DurationInMinutes": 60, "Location": "Room 1", "Description": "notes",
    "WhoId": "0035g00000AbCdE", "WhatId": None, "OwnerId": "0055g00000AbCdEAAV",
    "Calendar_Event_Id__c": "rgvlh6gocs3iqprh", "Appointment_Status__c": "Scheduled",
    "SystemModstamp": "2024-05-01T09:30:00.000+0000",
}


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_a_timed_event_loads():
    activity = load_salesforce_event(EVENT)
    assert activity.id == "00U5g00000XyZabEAF"
    assert activity.span == TimeSpan(utc(2024, 5, 6, 12), utc(2024, 5, 6, 13), False)
    assert (activity.subject, activity.location, activity.description) == (
        "Demo call", "Room 1", "notes")
    assert activity.who_id == salesforce_id18("0035g00000AbCdE", field="WhoId")
    assert activity.external_id == "rgvlh6gocs3iqprh" and activity.status == "scheduled"
    assert activity.version == "2024-05-01T09:30:00+00:00"


def test_an_all_day_event_maps_to_the_same_span_as_google():
    # Salesforce stores an all-day event's EndDateTime as the last day's midnight
    # (inclusive); ActivityDate + whole days gives Google's exclusive end.
    activity = load_salesforce_event({
        **EVENT, "IsAllDayEvent": True, "ActivityDate": "2024-05-06", "DurationInMinutes": 2880,
        "StartDateTime": "2024-05-06T00:00:00.000+0000",
        "EndDateTime": "2024-05-07T00:00:00.000+0000"})
    assert activity.span == TimeSpan(date(2024, 5, 6), date(2024, 5, 8), True)


@pytest.mark.parametrize("value, expected", [
    ("Scheduled", "scheduled"), ("Canceled", "canceled"), (None, "scheduled")])
def test_status_picklist(value, expected):
    assert load_salesforce_event({**EVENT, "Appointment_Status__c": value}).status == expected


def test_a_minimal_record_loads():
    activity = load_salesforce_event({"Id": "00U5g00000XyZab", "StartDateTime":
                                      "2024-05-06T12:00:00Z", "DurationInMinutes": 30})
    assert activity.id == "00U5g00000XyZabEAF" and activity.who_id is None
    assert activity.subject == "" and activity.version is None


@pytest.mark.parametrize("change, reason", [
    ({"Id": None}, "salesforce Event: Id: Field may not be null."),
    ({"Appointment_Status__c": "Postponed"},
     "salesforce Event: Appointment_Status__c: Must be one of: Scheduled, Canceled."),
    ({"DurationInMinutes": "60"}, "salesforce Event: DurationInMinutes: Not a valid integer."),
    ({"IsAllDayEvent": "maybe"}, "salesforce Event: IsAllDayEvent: Not a valid boolean."),
    ({"Id": "00U-bad"}, "salesforce Event 00U-bad: Id: expected a 15 or 18 character"),
    ({"WhoId": "003"}, "salesforce Event 00U5g00000XyZabEAF: WhoId: expected a 15 or 18"),
    ({"StartDateTime": "2024-05-06T12:00:00"},
     "salesforce Event 00U5g00000XyZabEAF: StartDateTime: '2024-05-06T12:00:00' has no UTC"),
    ({"IsAllDayEvent": True, "DurationInMinutes": 90},
     "salesforce Event 00U5g00000XyZabEAF: DurationInMinutes: an all-day event needs whole"),
])
def test_bad_events_name_the_field(change, reason):
    with pytest.raises(InvalidInput) as caught:
        load_salesforce_event({**EVENT, **change})
    assert caught.value.reason.startswith(reason), caught.value.reason


@pytest.mark.parametrize("id15, id18", [
    ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
    ("00U5g00000XyZab", "00U5g00000XyZabEAF"),
    ("003000000000000", "003000000000000AAA"),
    ("00U5g00000XyZabEAF", "00U5g00000XyZabEAF"),
])
def test_ids_take_their_18_character_form(id15, id18):
    assert salesforce_id18(id15, field="Id") == id18


def test_a_contact_loads_with_its_company():
    contact = load_salesforce_contact({
        "attributes": {"type": "Contact"}, "Id": "0035g00000AbCdEAAV", "FirstName": "Ada",
        "LastName": "Lovelace", "Email": "ada@example.com",
        "Account": {"attributes": {"type": "Account"}, "Name": "Analytical Engines"},
        "SystemModstamp": "2024-05-01T09:30:00.000+0000"})
    assert (contact.id, contact.first_name, contact.last_name, contact.email, contact.company,
            contact.deleted) == ("0035g00000AbCdEAAV", "Ada", "Lovelace", "ada@example.com",
                                 "Analytical Engines", False)


@pytest.mark.parametrize("change, company, deleted", [
    ({"Account": None}, None, False),
    ({"IsDeleted": True}, None, True),
])
def test_contact_without_account_or_deleted(change, company, deleted):
    contact = load_salesforce_contact({"Id": "0035g00000AbCdE", "LastName": "X", **change})
    assert (contact.company, contact.deleted) == (company, deleted)


def test_a_bad_contact_is_rejected():
    with pytest.raises(InvalidInput, match="salesforce Contact: Email: Not a valid string."):
        load_salesforce_contact({"Id": "0035g00000AbCdE", "Email": ["a", "b"]})


MESSAGE = {
    "OrganizationId": "00D5g000004ABCD", "ActionId": "04k5g000000XYZAAA2",
    "SessionId": "00D5g!AQ0AQ.secret-session", "EnterpriseUrl": "https://x/e",
    "PartnerUrl": "https://x/p",
    "Notification": [
        {"Id": "04l5g00000ABCDEAA1", "sObject": {"type": "Event", "Id": "00U5g00000XyZab",
                                                  "Subject": "ignored"}},
        {"Id": "04l5g00000ABCDFAA1", "sObject": {"type": "sf:Contact", "Id": "0035g00000AbCdE"}},
    ],
}


def test_an_outbound_message_keeps_ids_only():
    message = load_outbound_message(MESSAGE)
    assert message.organization_id == salesforce_id18("00D5g000004ABCD", field="x")
    assert [(n.object_type, n.record_id) for n in message.notifications] == [
        ("Event", "00U5g00000XyZabEAF"),
        ("Contact", salesforce_id18("0035g00000AbCdE", field="x"))]
    assert message.notifications[0].notification_id == "04l5g00000ABCDEAA1"
    assert "secret-session" not in repr(message)


@pytest.mark.parametrize("change, reason", [
    ({"Notification": []}, "Notification: Length must be between 1 and 100."),
    ({"Notification": MESSAGE["Notification"][:1] * 101},
     "Notification: Length must be between 1 and 100."),
    ({"OrganizationId": None}, "OrganizationId: Field may not be null."),
    ({"Notification": [{"Id": "04l5g00000ABCDEAA1", "sObject": {"Id": "00U5g00000XyZab"}}]},
     "Notification.0.sObject.type: Missing data for required field."),
    ({"OrganizationId": "not-an-org"}, "OrganizationId: expected a 15 or 18 character"),
])
def test_bad_outbound_messages(change, reason):
    with pytest.raises(InvalidInput, match=reason):
        load_outbound_message({**MESSAGE, **change})


@pytest.mark.parametrize("header, expected", [
    ("api-usage=18/5000", ApiUsage(18, 5000)),
    ("api-usage=4999/5000, per-app-api-usage=17/250(appName=sample-app)", ApiUsage(4999, 5000)),
    ("per-app-api-usage=17/250(appName=x), api-usage=20/15000", ApiUsage(20, 15000)),
])
def test_limit_info(header, expected):
    assert load_sforce_limit_info(header) == expected


@pytest.mark.parametrize("header", ["", "per-app-api-usage=17/250(appName=x)",
                                    "api-usage=18", None])
def test_bad_limit_info(header):
    with pytest.raises(InvalidInput, match="Sforce-Limit-Info: expected 'api-usage="):
        load_sforce_limit_info(header)

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from sync_workers.mapping import build_payload, load_mapping, max_lengths, parse_mapping
from sync_workers.reliability.errors import InvalidInput, Permanent
from sync_workers.schemas import load_salesforce_event
from sync_workers.schemas.salesforce import (
    EXTERNAL_ID_FIELD,
    STATUS_FIELD,
    STATUS_VALUES,
)
from sync_workers.sync import activity_view

from .mapping_describes import CONTACT_DESCRIBE, described, event_describe

MAPPING = load_mapping()
TODAY = date(2024, 5, 1)
NOON = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
CREATE = {"title": "Demo call", "start": NOON, "end": NOON + timedelta(hours=1),
          "all_day": False, "location": "Room 1", "status": "scheduled",
          "calendar_event_id": "rgvlh6go", "contact_id": "0035g00000AbCdEAAV"}
ALL_DAY = {"start": date(2024, 5, 6), "end": date(2024, 5, 8), "all_day": True}


class Warnings(list):
    def __call__(self, event, **fields):
        self.append((event, fields))


def build(values, *extra_fields, creating=True, mapping=MAPPING, describe=None, obj="Event"):
    warnings = Warnings()
    body = build_payload(obj, values, describe or event_describe(*extra_fields), mapping,
                         creating=creating, warn=warnings, today=TODAY)
    return body, warnings


def test_a_create_writes_every_mapped_field():
    body, warnings = build(CREATE)
    assert body == {
        "IsAllDayEvent": False, "StartDateTime": "2024-05-06T12:00:00Z",
        "EndDateTime": "2024-05-06T13:00:00Z", "Subject": "Demo call", "Location": "Room 1",
        "Description": "Synced from the calendar (event rgvlh6go). Edit the meeting there.",
        "Appointment_Status__c": "Scheduled", "WhoId": "0035g00000AbCdEAAV",
        "Calendar_Event_Id__c": "rgvlh6go"}
    assert warnings == []


def test_an_all_day_span_uses_activity_date_and_whole_days():
    body, _ = build({**CREATE, **ALL_DAY})
    assert (body["IsAllDayEvent"], body["ActivityDate"], body["DurationInMinutes"]) == (
        True, "2024-05-06", 2880)
    assert "StartDateTime" not in body and "EndDateTime" not in body


@pytest.mark.parametrize("values", [CREATE, {**CREATE, **ALL_DAY}], ids=["timed", "all-day"])
def test_what_we_write_reads_back_as_the_same_canonical_values(values):
    body, _ = build(values)
    activity = load_salesforce_event({"Id": "00U5g00000XyZabEAF", **body})
    view = activity_view(activity)
    assert {name: view[name] for name in view} == {name: values[name] for name in view}
    assert activity.external_id == values["calendar_event_id"]


@pytest.mark.parametrize("patch, expected", [
    ({"title": "New"}, {"Subject": "New"}),
    ({"location": None}, {"Location": None}),
    ({"status": "canceled"}, {"Appointment_Status__c": "Canceled"}),
    ({"start": NOON, "end": NOON + timedelta(minutes=5), "all_day": False},
     {"IsAllDayEvent": False, "StartDateTime": "2024-05-06T12:00:00Z",
      "EndDateTime": "2024-05-06T12:05:00Z"}),
    # the external id is createable only here: an update leaves it out, and the sync's
    # templated text is written only into records it creates, never over a rep's notes
    ({"calendar_event_id": "x1"}, {}),
    ({"contact_name": "Ada"}, {}),  # Event does not map contact fields
])
def test_an_update_writes_only_the_patch(patch, expected):
    assert build(patch, creating=False)[0] == expected


def test_text_is_cut_to_the_describe_length_and_to_the_configured_cap():
    body, _ = build({"title": "x" * 300, "location": "y" * 300}, creating=False)
    assert (len(body["Subject"]), len(body["Location"])) == (255, 255)
    capped = _mapping_with(Subject={"from": "title", "truncate": 80})
    assert len(build({"title": "x" * 300}, creating=False, mapping=capped)[0]["Subject"]) == 80


def test_transforms_map_format_and_template():
    mapping = _mapping_with(
        Start_Day__c={"from": "start", "format": "date"},
        Start_At__c={"from": "start", "format": "datetime"},
        Kind__c={"from": "all_day", "map": {True: "Whole day", False: "Slot"}},
        Summary__c={"template": "{title} @ {location}", "truncate": 12})
    extra = [described("Start_Day__c", "date"), described("Start_At__c", "datetime"),
             described("Kind__c", "string", length=20),
             described("Summary__c", "string", length=255)]
    body, _ = build({**CREATE, "location": None}, *extra, mapping=mapping)
    assert (body["Start_Day__c"], body["Start_At__c"], body["Kind__c"], body["Summary__c"]) == (
        "2024-05-06", "2024-05-06T12:00:00Z", "Slot", "Demo call @ ")
    body, _ = build({**ALL_DAY, "title": "T"}, *extra, creating=False, mapping=mapping)
    assert (body["Start_Day__c"], body["Kind__c"]) == ("2024-05-06", "Whole day")
    assert "Summary__c" not in body  # its template also needs the location


def test_a_value_the_map_lacks_is_a_mapping_error():
    mapping = _mapping_with(Appointment_Status__c={"from": "status", "map": {"scheduled": "S"}})
    with pytest.raises(Permanent, match="map has no entry for 'canceled'"):
        build({"status": "canceled"}, creating=False, mapping=mapping)


def test_max_lengths_are_what_plan_compares_with():
    assert max_lengths("Event", event_describe(), MAPPING) == {"title": 255, "location": 255}
    capped = _mapping_with(Subject={"from": "title", "truncate": 80})
    assert max_lengths("Event", event_describe(), capped)["title"] == 80


@pytest.mark.parametrize("status_values, problem", [
    ([("Scheduled", True, True), ("Canceled", False, False)], "inactive"),
    ([("Scheduled", True, True)], "unknown"),
])
def test_a_picklist_value_the_org_refuses_fails_without_a_default(status_values, problem):
    with pytest.raises(InvalidInput, match=f"'Canceled' is {problem} in this org "
                                           r"\(active: \['Scheduled'\]\)"):
        build({"status": "canceled"}, creating=False,
              describe=event_describe(status_values=status_values))


def test_a_picklist_value_the_org_refuses_takes_the_configured_default_loudly():
    mapping = _mapping_with(defaults={"Appointment_Status__c": "Scheduled"})
    body, warnings = build({"status": "canceled"}, creating=False, mapping=mapping,
                           describe=event_describe(status_values=[("Scheduled", True, True),
                                                                  ("Canceled", False, False)]))
    assert body == {"Appointment_Status__c": "Scheduled"}
    assert warnings == [("salesforce_picklist_value_replaced", {
        "object": "Event", "field": "Appointment_Status__c", "value": "Canceled",
        "replacement": "Scheduled", "problem": "inactive"})]


@pytest.mark.parametrize("field, value", [
    (described("Legacy_Code__c", "string", length=1, nillable=False), "-"),
    (described("Notes__c", "textarea", length=50, nillable=False), "-"),
    (described("Is_Billable__c", "boolean", nillable=False), False),
    (described("Score__c", "double", nillable=False), 0),
    (described("Seats__c", "int", nillable=False), 0),
    (described("Follow_Up__c", "date", nillable=False), "2024-05-01"),
    (described("Review_At__c", "datetime", nillable=False), "2024-05-01T00:00:00Z"),
    (described("Region__c", "picklist", nillable=False,
               picklist=[("EMEA", True, False), ("AMER", True, True), ("APAC", False, False)]),
     "AMER"),
    (described("Tier__c", "picklist", nillable=False,
               picklist=[("Gold", False, True), ("Silver", True, False)]), "Silver"),
], ids=lambda item: item["name"] if isinstance(item, dict) else None)
def test_required_fields_nobody_maps_get_a_default_by_type_loudly(field, value):
    body, warnings = build(CREATE, field)
    assert body[field["name"]] == value
    assert warnings == [("salesforce_required_field_defaulted", {
        "object": "Event", "field": field["name"], "value": value, "source": "type"})]


def test_a_configured_default_beats_the_type_default():
    mapping = _mapping_with(defaults={"Region__c": "EMEA"})
    field = described("Region__c", "picklist", nillable=False,
                      picklist=[("EMEA", True, False), ("AMER", True, True)])
    body, warnings = build(CREATE, field, mapping=mapping)
    assert body["Region__c"] == "EMEA" and warnings[0][1]["source"] == "configured"


@pytest.mark.parametrize("field", [
    described("Partner__c", "reference", nillable=False),
    described("Owner_Mail__c", "email", nillable=False),
    described("Region__c", "picklist", nillable=False, picklist=[("Old", False, True)]),
], ids=lambda field: field["name"])
def test_a_required_field_without_a_safe_default_fails_with_the_fix(field):
    with pytest.raises(Permanent, match=f"Event.{field['name']} is required on create.*defaults"):
        build(CREATE, field)


def test_required_fields_are_only_filled_on_create():
    required = described("Legacy_Code__c", "string", length=10, nillable=False)
    assert build({"title": "x"}, required, creating=False) == ({"Subject": "x"}, [])


def test_none_for_a_non_nillable_field_is_dropped_loudly():
    describe = event_describe()
    next(f for f in describe["fields"] if f["name"] == "Subject")["nillable"] = False
    body, warnings = build({"title": None}, creating=False, describe=describe)
    assert body == {}
    assert warnings == [("salesforce_null_for_required_field_dropped",
                         {"object": "Event", "field": "Subject"})]


def test_a_mapped_field_the_org_lacks_is_a_permanent_error():
    describe = event_describe()
    describe["fields"] = [f for f in describe["fields"] if f["name"] != "Appointment_Status__c"]
    with pytest.raises(Permanent, match="Event.Appointment_Status__c, which this org"):
        build(CREATE, describe=describe)


def test_the_span_is_written_whole():
    with pytest.raises(ValueError, match="missing"):
        build({"start": NOON}, creating=False)


@pytest.mark.parametrize("describe", [{}, {"fields": [{"name": "Subject"}]}, []])
def test_a_malformed_describe_is_rejected(describe):
    with pytest.raises(InvalidInput, match="Event describe: expected fields"):
        build_payload("Event", CREATE, describe, MAPPING, creating=True, warn=print,
                      today=TODAY)


def test_contact_fields_go_to_the_contact():
    body, _ = build({"contact_email": "ada@new.example", "title": "x"}, creating=False,
                    obj="Contact", describe=CONTACT_DESCRIBE)
    assert body == {"Email": "ada@new.example"}


def test_an_unmapped_object_is_named():
    with pytest.raises(ValueError, match="no object 'Task'"):
        build(CREATE, obj="Task")


def test_the_mapping_writes_what_the_schemas_read():
    event = MAPPING.object("Event")
    rules = {rule.target: rule for rule in event.rules}
    assert event.external_id == EXTERNAL_ID_FIELD
    assert rules[EXTERNAL_ID_FIELD].source == "calendar_event_id"
    assert {v: k for k, v in rules[STATUS_FIELD].value_map.items()} == STATUS_VALUES


def _mapping_with(defaults=None, **rules):
    import yaml

    from sync_workers.mapping import DEFAULT_PATH
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["objects"]["Event"]["fields"].update(rules)
    data["objects"]["Event"]["defaults"] = defaults or {}
    return parse_mapping(data)

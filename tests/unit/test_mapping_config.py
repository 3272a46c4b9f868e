from __future__ import annotations

import copy

import pytest
import yaml

from sync_workers.mapping import DEFAULT_PATH, load_mapping, parse_mapping

SHIPPED = yaml.safe_load(DEFAULT_PATH.read_text())


def test_the_shipped_mapping_loads():
    mapping = load_mapping()
    assert set(mapping.objects) == {"Event", "Contact"}
    targets = {rule.target: rule for rule in mapping.object("Event").rules}
    assert targets["Subject"].source == "title" and targets["WhoId"].source == "contact_id"
    assert targets["Description"].uses == {"calendar_event_id"}
    assert mapping.object("Event").span.duration_minutes == "DurationInMinutes"


def edited(path, value):
    data = copy.deepcopy(SHIPPED)
    *parents, last = path
    node = data
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return data


EVENT_FIELDS = ("objects", "Event", "fields")


@pytest.mark.parametrize("data, message", [
    ({}, "mapping: missing ['objects']"),
    (edited(("objects", "Event", "colour"), "red"), "objects.Event: unknown keys ['colour']"),
    (edited(("objects", "Event", "fields"), None), "objects.Event: missing ['fields']"),
    (edited((*EVENT_FIELDS, "Subject"), {"from": "summary"}),
     "objects.Event.fields.Subject: unknown canonical names ['summary']"),
    (edited((*EVENT_FIELDS, "Subject"), {"template": "{title} at {venue}"}),
     "unknown canonical names ['venue']"),
    (edited((*EVENT_FIELDS, "Subject"), {"from": "title", "template": "x"}),
     "give exactly one of 'from' and 'template'"),
    (edited((*EVENT_FIELDS, "Subject"), {"from": "title", "format": "epoch"}),
     "format must be one of"),
    (edited((*EVENT_FIELDS, "Subject"), {"from": "title", "truncate": 0}),
     "truncate must be a positive integer"),
    (edited((*EVENT_FIELDS, "Subject"), {"from": "title", "trim": True}),
     "unknown keys ['trim']"),
    (edited((*EVENT_FIELDS, "Subject"), {"from": "title", "map": ["a"]}),
     "Subject.map: expected a mapping"),
    (edited(("objects", "Event", "span", "timed"), {"start": "StartDateTime"}),
     "objects.Event.span.timed: missing ['end']"),
    (edited(("objects", "Event", "defaults"), ["x"]),
     "objects.Event.defaults: expected a mapping"),
])
def test_a_bad_mapping_fails_at_load_time(data, message):
    with pytest.raises(ValueError) as caught:
        parse_mapping(data)
    assert message in str(caught.value)


def test_load_reads_a_file(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("objects:\n  Task:\n    fields:\n      Subject: {from: title}\n")
    assert [rule.target for rule in load_mapping(path).object("Task").rules] == ["Subject"]

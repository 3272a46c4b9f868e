from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from sync_workers.reliability.errors import InvalidInput
from sync_workers.schemas.time import google_span, salesforce_span, to_date, to_utc
from sync_workers.schemas.validation import about
from sync_workers.sync import TimeSpan


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize("value, zone, expected", [
    ("2024-05-06T12:00:00Z", None, utc(2024, 5, 6, 12)),
    ("2024-05-06t12:00:00z", None, utc(2024, 5, 6, 12)),
    ("2024-05-06T12:00:00+00:00", None, utc(2024, 5, 6, 12)),
    ("2024-05-06T14:00:00+02:00", None, utc(2024, 5, 6, 12)),
    ("2024-05-06T12:00:00.000+0000", None, utc(2024, 5, 6, 12)),  # Salesforce's form
    ("2024-05-06T12:00:00.123456789Z", None, utc(2024, 5, 6, 12, 0, 0, 123456)),
    ("2024-05-06T14:00:00+02:00", "America/New_York", utc(2024, 5, 6, 12)),  # offset wins
    ("2024-05-06T14:00:00", "Europe/Berlin", utc(2024, 5, 6, 12)),
    ("2024-01-06T14:00:00", "Europe/Berlin", utc(2024, 1, 6, 13)),
])
def test_to_utc(value, zone, expected):
    parsed = to_utc(value, zone, field="start")
    assert parsed == expected and parsed.tzinfo is timezone.utc


@pytest.mark.parametrize("value, zone, reason", [
    ("2024-05-06T12:00:00", None, "no UTC offset and no time zone"),
    ("2024-05-06T12:00:00", "", "no UTC offset and no time zone"),
    ("2024-05-06T12:00:00", "Pacific Standard Time", "not an IANA time zone"),
    ("2024-05-06T12:00:00", "Mars/Olympus", "not an IANA time zone"),
    ("2024-05-06", None, "expected an RFC 3339 date-time"),
    ("tomorrow at noon", None, "expected an RFC 3339 date-time"),
    ("2024-W19-1T12:00:00Z", None, "expected an RFC 3339 date-time"),
    (1715000000, None, "expected an RFC 3339 date-time"),
    ("2024-13-06T12:00:00Z", None, "not a valid date-time"),
])
def test_to_utc_refuses_to_guess(value, zone, reason):
    with pytest.raises(InvalidInput, match=reason) as caught:
        to_utc(value, zone, field="start.dateTime")
    assert caught.value.reason.startswith("start.dateTime: ")


# DST: see the module docstring (RFC 5545: first occurrence; gap read with the offset
# before it).
@pytest.mark.parametrize("local, zone, expected", [
    # US spring forward 2024-03-10 02:00 -> 03:00: 02:30 does not exist, reads as 03:30 EDT
    ("2024-03-10T02:30:00", "America/New_York", utc(2024, 3, 10, 7, 30)),
    # US fall back 2024-11-03 02:00 -> 01:00: 01:30 happens twice, the first (EDT) counts
    ("2024-11-03T01:30:00", "America/New_York", utc(2024, 11, 3, 5, 30)),
    # EU spring forward 2024-03-31 02:00 -> 03:00 in Berlin: 02:30 reads as 03:30 CEST
    ("2024-03-31T02:30:00", "Europe/Berlin", utc(2024, 3, 31, 1, 30)),
    # EU fall back 2024-10-27 03:00 -> 02:00 in Berlin: 02:30 happens twice, first is CEST
    ("2024-10-27T02:30:00", "Europe/Berlin", utc(2024, 10, 27, 0, 30)),
    # and the hour around the gap is untouched
    ("2024-03-10T01:59:59", "America/New_York", utc(2024, 3, 10, 6, 59, 59)),
    ("2024-03-10T03:00:00", "America/New_York", utc(2024, 3, 10, 7, 0)),
])
def test_dst_gaps_and_overlaps(local, zone, expected):
    assert to_utc(local, zone, field="start") == expected


def test_the_second_occurrence_of_an_ambiguous_time_needs_its_offset():
    assert to_utc("2024-11-03T01:30:00-05:00", field="start") == utc(2024, 11, 3, 6, 30)


def test_to_date():
    assert to_date("2024-02-29", field="d") == date(2024, 2, 29)
    for bad in ("2023-02-29", "2024-5-6", "20240506", None):
        with pytest.raises(InvalidInput, match="^d: "):
            to_date(bad, field="d")


@pytest.mark.parametrize("start, end, expected", [
    ({"date": "2024-05-06"}, {"date": "2024-05-07"},
     TimeSpan(date(2024, 5, 6), date(2024, 5, 7), True)),
    ({"dateTime": "2024-05-06T12:00:00Z"}, {"dateTime": "2024-05-06T09:30:00-04:00"},
     TimeSpan(utc(2024, 5, 6, 12), utc(2024, 5, 6, 13, 30), False)),
    ({"dateTime": "2024-05-06T14:00:00", "timeZone": "Europe/Berlin"},
     {"dateTime": "2024-05-06T15:00:00", "timeZone": "Europe/Berlin"},
     TimeSpan(utc(2024, 5, 6, 12), utc(2024, 5, 6, 13), False)),
])
def test_google_span(start, end, expected):
    assert google_span(start, end) == expected


@pytest.mark.parametrize("start, end, reason", [
    ({"date": "2024-05-06"}, {"dateTime": "2024-05-06T12:00:00Z"}, "all-day end"),
    ({"dateTime": "2024-05-06T12:00:00Z"}, {"date": "2024-05-07"}, "both {date} or both"),
    ({}, {}, "both {date} or both"),
    ({"dateTime": "2024-05-06T12:00:00"}, {"dateTime": "2024-05-06T13:00:00"}, "no UTC offset"),
    ({"date": "2024-05-06"}, {"date": "2024-05-06"}, "not after"),
])
def test_google_span_rejects(start, end, reason):
    with pytest.raises(InvalidInput, match=reason):
        google_span(start, end)


@pytest.mark.parametrize("record, expected", [
    ({"all_day": True, "activity_date": "2024-05-06", "duration_minutes": 1440},
     TimeSpan(date(2024, 5, 6), date(2024, 5, 7), True)),
    ({"all_day": True, "activity_date": "2024-05-06", "duration_minutes": 2880},
     TimeSpan(date(2024, 5, 6), date(2024, 5, 8), True)),
    ({"start": "2024-05-06T12:00:00.000+0000", "end": "2024-05-06T13:00:00.000+0000"},
     TimeSpan(utc(2024, 5, 6, 12), utc(2024, 5, 6, 13), False)),
    ({"start": "2024-05-06T12:00:00.000+0000", "duration_minutes": 45},
     TimeSpan(utc(2024, 5, 6, 12), utc(2024, 5, 6, 12, 45), False)),
])
def test_salesforce_span(record, expected):
    fields = {"all_day": False, "activity_date": None, "duration_minutes": None,
              "start": None, "end": None, **record}
    assert salesforce_span(**fields) == expected


@pytest.mark.parametrize("record, reason", [
    ({"all_day": True, "activity_date": "2024-05-06", "duration_minutes": None}, "whole days"),
    ({"all_day": True, "activity_date": "2024-05-06", "duration_minutes": 1439}, "whole days"),
    ({"all_day": True, "activity_date": None, "duration_minutes": 1440}, "ActivityDate"),
    ({"start": "2024-05-06T12:00:00Z"}, "EndDateTime or DurationInMinutes"),
    ({"start": None, "end": "2024-05-06T12:00:00Z"}, "StartDateTime"),
    ({"start": "2024-05-06T12:00:00Z", "duration_minutes": 0}, "not after"),
])
def test_salesforce_span_rejects(record, reason):
    fields = {"all_day": False, "activity_date": None, "duration_minutes": None,
              "start": None, "end": None, **record}
    with pytest.raises(InvalidInput, match=reason):
        salesforce_span(**fields)


@pytest.mark.parametrize("local, utc_text, rule", [
    ("2027-03-14T02:30:00", "2027-03-14T07:30:00+00:00", "moved forward past the gap"),
    ("2027-11-07T01:30:00", "2027-11-07T05:30:00+00:00", "the first of the two"),
    ("2027-07-01T09:00:00", "2027-07-01T13:00:00+00:00", None),
], ids=["spring-forward gap", "fall-back overlap", "an ordinary time"])
def test_a_time_a_dst_change_makes_odd_is_normalised_and_said(caplog, local, utc_text, rule):
    with caplog.at_level("WARNING", logger="sync_workers.schemas.time"), \
            about("google event e1"):
        value = to_utc(local, "America/New_York", field="start.dateTime")
    assert value.isoformat() == utc_text
    said = [r for r in caplog.records if r.message.startswith("local time in a daylight")]
    if rule is None:
        assert said == []
        return
    (record,) = said
    assert (record.record, record.local_time, record.zone, record.utc) == (
        "google event e1", local, "America/New_York", utc_text)
    assert record.rule.startswith(rule)

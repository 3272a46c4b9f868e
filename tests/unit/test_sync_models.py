from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sync_workers.sync import Appointment, CrmActivity, Link, TimeSpan
from sync_workers.sync.errors import InvalidModel

UTC = timezone.utc
NOON = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("start, end, all_day, reason", [
    (datetime(2024, 5, 6, 12), datetime(2024, 5, 6, 13), False, "no time zone"),
    (NOON, datetime(2024, 5, 6, 13), False, "no time zone"),
    (NOON, NOON, False, "not after"),
    (NOON, NOON - timedelta(minutes=1), False, "not after"),
    (NOON, NOON + timedelta(milliseconds=500), False, "not after"),  # whole seconds only
    (date(2024, 5, 6), date(2024, 5, 6), True, "not after"),
    (NOON, NOON + timedelta(days=1), True, "takes dates"),
    (date(2024, 5, 6), date(2024, 5, 7), False, "takes datetimes"),
])
def test_time_span_rejects(start, end, all_day, reason):
    with pytest.raises(InvalidModel, match=reason):
        TimeSpan(start, end, all_day)


def test_time_span_keeps_utc_whole_seconds():
    berlin = datetime(2024, 5, 6, 14, 0, 0, 999_999, tzinfo=ZoneInfo("Europe/Berlin"))
    span = TimeSpan(berlin, berlin + timedelta(hours=1), all_day=False)
    assert span.start == NOON and span.start.tzinfo is UTC and span.start.microsecond == 0


def test_all_day_span_keeps_dates_with_exclusive_end():
    span = TimeSpan(date(2024, 5, 6), date(2024, 5, 7), all_day=True)
    assert (span.start, span.end) == (date(2024, 5, 6), date(2024, 5, 7))


@pytest.mark.parametrize("build, reason", [
    (lambda: Appointment("e", "deleted", None), "calendar event status"),
    (lambda: Appointment("e", "confirmed", None), "no start/end"),
    (lambda: CrmActivity("a", TimeSpan(date(2024, 1, 1), date(2024, 1, 2), True),
                         status="cancelled"), "CRM activity status"),
    (lambda: Link(1, 1, 1, "e", status="paused"), "link status"),
])
def test_models_reject_unknown_states(build, reason):
    with pytest.raises(InvalidModel, match=reason):
        build()


def test_a_cancelled_event_may_carry_only_its_id():
    assert not Appointment("e", "cancelled", None).is_live


def test_crm_refs_cannot_be_changed_behind_the_models_back():
    refs = {"crm_event_id": "00U1"}
    appointment = Appointment("e", "cancelled", None, crm_refs=refs)
    refs["crm_event_id"] = "changed"
    assert appointment.crm_refs == {"crm_event_id": "00U1"}
    with pytest.raises(TypeError):
        appointment.crm_refs["crm_event_id"] = "x"

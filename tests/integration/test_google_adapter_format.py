"""The Google adapter's pure parts: PATCH bodies, a listing's pages, channel answers.
(No services needed; they live beside the adapter's integration tests.)"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from sync_workers.providers.google_calendar import changes_from_pages, channel_info
from sync_workers.providers.google_calendar_format import insert_body, patch_body
from sync_workers.reliability.errors import InvalidInput
from sync_workers.schemas.google import load_google_events_page
from sync_workers.sync.models import Appointment, Attendee, TimeSpan

NINE = datetime(2026, 5, 4, 9, 0, tzinfo=timezone(timedelta(hours=2)))
TIMED = Appointment("abcde12345", "confirmed", TimeSpan(NINE, NINE + timedelta(hours=1), False),
                    title="Intro", attendees=(Attendee("ann@example.com", "Ann"),),
                    crm_refs={"sf_event": "00U1"}, etag='"1"')


def test_times_go_out_in_utc_and_all_day_ends_stay_exclusive():
    assert insert_body(TIMED)["start"] == {"dateTime": "2026-05-04T07:00:00Z", "timeZone": "UTC"}
    all_day = replace(TIMED, span=TimeSpan(date(2026, 5, 4), date(2026, 5, 5), True))
    assert insert_body(all_day)["end"] == {"date": "2026-05-05"}


def test_a_patch_holds_only_the_differences_and_nulls_what_must_go():
    assert patch_body(TIMED, TIMED, {}) == {}
    all_day = replace(TIMED, span=TimeSpan(date(2026, 5, 4), date(2026, 5, 5), True),
                      crm_refs={"sf_contact": "0031"})

    assert patch_body(TIMED, all_day, {}) == {
        "start": {"date": "2026-05-04", "dateTime": None, "timeZone": None},
        "end": {"date": "2026-05-05", "dateTime": None, "timeZone": None},
        "extendedProperties": {"private": {"sf_contact": "0031", "sf_event": None}}}


def test_a_patched_attendee_keeps_googles_details_matched_by_email_in_any_case():
    held = {"ann@example.com": {"email": "Ann@Example.com", "responseStatus": "accepted",
                                "self": True, "displayName": "old"}}
    after = replace(TIMED, attendees=(Attendee("ann@example.com", "Ann"), Attendee("b@x.org")))

    assert patch_body(TIMED, after, held)["attendees"] == [
        {"responseStatus": "accepted", "email": "ann@example.com", "displayName": "Ann"},
        {"email": "b@x.org"}]


def test_an_event_without_times_cannot_be_created():
    with pytest.raises(InvalidInput, match="without start/end"):
        insert_body(Appointment("abcde12345", "cancelled", None))


def test_a_listing_whose_last_page_has_no_sync_token_is_refused():
    pages = [load_google_events_page({"items": [], "nextPageToken": "p2"}),
             load_google_events_page({"items": []})]

    with pytest.raises(InvalidInput, match="nextSyncToken"):
        changes_from_pages(pages, full=True)


def test_a_channel_answer_without_its_expiration_is_refused():
    assert channel_info({"id": "c", "resourceId": "r", "expiration": "1780000000000"}) \
        .expires_at == datetime(2026, 5, 28, 20, 26, 40, tzinfo=timezone.utc)
    with pytest.raises(InvalidInput, match="google channel"):
        channel_info({"id": "c", "resourceId": "r"})

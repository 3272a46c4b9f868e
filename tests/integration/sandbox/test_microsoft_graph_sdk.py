"""Microsoft Graph emulator driven by Microsoft's own Python SDK (msgraph-sdk).

msgraph-sdk is a development dependency (pyproject.toml), as Google's and HubSpot's
clients are. The SDK builds the requests (it calls `calendarView/delta()`, with
parentheses) and parses the answers into its models.
"""
from __future__ import annotations

import asyncio
import warnings

import pytest

from sync_workers.sandbox import microsoft_graph as graph

from .test_microsoft_graph_support import ALICE, PACIFIC

# The SDK's own request builders warn about their deprecated configuration classes.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

with warnings.catch_warnings():  # the SDK warns about its own deprecated classes
    warnings.simplefilter("ignore", DeprecationWarning)
    from kiota_abstractions.authentication import (  # noqa: E402
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from kiota_abstractions.base_request_configuration import RequestConfiguration  # noqa: E402
    from msgraph import GraphRequestAdapter, GraphServiceClient  # noqa: E402
    from msgraph.generated.models.attendee import Attendee  # noqa: E402
    from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone  # noqa: E402
    from msgraph.generated.models.email_address import EmailAddress  # noqa: E402
    from msgraph.generated.models.event import Event  # noqa: E402
    from msgraph.generated.models.event_type import EventType  # noqa: E402
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError  # noqa: E402
    from msgraph.generated.models.response_type import ResponseType  # noqa: E402
    from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (  # noqa: E402
        DeltaRequestBuilder,
    )


class _Token(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


@pytest.fixture
def client(sandbox) -> GraphServiceClient:
    token = graph.bearer_headers(sandbox.state, ALICE)["Authorization"].split()[1]
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(_Token(token)))
    adapter.base_url = sandbox.urls["microsoft_graph"]
    return GraphServiceClient(request_adapter=adapter)


def _when(day: str, hour: str) -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=f"{day}T{hour}:00:00", time_zone=PACIFIC)


def test_the_sdk_creates_reads_and_lists_events(client):
    async def scenario():
        made = await client.me.events.post(Event(
            subject="Quarterly review", start=_when("2026-03-02", "09"),
            end=_when("2026-03-02", "10"), transaction_id="crm-1",
            attendees=[Attendee(email_address=EmailAddress(address="x@other.org"))]))
        again = await client.me.events.post(Event(
            subject="Quarterly review", start=_when("2026-03-02", "09"),
            end=_when("2026-03-02", "10"), transaction_id="crm-1"))
        read = await client.me.events.by_event_id(made.id).get()
        listed = await client.me.events.get()
        return made, again, read, listed
    made, again, read, listed = asyncio.run(scenario())
    assert again.id == made.id and made.transaction_id == "crm-1"
    assert made.type == EventType.SingleInstance and made.is_organizer is True
    assert made.start.date_time == "2026-03-02T17:00:00.0000000" and made.start.time_zone == "UTC"
    assert read.attendees[0].status.response == ResponseType.None_
    assert read.created_date_time is not None and read.i_cal_u_id == made.i_cal_u_id
    assert [e.id for e in listed.value] == [made.id]


def test_the_sdk_follows_a_delta_round_and_reads_removals(client):
    window = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
        start_date_time="2026-03-01T00:00:00Z", end_date_time="2026-04-01T00:00:00Z")
    config = RequestConfiguration(query_parameters=window)
    config.headers.add("Prefer", "odata.maxpagesize=2")

    async def scenario():
        ids = []
        for day in ("02", "03", "04"):
            made = await client.me.events.post(Event(
                subject=f"day {day}", start=_when(f"2026-03-{day}", "09"),
                end=_when(f"2026-03-{day}", "10")))
            ids.append(made.id)
        page = await client.me.calendar_view.delta.get(request_configuration=config)
        pages, seen = 1, [e.subject for e in page.value]
        while page.odata_next_link:
            page = await client.me.calendar_view.delta.with_url(page.odata_next_link).get()
            pages += 1
            seen += [e.subject for e in page.value]
        await client.me.events.by_event_id(ids[0]).delete()
        changes = await client.me.calendar_view.delta.with_url(page.odata_delta_link).get()
        return ids, pages, seen, changes
    ids, pages, seen, changes = asyncio.run(scenario())
    assert pages == 2 and seen == ["day 02", "day 03", "day 04"]
    assert [e.id for e in changes.value] == [ids[0]]
    assert changes.value[0].additional_data["@removed"] == {"reason": "deleted"}


def test_the_sdk_maps_graph_errors_to_odata_errors(client):
    async def scenario():
        await client.me.events.by_event_id("AAMkAG" + "Q" * 60).get()
    with pytest.raises(ODataError) as raised:
        asyncio.run(scenario())
    assert raised.value.response_status_code == 404
    assert raised.value.error.code == "ErrorItemNotFound"

"""The HubSpot emulator's CRM search: filters, sorting, paging and its 10,000-result cap,
the index lag (eventual consistency) and the search rate limit."""
from __future__ import annotations

import pytest

from sync_workers.sandbox import hubspot_admin as admin
from tests.integration.sandbox.test_hubspot_support import Api, error_of, meeting_body

T0 = 1_772_442_000_000  # 2026-03-02T09:00:00Z


@pytest.fixture
def api(sandbox):
    # Most tests search more often than five times a second; the limit has its own test.
    admin.configure(sandbox.state, search_lag=0, search_rate_limit=1000)
    return Api(sandbox)


def ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [r["id"] for r in resp.json()["results"]]


def flt(name, op, value=None, **extra):
    f = {"propertyName": name, "operator": op, **extra}
    if value is not None:
        f["value"] = value
    return f


def test_filters_and_groups(api):
    ann = api.create("contacts", email="ann@acme.com", firstname="Ann", lastname="Lee")
    bob = api.create("contacts", email="bob@acme.com", firstname="Bob")
    cid = api.create("contacts", email="cid@other.org", firstname="Cid", lastname="Smith")
    assert ids(api.search("contacts", filterGroups=[{"filters": [
        flt("email", "EQ", "ANN@ACME.COM")]}])) == [ann]  # EQ is case-insensitive
    assert ids(api.search("contacts", filterGroups=[{"filters": [
        flt("email", "CONTAINS_TOKEN", "*@acme.com")]}])) == [ann, bob]
    assert ids(api.search("contacts", filterGroups=[{"filters": [
        flt("lastname", "HAS_PROPERTY")]}])) == [ann, cid]
    assert ids(api.search("contacts", filterGroups=[{"filters": [
        flt("lastname", "NOT_HAS_PROPERTY")]}])) == [bob]
    # Groups are OR-ed, filters in a group AND-ed.
    assert ids(api.search("contacts", filterGroups=[
        {"filters": [flt("firstname", "EQ", "Ann"), flt("lastname", "EQ", "Lee")]},
        {"filters": [flt("firstname", "EQ", "Cid")]}])) == [ann, cid]
    # IN on a string property matches lowercase values only.
    assert ids(api.search("contacts", filterGroups=[{"filters": [
        flt("firstname", "IN", values=["bob", "cid"])]}])) == [bob, cid]
    assert ids(api.search("contacts", filterGroups=[{"filters": [
        flt("firstname", "IN", values=["Bob"])]}])) == []
    assert ids(api.search("contacts", query="smith")) == [cid]
    default = api.search("contacts", filterGroups=[{"filters": [
        flt("email", "EQ", "bob@acme.com")]}])
    assert sorted(default.json()["results"][0]["properties"]) == [
        "createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]


def test_incremental_sync_by_lastmodifieddate(sandbox, api):
    first = api.create("contacts", email="one@example.com")
    sandbox.state.clock.advance(10)
    cursor = admin.record(sandbox.state, "contacts", first)["properties"]["lastmodifieddate"]
    second = api.create("contacts", email="two@example.com")
    sandbox.state.clock.advance(10)
    api.patch(f"/crm/v3/objects/contacts/{first}", json={"properties": {"firstname": "Up"}})
    since = api.search("contacts", filterGroups=[{"filters": [
        flt("lastmodifieddate", "GT", cursor)]}],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        properties=["email", "firstname"])
    assert ids(since) == [second, first]
    assert since.json()["results"][1]["properties"]["firstname"] == "Up"
    meeting = api.post("/crm/v3/objects/meetings", json=meeting_body()).json()
    stamp = meeting["properties"]["hs_lastmodifieddate"]
    assert ids(api.search("meetings", filterGroups=[{"filters": [
        flt("hs_lastmodifieddate", "GTE", stamp)]}])) == [meeting["id"]]
    assert ids(api.search("meetings", filterGroups=[{"filters": [
        flt("hs_timestamp", "BETWEEN", str(T0 - 1), highValue=str(T0 + 1))]}])) == [meeting["id"]]
    assert ids(api.search("meetings", filterGroups=[{"filters": [
        flt("hs_timestamp", "LT", "2026-03-02T09:00:00Z")]}])) == []
    desc = api.search("contacts", sorts=[{"propertyName": "createdate",
                                          "direction": "DESCENDING"}])
    assert ids(desc) == [second, first]


def test_paging_limits_and_the_10000_cap(api):
    made = [api.create("contacts", email=f"n{n}@example.com") for n in range(5)]
    first = api.search("contacts", limit=2)
    assert first.json()["total"] == 5 and first.json()["paging"]["next"]["after"] == "2"
    rest = api.search("contacts", limit=200, after=first.json()["paging"]["next"]["after"])
    assert ids(first) + ids(rest) == made and "paging" not in rest.json()
    assert error_of(api.search("contacts", limit=201)) == (400, "VALIDATION_ERROR")
    assert error_of(api.search("contacts", after="10000")) == (400, "VALIDATION_ERROR")
    assert error_of(api.search("contacts", filterGroups=[
        {"filters": [flt("email", "HAS_PROPERTY")]}] * 6)) == (400, "VALIDATION_ERROR")
    assert error_of(api.search("contacts", query="x" * 3001)) == (400, "VALIDATION_ERROR")
    assert error_of(api.search("contacts", filterGroups=[{"filters": [
        flt("shoe_size", "EQ", "9")]}])) == (400, "VALIDATION_ERROR")


def test_results_stop_at_10000(sandbox, api):
    for n in range(10_050):
        admin.seed(sandbox.state, "meetings", {"hs_timestamp": str(T0 + n)})
    page = api.search("meetings", limit=200, after="9900").json()
    assert page["total"] == 10_050 and len(page["results"]) == 100
    assert page["paging"]["next"]["after"] == "10000"
    assert error_of(api.search("meetings", after=page["paging"]["next"]["after"])) == \
        (400, "VALIDATION_ERROR")


def test_index_lag_hides_new_writes_for_a_while(sandbox, api):
    admin.set_search_lag(sandbox.state, 3)
    contact = api.create("contacts", email="late@example.com", firstname="Old")
    by_email = {"filterGroups": [{"filters": [flt("email", "EQ", "late@example.com")]}]}
    assert ids(api.search("contacts", **by_email)) == []
    # The record itself is readable at once; only search lags.
    assert api.get(f"/crm/v3/objects/contacts/{contact}").status_code == 200
    sandbox.state.clock.advance(3)
    assert ids(api.search("contacts", **by_email)) == [contact]
    api.patch(f"/crm/v3/objects/contacts/{contact}", json={"properties": {"firstname": "New"}})
    stale = api.search("contacts", filterGroups=[{"filters": [flt("firstname", "EQ", "Old")]}])
    assert ids(stale) == [contact]  # still matched on the value it had
    api.delete(f"/crm/v3/objects/contacts/{contact}")
    assert ids(api.search("contacts", **by_email)) == [contact]
    sandbox.state.clock.advance(3)
    assert ids(api.search("contacts", filterGroups=[{"filters": [
        flt("firstname", "EQ", "New")]}])) == []  # archived: never in search


def test_search_rate_limit_and_no_rate_headers(sandbox, api):
    admin.configure(sandbox.state, search_rate_limit=5)
    answers = [api.search("contacts") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    body = answers[-1].json()
    assert body["errorType"] == "RATE_LIMIT" and body["status"] == "error"
    assert body["message"] == "You have reached your secondly limit."
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in answers[0].headers)
    # Other endpoints are not affected, and the window is one second.
    assert api.get("/crm/v3/objects/contacts").status_code == 200
    sandbox.state.clock.advance(1.01)
    assert api.search("contacts").status_code == 200


def test_meetings_by_associated_contact(api):
    alice = api.create("contacts", email="alice@example.com")
    with_alice = api.post("/crm/v3/objects/meetings", json=meeting_body([alice])).json()["id"]
    api.post("/crm/v3/objects/meetings", json=meeting_body())
    assert ids(api.search("meetings", filterGroups=[{"filters": [
        flt("associations.contact", "EQ", alice)]}])) == [with_alice]

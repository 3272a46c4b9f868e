"""Users in the Salesforce emulator over real HTTP: the User object and SOQL over it, Event
ownership (OwnerId) and the identity URL of the token response."""
from __future__ import annotations

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as sf
from tests.integration.sandbox.salesforce_client import Api

MEETING = {"Subject": "Demo", "StartDateTime": "2030-01-07T10:00:00Z", "DurationInMinutes": 30}


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def test_the_integration_user_exists_and_is_active_also_after_a_reset(sandbox, api):
    integration = sf.integration_user_id(sandbox.state)
    assert integration == oauth.DEFAULT_SUBJECTS["salesforce"]
    for _ in range(2):
        rows = Api(sandbox).records(
            f"SELECT Id, Username, Email, Name, IsActive FROM User WHERE Id = '{integration}'")
        assert [(r["Id"], r["IsActive"]) for r in rows] == [(integration, True)]
        assert rows[0]["Email"] and rows[0]["Username"] and rows[0]["Name"]
        sandbox.state.reset()


def test_soql_by_email_finds_an_added_user(sandbox, api):
    bob = sf.add_user(sandbox.state, "rep@example.com", "Bob", "Rep")

    rows = api.records("SELECT Id, Email, IsActive, Name FROM User "
                       "WHERE Email = 'rep@example.com' AND IsActive = true")

    assert len(bob) == 18 and bob.startswith("005")
    assert [(r["Id"], r["Email"], r["IsActive"], r["Name"]) for r in rows] == \
        [(bob, "rep@example.com", True, "Bob Rep")]
    assert rows[0]["attributes"]["type"] == "User"


def test_an_inactive_user_is_left_out_by_is_active_true(sandbox, api):
    kept = sf.add_user(sandbox.state, "kept@example.com", last_name="Kept")
    gone = sf.add_user(sandbox.state, "gone@example.com", last_name="Gone")
    sf.deactivate_user(sandbox.state, gone)

    active = {r["Id"] for r in api.records("SELECT Id, Email FROM User WHERE IsActive = true")}
    everyone = {r["Id"]: r["IsActive"] for r in api.records("SELECT Id, IsActive FROM User")}

    assert kept in active and gone not in active
    assert everyone[gone] is False and sf.integration_user_id(sandbox.state) in active


def test_emails_may_repeat_usernames_may_not(sandbox, api):
    first = sf.add_user(sandbox.state, "shared@example.com", "One", "Shared")
    second = sf.add_user(sandbox.state, "shared@example.com", "Two", "Shared")

    rows = api.records("SELECT Id, Username FROM User WHERE Email = 'shared@example.com' "
                       "ORDER BY Username")

    assert [r["Id"] for r in rows] == [first, second]
    assert rows[0]["Username"] != rows[1]["Username"]
    with pytest.raises(Exception, match="DUPLICATE_USERNAME|Duplicate Username"):
        sf.add_user(sandbox.state, "other@example.com", username=rows[0]["Username"])


def test_an_event_given_to_another_user_reads_back_with_that_owner(sandbox, api):
    bob = sf.add_user(sandbox.state, "rep@example.com", "Bob", "Rep")
    ann = sf.add_user(sandbox.state, "ann@example.com", "Ann", "Rep")

    created = api.post("/sobjects/Event", json={**MEETING, "OwnerId": bob[:15]})
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert api.get(f"/sobjects/Event/{event_id}").json()["OwnerId"] == bob  # 18-char form

    assert api.patch(f"/sobjects/Event/{event_id}", json={"OwnerId": ann}).status_code == 204
    assert api.get(f"/sobjects/Event/{event_id}").json()["OwnerId"] == ann

    upserted = api.patch("/sobjects/Event/Calendar_Event_Id__c/g-1",
                         json={**MEETING, "OwnerId": bob})
    assert upserted.status_code == 201, upserted.text
    again = api.patch("/sobjects/Event/Calendar_Event_Id__c/g-1", json={"OwnerId": ann})
    assert again.status_code == 200 and again.json()["created"] is False
    rows = api.records("SELECT Id, OwnerId, Owner.Email FROM Event "
                       "WHERE Calendar_Event_Id__c = 'g-1'")
    assert [(r["OwnerId"], r["Owner"]["Email"]) for r in rows] == [(ann, "ann@example.com")]


def test_without_an_owner_the_event_is_the_calling_users(sandbox, api):
    event_id = api.post("/sobjects/Event", json=MEETING).json()["id"]
    body = api.get(f"/sobjects/Event/{event_id}").json()
    assert body["OwnerId"] == body["CreatedById"] == sf.integration_user_id(sandbox.state)

    fields = {f["name"]: f for f in api.get("/sobjects/Event/describe").json()["fields"]}
    owner = fields["OwnerId"]
    assert owner["createable"] and owner["updateable"] and owner["defaultedOnCreate"]
    assert owner["referenceTo"] == ["Calendar", "User"] and not owner["nillable"]


def test_an_unknown_or_inactive_owner_is_refused(sandbox, api):
    unknown = api.post("/sobjects/Event", json={**MEETING, "OwnerId": "005000000000099AAA"})
    assert unknown.status_code == 400
    assert unknown.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert unknown.json()[0]["fields"] == ["OwnerId"]

    not_a_user = api.post("/sobjects/Event", json={**MEETING, "OwnerId": "003000000000001AAA"})
    assert not_a_user.status_code == 400
    assert not_a_user.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"

    gone = sf.add_user(sandbox.state, "gone@example.com", last_name="Gone")
    sf.deactivate_user(sandbox.state, gone)
    inactive = api.post("/sobjects/Event", json={**MEETING, "OwnerId": gone})
    assert inactive.status_code == 400
    assert inactive.json()[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"
    assert gone in inactive.json()[0]["message"]
    assert api.records("SELECT Id FROM Event") == []


def test_users_are_read_only_over_the_api(sandbox, api):
    bob = sf.add_user(sandbox.state, "rep@example.com", "Bob", "Rep")

    created = api.post("/sobjects/User", json={"LastName": "New", "Email": "n@example.com"})
    updated = api.patch(f"/sobjects/User/{bob}", json={"Title": "Boss"})
    deleted = api.delete(f"/sobjects/User/{bob}")
    describe = api.get("/sobjects/User/describe").json()

    for resp in (created, updated):
        assert resp.status_code == 400
        assert resp.json()[0]["errorCode"] == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
    assert deleted.status_code == 405
    assert not (describe["createable"] or describe["updateable"] or describe["deletable"])
    assert describe["keyPrefix"] == "005"
    names = {f["name"] for f in describe["fields"]}
    assert {"Id", "Username", "Email", "FirstName", "LastName", "Name", "IsActive",
            "CreatedDate", "SystemModstamp"} <= names and "IsDeleted" not in names
    assert api.get(f"/sobjects/User/{bob}").json()["Email"] == "rep@example.com"


def test_a_meeting_bob_created_in_salesforce_is_bobs(sandbox, api):
    bob = sf.add_user(sandbox.state, "rep@example.com", "Bob", "Rep")

    event_id = sf.create_event_as(sandbox.state, bob, MEETING)
    seeded = sf.seed(sandbox.state, "Event", {**MEETING, "Subject": "Seeded"}, owner_id=bob)

    for record_id in (event_id, seeded):
        body = api.get(f"/sobjects/Event/{record_id}").json()
        assert body["OwnerId"] == body["CreatedById"] == bob
    mine = api.records(f"SELECT Id FROM Event WHERE OwnerId = '{bob}'")
    assert {r["Id"] for r in mine} == {event_id, seeded}
    sf.deactivate_user(sandbox.state, bob)
    with pytest.raises(Exception, match="INACTIVE_OWNER_OR_USER|inactive"):
        sf.create_event_as(sandbox.state, bob, MEETING)


def test_the_control_api_adds_users_and_their_events(sandbox):
    base = f"{sandbox.urls['salesforce']}/_sandbox/salesforce"
    added = requests.post(f"{base}/users", json={"email": "rep@example.com",
                                                 "first_name": "Bob"}, timeout=5)
    assert added.status_code == 201
    bob = added.json()["id"]
    made = requests.post(f"{base}/events/as/{bob}", json={"fields": MEETING}, timeout=5)
    assert made.status_code == 201
    assert sf.record(sandbox.state, "Event", made.json()["id"])["OwnerId"] == bob
    integration = requests.get(f"{base}/users/integration", timeout=5).json()["id"]
    assert integration == sf.integration_user_id(sandbox.state)
    assert requests.post(f"{base}/users/{bob}/deactivate", timeout=5).status_code == 200
    users = {u["Id"]: u for u in requests.get(f"{base}/users", timeout=5).json()}
    assert users[bob]["IsActive"] is False and users[integration]["IsActive"] is True


def test_the_identity_url_answers_the_users_email_and_ids(sandbox):
    bob = sf.add_user(sandbox.state, "rep@example.com", "Bob", "Rep")
    token = oauth.mint_grant(sandbox.state, "salesforce", bob)

    resp = requests.get(token["id"], timeout=5,
                        headers={"Authorization": f"Bearer {token['access_token']}"})

    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(
        "application/json")
    body = resp.json()
    assert body["id"] == token["id"]
    assert body["user_id"] == bob and body["organization_id"] == oauth.SALESFORCE_ORG_ID
    assert body["asserted_user"] is True and body["active"] is True
    assert (body["email"], body["username"], body["first_name"], body["last_name"],
            body["display_name"]) == ("rep@example.com", "rep@example.com", "Bob", "Rep",
                                      "Bob Rep")
    assert body["user_type"] == "STANDARD" and body["email_verified"] is True
    assert {"nick_name", "language", "locale", "utcOffset", "last_modified_date"} <= set(body)
    origin = token["instance_url"]
    assert body["urls"]["rest"] == f"{origin}/services/data/v{{version}}/"
    assert body["urls"]["sobjects"] == f"{origin}/services/data/v{{version}}/sobjects/"
    # The oauth_token parameter works too, and `version` fills in the placeholder.
    latest = requests.get(token["id"], timeout=5, params={
        "oauth_token": token["access_token"], "version": "latest"}).json()
    assert "{version}" not in latest["urls"]["rest"] and latest["user_id"] == bob


def test_the_identity_url_of_the_default_grant_is_the_integration_user(sandbox, api):
    resp = requests.get(api.token["id"], headers=dict(api.http.headers), timeout=5)
    assert resp.status_code == 200
    assert resp.json()["user_id"] == sf.integration_user_id(sandbox.state)


def test_the_identity_url_refuses_bad_tokens_and_other_orgs(sandbox, api):
    url = api.token["id"]
    good = {"Authorization": f"Bearer {api.token['access_token']}"}

    missing = requests.get(url, timeout=5)
    bad = requests.get(url, headers={"Authorization": "Bearer 00D!nope"}, timeout=5)
    oauth.revoke(sandbox.state, "salesforce", refresh_token=api.token["refresh_token"])
    revoked = requests.get(url, headers=good, timeout=5)

    assert (missing.status_code, missing.text) == (403, "Missing_OAuth_Token")
    assert (bad.status_code, bad.text) == (403, "Bad_OAuth_Token")
    assert (revoked.status_code, revoked.text) == (403, "Bad_OAuth_Token")

    fresh = Api(sandbox)
    headers = {"Authorization": f"Bearer {fresh.token['access_token']}"}
    origin = fresh.token["instance_url"]
    user = sf.integration_user_id(sandbox.state)
    wrong_org = requests.get(f"{origin}/id/00D000000000001AAA/{user}", headers=headers,
                             timeout=5)
    unknown = requests.get(f"{origin}/id/{oauth.SALESFORCE_ORG_ID}/005000000000099AAA",
                           headers=headers, timeout=5)
    assert (wrong_org.status_code, wrong_org.text) == (403, "Wrong_Org")
    assert (unknown.status_code, unknown.text) == (404, "Bad_Id")


def test_another_users_identity_needs_the_api_or_full_scope(sandbox, api):
    bob = sf.add_user(sandbox.state, "rep@example.com", "Bob", "Rep")
    url = f"{api.token['instance_url']}/id/{oauth.SALESFORCE_ORG_ID}/{bob}"

    with_api = requests.get(url, headers=dict(api.http.headers), timeout=5)
    narrow = Api(sandbox, scope="id refresh_token")
    without = requests.get(url, headers=dict(narrow.http.headers), timeout=5)

    assert with_api.status_code == 200
    assert with_api.json()["asserted_user"] is False
    assert with_api.json()["email"] == "rep@example.com"
    assert (without.status_code, without.text) == (404, "No_Access")
    own = requests.get(narrow.token["id"], headers=dict(narrow.http.headers), timeout=5)
    assert own.status_code == 200 and own.json()["asserted_user"] is True
    sf.deactivate_user(sandbox.state, bob)
    inactive = requests.get(url, headers=dict(api.http.headers), timeout=5)
    assert (inactive.status_code, inactive.text) == (404, "Inactive")


def test_a_deactivated_users_token_stops_working(sandbox):
    bob = sf.add_user(sandbox.state, "rep@example.com", "Bob", "Rep")
    bobs = Api(sandbox, bob)
    assert bobs.get("/sobjects/Event/describe").status_code == 200

    sf.deactivate_user(sandbox.state, bob)

    refused = bobs.get("/sobjects/Event/describe")
    assert refused.status_code == 401 and refused.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    identity = requests.get(bobs.token["id"], headers=dict(bobs.http.headers), timeout=5)
    assert (identity.status_code, identity.text) == (403, "Bad_OAuth_Token")


def test_a_token_of_a_user_id_the_org_lacks_acts_as_that_user_added_on_first_use(sandbox):
    newcomer = "005000000000042AAA"
    api = Api(sandbox, newcomer)

    event_id = api.post("/sobjects/Event", json=MEETING).json()["id"]

    assert api.get(f"/sobjects/Event/{event_id}").json()["OwnerId"] == newcomer
    rows = api.records(f"SELECT Id, IsActive FROM User WHERE Id = '{newcomer}'")
    assert [(r["Id"], r["IsActive"]) for r in rows] == [(newcomer, True)]


def test_the_identity_url_is_the_first_thing_a_new_users_token_may_call(sandbox):
    newcomer = "005A1B2C3D4E5F6"  # a 15-char id, as the demo's sandbox users have
    token = oauth.mint_grant(sandbox.state, "salesforce", newcomer)

    resp = requests.get(token["id"], timeout=5,
                        headers={"Authorization": f"Bearer {token['access_token']}"})

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["user_id"][:15] == newcomer and len(body["user_id"]) == 18
    assert body["asserted_user"] is True and "@" in body["email"]


class HttpsToLoopbackHttp(HTTPAdapter):
    """simple-salesforce builds https:// URLs; the sandbox serves http on loopback."""

    def send(self, request, **kwargs):
        request.url = "http://" + request.url.removeprefix("https://")
        return super().send(request, **kwargs)


def test_simple_salesforce_queries_users_unchanged(sandbox, api):
    bob = sf.add_user(sandbox.state, "rep@example.com", "Bob", "Rep")
    session = requests.Session()
    session.mount(sandbox.urls["salesforce"].replace("http://", "https://"),
                  HttpsToLoopbackHttp())
    client = Salesforce(instance_url=api.token["instance_url"],
                        session_id=api.token["access_token"], session=session, version="59.0")

    result = client.query("SELECT Id, Email FROM User")

    assert result["done"] is True
    emails = {r["Id"]: r["Email"] for r in result["records"]}
    assert emails[bob] == "rep@example.com"
    assert sf.integration_user_id(sandbox.state) in emails
    assert client.User.get(bob)["Username"] == "rep@example.com"

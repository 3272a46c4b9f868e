"""SOQL (query, queryAll, nextRecordsUrl paging) and the replication resources
(sobjects/X/updated, sobjects/X/deleted) of the Salesforce emulator."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests

from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as admin


class Api:
    def __init__(self, sandbox, version: str = "59.0") -> None:
        token = oauth.mint_grant(sandbox.state, "salesforce", oauth.DEFAULT_SUBJECTS["salesforce"])
        self.origin = token["instance_url"]
        self.base = f"{self.origin}/services/data/v{version}"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"

    def get(self, path: str, **kw):
        url = path if path.startswith("http") else self.base + path
        return self.http.get(url, timeout=5, **kw)

    def query(self, soql: str, endpoint: str = "query"):
        return self.get(f"/{endpoint}", params={"q": soql})


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def soql_time(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_contacts(sandbox, *rows, at=None) -> list[str]:
    return [admin.seed(sandbox.state, "Contact", row, at=at) for row in rows]


def assert_error(resp, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code, body
    return body[0]["message"]


# --- incremental sync ----------------------------------------------------------------------

def test_paging_splits_records_that_share_a_timestamp(sandbox, api):
    admin.configure(sandbox.state, query_batch_size=2)
    moment = sandbox.state.clock.now() - timedelta(minutes=10)
    ids = seed_contacts(sandbox, *({"LastName": f"Same second {i}"} for i in range(5)), at=moment)
    since = soql_time(moment - timedelta(seconds=1))

    soql = (f"SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp > {since} "
            "ORDER BY SystemModstamp")
    page = api.query(soql).json()
    seen, pages = [], 0
    while True:
        pages += 1
        assert page["totalSize"] == 5
        seen += page["records"]
        if page["done"]:
            assert "nextRecordsUrl" not in page
            break
        assert re.fullmatch(r"/services/data/v59\.0/query/01g[A-Za-z0-9]{15}-\d+",
                            page["nextRecordsUrl"])
        page = api.get(api.origin + page["nextRecordsUrl"]).json()

    assert pages == 3 and sorted(r["Id"] for r in seen) == sorted(ids)
    assert len({r["SystemModstamp"] for r in seen}) == 1  # all in one second
    # A `>` cursor at the last timestamp seen skips everything else saved in that second:
    # clients need an overlap window and dedupe by Id.
    last = seen[-1]["SystemModstamp"].replace(".000+0000", "Z")
    assert api.query(f"SELECT Id FROM Contact WHERE SystemModstamp > {last}").json()[
        "totalSize"] == 0


def test_query_batch_size_header(sandbox, api):
    seed_contacts(sandbox, *({"LastName": f"n{i}"} for i in range(205)))
    default = api.query("SELECT Id FROM Contact").json()
    assert default["done"] and len(default["records"]) == 205
    small = api.get("/query", params={"q": "SELECT Id FROM Contact"},
                    headers={"Sforce-Query-Options": "batchSize=50"}).json()
    assert len(small["records"]) == 200 and not small["done"]  # 200 is the minimum


def test_query_cursor_expires_after_15_minutes(sandbox, api):
    admin.configure(sandbox.state, query_batch_size=1)
    seed_contacts(sandbox, {"LastName": "a"}, {"LastName": "b"})
    first = api.query("SELECT Id FROM Contact").json()
    sandbox.state.clock.advance(16 * 60)
    assert_error(api.get(api.origin + first["nextRecordsUrl"]), 400, "INVALID_QUERY_LOCATOR")


def test_query_all_sees_deleted_records(sandbox, api):
    kept, gone = seed_contacts(sandbox, {"LastName": "Kept"}, {"LastName": "Gone"})
    admin.delete_as_user(sandbox.state, "Contact", gone)
    soql = "SELECT Id, IsDeleted FROM Contact ORDER BY LastName"
    assert [r["Id"] for r in api.query(soql).json()["records"]] == [kept]
    rows = api.query(soql, "queryAll").json()["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(gone, True), (kept, False)]


# --- lookups and the WHERE subset -------------------------------------------------------------

def test_lookups_by_id_and_email(sandbox, api):
    first, second, third = seed_contacts(
        sandbox, {"LastName": "A", "Email": "Ann@Example.com"},
        {"LastName": "B", "Email": "bob@example.com"}, {"LastName": "C"})

    def ids(where: str) -> list[str]:
        resp = api.query(f"SELECT Id FROM Contact WHERE {where} ORDER BY LastName")
        assert resp.status_code == 200, resp.text
        return [r["Id"] for r in resp.json()["records"]]

    assert ids(f"Id = '{first[:15]}'") == [first]
    assert ids(f"Id IN ('{first}', '{third.lower()}')") == [first, third]
    assert ids("Email = 'ann@example.com'") == [first]  # text comparison ignores case
    assert ids("Email != 'ann@example.com'") == [second, third]  # != keeps nulls
    assert ids("Email = null") == [third]
    assert ids("Email LIKE '%@example.com' AND (LastName = 'A' OR LastName = 'B')") == \
        [first, second]
    assert ids("NOT LastName IN ('A', 'B')") == [third]
    assert ids("LastName NOT IN ('A')") == [second, third]


def test_select_shapes(sandbox, api):
    account = admin.seed(sandbox.state, "Account", {"Name": "Acme"})
    contact = admin.seed(sandbox.state, "Contact", {"LastName": "Doe", "AccountId": account,
                                                    "Email": "doe@acme.com"})
    admin.seed(sandbox.state, "Event", {"Subject": "Demo", "WhoId": contact,
                                        "DurationInMinutes": 30,
                                        "StartDateTime": "2024-05-01T10:00:00Z"})

    row = api.query("SELECT Subject, Who.Email, Account.Name FROM Event").json()["records"][0]
    assert list(row) == ["attributes", "Subject", "Who", "Account"]
    assert row["Who"]["attributes"]["type"] == "Name" and row["Who"]["Email"] == "doe@acme.com"
    assert row["Account"]["Name"] == "Acme"

    count = api.query("SELECT COUNT() FROM Contact WHERE Account.Name = 'Acme'").json()
    assert count == {"totalSize": 1, "done": True, "records": []}
    ordered = api.query("SELECT LastName FROM Contact ORDER BY Email DESC NULLS FIRST LIMIT 1 "
                        "OFFSET 0").json()
    assert ordered["totalSize"] == 1


@pytest.mark.parametrize("soql, code", [
    ("SELECT Id FRM Contact", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01T00:00:00Z'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE SystemModstamp > 2024-01-01", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE SystemModstamp > 2024-01-01T00:00:00.000+0000",
     "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE SystemModstamp > 2024-01-15T25:00:00Z", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE Email = 42", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Title = 'c'",
     "MALFORMED_QUERY"),
    ("SELECT Id, (SELECT Id FROM Events) FROM Contact", "MALFORMED_QUERY"),
    ("SELECT Idd FROM Contact", "INVALID_FIELD"),
    ("SELECT Id FROM Contact WHERE Description = 'x'", "INVALID_FIELD"),
    ("SELECT Id FROM Contact ORDER BY Description", "INVALID_FIELD"),
    ("SELECT Nope.Name FROM Contact", "INVALID_FIELD"),
    ("SELECT Id FROM Contacts", "INVALID_TYPE"),
    ("SELECT Id FROM Contact WHERE Id = 'short'", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id, Id FROM Contact", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
])
def test_query_errors(api, soql, code):
    message = assert_error(api.query(soql), 400, code)
    if code in ("MALFORMED_QUERY", "INVALID_FIELD"):
        assert "ERROR at Row:1:Column:" in message or "duplicate" in message \
            or "sorted" in message or "filtered" in message


def test_garbage_never_crashes_the_parser(api):
    garbage = ["", "SELECT", "SELECT Id FROM", "SELECT Id FROM Contact WHERE", "'", "SELECT ,",
               "SELECT Id FROM Contact WHERE Email = 'unterminated",
               "SELECT Id FROM Contact WHERE (Email = 'a'", "SELECT Id FROM Contact LIMIT x",
               "SELECT Id FROM Contact ORDER BY", "SELECT COUNT( FROM Contact", "DELETE Contact",
               "SELECT Id FROM Contact WHERE Email IN ()", "SELECT Id FROM Contact WHERE ) (",
               "SELECT Id FROM Contact WHERE CreatedDate > 2024-13-45T99:99:99Z"]
    for soql in garbage:
        resp = api.get("/query", params={"q": soql})
        assert resp.status_code == 400, (soql, resp.text)
        assert resp.json()[0]["errorCode"] in {"MALFORMED_QUERY", "INVALID_FIELD"}, soql


# --- updated/ and deleted/ ----------------------------------------------------------------------

def window(start, end) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}  # requests encodes the "+"


def test_updated_and_deleted_windows(sandbox, api):
    clock = sandbox.state.clock
    start = clock.now()
    kept, gone = seed_contacts(sandbox, {"LastName": "Kept"}, {"LastName": "Gone"})
    admin.delete_as_user(sandbox.state, "Contact", gone)
    clock.advance(90)
    end = clock.now()

    updated = api.get("/sobjects/Contact/updated/", params=window(start, end)).json()
    assert updated["ids"] == [kept]
    assert updated["latestDateCovered"] == end.strftime("%Y-%m-%dT%H:%M:00.000+0000")
    deleted = api.get("/sobjects/Contact/deleted/", params=window(start, end)).json()
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}

    later = api.get("/sobjects/Contact/updated/",
                    params=window(end + timedelta(minutes=1), end + timedelta(minutes=3))).json()
    assert later["ids"] == []


def test_replication_limits(sandbox):
    clock = sandbox.state.clock
    contact = admin.seed(sandbox.state, "Contact", {"LastName": "Old"})
    admin.delete_as_user(sandbox.state, "Contact", contact)
    clock.advance(16 * 24 * 3600)
    now = clock.now()
    api = Api(sandbox)  # a session from before the jump would have expired

    too_old = window(now - timedelta(days=31), now)
    assert_error(api.get("/sobjects/Contact/updated/", params=too_old), 400,
                 "INVALID_REPLICATION_DATE")
    fine_for_updated = window(now - timedelta(days=20), now)
    assert api.get("/sobjects/Contact/updated/", params=fine_for_updated).status_code == 200
    assert_error(api.get("/sobjects/Contact/deleted/", params=fine_for_updated), 400,
                 "INVALID_REPLICATION_DATE")
    minute = now.replace(second=0, microsecond=0)
    same_minute = window(minute, minute + timedelta(seconds=59))  # seconds are ignored
    assert_error(api.get("/sobjects/Contact/updated/", params=same_minute), 400,
                 "INVALID_REPLICATION_DATE")
    # A "+" that was not URL-encoded arrives as a space: not a date.
    raw = f"/sobjects/Contact/updated/?start={now.isoformat()}&end={now.isoformat()}"
    assert_error(api.get(raw), 400, "INVALID_REPLICATION_DATE")

    # After 15 days the recycle bin was emptied: the record is gone, even from queryAll.
    assert api.query(f"SELECT Id FROM Contact WHERE Id = '{contact}'", "queryAll").json()[
        "totalSize"] == 0


def test_an_emptied_recycle_bin_cuts_the_deleted_window(sandbox, api):
    clock = sandbox.state.clock
    start = clock.now()
    gone = admin.seed(sandbox.state, "Contact", {"LastName": "Gone"})
    admin.delete_as_user(sandbox.state, "Contact", gone)
    clock.advance(60)
    admin.empty_recycle_bin(sandbox.state)
    clock.advance(120)
    resp = api.get("/sobjects/Contact/deleted/", params=window(start, clock.now()))
    assert_error(resp, 400, "INVALID_REPLICATION_DATE")
    later = api.get("/sobjects/Contact/deleted/",
                    params=window(clock.now() - timedelta(minutes=1), clock.now())).json()
    assert later["deletedRecords"] == [] and later["earliestDateAvailable"] > \
        start.strftime("%Y-%m-%dT%H:%M:%S.000+0000")

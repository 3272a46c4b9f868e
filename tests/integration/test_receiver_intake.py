"""Receiver endpoints over real HTTP: verified deliveries are queued once; anything else
gets a clear 4xx and never reaches a worker."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest
import requests

from sync_workers.config import get_settings
from sync_workers.receiver import create_app
from sync_workers.store import endpoints
from sync_workers.store.db import close_pools, cursor
from tests.fixtures.intake import _intake_on
from tests.fixtures.receiver import serving

pytestmark = pytest.mark.integration
ORG = "00D000000000001AAA"


def _account(provider: str, external_id: str) -> int:
    with cursor() as cur:
        cur.execute("""INSERT INTO accounts (provider, external_account_id, owner)
                       VALUES (%s, %s, 'owner@example.com') RETURNING id""",
                    (provider, external_id))
        return cur.fetchone()["id"]


@pytest.fixture
def channel(db):
    account_id = _account("google", "rep@example.com")
    endpoints.add_push_channel(account_id, "google", "chan-1", "good-token",
                               datetime.now(timezone.utc) + timedelta(days=7), "res-1")
    return account_id


@pytest.fixture
def sf_endpoint(db):
    account_id = _account("salesforce", ORG)
    endpoint_id = endpoints.add_webhook_endpoint(account_id, "salesforce", "s3cret-path", ORG)
    return endpoint_id


def push_headers(**overrides) -> dict[str, str]:
    headers = {"X-Goog-Channel-ID": "chan-1", "X-Goog-Channel-Token": "good-token",
               "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "2",
               "X-Goog-Resource-ID": "res-1"}
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v is not None}


def outbound(org: str = ORG, notification_ids=("04l000000000001",), record="003000000000001AAA"):
    notes = "".join(
        f"<Notification><Id>{nid}</Id><sObject xsi:type=\"sf:Contact\">"
        f"<sf:Id>{record}</sf:Id><sf:LastName>Lovelace</sf:LastName></sObject></Notification>"
        for nid in notification_ids)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound" '
        'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
        "<SessionId xsi:nil=\"true\"/><EnterpriseUrl>https://x/</EnterpriseUrl>"
        f"<PartnerUrl>https://x/</PartnerUrl>{notes}</notifications></soapenv:Body>"
        "</soapenv:Envelope>").encode()


def test_google_push_is_queued_once(channel, queued_intake):
    with serving(create_app(intake=queued_intake.intake)) as url:
        first = requests.post(f"{url}/webhooks/google/calendar", headers=push_headers(), timeout=5)
        again = requests.post(f"{url}/webhooks/google/calendar", headers=push_headers(), timeout=5)
        nxt = requests.post(f"{url}/webhooks/google/calendar",
                            headers=push_headers(**{"X-Goog-Message-Number": "3"}), timeout=5)
    assert (first.status_code, again.status_code, nxt.status_code) == (200, 200, 200)
    messages = queued_intake.queued()
    assert len(messages) == 2  # the duplicate delivery was not queued again
    headers = messages[0]["headers"]
    assert headers["task"] == "sync.ingest_event" and headers["x_request_id"]


def test_google_sync_message_is_acknowledged_and_ignored(channel, queued_intake):
    with serving(create_app(intake=queued_intake.intake)) as url:
        resp = requests.post(f"{url}/webhooks/google/calendar",
                             headers=push_headers(**{"X-Goog-Resource-State": "sync",
                                                     "X-Goog-Message-Number": "1"}), timeout=5)
    assert resp.status_code == 200 and queued_intake.queued() == []


@pytest.mark.parametrize("overrides, status", [
    ({"X-Goog-Channel-Token": None}, 401),
    ({"X-Goog-Channel-ID": None}, 401),
    ({"X-Goog-Channel-Token": "forged"}, 403),
    ({"X-Goog-Channel-Token": "good-token " }, 403),
    ({"X-Goog-Channel-ID": "other-channel"}, 403),
    ({"X-Goog-Resource-State": "weird"}, 400),
    ({"X-Goog-Message-Number": "x1"}, 400),
])
def test_google_push_rejections(channel, queued_intake, overrides, status):
    with serving(create_app(intake=queued_intake.intake)) as url:
        resp = requests.post(f"{url}/webhooks/google/calendar", headers=push_headers(**overrides),
                             timeout=5)
    assert resp.status_code == status and resp.json()["error"]
    assert queued_intake.queued() == []


def test_stale_google_channel_is_rejected(channel, queued_intake):
    with cursor() as cur:
        cur.execute("UPDATE push_channels SET expires_at = now() - interval '1 minute'")
    with serving(create_app(intake=queued_intake.intake)) as url:
        resp = requests.post(f"{url}/webhooks/google/calendar", headers=push_headers(), timeout=5)
    assert resp.status_code == 403 and queued_intake.queued() == []
    endpoints.mark_channel_stopped("chan-1")


def test_salesforce_outbound_message_is_acked_and_queued_once(sf_endpoint, queued_intake):
    path = f"/webhooks/salesforce/{sf_endpoint}/s3cret-path"
    with serving(create_app(intake=queued_intake.intake)) as url:
        first = requests.post(url + path, data=outbound(), timeout=5)
        retry = requests.post(url + path, data=outbound(), timeout=5)
    assert first.status_code == retry.status_code == 200
    assert "<Ack>true</Ack>" in first.text and "<Ack>true</Ack>" in retry.text
    (message,) = queued_intake.queued()
    assert "1 record(s)" in message["headers"]["kwargsrepr"]
    assert "s3cret" not in str(message)  # the endpoint secret is not passed on


@pytest.mark.parametrize("path_secret, body, status", [
    ("wrong", outbound(), 403),
    ("s3cret-path", outbound(org="00D000000000002AAA"), 403),
    ("s3cret-path", b"not xml at all", 400),
    ("s3cret-path", b"", 400),
    ("s3cret-path", outbound(notification_ids=()), 400),
    ("s3cret-path", outbound(record="not-an-id"), 400),
    ("s3cret-path", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', 400),
    ("s3cret-path", b"x" * (2 * 1024 * 1024), 413),
])
def test_salesforce_rejections(sf_endpoint, queued_intake, path_secret, body, status):
    with serving(create_app(intake=queued_intake.intake)) as url:
        resp = requests.post(f"{url}/webhooks/salesforce/{sf_endpoint}/{path_secret}", data=body,
                             timeout=10)
    assert resp.status_code == status
    assert queued_intake.queued() == []


def test_broker_down_gives_503_then_recovers_by_itself(channel, own_redis):
    probe = _intake_on(own_redis.url)
    with serving(create_app(intake=probe.intake)) as url:
        def post(number: str) -> requests.Response:
            return requests.post(f"{url}/webhooks/google/calendar",
                                 headers=push_headers(**{"X-Goog-Message-Number": number}),
                                 timeout=30)

        assert post("10").status_code == 200
        own_redis.stop()
        down = post("11")
        assert down.status_code == 503 and "unavailable" in down.json()["error"]
        own_redis.start()  # an empty Redis, as after a restart without persistence
        assert post("11").status_code == 200  # the refused delivery is accepted on retry
    probe = _intake_on(own_redis.url)
    assert len(probe.queued()) == 1


@pytest.mark.parametrize("encoding", ["UTF-8", "ISO-8859-1", "UTF-16"])
def test_an_outbound_message_in_any_declared_encoding_is_queued_without_its_session(
        sf_endpoint, queued_intake, encoding):
    """The XML declaration names the encoding; the parser reads it. What is queued is the
    records the message names, never its body, whose SessionId is a live session."""
    text = outbound().decode().replace('encoding="UTF-8"', f'encoding="{encoding}"') \
        .replace('<SessionId xsi:nil="true"/>', "<SessionId>00Dlive!session.tokén</SessionId>")
    path = f"/webhooks/salesforce/{sf_endpoint}/s3cret-path"
    with serving(create_app(intake=queued_intake.intake)) as url:
        resp = requests.post(url + path, data=text.encode(encoding.lower()), timeout=5)
    assert resp.status_code == 200, resp.text
    (message,) = queued_intake.queued()
    _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert "session" not in json.dumps(kwargs).lower()
    assert kwargs["event"]["records"] == [{"id": "003000000000001AAA", "type": "Contact"}]


def test_a_database_connection_lost_under_the_pool_gives_503_then_heals(channel,
                                                                         queued_intake):
    """PostgreSQL restarted: the pooled connections are dead until used. The first request
    that meets one gets 503 (our outage, retry later), never a 500, and the next is served."""
    app = create_app(intake=queued_intake.intake)
    with serving(app) as url:
        warm = requests.post(f"{url}/webhooks/google/calendar", headers=push_headers(),
                             timeout=5)
        killer = psycopg2.connect(get_settings().database_url)
        killer.autocommit = True
        with killer.cursor() as cur:
            cur.execute("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                           WHERE datname = current_database() AND pid <> pg_backend_pid()""")
        killer.close()
        app.extensions["sync_channels"].forget("chan-1")  # the next request reads the row
        try:
            statuses = [requests.post(
                f"{url}/webhooks/google/calendar",
                headers=push_headers(**{"X-Goog-Message-Number": str(n)}),
                timeout=5).status_code for n in range(3, 9)]
        finally:
            close_pools()  # the other dead connections of this process: not the next test's
    assert warm.status_code == 200
    assert 500 not in statuses and set(statuses) <= {200, 503}, statuses
    assert statuses[-1] == 200


def test_an_outbound_message_in_an_unknown_encoding_is_a_400(sf_endpoint, queued_intake):
    text = outbound().decode().replace('encoding="UTF-8"', 'encoding="klingon"')
    with serving(create_app(intake=queued_intake.intake)) as url:
        resp = requests.post(f"{url}/webhooks/salesforce/{sf_endpoint}/s3cret-path",
                             data=text.encode(), timeout=5)
    assert resp.status_code == 400, resp.text
    assert queued_intake.queued() == []

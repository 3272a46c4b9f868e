"""Outbound Messages from the Salesforce emulator to a real HTTP receiver: the SOAP
envelope, re-sending until `<Ack>true</Ack>`, batching, and the delivery faults."""
from __future__ import annotations

import threading
import time

import pytest
import requests
from defusedxml import ElementTree
from werkzeug.serving import make_server

from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as admin
from sync_workers.sandbox.webhooks import DeliveryFaults

NS = {"soap": "http://schemas.xmlsoap.org/soap/envelope/",
      "om": "http://soap.sforce.com/2005/09/outbound",
      "sf": "urn:sobject.enterprise.soap.sforce.com",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
ACK = (b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
       b'<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
       b"<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>")


class Receiver:
    """An endpoint that answers from a script (the last answer repeats) and keeps every
    request it got."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers) or [(200, ACK)]
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/om?secret=s3cr3t"

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        with self._lock:
            self.requests.append((headers, body))
            status, payload = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        start_response(f"{status} X", [("Content-Type", "text/xml; charset=utf-8")])
        return [payload]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.requests)} requests, expected {count}")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(*answers):
        started.append(Receiver(*answers))
        return started[-1]
    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def api(sandbox):
    token = oauth.mint_grant(sandbox.state, "salesforce", oauth.DEFAULT_SUBJECTS["salesforce"])
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    return http, f"{token['instance_url']}/services/data/v59.0"


def notifications(body: bytes) -> list:
    root = ElementTree.fromstring(body)
    return root.findall("soap:Body/om:notifications/om:Notification", NS)


def test_message_is_resent_until_acknowledged(sandbox, api, receivers):
    receiver = receivers((500, b"oops"), (200, b"<html>not an ack</html>"), (200, ACK))
    resp = requests.post(f"{sandbox.urls['salesforce']}/_sandbox/salesforce/outbound-messages",
                         json={"sobject": "Contact", "url": receiver.url,
                               "fields": ["Email", "LastName", "Title"]}, timeout=5)
    action_id = resp.json()["action_id"]
    http, base = api
    contact = http.post(f"{base}/sobjects/Contact", timeout=5,
                        json={"LastName": "Doe", "Email": "doe@example.com"}).json()["id"]

    got = receiver.wait_for(3)
    assert sandbox.state.webhooks.wait_idle(timeout=10)
    assert len({body for _, body in got}) == 1  # the same message each time
    headers, body = got[-1]
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    assert headers["Soapaction"] == '""'
    envelope = ElementTree.fromstring(body).find("soap:Body/om:notifications", NS)
    assert envelope.findtext("om:OrganizationId", namespaces=NS) == \
        admin.settings(sandbox.state)["org_id"]
    assert envelope.findtext("om:ActionId", namespaces=NS) == action_id
    assert envelope.find("om:SessionId", NS).get(f"{{{NS['xsi']}}}nil") == "true"
    assert "/services/Soap/c/" in envelope.findtext("om:EnterpriseUrl", namespaces=NS)
    assert "/services/Soap/u/" in envelope.findtext("om:PartnerUrl", namespaces=NS)
    [note] = notifications(body)
    assert note.findtext("om:Id", namespaces=NS).startswith("04l")
    sobject = note.find("om:sObject", NS)
    assert sobject.get(f"{{{NS['xsi']}}}type") == "sf:Contact"
    # Only the action's fields, in schema order; the null Title is left out.
    assert [child.tag.split("}")[1] for child in sobject] == ["Id", "LastName", "Email"]
    assert sobject.findtext("sf:Id", namespaces=NS) == contact
    delivery = sandbox.state.webhooks.deliveries[-1]
    assert delivery.outcomes == [500, "200 not acked", 200]


def test_which_changes_send_messages(sandbox, api, receivers):
    receiver = receivers()
    admin.add_outbound_message(sandbox.state, "Event", receiver.url)
    http, base = api
    event = http.post(f"{base}/sobjects/Event", timeout=5, json={
        "Subject": "Demo", "StartDateTime": "2024-05-01T10:00:00Z",
        "DurationInMinutes": 30}).json()["id"]  # the integration's own write: echoed back
    admin.update_as_user(sandbox.state, "Event", event, {"Location": "Room 4"})
    admin.touch(sandbox.state, "Event", event)  # system-only: no workflow
    admin.delete_as_user(sandbox.state, "Event", event)  # workflow doesn't fire on delete

    assert sandbox.state.webhooks.wait_idle(timeout=10)
    got = receiver.wait_for(2)
    assert len(got) == 2
    locations = [notifications(b)[0].findtext("om:sObject/sf:Location", namespaces=NS)
                 for _, b in got]
    assert locations == [None, "Room 4"]


def test_an_import_sends_up_to_100_notifications_per_message(sandbox, receivers):
    receiver = receivers()
    admin.add_outbound_message(sandbox.state, "Contact", receiver.url, fields=["LastName"])
    admin.import_as_user(sandbox.state, "Contact",
                         [{"LastName": f"Imported {i}"} for i in range(150)])
    assert sandbox.state.webhooks.wait_idle(timeout=10)
    sizes = sorted(len(notifications(body)) for _, body in receiver.wait_for(2))
    assert sizes == [50, 100]


def test_merge_sends_no_message(sandbox, receivers):
    receiver = receivers()
    master = admin.seed(sandbox.state, "Contact", {"LastName": "Master"})
    loser = admin.seed(sandbox.state, "Contact", {"LastName": "Loser"})
    admin.add_outbound_message(sandbox.state, "Contact", receiver.url)
    admin.merge_contacts(sandbox.state, master, [loser])
    assert sandbox.state.webhooks.wait_idle(timeout=5)
    assert receiver.requests == []


def test_a_dropped_attempt_is_retried(sandbox, receivers):
    receiver = receivers()
    admin.add_outbound_message(sandbox.state, "Contact", receiver.url)
    sandbox.state.webhooks.set_faults(DeliveryFaults(drop_rate=1.0))
    admin.create_as_user(sandbox.state, "Contact", {"LastName": "Doe"})
    assert sandbox.state.webhooks.wait_idle(timeout=10)
    assert len(receiver.wait_for(1)) == 1
    assert sandbox.state.webhooks.deliveries[-1].outcomes == ["dropped", 200]


def test_duplicates_keep_their_notification_ids(sandbox, receivers):
    receiver = receivers()
    admin.add_outbound_message(sandbox.state, "Contact", receiver.url)
    sandbox.state.webhooks.set_faults(DeliveryFaults(duplicate_rate=1.0))
    admin.create_as_user(sandbox.state, "Contact", {"LastName": "Doe"})
    assert sandbox.state.webhooks.wait_idle(timeout=10)
    first, second = receiver.wait_for(2)
    ids = [notifications(body)[0].findtext("om:Id", namespaces=NS) for _, body in (first, second)]
    assert ids[0] == ids[1]  # receivers dedupe on the notification Id

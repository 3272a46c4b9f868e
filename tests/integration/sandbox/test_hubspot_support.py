"""Shared helpers for the HubSpot emulator tests (no tests here): a Bearer session on the
API base, and a webhook receiver that answers from a script."""
from __future__ import annotations

import json
import threading
import time

import requests
from werkzeug.serving import make_server

from sync_workers.sandbox import oauth


class Api:
    """A client of the emulated HubSpot API with one user's access token."""

    def __init__(self, sandbox, subject: str | None = None) -> None:
        self.token = oauth.mint_grant(sandbox.state, "hubspot",
                                      subject or oauth.DEFAULT_SUBJECTS["hubspot"])
        self.base = sandbox.urls["hubspot_api"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token['access_token']}"

    def __getattr__(self, method):
        return lambda path, **kw: self.http.request(method.upper(), self.base + path,
                                                    timeout=10, **kw)

    def create(self, object_type: str, associations: list | None = None, **properties) -> str:
        body: dict = {"properties": properties}
        if associations is not None:
            body["associations"] = associations
        resp = self.post(f"/crm/v3/objects/{object_type}", json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    def search(self, object_type: str, **body) -> requests.Response:
        return self.post(f"/crm/v3/objects/{object_type}/search", json=body)


def error_of(resp) -> tuple[int, str | None]:
    body = resp.json()
    assert body["status"] == "error" and body["correlationId"], body
    return resp.status_code, body.get("category")


def issues_of(resp) -> list[tuple[str, str]]:
    """(property name, error code) of each invalid property of a 400 VALIDATION_ERROR."""
    body = resp.json()
    assert resp.status_code == 400 and body["category"] == "VALIDATION_ERROR", body
    listed = json.loads(body["message"].split("Property values were not valid: ", 1)[1])
    assert [(e["code"], e["context"]["propertyName"][0]) for e in body["errors"]] == \
        [(i["error"], i["name"]) for i in listed]
    return [(i["name"], i["error"]) for i in listed]


TO_CONTACT = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}]


def meeting_body(contact_ids: list[str] = (), **properties) -> dict:
    props = {"hs_timestamp": "2026-03-02T09:00:00Z", "hs_meeting_title": "Intro",
             "hs_meeting_start_time": "2026-03-02T09:00:00Z",
             "hs_meeting_end_time": "2026-03-02T10:00:00Z", **properties}
    return {"properties": props,
            "associations": [{"to": {"id": c}, "types": TO_CONTACT} for c in contact_ids]}


class Receiver:
    """A webhook endpoint answering from a script (the last answer repeats; an answer may
    be a number of seconds to stall before a 200) that keeps every request it got."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers) or [200]
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks/hubspot?app=sync"

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        with self._lock:
            self.requests.append((headers, body, environ.get("REQUEST_METHOD", "")))
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, float):
            time.sleep(answer)
            answer = 200
        start_response(f"{answer} X", [("Content-Type", "text/plain")])
        return [b"ok"]

    def events(self) -> list[list[dict]]:
        with self._lock:
            return [json.loads(body) for _, body, _ in self.requests]

    def wait_for(self, count: int, timeout: float = 10.0):
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

"""Shared pieces of the Microsoft Graph emulator tests (this module holds no tests).

`shape_errors` checks an answer against Microsoft's own models: with msgraph-sdk installed
(it is not a project dependency) the JSON is parsed by its kiota models and every property
they do not know is an error; without it, the property lists of the documentation's JSON
representations (learn.microsoft.com/graph/api/resources/event, subscription) are used.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sync_workers.sandbox import microsoft_graph as graph

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
PACIFIC = "Pacific Standard Time"


def timed(day: str = "2026-03-02", start: str = "09:00", end: str = "10:00",
          zone: str = "UTC") -> dict[str, Any]:
    return {"start": {"dateTime": f"{day}T{start}:00", "timeZone": zone},
            "end": {"dateTime": f"{day}T{end}:00", "timeZone": zone}}


class Api:
    """Graph v1.0 over HTTP as one user; every event answer is shape-checked."""

    def __init__(self, sandbox, subject: str, immutable: bool = False) -> None:
        self.sandbox = sandbox
        self.subject = subject
        self.base = sandbox.urls["microsoft_graph"]
        self.headers = graph.bearer_headers(sandbox.state, subject)
        self.immutable = immutable

    def call(self, method: str, path: str, body=None, headers=None, prefer: list[str] = (),
             **params) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}{path}"
        prefs = list(prefer) + (['IdType="ImmutableId"'] if self.immutable else [])
        extra = {"Prefer": ", ".join(prefs)} if prefs else {}
        resp = requests.request(method, url, json=body, params=params or None,
                                headers={**self.headers, **extra, **(headers or {})},
                                timeout=10)
        if resp.status_code in (200, 201) and resp.content:
            doc = resp.json()
            if "/subscriptions" in url:
                kind = "subscriptions" if "value" in doc else "subscription"
            elif "value" in doc:
                kind = "events"
            else:
                kind = "event" if "/events" in url else None
            if kind:
                assert shape_errors(doc, kind) == [], resp.text
        elif resp.status_code >= 400:
            assert set(resp.json()) == {"error"}, resp.text
            assert {"code", "message"} <= set(resp.json()["error"]), resp.text
        return resp

    def create(self, body: dict[str, Any], **kw) -> dict[str, Any]:
        resp = self.call("POST", "/me/events", body, **kw)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def get(self, event_id: str, **kw) -> requests.Response:
        return self.call("GET", f"/me/events/{event_id}", **kw)

    def patch(self, event_id: str, body, **kw) -> requests.Response:
        return self.call("PATCH", f"/me/events/{event_id}", body, **kw)

    def delete(self, event_id: str, **kw) -> requests.Response:
        return self.call("DELETE", f"/me/events/{event_id}", **kw)

    def view(self, start: str, end: str, **kw) -> requests.Response:
        return self.call("GET", "/me/calendarView", startDateTime=start, endDateTime=end, **kw)

    def delta_round(self, first: str | None = None, page_size: int | None = None,
                    **window) -> tuple[list[dict[str, Any]], str, int]:
        """Follow nextLinks to the deltaLink: (items, deltaLink, pages)."""
        prefer = [f"odata.maxpagesize={page_size}"] if page_size else []
        if first is None:
            resp = self.call("GET", "/me/calendarView/delta", prefer=prefer, **window)
        else:
            resp = self.call("GET", first, prefer=prefer)
        items, pages = [], 0
        while True:
            assert resp.status_code == 200, resp.text
            page = resp.json()
            pages += 1
            items.extend(page["value"])
            if "@odata.deltaLink" in page:
                return items, page["@odata.deltaLink"], pages
            resp = self.call("GET", page["@odata.nextLink"], prefer=prefer)


# --- shapes -----------------------------------------------------------------------------

_ANNOTATIONS = {"@odata.etag", "@odata.type", "@odata.context", "@removed", "@odata.nextLink",
                "@odata.deltaLink"}


def shape_errors(doc: dict[str, Any], kind: str) -> list[str]:
    """Properties of `doc` that Microsoft's model of `kind` (event, events, subscription,
    subscriptions) does not define."""
    items = doc.get("value", []) if kind in ("events", "subscriptions") else [doc]
    single = kind.rstrip("s") if kind.endswith("s") else kind
    errors: list[str] = []
    for index, item in enumerate(items):
        errors.extend(f"[{index}] {e}" for e in _sdk_errors(item, single))
    return errors


def _sdk_errors(item: dict[str, Any], kind: str) -> list[str]:
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph.generated.models.event import Event
    from msgraph.generated.models.subscription import Subscription

    model = Event if kind == "event" else Subscription
    node = JsonParseNodeFactory().get_root_parse_node("application/json",
                                                      json.dumps(item).encode())
    return [f"unknown property {p}" for p in _unknown(node.get_object_value(model), "")]


def _unknown(obj: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(obj, list):
        for i, value in enumerate(obj):
            found.extend(_unknown(value, f"{path}[{i}]"))
        return found
    if not dataclasses.is_dataclass(obj):
        return found
    extra = getattr(obj, "additional_data", None) or {}
    found.extend(f"{path}/{k}" for k in extra if k not in _ANNOTATIONS)
    for f in dataclasses.fields(obj):
        if f.name != "additional_data":
            found.extend(_unknown(getattr(obj, f.name), f"{path}/{f.name}"))
    return found


# --- a webhook receiver -----------------------------------------------------------------


class Receiver:
    """Answers Graph's validation requests (mode decides how) and records notifications."""

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.validations: list[str] = []
        self.received: list[dict[str, Any]] = []
        self.status = 202
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/notify"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        raw_query = environ.get("QUERY_STRING", "")
        if "validationToken" in raw_query:
            token = request.args["validationToken"]
            with self._lock:
                self.validations.append(token)
            return self._validation_answer(token, raw_query)(environ, start_response)
        with self._lock:
            self.received.append(json.loads(request.get_data() or b"{}"))
            status = self.status
        return Response(status=status)(environ, start_response)

    def _validation_answer(self, token: str, raw_query: str) -> Response:
        if self.mode == "slow":
            time.sleep(1.5)
        if self.mode == "status":
            return Response("nope", status=500)
        if self.mode == "encoded":  # echoes the token still URL-encoded
            encoded = raw_query.split("validationToken=", 1)[1].split("&")[0]
            return Response(encoded, content_type="text/plain")
        if self.mode == "json":
            return Response(json.dumps({"validationToken": token}),
                            content_type="application/json")
        return Response(token, content_type="text/plain; charset=utf-8")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.received)} notifications, wanted {count}")

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [item for body in self.received for item in body.get("value", [])]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def path_of(url: str) -> str:
    return urlsplit(url).path

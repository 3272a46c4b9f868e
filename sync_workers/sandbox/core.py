"""What every emulated provider shares: a movable clock, a request log, fault injection.

One `SandboxState` is shared by all provider apps of a sandbox; each provider keeps its
own records in `state.stores[provider]`. Everything is in memory and guarded by
`state.lock` (the servers are threaded).
"""
from __future__ import annotations

import random
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from flask import Flask, Response, g, jsonify, request

from .webhooks import WebhookDispatcher


class Clock:
    """Real time plus an offset that tests can move forward (never backward)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


@dataclass
class FaultRule:
    """Answer the next `count` requests matching provider/method/path with a fault.

    kind: "status" (answer `status` with `body`/`headers`), "hang" (sleep `seconds`, then
    serve normally: a client with a shorter timeout sees a timeout), "reset" (close the TCP
    connection without an answer).
    """

    kind: str
    provider: str | None = None
    method: str | None = None
    path: str | None = None  # regular expression, searched in the request path
    subject: str | None = None  # whose access token the request carries (one account's)
    count: int = 1
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def matches(self, provider: str, method: str, path: str,
                subject: Callable[[], str | None]) -> bool:
        return (
            (self.provider is None or self.provider == provider)
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or re.search(self.path, path) is not None)
            and (self.subject is None or self.subject == subject())
        )


class Faults:
    """Scripted faults (FaultRule) plus an optional seeded rate of random 503s."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._rate = 0.0
        self._rate_provider: str | None = None
        self._rng = random.Random(0)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def set_rate(self, rate: float, seed: int = 0, provider: str | None = None) -> None:
        with self._lock:
            self._rate, self._rng, self._rate_provider = rate, random.Random(seed), provider

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._rate = 0.0

    def take(self, provider: str, method: str, path: str,
             subject: Callable[[], str | None] = lambda: None) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.count > 0 and rule.matches(provider, method, path, subject):
                    rule.count -= 1
                    return rule
            self._rules = [r for r in self._rules if r.count > 0]
            if self._rate and (self._rate_provider in (None, provider)):
                if self._rng.random() < self._rate:
                    return FaultRule(kind="status", status=503)
        return None


@dataclass(frozen=True)
class Latency:
    """How long a provider takes to answer each API call: `seconds`, plus up to `jitter`
    more (uniform), so benchmarks and tests can model real APIs (100-300 ms a call)."""

    seconds: float = 0.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.seconds < 0 or self.jitter < 0:
            raise ValueError("latency seconds and jitter must not be negative")

    def delay(self, rng: random.Random) -> float:
        return self.seconds + (rng.uniform(0, self.jitter) if self.jitter else 0.0)


class RequestLog:
    """Every request a provider app served, for tests that count calls and check headers."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, provider: str | None = None, method: str | None = None,
                path: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._entries)
        return [
            e for e in items
            if (provider is None or e["provider"] == provider)
            and (method is None or e["method"] == method.upper())
            and (path is None or re.search(path, e["path"]))
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class SandboxState:
    """Shared state of one sandbox: clock, log, faults and each provider's store."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.log = RequestLog()
        self.faults = Faults()
        self.stores: dict[str, Any] = {}
        self._resetters: list[Any] = []
        self.urls: dict[str, str] = {}  # filled in by the server once ports are known
        self.webhooks = WebhookDispatcher()
        # provider -> the subject of the current request's access token (set by the OAuth
        # emulation, which core cannot import), for faults aimed at one account
        self.subject_of: Callable[[str], str | None] = lambda provider: None
        self.latency: dict[str, Latency] = {}  # provider -> per-call latency; kept on reset
        self._latency_rng = random.Random(0)

    def set_latency(self, provider: str, latency: Latency) -> None:
        with self.lock:
            self.latency[provider] = latency

    def latency_of(self, provider: str) -> float:
        latency = self.latency.get(provider)
        if latency is None:
            return 0.0
        with self.lock:
            return latency.delay(self._latency_rng)

    def on_reset(self, fn) -> None:
        """Register a callable that re-creates a provider's store on reset."""
        self._resetters.append(fn)
        fn()

    def reset(self) -> None:
        with self.lock:
            self.clock.reset()
            self.log.clear()
            self.faults.clear()
            self.webhooks.reset()
            for fn in self._resetters:
                fn()


# Headers that a test may want to see; Authorization is kept so tests can check which
# token was used (the sandbox is not our service: its log is not a production log).
_LOGGED_BODY_LIMIT = 64 * 1024


def _reset_connection() -> None:
    """Drop the connection without an answer. shutdown(), not close(): the server's file
    objects keep the socket open past a close(), and the client would get a 500 instead."""
    sock: socket.socket | None = request.environ.get("werkzeug.socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("sandbox fault: connection reset")


def provider_app(provider: str, state: SandboxState) -> Flask:
    """A Flask app for one provider with logging and fault injection installed."""
    app = Flask(f"sandbox.{provider}")
    app.config["SANDBOX_STATE"] = state
    app.config["SANDBOX_PROVIDER"] = provider

    @app.before_request
    def _inject_fault():
        g.sandbox_started = time.monotonic()
        g.sandbox_started_at = state.clock.time()
        if request.path.startswith("/_sandbox"):
            return None
        if delay := state.latency_of(provider):
            time.sleep(delay)  # the provider's own latency, not a test waiting
        rule = state.faults.take(provider, request.method, request.path,
                                 lambda: state.subject_of(provider))
        if rule is None:
            return None
        g.sandbox_fault = rule.kind
        if rule.kind == "hang":
            time.sleep(rule.seconds)
            return None
        if rule.kind == "reset":
            _log(provider, state, status=0)
            _reset_connection()
        body = rule.body if rule.body is not None else {"error": "sandbox fault"}
        resp = jsonify(body) if not isinstance(body, str) else Response(body)
        resp.status_code = rule.status
        for name, value in rule.headers.items():
            resp.headers[name] = value
        return resp

    @app.after_request
    def _log_request(resp: Response) -> Response:
        if not request.path.startswith("/_sandbox"):
            _log(provider, state, status=resp.status_code)
        return resp

    return app


def _log(provider: str, state: SandboxState, status: int) -> None:
    raw = request.get_data(cache=True)[:_LOGGED_BODY_LIMIT]
    state.log.append({
        "provider": provider,
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "args": request.args.to_dict(flat=False),
        "headers": {k: v for k, v in request.headers.items()},
        "body": raw.decode("utf-8", "replace"),
        "status": status,
        "fault": g.get("sandbox_fault"),
        "subject": state.subject_of(provider),  # whose token: which account called
        "at": state.clock.time(),  # answered
        "started_at": g.get("sandbox_started_at"),  # received
    })


def iso_utc(dt: datetime) -> str:
    """RFC 3339 with milliseconds and Z, as Google and Salesforce print timestamps."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.microsecond // 1000:03d}Z"


def later(state: SandboxState, seconds: float) -> datetime:
    return state.clock.now() + timedelta(seconds=seconds)

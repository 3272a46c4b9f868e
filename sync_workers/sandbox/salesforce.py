"""Salesforce REST API emulator: `/services/data/vXX.X/...` for Account, Contact, Lead, Event,
EventRelation (and, with Shared Activities, EventWhoRelation) and User.

Every API request is authenticated with a Bearer session (oauth.bearer_subject; 401
INVALID_SESSION_ID otherwise), counted against the org's rolling 24-hour API allowance
(`Sforce-Limit-Info: api-usage=N/LIMIT` on every answer, 403 REQUEST_LIMIT_EXCEEDED past
it) and dispatched by `_route`. Errors are JSON arrays `[{"message","errorCode",...}]`.
The org itself (records, save rules, settings) is salesforce_store.Org; SOQL is
salesforce_soql/salesforce_query; admin helpers and the `/_sandbox/salesforce/...` control
routes are in salesforce_admin; Outbound Messages in salesforce_outbound; the identity URL
(`/id/<org id>/<user id>`, the token response's `id`) in salesforce_identity; Shared
Activities, leads and duplicate rules in salesforce_people.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, request

from . import salesforce_admin, salesforce_identity
from . import salesforce_query as query
from . import salesforce_sobjects as sobjects
from .core import SandboxState
from .oauth import bearer_subject
from .oauth_providers import SALESFORCE_ORG_ID
from .salesforce_common import SfError, not_found, now_seconds
from .salesforce_outbound import flush
from .salesforce_sobjects import Ctx
from .salesforce_sobjects import json_response as _json
from .salesforce_sobjects import only as _only
from .salesforce_store import Org

PROVIDER = "salesforce"
VERSIONS = tuple(f"{v}.0" for v in range(31, 63))  # Summer '14 .. Winter '25
DAY_SECONDS = 24 * 3600
_SEASONS = ("Winter", "Spring", "Summer")


def org_of(state: SandboxState) -> Org:
    return state.stores[PROVIDER]


def register(app: Flask, state: SandboxState) -> None:
    state.on_reset(lambda: state.stores.__setitem__(
        PROVIDER, Org(SALESFORCE_ORG_ID, now_seconds(state.clock))))
    methods = ["GET", "POST", "PATCH", "DELETE", "PUT"]
    app.add_url_rule("/services/data/", "sf_versions", lambda: _json(_versions()))
    app.add_url_rule("/services/data/<version>", "sf_root",
                     lambda version: _serve(state, version, ""), methods=methods)
    app.add_url_rule("/services/data/<version>/<path:rest>", "sf_api",
                     lambda version, rest: _serve(state, version, rest), methods=methods)
    salesforce_identity.register(app, state, org_of, VERSIONS)
    salesforce_admin.register_control(app, state)


def _versions() -> list[dict[str, str]]:
    def label(v: int) -> str:
        return f"{_SEASONS[(v - 20) % 3]} '{11 + (v - 20) // 3:02d}"
    return [{"label": label(int(float(v))), "url": f"/services/data/v{v}", "version": v}
            for v in VERSIONS]


# --- the request pipeline ---------------------------------------------------------------

def _serve(state: SandboxState, version: str, rest: str) -> Response:
    usage: str | None = None
    try:
        api_version = _api_version(version)
        subject = _authenticate(state)
        with state.lock:
            org = org_of(state)
            now = now_seconds(state.clock)
            org.purge(now)
            if not org.acting_user(subject, now)["IsActive"]:
                # A deactivated user's sessions end (their refresh gives invalid_grant
                # "inactive user" in Salesforce; the sandbox's token endpoint doesn't know).
                raise SfError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            usage = _count_call(org, state.clock.time())
            try:
                resp = _route(Ctx(state, org, api_version, subject, now), rest)
            finally:
                flush(state, org)
    except SfError as exc:
        resp = _json(exc.body(), exc.status)
        usage = getattr(exc, "usage", usage)
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = "Token"
    if usage is not None:
        resp.headers["Sforce-Limit-Info"] = usage
    return resp


def _api_version(segment: str) -> str:
    m = re.fullmatch(r"v(\d+\.\d)", segment)
    if not m or m.group(1) not in VERSIONS:
        raise not_found()
    return m.group(1)


def _authenticate(state: SandboxState) -> str:
    subject = bearer_subject(state, PROVIDER)
    if subject is None:
        raise SfError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    return subject


def _count_call(org: Org, now: float) -> str:
    """Record one call in the rolling 24 h window; refuse it once the allowance is used."""
    while org.api_calls and org.api_calls[0] <= now - DAY_SECONDS:
        org.api_calls.popleft()
    if len(org.api_calls) >= org.daily_api_limit:
        raise _LimitExceeded(f"api-usage={len(org.api_calls)}/{org.daily_api_limit}")
    org.api_calls.append(now)
    return f"api-usage={len(org.api_calls)}/{org.daily_api_limit}"


class _LimitExceeded(SfError):
    def __init__(self, usage: str) -> None:
        super().__init__(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.usage = usage


def _route(ctx: Ctx, rest: str) -> Response:
    parts = [p for p in rest.split("/") if p]
    method = "GET" if request.method == "HEAD" else request.method
    head = parts[0] if parts else ""
    if not parts:
        return _only(method, "GET") or _json(_resources(ctx.version))
    if head == "limits" and len(parts) == 1:
        return _only(method, "GET") or _json(_limits(ctx.org))
    if head in ("query", "queryAll"):
        return _only(method, "GET") or _query(ctx, head, parts[1:])
    if head == "sobjects":
        return sobjects.handle(ctx, method, parts[1:])
    raise not_found()


def _resources(version: str) -> dict[str, str]:
    base = f"/services/data/v{version}"
    return {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "limits")}


def _limits(org: Org) -> dict[str, Any]:
    used = len(org.api_calls)
    return {"DailyApiRequests": {"Max": org.daily_api_limit,
                                 "Remaining": max(0, org.daily_api_limit - used)}}


# --- query ------------------------------------------------------------------------------

def _batch_size(org: Org) -> int:
    m = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
    wanted = min(2000, max(200, int(m.group(1)))) if m else 2000
    return min(wanted, org.query_batch_size)


def _query(ctx: Ctx, endpoint: str, rest: list[str]) -> Response:
    clock_now = ctx.state.clock.time()
    if rest:
        return _json(query.next_page(ctx.org, rest[0], _batch_size(ctx.org), ctx.subject,
                                     clock_now))
    text = request.args.get("q")
    if not text:
        raise SfError(400, "MALFORMED_QUERY", "A query string has to be specified")
    rows, total = query.execute(ctx.org, text, ctx.version, endpoint == "queryAll")
    return _json(query.first_page(ctx.org, rows, total, _batch_size(ctx.org), ctx.subject,
                                  endpoint, ctx.version, clock_now))

"""The sandbox's emulation of the HubSpot CRM API (routes registered on its provider app).

Served under the API base (`SYNC_HUBSPOT_API_URL`, the app's origin): CRM v3 objects for
contacts and meetings (`/crm/v3/objects/...`, also under the date-versioned
`/crm/objects/2026-03/...`), v4 associations, the properties API, owners and search.
Every request needs a live sandbox HubSpot access token (401 otherwise) and counts against
the installed account's burst limit, 110 requests per rolling 10 s for a public OAuth app
(usage guidelines; 429 `TEN_SECONDLY_ROLLING` past it, `X-HubSpot-RateLimit-Max`,
`-Remaining`, `-Interval-Milliseconds` on each answer). Search is excluded from that limit
and has its own, five requests per second per account, and its answers carry no
rate-limit headers. The portal is hubspot_store.Portal; helpers and the
`/_sandbox/hubspot/...` control routes are in hubspot_admin.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request

from . import hubspot_admin, hubspot_objects, hubspot_search
from . import hubspot_associations as assoc
from . import hubspot_webhooks as webhooks
from .core import SandboxState
from .hubspot_common import (
    APP_ID,
    PROVIDER,
    HsError,
    bad_request,
    json_response,
    not_found,
    now_ms,
    object_type,
)
from .hubspot_objects import Ctx
from .hubspot_properties import apply_definition_update, definition_from_body
from .hubspot_store import Actor, Portal
from .oauth import bearer_subject
from .oauth_providers import DEFAULT_SUBJECTS
from .oauth_store import store_for

DATED = "2026-03"
_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def portal_of(state: SandboxState) -> Portal:
    return state.stores[PROVIDER]


def register(app: Flask, state: SandboxState) -> None:
    """Add the API's routes to the provider app."""
    state.on_reset(lambda: state.stores.__setitem__(
        PROVIDER, Portal(now_ms(state.clock), DEFAULT_SUBJECTS[PROVIDER])))
    app.add_url_rule("/crm/<path:rest>", "hs_crm", lambda rest: _serve(state, rest),
                     methods=_METHODS)
    hubspot_admin.register_control(app, state)


# --- the request pipeline ---------------------------------------------------------------

def _serve(state: SandboxState, rest: str) -> Response:
    parts = [p for p in rest.split("/") if p]
    searching = request.method == "POST" and parts[-1:] == ["search"]
    limit_headers: dict[str, str] = {}
    try:
        subject = _authenticate(state)
        with state.lock:
            portal = portal_of(state)
            now = now_ms(state.clock)
            if searching:
                _take_search_slot(portal, state.clock.time())
            else:
                limit_headers = _take_api_slot(portal, state.clock.time())
            portal.owner_for_user(subject, now)
            ctx = Ctx(portal, Actor("INTEGRATION", str(APP_ID)), now, request.args,
                      _json_body(), request.host_url.rstrip("/"))
            try:
                resp = _route(ctx, state, parts)
            finally:
                webhooks.flush(state, portal)
    except HsError as exc:
        resp = json_response(exc.body(), exc.status, exc.headers)
        limit_headers = exc.headers or limit_headers
    for name, value in limit_headers.items():
        resp.headers[name] = value
    return resp


def _authenticate(state: SandboxState) -> str:
    subject = bearer_subject(state, PROVIDER)
    if subject is not None:
        return subject
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    token = store_for(state, PROVIDER).tokens.get(value.strip()) \
        if scheme.lower() == "bearer" else None
    now = state.clock.time()
    if token is not None and token.kind == "access" and not token.revoked \
            and token.expires_at is not None and token.expires_at <= now:
        ago = int(now - token.expires_at)
        raise HsError(401, f"The OAuth token used to make this call expired {ago} second(s) "
                           "ago.", "EXPIRED_AUTHENTICATION")
    raise HsError(401, "Authentication credentials not found. This API supports OAuth 2.0 "
                       "authentication and you can find more details at "
                       "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                  "INVALID_AUTHENTICATION")


def _take_api_slot(portal: Portal, now: float) -> dict[str, str]:
    s = portal.settings
    calls = portal.api_calls
    while calls and calls[0] <= now - s.rate_window:
        calls.popleft()
    interval = str(int(s.rate_window * 1000))
    if len(calls) >= s.rate_limit:
        headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": interval,
                   "X-HubSpot-RateLimit-Max": str(s.rate_limit),
                   "X-HubSpot-RateLimit-Remaining": "0"}
        raise HsError(429, "You have reached your ten_secondly_rolling limit.",
                      headers=headers, errorType="RATE_LIMIT",
                      policyName="TEN_SECONDLY_ROLLING")
    calls.append(now)
    return {"X-HubSpot-RateLimit-Interval-Milliseconds": interval,
            "X-HubSpot-RateLimit-Max": str(s.rate_limit),
            "X-HubSpot-RateLimit-Remaining": str(s.rate_limit - len(calls))}


def _take_search_slot(portal: Portal, now: float) -> None:
    calls = portal.search_calls
    while calls and calls[0] <= now - 1.0:
        calls.popleft()
    if len(calls) >= portal.settings.search_rate_limit:
        raise HsError(429, "You have reached your secondly limit.", errorType="RATE_LIMIT",
                      policyName="SECONDLY")
    calls.append(now)


def _json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise HsError(400, f"Invalid input JSON on line {getattr(exc, 'lineno', 1)}, column "
                           f"{getattr(exc, 'colno', 1)}: {getattr(exc, 'msg', str(exc))}",
                      "VALIDATION_ERROR") from None


# --- routing ---------------------------------------------------------------------------

def _route(ctx: Ctx, state: SandboxState, parts: list[str]) -> Response:
    method = request.method
    if parts[:2] == ["v3", "objects"] or parts[:2] == ["objects", DATED]:
        return _objects(ctx, state, method, parts[2:], dated=parts[0] == "objects")
    if parts[:2] == ["v4", "objects"]:
        return _v4_object_associations(ctx, method, parts[2:])
    if parts[:2] in (["v4", "associations"], ["associations", DATED]):
        if len(parts) == 5 and parts[4] == "labels" and method == "GET":
            return json_response(assoc.labels(parts[2], parts[3]))
        raise not_found()
    if parts[:2] in (["v3", "properties"], ["properties", DATED]):
        return _properties(ctx, method, parts[2:])
    if parts[:2] == ["v3", "owners"] or parts[:2] == ["owners", DATED]:
        return _owners(ctx, method, parts[2:])
    raise not_found()


def _type(name: str) -> str:
    type_ = object_type(name)
    if type_ is None:
        raise bad_request(f"Unable to infer object type from: {name}")
    return type_


def _objects(ctx: Ctx, state: SandboxState, method: str, rest: list[str],
             dated: bool) -> Response:
    if not rest:
        raise not_found()
    type_ = _type(rest[0])
    tail = rest[1:]
    o = hubspot_objects
    if not tail:
        if method == "GET":
            return o.list_page(ctx, type_)
        if method == "POST":
            return o.create(ctx, type_)
    elif tail == ["search"] and method == "POST":
        body = hubspot_search.search(ctx.portal, type_, ctx.body or {}, state.clock,
                                     len(request.get_data(cache=True)))
        return json_response(body)
    elif tail == ["merge"] and method == "POST":
        return o.merge(ctx, type_)
    elif len(tail) == 2 and tail[0] == "batch" and method == "POST":
        handler = {"read": o.batch_read, "create": o.batch_create, "update": o.batch_update,
                   "upsert": o.batch_upsert, "archive": o.batch_archive}.get(tail[1])
        if handler is not None:
            return handler(ctx, type_)
    elif len(tail) == 1:
        if method == "GET":
            return o.get_one(ctx, type_, tail[0])
        if method == "PATCH":
            return o.update(ctx, type_, tail[0])
        if method == "DELETE":
            return o.archive(ctx, type_, tail[0])
    elif len(tail) >= 3 and tail[1] == "associations":
        if dated:  # the date-versioned paths use the v4 semantics
            return _v4_object_associations(ctx, method, [rest[0], *tail])
        return _v3_object_associations(ctx, type_, method, tail[0], tail[2:])
    raise not_found()


def _v3_object_associations(ctx: Ctx, type_: str, method: str, record_id: str,
                            rest: list[str]) -> Response:
    if len(rest) == 1 and method == "GET":
        body = assoc.v3_associations(ctx.portal, type_, record_id) or {}
        block = next(iter(body.values()), {"results": []})
        return json_response(block)
    if len(rest) == 3 and method in ("PUT", "DELETE"):
        to_name, to_id, type_id = rest
        if method == "DELETE":
            assoc.delete(ctx.portal, type_, record_id, to_name, to_id)
            return Response(status=204)
        try:
            type_number = int(type_id)
        except ValueError:
            raise bad_request(f"{type_id} is not a valid association type id") from None
        assoc.put_labelled(ctx.portal, type_, record_id, to_name, to_id,
                           [{"associationCategory": "HUBSPOT_DEFINED",
                             "associationTypeId": type_number}])
        rec = ctx.portal.find(type_, record_id)
        body = ctx.portal.render(rec)
        block = assoc.v3_associations(ctx.portal, type_, record_id)
        if block:
            body["associations"] = block
        return json_response(body)
    raise not_found()


def _v4_object_associations(ctx: Ctx, method: str, rest: list[str]) -> Response:
    if len(rest) < 4 or rest[2] != "associations":
        raise not_found()
    from_name, from_id, tail = rest[0], rest[1], rest[3:]
    if len(tail) == 3 and tail[0] == "default" and method == "PUT":
        return json_response(assoc.put_default(ctx.portal, from_name, from_id, tail[1],
                                               tail[2], ctx.now))
    if len(tail) == 2 and method == "PUT":
        return json_response(assoc.put_labelled(ctx.portal, from_name, from_id, tail[0],
                                                tail[1], ctx.body), 201)
    if len(tail) == 2 and method == "DELETE":
        assoc.delete(ctx.portal, from_name, from_id, tail[0], tail[1])
        return Response(status=204)
    if len(tail) == 1 and method == "GET":
        return json_response(assoc.list_v4(ctx.portal, from_name, from_id, tail[0], ctx.args))
    raise not_found()


# --- properties ---------------------------------------------------------------------------

def _properties(ctx: Ctx, method: str, rest: list[str]) -> Response:
    if not rest:
        raise not_found()
    type_ = _type(rest[0])
    portal, tail = ctx.portal, rest[1:]
    props, groups = portal.properties[type_], portal.groups[type_]
    if tail[:1] == ["groups"]:
        return _groups(ctx, type_, method, tail[1:])
    if not tail:
        if method == "GET":
            archived = str(ctx.args.get("archived")).lower() == "true"
            return json_response({"results": [p.render() for p in props.values()
                                              if p.archived == archived]})
        if method == "POST":
            prop = definition_from_body(ctx.body, groups, props, ctx.now)
            props[prop.name] = prop
            return json_response(prop.render(), 201)
    elif len(tail) == 1:
        prop = props.get(tail[0])
        archived = str(ctx.args.get("archived")).lower() == "true"
        if prop is None or (prop.archived and not archived and method == "GET"):
            raise HsError(404, f"Unable to find property named '{tail[0]}' for object type "
                               f"{type_}", "OBJECT_NOT_FOUND")
        if method == "GET":
            return json_response(prop.render())
        if method == "PATCH":
            apply_definition_update(prop, ctx.body, groups, ctx.now)
            return json_response(prop.render())
        if method == "DELETE":
            if prop.hubspot_defined:
                raise bad_request(f"Property {prop.name} is HubSpot-defined and cannot be "
                                  "archived")
            prop.archived = True
            return Response(status=204)
    raise not_found()


def _groups(ctx: Ctx, type_: str, method: str, rest: list[str]) -> Response:
    groups = ctx.portal.groups[type_]
    if not rest and method == "GET":
        return json_response({"results": [dict(g) for g in groups.values()]})
    if not rest and method == "POST":
        body = ctx.body if isinstance(ctx.body, dict) else {}
        name, label = body.get("name"), body.get("label")
        if not isinstance(name, str) or not isinstance(label, str):
            raise bad_request("Invalid input JSON: name and label are required")
        if name in groups:
            raise HsError(409, f"Property group named '{name}' already exists.",
                          "OBJECT_ALREADY_EXISTS")
        groups[name] = {"name": name, "label": label,
                        "displayOrder": int(body.get("displayOrder", -1)), "archived": False}
        return json_response(groups[name], 201)
    if len(rest) == 1 and method == "GET":
        if rest[0] not in groups:
            raise not_found(f"Unable to find property group named '{rest[0]}'")
        return json_response(groups[rest[0]])
    raise not_found()


# --- owners -----------------------------------------------------------------------------

def _owners(ctx: Ctx, method: str, rest: list[str]) -> Response:
    if method != "GET":
        raise not_found()
    archived = str(ctx.args.get("archived")).lower() == "true"
    owners = sorted((o for o in ctx.portal.owners.values() if o.archived == archived),
                    key=lambda o: int(o.id))
    if rest:
        key = rest[0]
        by_user = ctx.args.get("idProperty") == "userId"
        for owner in owners:
            if (str(owner.user_id) if by_user else owner.id) == key:
                return json_response(owner.render())
        raise not_found()
    email = ctx.args.get("email")
    if email:
        owners = [o for o in owners if o.email == email.lower()]
    limit = min(max(int(ctx.args.get("limit") or 100), 1), 500)
    after = ctx.args.get("after")
    if after:
        owners = [o for o in owners if int(o.id) >= int(after)]
    page, more = owners[:limit], owners[limit:]
    body: dict[str, Any] = {"results": [o.render() for o in page]}
    if more:
        body["paging"] = {"next": {"after": more[0].id,
                                   "link": f"?after={more[0].id}"}}
    return json_response(body)

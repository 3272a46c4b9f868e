"""Microsoft Graph v1.0 calendar emulator: events, calendarView (and delta), subscriptions.

The API lives under `/v1.0` on the microsoft app (the sandbox's SYNC_MICROSOFT_GRAPH_URL).
A request needs a live Bearer token of the sandbox's Microsoft login (`oauth.bearer_subject`);
`/me` and `/users/{own address or object id}` are the token subject's mailbox (a delegated
token reaches no other mailbox: 403). Records live in microsoft_graph_store; bodies and
rendering in microsoft_graph_events; query options and Prefer in microsoft_graph_query;
delta in microsoft_graph_delta; subscriptions in microsoft_graph_subscriptions; throttling in
microsoft_graph_throttle. Errors have Graph's body shape (microsoft_graph_errors).

The control routes under `/_sandbox/microsoft/` and the Python helpers that act as the
user in Outlook live in microsoft_graph_control and are re-exported here, as
google_calendar's are.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote, urlencode

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from . import microsoft_graph_control as control
from .core import SandboxState
from .microsoft_graph_control import (  # noqa: F401  (re-exported: the helpers tests use)
    THROTTLE_KEY,
    bearer_headers,
    create_mailbox,
    expire_delta_tokens,
    lifecycle_notification,
    raw_event,
    raw_events,
    reset_sync_state,
    respond,
    seed_event,
    set_delta_capacity,
    set_throttle,
    set_validation_timeout,
    subscriptions,
    user_delete_event,
    user_edit_event,
    user_move_event,
)
from .microsoft_graph_delta import DeltaRequest, DeltaTokens, delta_page
from .microsoft_graph_errors import (
    GraphError,
    access_denied,
    bad_request,
    change_key_mismatch,
    invalid_token,
    missing_time_window,
    missing_token,
    new_request_id,
    unreadable_body,
)
from .microsoft_graph_events import RenderContext, etag_of, parse_changes, render_event
from .microsoft_graph_query import (
    Prefer,
    parse_count,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_prefer,
    parse_select,
    parse_window,
    path_value,
)
from .microsoft_graph_store import (
    STORE_KEY,
    TENANT_ID,
    EventRecord,
    GraphStore,
    Mailbox,
    store_of,
)
from .microsoft_graph_subscriptions import Subscriptions
from .microsoft_graph_throttle import Throttle
from .oauth_store import store_for

API = "/v1.0"
DEFAULT_PAGE = 10
MAX_PAGE = 1000
_JSON = ("application/json; odata.metadata=minimal; odata.streaming=true; "
         "IEEE754Compatible=false; charset=utf-8")
_READ_SCOPES = ("calendars.read", "calendars.readwrite")
_WRITE_SCOPES = ("calendars.readwrite",)
_OWNERS = ("/me", "/users/<user>")


def register(app: Flask, state: SandboxState) -> None:
    throttle = state.stores.setdefault(THROTTLE_KEY, Throttle())
    state.on_reset(_install(state, throttle))
    app.register_error_handler(GraphError, _error_response)
    app.register_error_handler(HTTPException, _http_error)
    _install_gate(app, state, throttle)
    _register_events(app, state)
    _register_views(app, state)
    _register_subscriptions(app, state)
    control.register(app, state)


def _install(state: SandboxState, throttle: Throttle) -> Callable[[], None]:
    def fresh() -> None:
        store = GraphStore(state)
        store.delta = DeltaTokens()
        store.subscriptions = Subscriptions(state, store.rng, TENANT_ID)
        store.hooks.append(_notifier(store))
        state.stores[STORE_KEY] = store
        throttle.reset()
    return fresh


def _notifier(store: GraphStore):
    def notify(box: Mailbox, record: EventRecord, change: str, _original) -> None:
        def resource_for(immutable: bool) -> tuple[str, str]:
            event_id = store.event_id(record, immutable)
            return f"Users/{box.user_id}/Events/{event_id}", event_id
        store.subscriptions.notify(box.address, change, resource_for,
                                   etag_of(store.change_key(record)))
    return notify


# --- who is calling, throttling, answers ------------------------------------------------


@dataclass(frozen=True)
class Caller:
    subject: str
    client_id: str
    scopes: frozenset[str]


def _token_caller(state: SandboxState) -> Caller | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with state.lock:
        live = store_for(state, "microsoft").live_token(token.strip(), "access",
                                                        state.clock.time())
    if live is None:
        return None
    grant = live[1]
    scopes = frozenset(s.rsplit("/", 1)[-1].lower() for s in grant.scope.split())
    return Caller(grant.subject, grant.client_id, scopes)


def _install_gate(app: Flask, state: SandboxState, throttle: Throttle) -> None:
    def gate() -> Response | None:
        g.graph_request_id = new_request_id()
        if not request.path.startswith(API + "/"):
            return None
        caller = _token_caller(state)
        if caller is None:
            return None
        key = (caller.client_id, caller.subject.lower())
        try:
            throttle.acquire(key, state.clock.time())
        except GraphError as error:
            return _error_response(error)
        g.graph_slot = key
        return None

    # Ahead of the shared fault/latency hook: a slot is held while the call "takes time".
    app.before_request_funcs.setdefault(None, []).insert(0, gate)

    @app.teardown_request
    def release(_exc: BaseException | None) -> None:
        key = g.pop("graph_slot", None)
        if key is not None:
            throttle.release(key)

    @app.after_request
    def stamp(resp: Response) -> Response:
        if request.path.startswith(API + "/"):
            request_id = g.get("graph_request_id") or new_request_id()
            resp.headers["request-id"] = request_id
            resp.headers["client-request-id"] = request.headers.get("client-request-id",
                                                                    request_id)
            resp.headers.setdefault("OData-Version", "4.0")
        return resp


def _authenticate(state: SandboxState, write: bool = False) -> Caller:
    caller = _token_caller(state)
    if caller is None:
        if not request.headers.get("Authorization", "").strip():
            raise missing_token()
        raise invalid_token()
    needed = _WRITE_SCOPES if write else _READ_SCOPES
    if not caller.scopes & set(needed):
        raise access_denied()
    return caller


def _mailbox(state: SandboxState, caller: Caller, user: str | None) -> Mailbox:
    store = store_of(state)
    box = store.mailbox(caller.subject)
    if user is not None and user.strip("'").lower() not in (box.address.lower(),
                                                            box.user_id.lower()):
        raise access_denied()
    return box


def _prefer() -> Prefer:
    return parse_prefer(request.headers.getlist("Prefer"))


def _base_url() -> str:
    return f"{request.host_url.rstrip('/')}{API}"


def _args() -> dict[str, str]:
    return {k.lower(): v for k, v in request.args.items()}


def _json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise unreadable_body() from None


def _json(body: Any, status: int = 200, prefer: Prefer | None = None) -> Response:
    resp = Response(json.dumps(body, ensure_ascii=False), status=status, content_type=_JSON)
    applied = prefer.applied() if prefer else None
    if applied:
        resp.headers["Preference-Applied"] = applied
    return resp


def _error_response(error: GraphError) -> Response:
    state: SandboxState = current_app.config["SANDBOX_STATE"]
    body = error.body(g.get("graph_request_id") or new_request_id(),
                      request.headers.get("client-request-id"), state.clock.now())
    resp = Response(json.dumps(body), status=error.status, content_type=_JSON)
    for name, value in error.headers.items():
        resp.headers[name] = value
    return resp


def _http_error(error: HTTPException):
    if not request.path.startswith(API + "/"):
        return error
    if error.code == 404:
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        return _error_response(GraphError(400, "BadRequest",
                                          f"Resource not found for the segment '{segment}'."))
    if error.code == 405:
        return _error_response(GraphError(405, "Request_BadRequest",
                                          "Specified HTTP method is not allowed for the "
                                          "request target."))
    return error


def _routes(app: Flask, rule: str, methods: list[str], view: Callable, name: str) -> None:
    for owner in _OWNERS:
        for calendar in ("", "/calendar"):
            if calendar and "/calendarView" not in rule and "/events" not in rule:
                continue
            path = f"{API}{owner}{calendar}{rule}"
            endpoint = f"graph_{name}_{owner.strip('/<>').replace('/<', '_')}{calendar[1:]}"
            app.add_url_rule(path, endpoint, view, methods=methods)


def _context(prefer: Prefer, select=None, expand=None, odata_type: bool = False
             ) -> RenderContext:
    return RenderContext(zone=prefer.zone, zone_name=prefer.zone_name,
                         body_type=prefer.body_type, select=select, expand_ids=expand,
                         odata_type=odata_type)


def _check_if_match(store: GraphStore, record: EventRecord, original) -> None:
    wanted = request.headers.get("If-Match")
    if wanted is None or wanted.strip() == "*":
        return
    exc = record.exceptions.get(original) if original is not None else None
    key = store.change_key(record, exc)
    accepted = {etag_of(key), f'"{key}"', key}
    if not any(v.strip() in accepted for v in wanted.split(",")):
        raise change_key_mismatch()


# --- events -----------------------------------------------------------------------------


def _register_events(app: Flask, state: SandboxState) -> None:
    def create_event(user: str | None = None):
        caller = _authenticate(state, write=True)
        prefer = _prefer()
        changes = parse_changes(_json_body())
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            record = store.create(box, changes, "api")
            body = _single(store, record, None, prefer, box)
            return _json(body, 201, prefer)

    def list_events(user: str | None = None):
        caller = _authenticate(state)
        prefer = _prefer()
        args = _args()
        options = _list_options(args)
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            items = [(r, None) for r in box.events.values() if not r.deleted]
            return _collection(store, box, items, prefer, options, "events")

    def get_event(event_id: str, user: str | None = None):
        caller = _authenticate(state)
        prefer = _prefer()
        args = _args()
        select, expand = parse_select(args.get("$select")), parse_expand(args.get("$expand"))
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            record, original = store.resolve(box, event_id)
            return _json(_single(store, record, original, prefer, box, select, expand),
                         prefer=prefer)

    def patch_event(event_id: str, user: str | None = None):
        caller = _authenticate(state, write=True)
        prefer = _prefer()
        changes = parse_changes(_json_body())
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            record, original = store.resolve(box, event_id)
            _check_if_match(store, record, original)
            store.update(box, record, original, changes, "api")
            return _json(_single(store, record, original, prefer, box), prefer=prefer)

    def delete_event(event_id: str, user: str | None = None):
        caller = _authenticate(state, write=True)
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            record, original = store.resolve(box, event_id)
            _check_if_match(store, record, original)
            store.delete(box, record, original, "api")
        return Response(status=204)

    def respond_event(event_id: str, action: str, user: str | None = None):
        caller = _authenticate(state, write=True)
        body = _json_body()
        if not isinstance(body, dict):
            raise unreadable_body()
        send = body.get("sendResponse", True)
        if not isinstance(send, bool) or not isinstance(body.get("comment", ""), str):
            raise bad_request("Invalid value for sendResponse or comment.")
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            record, original = store.resolve(box, event_id)
            if original is not None:
                raise GraphError(400, "ErrorInvalidRequest", "The sandbox answers meetings "
                                 "as a whole series, not one occurrence.")
            store.respond(box, record, action, send, "api")
        return Response(status=202)

    def accept(event_id: str, user: str | None = None):
        return respond_event(event_id, "accept", user)

    def decline(event_id: str, user: str | None = None):
        return respond_event(event_id, "decline", user)

    def tentative(event_id: str, user: str | None = None):
        return respond_event(event_id, "tentativelyAccept", user)

    def instances(event_id: str, user: str | None = None):
        caller, prefer = _authenticate(state), _prefer()
        window, options = _windowed_list()
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            record, original = store.resolve(box, event_id)
            found = [] if record.recurrence is None or original is not None else \
                [(record, o) for o in store.instances_between(record, *window)]
            return _collection(store, box, found, prefer, options, "events", ordered=True)

    _routes(app, "/events", ["POST"], create_event, "create")
    _routes(app, "/events", ["GET"], list_events, "list")
    _routes(app, "/events/<event_id>", ["GET"], get_event, "get")
    _routes(app, "/events/<event_id>", ["PATCH"], patch_event, "patch")
    _routes(app, "/events/<event_id>", ["DELETE"], delete_event, "delete")
    _routes(app, "/events/<event_id>/accept", ["POST"], accept, "accept")
    _routes(app, "/events/<event_id>/decline", ["POST"], decline, "decline")
    _routes(app, "/events/<event_id>/tentativelyAccept", ["POST"], tentative, "tentative")
    _routes(app, "/events/<event_id>/instances", ["GET"], instances, "instances")


def _windowed_list():
    """A window query's (startDateTime, endDateTime) and list options; both are required."""
    args = _args()
    if "startdatetime" not in args or "enddatetime" not in args:
        raise missing_time_window()
    return parse_window(args), _list_options(args)


def _register_views(app: Flask, state: SandboxState) -> None:
    def calendar_view(user: str | None = None):
        caller, prefer = _authenticate(state), _prefer()
        window, options = _windowed_list()
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            found = []
            for record in box.events.values():
                found.extend((record, o) for o in store.instances_between(record, *window))
            found.sort(key=lambda item: (_start_of(store, *item), item[0].number))
            return _collection(store, box, found, prefer, options, "calendarView",
                               ordered=True)

    def delta(user: str | None = None):
        caller = _authenticate(state)
        prefer = _prefer()
        path = request.path[len(API):]
        req = DeltaRequest(args=_args(), immutable=prefer.immutable,
                           page_size=prefer.page_size,
                           ctx=_context(prefer, odata_type=True), base_url=_base_url(),
                           path=path)
        with state.lock:
            store = store_of(state)
            box = _mailbox(state, caller, user)
            body = delta_page(store, store.delta, box, req, parse_window)
            return _json(body, prefer=prefer)

    _routes(app, "/calendarView", ["GET"], calendar_view, "calendar_view")
    # `delta()` and `microsoft.graph.delta()` are the same OData function (the SDKs call
    # it with parentheses; delta-query-overview names the qualified form).
    for n, suffix in enumerate(("delta", "delta()", "microsoft.graph.delta",
                                "microsoft.graph.delta()")):
        _routes(app, f"/calendarView/{suffix}", ["GET"], delta, f"delta{n}")

    @app.get(f"{API}/me")
    def me():
        caller = _authenticate(state)
        with state.lock:
            box = _mailbox(state, caller, None)
            return _json({"@odata.context": f"{_base_url()}/$metadata#users/$entity",
                          "id": box.user_id, "displayName": box.display_name,
                          "mail": box.address, "userPrincipalName": box.address})


def _start_of(store: GraphStore, record: EventRecord, original) -> Any:
    if original is None:
        return record.start.instant
    return store.occurrence_times(record, original)[0].instant


@dataclass(frozen=True)
class ListOptions:
    select: Any
    expand: Any
    filter: Any
    orderby: list[tuple[str, bool]]
    top: int | None
    skip: int
    raw: dict[str, str]


def _list_options(args: dict[str, str]) -> ListOptions:
    return ListOptions(select=parse_select(args.get("$select")),
                       expand=parse_expand(args.get("$expand")),
                       filter=parse_filter(args.get("$filter")),
                       orderby=parse_orderby(args.get("$orderby")),
                       top=parse_count(args.get("$top"), "$top", None),
                       skip=parse_count(args.get("$skip"), "$skip", 0) or 0, raw=args)


def _collection(store: GraphStore, box: Mailbox, items: list[tuple[EventRecord, Any]],
                prefer: Prefer, options: ListOptions, segment: str,
                ordered: bool = False) -> Response:
    full = _context(prefer, expand=())
    rendered = []
    for record, original in items:
        view = store.view(record, prefer.immutable, original)
        doc = render_event(view, full)
        extended = [(key, value) for key, (_, value) in view.extended.items()]
        if options.filter is None or options.filter((doc, extended)):
            rendered.append((view, doc))
    for path, desc in reversed(options.orderby):
        rendered.sort(key=lambda item: (path_value(item[1], path) is None,
                                        path_value(item[1], path) or ""), reverse=desc)
    size = min(options.top or prefer.page_size or DEFAULT_PAGE, MAX_PAGE)
    page = rendered[options.skip:options.skip + size]
    ctx = _context(prefer, options.select, options.expand)
    body: dict[str, Any] = {
        "@odata.context": f"{_base_url()}/$metadata#users('{box.user_id}')/{segment}",
        "value": [render_event(view, ctx) for view, _ in page]}
    if options.skip + size < len(rendered):
        query = {k: v for k, v in request.args.items() if k.lower() != "$skip"}
        query["$skip"] = str(options.skip + size)
        body["@odata.nextLink"] = f"{_base_url()}{request.path[len(API):]}?" + \
            urlencode(query, safe="$:',()/", quote_via=quote)
    return _json(body, prefer=prefer if prefer.page_size or prefer.zone_asked or
                 prefer.body_type else None)


def _single(store: GraphStore, record: EventRecord, original, prefer: Prefer, box: Mailbox,
            select=None, expand=None) -> dict[str, Any]:
    view = store.view(record, prefer.immutable, original)
    doc = render_event(view, _context(prefer, select, expand))
    return {"@odata.context": f"{_base_url()}/$metadata#users('{box.user_id}')/events/$entity",
            **doc}


# --- subscriptions ----------------------------------------------------------------------


def _register_subscriptions(app: Flask, state: SandboxState) -> None:
    @app.post(f"{API}/subscriptions")
    def create_subscription():
        caller = _authenticate(state)
        prefer = _prefer()
        body = _json_body()
        with state.lock:
            store = store_of(state)
            box = store.mailbox(caller.subject)
            fields = store.subscriptions.check_create(body, box.address, box.user_id,
                                                      (box.address, box.user_id))
            subs = store.subscriptions
        urls = [fields["notification_url"]]
        if fields["lifecycle_url"]:
            urls.append(fields["lifecycle_url"])
        subs.validate_endpoints(urls)  # HTTP to the app's endpoints: not under the lock
        with state.lock:
            sub = subs.add(fields, box.address, box.user_id, caller.client_id,
                           prefer.immutable)
            return _json(sub.render(_base_url()), 201)

    @app.get(f"{API}/subscriptions")
    def list_subscriptions():
        caller = _authenticate(state)
        with state.lock:
            subs = store_of(state).subscriptions.listed(caller.subject, caller.client_id)
            return _json({"@odata.context": f"{_base_url()}/$metadata#subscriptions",
                          "value": [{k: v for k, v in s.render(_base_url()).items()
                                     if k != "@odata.context"} for s in subs]})

    @app.get(f"{API}/subscriptions/<sub_id>")
    def get_subscription(sub_id: str):
        caller = _authenticate(state)
        with state.lock:
            sub = store_of(state).subscriptions.get(sub_id, caller.subject, caller.client_id)
            return _json(sub.render(_base_url()))

    @app.patch(f"{API}/subscriptions/<sub_id>")
    def update_subscription(sub_id: str):
        caller = _authenticate(state)
        body = _json_body()
        with state.lock:
            subs = store_of(state).subscriptions
            sub = subs.get(sub_id, caller.subject, caller.client_id)
            fields = subs.check_update(sub, body)
        if "notification_url" in fields and fields["notification_url"] != sub.notification_url:
            subs.validate_endpoints([fields["notification_url"]])
        with state.lock:
            return _json(subs.update(sub, fields).render(_base_url()))

    @app.delete(f"{API}/subscriptions/<sub_id>")
    def delete_subscription(sub_id: str):
        caller = _authenticate(state)
        with state.lock:
            subs = store_of(state).subscriptions
            subs.delete(subs.get(sub_id, caller.subject, caller.client_id))
        return Response(status=204)

    @app.post(f"{API}/subscriptions/<sub_id>/reauthorize")
    def reauthorize_subscription(sub_id: str):
        caller = _authenticate(state)
        with state.lock:
            subs = store_of(state).subscriptions
            subs.reauthorize(subs.get(sub_id, caller.subject, caller.client_id))
        return Response(status=204)

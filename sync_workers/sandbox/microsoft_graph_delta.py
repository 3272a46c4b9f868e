"""calendarView delta: rounds of pages ending in a deltaLink that later gives the changes.

As learn.microsoft.com/graph/delta-query-events and api/event-delta describe it: the
first request names startDateTime/endDateTime; every page but the last carries an
`@odata.nextLink` ($skiptoken), the last an `@odata.deltaLink` ($deltatoken); the tokens
encode the window, so later requests need no parameters. Items are the single instances,
occurrences and exceptions in the window (never series masters); a removal is
`{"@odata.type", "id", "@removed": {"reason": "deleted"}}`. As event-delta.md warns, events
outside the window that were added, changed or deleted since the last round come back
under `@removed` too. `$select`, `$expand`, `$filter`, `$orderby`, `$search` and `$top`
are refused; `Prefer: odata.maxpagesize` sets the page size.

Outlook delta tokens have no fixed lifetime: they live in a cache and the oldest are
evicted (delta-query-overview, "Token duration"). Here each mailbox keeps its newest
`capacity` tokens; an evicted or unknown token answers 410 SyncStateNotFound, a reset one
(`reset_sync_state`) 410 resyncRequired with a Location of the initial query.
Callers hold `state.lock`.
"""
from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import quote, urlencode

from .microsoft_graph_errors import (
    missing_time_window,
    resync_required,
    sync_state_not_found,
    unsupported_query,
)
from .microsoft_graph_events import RenderContext, render_event
from .microsoft_graph_store import EventRecord, GraphStore, Mailbox

DEFAULT_PAGE_SIZE = 10
DEFAULT_CAPACITY = 200  # tokens kept per mailbox
_UNSUPPORTED = ("$select", "$expand", "$filter", "$orderby", "$search", "$top")

Key = tuple[int, "datetime | None"]  # (event number, original start of an occurrence)


@dataclass
class Known:
    """What a client was told about one instance: its version and both of its ids."""

    version: str
    rest_id: str
    immutable_id: str


@dataclass
class Round:
    """One round in progress: the items fixed on its first page, and the state its
    deltaLink will stand for."""

    owner: str
    window: tuple[datetime, datetime]
    items: list[tuple[str, Any]]  # ("event", key) or ("removed", Known)
    snapshot: dict[Key, Known]
    seq: int
    position: int = 0


@dataclass
class DeltaState:
    owner: str
    window: tuple[datetime, datetime]
    snapshot: dict[Key, Known]
    seq: int
    generation: int


@dataclass
class DeltaTokens:
    capacity: int = DEFAULT_CAPACITY
    tokens: "OrderedDict[str, Round | DeltaState]" = field(default_factory=OrderedDict)
    generation: int = 0
    reset: set[str] = field(default_factory=set)  # tokens answering resyncRequired

    def issue(self, value: "Round | DeltaState") -> str:
        token = secrets.token_urlsafe(48)
        self.tokens[token] = value
        owned = [t for t, v in self.tokens.items() if v.owner == value.owner]
        for old in owned[:-self.capacity] if len(owned) > self.capacity else []:
            del self.tokens[old]
        return token

    def expire(self, owner: str) -> int:
        gone = [t for t, v in self.tokens.items() if v.owner.lower() == owner.lower()]
        for token in gone:
            del self.tokens[token]
        return len(gone)

    def mark_reset(self, owner: str) -> None:
        self.reset.update(t for t, v in self.tokens.items()
                          if v.owner.lower() == owner.lower())


@dataclass(frozen=True)
class DeltaRequest:
    args: dict[str, str]  # query parameters, names lower-cased
    immutable: bool
    page_size: int | None
    ctx: RenderContext
    base_url: str  # the Graph root URL the links start with
    path: str  # the request's path below the root, e.g. "/me/calendarView/delta"


def delta_page(store: GraphStore, tokens: DeltaTokens, box: Mailbox, req: DeltaRequest,
               parse_window: Callable[[dict[str, str]], tuple[datetime, datetime]]
               ) -> dict[str, Any]:
    bad = [name for name in _UNSUPPORTED if name in req.args]
    if bad:
        raise unsupported_query(bad)
    if "$skiptoken" in req.args:
        round_ = _lookup(tokens, box, req.args["$skiptoken"], Round, req)
    elif "$deltatoken" in req.args:
        state = _lookup(tokens, box, req.args["$deltatoken"], DeltaState, req)
        round_ = _changes_since(store, box, state, req.immutable)
    else:
        if "startdatetime" not in req.args or "enddatetime" not in req.args:
            raise missing_time_window()
        window = parse_window(req.args)
        current = _current(store, box, window)
        round_ = Round(box.address, window, [("event", k) for k in current],
                       current, box.seq)
    size = max(1, req.page_size or DEFAULT_PAGE_SIZE)
    page = round_.items[round_.position:round_.position + size]
    rest = round_.position + size < len(round_.items)
    value = [_render_item(store, box, item, req) for item in page]
    body: dict[str, Any] = {"@odata.context": f"{req.base_url}/$metadata#Collection(event)"}
    link = f"{req.base_url}{req.path}"
    if rest:
        following = Round(round_.owner, round_.window, round_.items, round_.snapshot,
                          round_.seq, round_.position + size)
        body["@odata.nextLink"] = f"{link}?$skiptoken={tokens.issue(following)}"
    else:
        tokens.generation += 1
        final = DeltaState(round_.owner, round_.window, round_.snapshot, round_.seq,
                           tokens.generation)
        body["@odata.deltaLink"] = f"{link}?$deltatoken={tokens.issue(final)}"
    body["value"] = value
    return body


def _lookup(tokens: DeltaTokens, box: Mailbox, token: str, kind: type,
            req: DeltaRequest) -> Any:
    value = tokens.tokens.get(token)
    if token in tokens.reset and isinstance(value, (Round, DeltaState)):
        start, end = value.window
        query = urlencode({"startDateTime": _iso(start), "endDateTime": _iso(end)},
                          quote_via=quote, safe=":")
        raise resync_required(f"{req.base_url}{req.path}?{query}")
    if not isinstance(value, kind) or value.owner.lower() != box.address.lower():
        raise sync_state_not_found(_generation_of(token), tokens.generation)
    tokens.tokens.move_to_end(token)
    return value


def _generation_of(token: str) -> int:
    return sum(token.encode()) % 1000


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _current(store: GraphStore, box: Mailbox,
             window: tuple[datetime, datetime]) -> dict[Key, Known]:
    out: dict[Key, Known] = {}
    start, end = window
    ordered: list[tuple[datetime, Key, EventRecord]] = []
    for record in box.events.values():
        for original in store.instances_between(record, start, end):
            when = record.start if original is None else \
                store.occurrence_times(record, original)[0]
            ordered.append((when.instant, (record.number, original), record))
    for _, key, record in sorted(ordered, key=lambda item: (item[0], item[1][0])):
        out[key] = _known(store, record, key[1])
    return out


def _known(store: GraphStore, record: EventRecord, original: datetime | None) -> Known:
    exc = record.exceptions.get(original) if original is not None else None
    return Known(store.change_key(record, exc), store.event_id(record, False, original),
                 store.event_id(record, True, original))


def _changes_since(store: GraphStore, box: Mailbox, state: DeltaState,
                   immutable: bool) -> Round:
    current = _current(store, box, state.window)
    items: list[tuple[str, Any]] = []
    for key, known in current.items():
        before = state.snapshot.get(key)
        if before is not None and before.version == known.version and \
                (immutable or before.rest_id == known.rest_id):
            continue
        if before is not None and not immutable and before.rest_id != known.rest_id:
            items.append(("removed", before))  # under its old id it is gone
        items.append(("event", key))
    for key, before in state.snapshot.items():
        if key not in current:
            items.append(("removed", before))
    seen = {key[0] for key in current} | {key[0] for key in state.snapshot}
    for record in box.events.values():
        if record.seq > state.seq and record.number not in seen:
            # Outside the window but changed since: reported as removed (event-delta.md).
            items.append(("removed", _known(store, record, None)))
    return Round(box.address, state.window, items, current, box.seq)


def _render_item(store: GraphStore, box: Mailbox, item: tuple[str, Any],
                 req: DeltaRequest) -> dict[str, Any]:
    kind, value = item
    if kind == "event":
        number, original = value
        record = box.events.get(number)
        if record is not None and not record.deleted and (
                original is None or store.is_occurrence(record, original)):
            return render_event(store.view(record, req.immutable, original), req.ctx)
        value = _known(store, record, original) if record is not None else None
        if value is None:
            return {"@odata.type": "#microsoft.graph.event", "@removed": {"reason": "deleted"}}
    known: Known = value
    return {"@odata.type": "#microsoft.graph.event",
            "id": known.immutable_id if req.immutable else known.rest_id,
            "@removed": {"reason": "deleted"}}

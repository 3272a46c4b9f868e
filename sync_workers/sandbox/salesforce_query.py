"""Running SOQL (query / queryAll with nextRecordsUrl paging) and the replication
resources (sobjects/X/updated, sobjects/X/deleted).

A query's result is fixed when it runs (a server-side cursor); later pages come from
`query/01g...-N`. Cursors expire after 15 minutes unused and a user keeps at most 10
(the oldest is dropped), as in Salesforce. Equal SystemModstamps are common (seconds), so
pages may split records that share a timestamp.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from .salesforce_common import (
    SfError,
    fmt_datetime,
    new_id,
    normalize_id,
    parse_datetime,
    sobject_of_id,
)
from .salesforce_schema import ID_TYPES, STRING_TYPES, to_json
from .salesforce_soql import MAX_OFFSET, Cond, Engine, Literal, Path, error, parse

CURSOR_IDLE_SECONDS = 15 * 60
CURSORS_PER_USER = 10
_EXPECTED = {"datetime": ("datetime", "dateTime"), "date": ("date", "date"),
             "boolean": ("boolean", "boolean"), "int": ("number", "integer"),
             "double": ("number", "double")}
_LOCATOR = re.compile(r"^(01g[A-Za-z0-9]{15})-(\d+)$")


@dataclass
class Cursor:
    locator: str
    rows: list[dict[str, Any]]
    owner: str
    endpoint: str  # query | queryAll
    version: str
    last_used: float


# --- running a query --------------------------------------------------------------------

def execute(org, text: str, version: str, include_deleted: bool) -> tuple[list[dict], int]:
    """All rows of the query (rendered) and its totalSize."""
    q = parse(text)
    engine = Engine(org, text, q)
    selected = _selected(engine, q)
    predicate = _compile(engine, q.where) if q.where else (lambda rec: True)
    records = [r for r in org.all(engine.t.name, include_deleted) if predicate(r)]
    _sort(engine, q, records)
    if q.offset > MAX_OFFSET:
        raise SfError(400, "NUMBER_OUTSIDE_VALID_RANGE",
                      f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    records = records[q.offset:]
    if q.limit is not None:
        records = records[:q.limit]
    if q.count:
        return [], len(records)
    return [_row(engine, r, selected, version) for r in records], len(records)


def _selected(engine: Engine, q) -> list[Path]:
    paths, seen = [], set()
    for text, pos in q.select:
        path = engine.resolve(text, pos)
        key = (path.relation.name if path.relation else "", path.leaf.name)
        if key in seen:
            raise error(engine.text, pos, "MALFORMED_QUERY", f"duplicate field selected: {text}")
        seen.add(key)
        paths.append(path)
    return paths


def _row(engine: Engine, rec: dict[str, Any], paths: list[Path], version: str) -> dict:
    t = engine.t
    row: dict[str, Any] = {"attributes": {
        "type": t.name, "url": f"/services/data/v{version}/sobjects/{t.name}/{rec['Id']}"}}
    for path in paths:
        if path.relation is None:
            row[path.leaf.name] = to_json(rec.get(path.leaf.name))
            continue
        key = path.relation.relationship_name
        if key not in row:
            parent = engine.parent(rec, path)
            row[key] = None if parent is None else {"attributes": {
                "type": path.target.name if path.target else "Name",
                "url": f"/services/data/v{version}/sobjects/"
                       f"{sobject_of_id(parent['Id'])}/{parent['Id']}"}}
        if row[key] is not None:
            row[key][path.leaf.name] = to_json(engine.value(rec, path))
    return row


def _sort(engine: Engine, q, records: list[dict[str, Any]]) -> None:
    for text, pos, desc, nulls_first in reversed(q.order):
        path = engine.resolve(text, pos)
        if not path.leaf.filterable:
            raise error(engine.text, pos, "INVALID_FIELD",
                        f"field '{path.leaf.name}' can not be sorted in a query call")
        null_rank = 0 if nulls_first != desc else 2  # where nulls land after `reverse`

        def key(rec, path=path, null_rank=null_rank):
            value = engine.value(rec, path)
            return (null_rank, "") if value is None else (1, _comparable(value))
        records.sort(key=key, reverse=desc)


def _comparable(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


# --- WHERE ------------------------------------------------------------------------------

def _compile(engine: Engine, cond: Cond) -> Callable[[dict], bool]:
    if cond.op in ("and", "or"):
        parts = [_compile(engine, c) for c in cond.parts]
        joined = all if cond.op == "and" else any
        return lambda rec: joined(p(rec) for p in parts)
    if cond.op == "not":
        inner = _compile(engine, cond.parts[0])
        return lambda rec: not inner(rec)
    path = engine.resolve(cond.path, cond.pos)
    if not path.leaf.filterable:
        raise error(engine.text, cond.pos, "INVALID_FIELD",
                    f"field '{path.leaf.name}' can not be filtered in a query call")
    values = [_typed(engine, path, lit, cond.op) for lit in cond.values]
    test = _test(cond.op, path, values)
    return lambda rec: test(engine.value(rec, path))


def _typed(engine: Engine, path: Path, lit: Literal, op: str) -> Any:
    f = path.leaf
    if lit.kind == "null":
        return None
    kind, label = _EXPECTED.get(f.type, ("string", "string"))
    if lit.kind != kind:
        quotes = "be enclosed in quotes" if kind == "string" else "not be enclosed in quotes"
        raise error(engine.text, lit.pos, "MALFORMED_QUERY",
                    f"value of filter criterion for field '{f.name}' must be of type {label} "
                    f"and should {quotes}")
    if f.type in ID_TYPES:
        canonical = normalize_id(lit.value)
        if canonical is None:
            raise error(engine.text, lit.pos, "INVALID_QUERY_FILTER_OPERATOR",
                        f"invalid ID field: {lit.value}")
        return canonical
    if kind == "string" and op != "like":
        return lit.value.replace("\\%", "%").replace("\\_", "_")
    return lit.value


def _test(op: str, path: Path, values: list[Any]) -> Callable[[Any], bool]:
    text = path.leaf.type in STRING_TYPES or path.leaf.type in ID_TYPES
    if op == "like":
        pattern = _like_regex(values[0] or "")
        return lambda v: v is not None and pattern.fullmatch(str(v)) is not None
    if op in ("in", "notin"):
        hit = lambda v: any(_equal(v, x, text) for x in values)  # noqa: E731
        return hit if op == "in" else (lambda v: not hit(v))
    target = values[0]
    if op == "=":
        return lambda v: _equal(v, target, text)
    if op == "!=":
        return lambda v: not _equal(v, target, text)
    compare = {"<": lambda a, b: a < b, ">": lambda a, b: a > b,
               "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}[op]
    return lambda v: v is not None and target is not None and \
        compare(_comparable(v), _comparable(target))


def _equal(value: Any, target: Any, text: bool) -> bool:
    if value is None or target is None:
        return value is None and target is None  # SOQL: != 'x' matches nulls too
    if text:
        return str(value).casefold() == str(target).casefold()
    return value == target


def _like_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += ".*" if c == "%" else "." if c == "_" else re.escape(c)
        i += 1
    return re.compile(out, re.IGNORECASE | re.DOTALL)


# --- paging -----------------------------------------------------------------------------

def first_page(org, rows: list[dict], total: int, batch: int, owner: str, endpoint: str,
               version: str, now: float) -> dict[str, Any]:
    if len(rows) <= batch:
        return {"totalSize": total, "done": True, "records": rows}
    cursor = Cursor(new_id("01g"), rows, owner, endpoint, version, now)
    org.cursors[cursor.locator] = cursor
    mine = [c for c in org.cursors.values() if c.owner == owner]
    for old in mine[:-CURSORS_PER_USER]:
        del org.cursors[old.locator]
    return _page(cursor, 0, batch)


def next_page(org, locator_text: str, batch: int, owner: str, now: float) -> dict[str, Any]:
    m = _LOCATOR.match(locator_text)
    cursor = org.cursors.get(m.group(1)) if m else None
    if cursor is not None and now - cursor.last_used > CURSOR_IDLE_SECONDS:
        del org.cursors[cursor.locator]
        cursor = None
    if cursor is None or cursor.owner != owner:
        raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    cursor.last_used = now
    org.cursors.move_to_end(cursor.locator)
    return _page(cursor, int(m.group(2)), batch)


def _page(cursor: Cursor, start: int, batch: int) -> dict[str, Any]:
    records = cursor.rows[start:start + batch]
    end = start + len(records)
    body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
    if not body["done"]:
        body["nextRecordsUrl"] = \
            f"/services/data/v{cursor.version}/{cursor.endpoint}/{cursor.locator}-{end}"
    body["records"] = records
    return body


# --- replication: updated/ and deleted/ --------------------------------------------------

def _minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def _window(args, now: datetime, days: int) -> tuple[datetime, datetime, datetime]:
    """start, latestDateCovered and the oldest start allowed; seconds are ignored."""
    bounds = []
    for name in ("start", "end"):
        raw = args.get(name)
        if not raw:
            raise SfError(400, "MISSING_ARGUMENT", f"{name} parameter is required")
        parsed = parse_datetime(raw, require_zone=False)
        if parsed is None:
            raise SfError(400, "INVALID_REPLICATION_DATE", f"invalid {name} date: {raw}")
        bounds.append(_minute(parsed))
    start, end = bounds
    if end - start < timedelta(minutes=1):
        raise SfError(400, "INVALID_REPLICATION_DATE",
                      "startDate must chronologically precede endDate by more than one minute")
    oldest = _minute(now - timedelta(days=days))
    if start < oldest:
        raise SfError(400, "INVALID_REPLICATION_DATE",
                      f"startDate cannot be more than {days} days ago")
    return start, max(start, min(end, _minute(now))), oldest


def updated(org, sobject: str, args, now: datetime) -> dict[str, Any]:
    start, latest, _ = _window(args, now, 30)
    hits = sorted((r for r in org.all(sobject) if start <= r["SystemModstamp"] < latest),
                  key=lambda r: r["SystemModstamp"])
    return {"ids": [r["Id"] for r in hits], "latestDateCovered": fmt_datetime(latest)}


def deleted(org, sobject: str, args, now: datetime) -> dict[str, Any]:
    start, latest, oldest = _window(args, now, 15)
    earliest = oldest
    if org.last_purge is not None and org.last_purge > oldest:
        earliest = _minute(org.last_purge) + timedelta(minutes=1)  # deletions before are gone
    if start < earliest:
        raise SfError(400, "INVALID_REPLICATION_DATE",
                      f"startDate is before earliestDateAvailable {fmt_datetime(earliest)}")
    hits = sorted((r for r in org.all(sobject, include_deleted=True)
                   if r["IsDeleted"] and start <= r["_deleted_at"] < latest),
                  key=lambda r: r["_deleted_at"])
    return {"deletedRecords": [{"id": r["Id"], "deletedDate": fmt_datetime(r["_deleted_at"])}
                               for r in hits],
            "earliestDateAvailable": fmt_datetime(earliest),
            "latestDateCovered": fmt_datetime(latest)}

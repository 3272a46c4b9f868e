"""CRM v3 object endpoints for contacts and meetings: create, read (by id or a unique
property with `idProperty`), update, archive, list, batch read/create/update/upsert/
archive and contact merge (the objects' v3 reference specs and guides).

Batches take at most 100 inputs. A batch create or update is all or nothing unless every
input carries an `objectWriteTraceId`; then it answers 207 with the inputs that worked and
an error per failed input (error-handling guide, multi-status errors). A batch read names
missing ids in one 207 error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response

from . import hubspot_associations as assoc
from .hubspot_common import (
    SINGULAR,
    HsError,
    as_list,
    bad_request,
    fmt_ms,
    json_response,
    not_found,
    object_type,
)
from .hubspot_store import Actor, Portal, Record

MAX_BATCH = 100  # "Batch operations are limited to 100 records at a time"
MAX_PAGE = 100  # list endpoints: "You can retrieve up to 100 contacts in one request"


@dataclass
class Ctx:
    portal: Portal
    actor: Actor
    now: int
    args: Any  # the request's query arguments
    body: Any  # the parsed JSON body (None when there is none)
    origin: str


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _numeric(record_id: str) -> bool:
    return record_id.isdigit()


def lookup(ctx: Ctx, type_: str, record_id: str, *, archived: bool = False) -> Record:
    id_property = ctx.args.get("idProperty")
    if id_property:
        ctx.portal.unique_property(type_, id_property)
        rec = ctx.portal.find_by(type_, id_property, record_id, archived=archived)
    elif not _numeric(record_id):
        raise HsError(404, "Object not found.  objectId are usually numeric.",
                      "OBJECT_NOT_FOUND", context={"id": [record_id]})
    else:
        rec = ctx.portal.find(type_, record_id, archived=archived)
    if rec is None:
        raise not_found()
    return rec


def _render(ctx: Ctx, rec: Record, wanted: list[str] | None, with_assoc: list[str]) -> dict:
    body = ctx.portal.render(rec, wanted)
    if with_assoc:
        block = assoc.v3_associations(ctx.portal, rec.type, rec.id)
        other = "contacts" if rec.type == "meetings" else "meetings"
        if block and any(assoc_type_matches(a, other) for a in with_assoc):
            body["associations"] = block
    return body


def assoc_type_matches(name: str, other: str) -> bool:
    return object_type(name) == other


def get_one(ctx: Ctx, type_: str, record_id: str) -> Response:
    rec = lookup(ctx, type_, record_id, archived=_flag(ctx.args.get("archived")))
    return json_response(_render(ctx, rec, as_list(ctx.args.getlist("properties")) or None,
                                 as_list(ctx.args.getlist("associations"))))


def list_page(ctx: Ctx, type_: str) -> Response:
    limit = _int_arg(ctx.args.get("limit"), 10)
    limit = min(max(limit, 1), MAX_PAGE)
    after = ctx.args.get("after")
    archived = _flag(ctx.args.get("archived"))
    recs = sorted((r for r in ctx.portal.records[type_].values()
                   if r.archived == archived and not r.merged_into), key=lambda r: int(r.id))
    if after:
        if not str(after).isdigit():
            raise bad_request(f"after must be a record id, got {after}")
        recs = [r for r in recs if int(r.id) >= int(after)]
    page, rest = recs[:limit], recs[limit:]
    wanted = as_list(ctx.args.getlist("properties")) or None
    with_assoc = as_list(ctx.args.getlist("associations"))
    body: dict[str, Any] = {"results": [_render(ctx, r, wanted, with_assoc) for r in page]}
    if rest:
        nxt = rest[0].id
        body["paging"] = {"next": {"after": nxt, "link": f"{ctx.origin}/crm/v3/objects/"
                                                         f"{type_}?limit={limit}&after={nxt}"}}
    return json_response(body)


def _int_arg(value: Any, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        raise bad_request(f"{value} is not a valid integer") from None


def _body_object(ctx: Ctx) -> dict:
    if not isinstance(ctx.body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    return ctx.body


def _create(ctx: Ctx, type_: str, item: dict) -> Record:
    targets = assoc.inline(ctx.portal, type_, item.get("associations"))
    rec = ctx.portal.create(type_, item.get("properties"), ctx.actor, ctx.now)
    for to_id in targets:
        ctx.portal.associate(*assoc.pair(type_, rec.id, to_id), {assoc.MEETING_TO_CONTACT})
    return rec


def create(ctx: Ctx, type_: str) -> Response:
    rec = _create(ctx, type_, _body_object(ctx))
    return json_response(ctx.portal.render(rec, everything=True), 201,
                         {"Location": f"{ctx.origin}/crm/v3/objects/{type_}/{rec.id}"})


def update(ctx: Ctx, type_: str, record_id: str) -> Response:
    rec = lookup(ctx, type_, record_id)
    body = _body_object(ctx)
    ctx.portal.update(rec, body.get("properties"), ctx.actor, ctx.now)
    return json_response(ctx.portal.render(rec, everything=True))


def archive(ctx: Ctx, type_: str, record_id: str) -> Response:
    # Archiving what is already archived (or never was) is not an error.
    rec = ctx.portal.find(type_, record_id) if _numeric(record_id) else None
    if rec is not None:
        ctx.portal.archive(rec, ctx.actor, ctx.now)
    return Response(status=204)


def merge(ctx: Ctx, type_: str) -> Response:
    if type_ != "contacts":
        raise not_found()
    body = _body_object(ctx)
    primary_id, other_id = body.get("primaryObjectId"), body.get("objectIdToMerge")
    if primary_id is None or other_id is None:
        raise bad_request("Invalid input JSON: primaryObjectId and objectIdToMerge are required")
    primary = ctx.portal.find(type_, str(primary_id))
    other = ctx.portal.find(type_, str(other_id))
    if primary is None or other is None:
        raise not_found()
    ctx.portal.merge(primary, other, ctx.actor, ctx.now)
    return json_response(ctx.portal.render(primary, everything=True))


# --- batches -------------------------------------------------------------------------

def _inputs(ctx: Ctx) -> list[dict]:
    body = _body_object(ctx)
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise bad_request("Invalid input JSON: inputs must be an array of objects")
    if len(inputs) > MAX_BATCH:
        raise bad_request(f"Batch operations are limited to {MAX_BATCH} inputs; "
                          f"got {len(inputs)}")
    return inputs


def _batch(results: list[dict], errors: list[dict], started: int, now: int,
           status: int) -> Response:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        status = 207
    body["startedAt"] = fmt_ms(started)
    body["completedAt"] = fmt_ms(now)
    return json_response(body, status)


def batch_read(ctx: Ctx, type_: str) -> Response:
    body = _body_object(ctx)
    inputs = _inputs(ctx)
    id_property = body.get("idProperty")
    if id_property:
        ctx.portal.unique_property(type_, id_property)
    archived = _flag(ctx.args.get("archived"))
    wanted = as_list(body.get("properties")) or None
    results, missing = [], []
    for item in inputs:
        key = str(item.get("id"))
        rec = ctx.portal.find_by(type_, id_property, key, archived=archived) if id_property \
            else (ctx.portal.find(type_, key, archived=archived) if _numeric(key) else None)
        if rec is None:
            missing.append(key)
        elif all(r["id"] != rec.id for r in results):
            results.append(ctx.portal.render(rec, wanted))
    errors = []
    if missing:
        errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                       "message": f"Could not get some {SINGULAR[type_]} objects, they may be "
                                  "deleted or not exist. Check that ids are valid.",
                       "context": {"ids": missing}})
    return _batch(results, errors, ctx.now, ctx.now, 200)


def _multi_status(inputs: list[dict]) -> bool:
    return bool(inputs) and all(i.get("objectWriteTraceId") for i in inputs)


def _failure(exc: HsError, trace_id: str) -> dict:
    body = exc.body()
    body.pop("correlationId", None)
    body["context"] = {**(body.get("context") or {}), "objectWriteTraceId": [trace_id]}
    return body


def _run_batch(ctx: Ctx, inputs: list[dict], one) -> tuple[list[dict], list[dict]]:
    """Apply `one(input)` to each input: all or nothing, or per input with trace ids."""
    portal = ctx.portal
    multi = _multi_status(inputs)
    undo = _Undo(portal)
    results, errors = [], []
    for item in inputs:
        try:
            results.append(one(item, undo))
        except HsError as exc:
            if not multi:
                undo.rollback()
                raise
            errors.append(_failure(exc, str(item["objectWriteTraceId"])))
    return results, errors


class _Undo:
    """What a failed all-or-nothing batch must take back."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.created: list[Record] = []
        self.saved: list[tuple[Record, dict, int, int]] = []
        self.events = len(portal.webhooks.pending)
        self.associations = {k: set(v) for k, v in portal.associations.items()}

    def touch(self, rec: Record) -> None:
        self.saved.append((rec, dict(rec.values), rec.updated_at, len(rec.versions)))

    def rollback(self) -> None:
        for rec in self.created:
            self.portal.records[rec.type].pop(rec.id, None)
        for rec, values, updated, versions in reversed(self.saved):
            rec.values, rec.updated_at = values, updated
            del rec.versions[versions:]
        self.portal.associations = self.associations
        del self.portal.webhooks.pending[self.events:]


def batch_create(ctx: Ctx, type_: str) -> Response:
    inputs = _inputs(ctx)

    def one(item, undo):
        rec = _create(ctx, type_, item)
        undo.created.append(rec)
        out = ctx.portal.render(rec, everything=True)
        if item.get("objectWriteTraceId"):
            out["objectWriteTraceId"] = str(item["objectWriteTraceId"])
        return out
    results, errors = _run_batch(ctx, inputs, one)
    return _batch(results, errors, ctx.now, ctx.now, 201)


def batch_update(ctx: Ctx, type_: str) -> Response:
    inputs = _inputs(ctx)

    def one(item, undo):
        key = str(item.get("id"))
        id_property = item.get("idProperty")
        if id_property:
            ctx.portal.unique_property(type_, id_property)
            rec = ctx.portal.find_by(type_, id_property, key)
        else:
            rec = ctx.portal.find(type_, key) if _numeric(key) else None
        if rec is None:
            raise not_found(f"No {type_} with id {key}")
        undo.touch(rec)
        ctx.portal.update(rec, item.get("properties"), ctx.actor, ctx.now)
        return ctx.portal.render(rec, everything=True)
    results, errors = _run_batch(ctx, inputs, one)
    return _batch(results, errors, ctx.now, ctx.now, 200)


def batch_upsert(ctx: Ctx, type_: str) -> Response:
    inputs = _inputs(ctx)

    def one(item, undo):
        id_property, key = item.get("idProperty"), item.get("id")
        if not id_property or key is None:
            raise bad_request("Invalid input JSON: upsert inputs need idProperty and id")
        ctx.portal.unique_property(type_, id_property)
        rec = ctx.portal.find_by(type_, id_property, str(key))
        props = item.get("properties") or {}
        if not isinstance(props, dict):
            raise bad_request("Invalid input JSON: properties must be an object")
        if rec is None:
            rec = ctx.portal.create(type_, {**props, id_property: key}, ctx.actor, ctx.now)
            undo.created.append(rec)
            return {**ctx.portal.render(rec, everything=True), "new": True}
        undo.touch(rec)
        ctx.portal.update(rec, props, ctx.actor, ctx.now)
        return {**ctx.portal.render(rec, everything=True), "new": False}
    results, errors = _run_batch(ctx, inputs, one)
    return _batch(results, errors, ctx.now, ctx.now, 200)


def batch_archive(ctx: Ctx, type_: str) -> Response:
    for item in _inputs(ctx):
        key = str(item.get("id"))
        rec = ctx.portal.find(type_, key) if _numeric(key) else None
        if rec is not None:
            ctx.portal.archive(rec, ctx.actor, ctx.now)
    return Response(status=204)

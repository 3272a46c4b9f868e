"""The sObject resources of the Salesforce emulator: describe, create, read, update,
delete, upsert by external id, updated/ and deleted/, with the conditional headers.

Conditional requests follow the REST API's rules: If-Modified-Since / If-Unmodified-Since
on every sObject row (DELETE ignores them: Salesforce doesn't support them there),
ETag / If-Match / If-None-Match on Account records only. An upsert that updates answers
200 {"created": false} from API 46.0 and 204 before.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from flask import Response, request

from . import salesforce_query as query
from .core import SandboxState
from .salesforce_common import SfError, normalize_id, not_found
from .salesforce_people import DUPLICATE_HEADER, DuplicateHeader, parse_duplicate_header
from .salesforce_schema import FieldDef, SObjectType, render
from .salesforce_store import INTEGRATION_USER, Org

UPSERT_200_FROM = 46.0
JSON_TYPE = "application/json;charset=UTF-8"


@dataclass
class Ctx:
    """One authenticated API request."""
    state: SandboxState
    org: Org
    version: str
    subject: str
    now: datetime

    @property
    def actor(self) -> str:
        user = normalize_id(self.subject)
        return user if user and user.startswith("005") else INTEGRATION_USER


def json_response(body: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    # json.dumps keeps our key order (attributes first), unlike Flask's sorted jsonify.
    return Response(json.dumps(body), status, headers=headers, content_type=JSON_TYPE)


def only(method: str, *allowed: str) -> Response | None:
    """None when the method is allowed, else the API's 405."""
    if method in allowed:
        return None
    return json_response([{"errorCode": "METHOD_NOT_ALLOWED",
                           "message": f"HTTP Method '{method}' not allowed. Allowed are "
                                      f"{','.join(allowed)}"}], 405)


def handle(ctx: Ctx, method: str, parts: list[str]) -> Response:
    """Everything under sobjects/."""
    if not parts:
        return only(method, "GET") or json_response(
            {"encoding": "UTF-8", "maxBatchSize": 200,
             "sobjects": [t.summary(ctx.version) for t in ctx.org.schema.values()]})
    t = ctx.org.type(parts[0])
    if len(parts) == 1:
        if method == "POST":
            return _create(ctx, t)
        return only(method, "GET", "POST") or json_response(
            {"objectDescribe": t.summary(ctx.version), "recentItems": []})
    name = parts[1]
    if len(parts) == 2 and name in ("describe", "updated", "deleted"):
        return only(method, "GET") or json_response(_meta(ctx, t, name))
    if len(parts) == 2 and normalize_id(name):
        return _record(ctx, t, method, name)
    if len(parts) == 2 and name.lower() == "id" and method == "POST":
        return _create(ctx, t)  # POST sobjects/X/Id: create (API 37.0+)
    if len(parts) == 2:
        raise SfError(404, "NOT_FOUND",
                      f"Provided external ID field does not exist or is not accessible: {name}")
    return _by_external_id(ctx, t, method, name, "/".join(parts[2:]))


def _meta(ctx: Ctx, t: SObjectType, name: str) -> dict[str, Any]:
    if name == "describe":
        return t.describe(ctx.version)
    if name == "updated":
        return query.updated(ctx.org, t.name, request.args, ctx.now)
    return query.deleted(ctx.org, t.name, request.args, ctx.now)


def _body() -> Any:
    ctype = request.headers.get("Content-Type", "application/json")
    if "json" not in ctype.lower():
        raise SfError(415, "UNSUPPORTED_MEDIA_TYPE",
                      f"Content-Type header specified in HTTP request is not supported: {ctype}")
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise SfError(400, "JSON_PARSER_ERROR", "No content to map due to end-of-input")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise SfError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None


def _save_result(record_id: str, created: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
    if created is not None:
        out["created"] = created
    return out


def _duplicates(ctx: Ctx) -> DuplicateHeader:
    return parse_duplicate_header(request.headers.get(DUPLICATE_HEADER), ctx.version)


def _create(ctx: Ctx, t: SObjectType) -> Response:
    rec = ctx.org.create(t.name, _body(), ctx.actor, ctx.now, duplicates=_duplicates(ctx))
    return json_response(_save_result(rec["Id"]), 201)


def _record(ctx: Ctx, t: SObjectType, method: str, raw_id: str) -> Response:
    record_id = normalize_id(raw_id)
    if record_id is None or record_id[:3] != t.key_prefix:  # EventWhoRelation: 0RE too
        raise not_found()
    if method == "GET":
        return _get(ctx, t, ctx.org.live(t.name, record_id))
    if method == "PATCH":
        _check_preconditions(t, ctx.org.live(t.name, record_id))
        ctx.org.update(t.name, record_id, _body(), ctx.actor, ctx.now,
                       duplicates=_duplicates(ctx))
        return Response(status=204)
    if method == "DELETE":  # conditional headers are not supported on DELETE
        ctx.org.delete(t.name, record_id, ctx.now, ctx.actor)
        return Response(status=204)
    return only(method, "GET", "PATCH", "DELETE")


def _get(ctx: Ctx, t: SObjectType, rec: dict[str, Any]) -> Response:
    fields = None
    if request.args.get("fields"):
        fields = []
        for name in request.args["fields"].split(","):
            f = t.field(name.strip())
            if f is None:
                raise SfError(400, "INVALID_FIELD",
                              f"No such column '{name.strip()}' on entity '{t.name}'. If you are "
                              "attempting to use a custom field, be sure to append the '__c' "
                              "after the custom field name. Please reference your WSDL or the "
                              "describe call for the appropriate names.")
            fields.append(f)
        fields += [t.field("Id")] if all(f.name != "Id" for f in fields) else []
    body = render(t, rec, ctx.version, fields)
    etag = _etag(t, rec)
    headers = {"Last-Modified": _http_date(rec["LastModifiedDate"])}
    if etag:
        headers["ETag"] = etag
    if _not_modified(t, rec, etag):
        return Response(status=304, headers=headers)
    return json_response(body, headers=headers)


def _etag(t: SObjectType, rec: dict[str, Any]) -> str | None:
    """Only Account records carry an ETag: a hash of the content (whatever the version)."""
    if t.name != "Account":
        return None
    digest = hashlib.sha1(json.dumps(render(t, rec, "62.0")).encode()).digest()
    return f'"{base64.b64encode(digest).decode()}--gzip"'


def _etags(header: str) -> set[str]:
    return {tag.strip() for tag in header.split(",") if tag.strip()}


def _not_modified(t: SObjectType, rec: dict[str, Any], etag: str | None) -> bool:
    if etag and request.headers.get("If-None-Match"):
        return etag in _etags(request.headers["If-None-Match"])
    since = request.headers.get("If-Modified-Since")
    if since:
        parsed = _parse_http_date(since, "If-Modified-Since")
        return rec["LastModifiedDate"] <= parsed
    return False


def _check_preconditions(t: SObjectType, rec: dict[str, Any]) -> None:
    """If-Unmodified-Since (all sObject rows) and If-Match/If-None-Match (Account only)."""
    since = request.headers.get("If-Unmodified-Since")
    if since and rec["LastModifiedDate"] > _parse_http_date(since, "If-Unmodified-Since"):
        raise SfError(412, "PRECONDITION_FAILED",
                      f"The requested resource has been modified since {since}")
    etag = _etag(t, rec)
    if etag is None:
        return
    if_match, if_none = request.headers.get("If-Match"), request.headers.get("If-None-Match")
    if if_match and etag not in _etags(if_match) and "*" not in _etags(if_match):
        raise SfError(412, "PRECONDITION_FAILED", "The requested resource's ETag doesn't match")
    if if_none and etag in _etags(if_none):
        raise SfError(412, "PRECONDITION_FAILED", "The requested resource's ETag matches")


def _parse_http_date(value: str, header: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        raise SfError(400, "INVALID_HEADER_TYPE", f"{header}: invalid date: {value}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _http_date(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _by_external_id(ctx: Ctx, t: SObjectType, method: str, field_name: str,
                    value: str) -> Response:
    f = t.field(field_name)
    if f is None or not (f.external_id or f.type == "id"):
        raise not_found()
    if method == "PATCH":
        return _upsert(ctx, t, f, value)
    if method not in ("GET", "DELETE"):
        return only(method, "GET", "PATCH", "DELETE")
    matches = ctx.org.find_by(t, f, value)
    if len(matches) > 1:
        return _multiple(ctx, t, matches)
    if not matches:
        raise not_found()
    if method == "DELETE":
        ctx.org.delete(t.name, matches[0]["Id"], ctx.now, ctx.actor)
        return Response(status=204)
    return _get(ctx, t, matches[0])


def _multiple(ctx: Ctx, t: SObjectType, matches: list[dict[str, Any]]) -> Response:
    """300 Multiple Choices: the body is the list of the matching records' URLs."""
    urls = [f"/services/data/v{ctx.version}/sobjects/{t.name}/{r['Id']}" for r in matches]
    return json_response(urls, 300)


def _upsert(ctx: Ctx, t: SObjectType, f: FieldDef, value: str) -> Response:
    body = _body()
    if isinstance(body, dict):
        clash = [k for k in body if k.lower() in (f.name.lower(), "id")]
        if clash:
            raise SfError(400, "INVALID_FIELD",
                          f"The field {clash[0]} can't be in the request body of an upsert by "
                          f"{f.name}: the value is taken from the URL", clash)
    matches = ctx.org.find_by(t, f, value)
    if len(matches) > 1:
        return _multiple(ctx, t, matches)
    new_style = float(ctx.version) >= UPSERT_200_FROM
    if matches:
        rec = ctx.org.update(t.name, matches[0]["Id"], body, ctx.actor, ctx.now,
                             duplicates=_duplicates(ctx))
        if not new_style:
            return Response(status=204)
        return json_response(_save_result(rec["Id"], False), 200)
    if request.args.get("updateOnly", "").lower() == "true" or f.type == "id":
        raise not_found()
    body = {**body, f.name: value} if isinstance(body, dict) else body
    rec = ctx.org.create(t.name, body, ctx.actor, ctx.now, duplicates=_duplicates(ctx))
    return json_response(_save_result(rec["Id"], True if new_style else None), 201)


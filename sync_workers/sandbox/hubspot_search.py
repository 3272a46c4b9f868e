"""`POST /crm/v3/objects/{type}/search` over the portal's search index.

Documented behaviour (developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm):
filterGroups are OR-ed and the filters in a group AND-ed, at most 5 groups, 6 filters per
group and 18 filters in all (VALIDATION_ERROR beyond); one sort rule; `limit` 10 by
default and at most 200; `after` is an integer offset and paging beyond 10,000 results is
a 400; a query of more than 3,000 characters is a 400; archived records never appear;
EQ/NEQ are case-insensitive except on enumerations; IN/NOT_IN on strings match lowercase
values; "it may take a few moments for newly created or updated CRM objects to appear":
the index shows each record as it was `search_lag` seconds ago (a record created since is
missing, one updated since matches on its old values). Without sorts, records come oldest
first. `associations.contact` filters meetings by an associated contact id.
"""
from __future__ import annotations

from typing import Any

from .hubspot_common import CREATED, as_list, bad_request, now_ms, parse_instant
from .hubspot_properties import PropertyDef, text_of
from .hubspot_store import Portal, Record

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, MAX_RESULTS, MAX_QUERY = 200, 10_000, 3_000
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
             "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
SEARCHABLE = {"contacts": ("firstname", "lastname", "email", "phone", "hs_additional_emails",
                           "fax", "mobilephone", "company"),
              "meetings": ("hs_meeting_title", "hs_meeting_body")}


def search(portal: Portal, type_: str, body: Any, clock, raw_size: int) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    if raw_size > MAX_QUERY:
        raise bad_request(f"The request body exceeds {MAX_QUERY} characters")
    groups = _groups(portal, type_, body)
    sort = _sort(portal, type_, body.get("sorts"))
    limit = _int(body.get("limit"), 10, "limit")
    if not 0 < limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}")
    after = _int(body.get("after"), 0, "after")
    if after < 0:
        raise bad_request("after must not be negative")
    if after >= MAX_RESULTS:
        raise bad_request(f"Paging beyond {MAX_RESULTS:,} results is not supported. "
                          "Narrow the query, e.g. by the last modified date.")
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise bad_request("Invalid input JSON: query must be a string")
    wanted = as_list(body.get("properties"))
    horizon = now_ms(clock) - int(portal.settings.search_lag * 1000)
    hits: list[tuple[Record, dict[str, str]]] = []
    for rec in portal.records[type_].values():
        values = _indexed(rec, horizon)
        if values is None:
            continue
        if groups and not any(all(_match(portal, rec, values, f) for f in g) for g in groups):
            continue
        if query and not _query_match(type_, values, query):
            continue
        hits.append((rec, values))
    hits.sort(key=lambda hit: (int(hit[1].get(CREATED[type_]) or 0), int(hit[0].id)))
    if sort is not None:
        name, descending, prop = sort
        present = [h for h in hits if h[1].get(name) is not None]
        absent = [h for h in hits if h[1].get(name) is None]
        present.sort(key=lambda h: _sort_key(prop, h[1][name]), reverse=descending)
        hits = present + absent
    end = min(after + limit, MAX_RESULTS)
    page = hits[after:end]
    out: dict[str, Any] = {"total": len(hits),
                           "results": [portal.render(rec, wanted or None, values=values)
                                       for rec, values in page]}
    if end < len(hits):
        out["paging"] = {"next": {"after": str(end)}}
    return out


def _indexed(rec: Record, horizon: int) -> dict[str, str] | None:
    """The record's values as the index has them, None when search can't see it."""
    seen = None
    for written, values, gone in rec.versions:
        if written > horizon:
            break
        seen = None if gone else values
    return seen


def _int(value: Any, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None


def _groups(portal: Portal, type_: str, body: dict) -> list[list[dict]]:
    raw = body.get("filterGroups") or []
    if not isinstance(raw, list):
        raise bad_request("Invalid input JSON: filterGroups must be an array")
    groups = []
    for group in raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise bad_request("Invalid input JSON: each filter group needs a filters array")
        groups.append(filters)
    if isinstance(body.get("filters"), list) and body["filters"]:
        groups.append(body["filters"])  # a top-level filters list is one more group
    if len(groups) > MAX_GROUPS:
        raise bad_request(f"Too many filter groups: at most {MAX_GROUPS} are allowed")
    if any(len(g) > MAX_FILTERS_PER_GROUP for g in groups):
        raise bad_request(f"Too many filters in a group: at most {MAX_FILTERS_PER_GROUP}")
    if sum(len(g) for g in groups) > MAX_FILTERS:
        raise bad_request(f"Too many filters: at most {MAX_FILTERS} in all")
    for g in groups:
        for f in g:
            _check_filter(portal, type_, f)
    return [g for g in groups if g]


def _check_filter(portal: Portal, type_: str, f: Any) -> None:
    if not isinstance(f, dict) or not isinstance(f.get("propertyName"), str):
        raise bad_request("Invalid input JSON: a filter needs a propertyName")
    op = f.get("operator", "EQ")
    if op not in OPERATORS:
        raise bad_request(f"Unknown filter operator {op}")
    name = f["propertyName"]
    if name.startswith("associations."):
        return
    if name not in portal.props(type_):
        raise bad_request(f"There was a problem with the request: property {name} does "
                          "not exist", propertyName=[name])
    if op in ("IN", "NOT_IN") and not isinstance(f.get("values"), list):
        raise bad_request(f"The {op} operator needs a values array")
    if op == "BETWEEN" and (f.get("value") is None or f.get("highValue") is None):
        raise bad_request("The BETWEEN operator needs value and highValue")
    if op not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY", "IN", "NOT_IN") and f.get("value") is None:
        raise bad_request(f"The {op} operator needs a value")


def _sort(portal: Portal, type_: str, raw: Any):
    if not raw:
        return None
    if not isinstance(raw, list):
        raise bad_request("Invalid input JSON: sorts must be an array")
    if len(raw) > 1:
        raise bad_request("Only one sort rule can be applied to a search")
    rule = raw[0]
    if isinstance(rule, str):  # the "-createdate" shorthand some clients send
        name, descending = rule.lstrip("-"), rule.startswith("-")
    elif isinstance(rule, dict) and isinstance(rule.get("propertyName"), str):
        name = rule["propertyName"]
        descending = str(rule.get("direction", "ASCENDING")).upper() == "DESCENDING"
    else:
        raise bad_request("Invalid input JSON: a sort needs a propertyName")
    prop = portal.props(type_).get(name)
    if prop is None:
        raise bad_request(f"Cannot sort by unknown property {name}")
    return name, descending, prop


def _sort_key(prop: PropertyDef, value: str):
    if prop.type in ("number", "datetime", "date"):
        try:
            return (0, float(value), "")
        except ValueError:
            return (1, 0.0, value)
    return (0, 0.0, value.lower())


def _query_match(type_: str, values: dict[str, str], query: str) -> bool:
    needle = query.strip().lower()
    return any(needle in (values.get(p) or "").lower() for p in SEARCHABLE[type_])


def _match(portal: Portal, rec: Record, values: dict[str, str], f: dict) -> bool:
    name, op = f["propertyName"], f.get("operator", "EQ")
    if name.startswith("associations."):
        ids = portal.associated(rec.type, rec.id)
        return _compare_text(ids, op, f, case_sensitive=True)
    prop = portal.props(rec.type)[name]
    stored = values.get(name)
    if op == "HAS_PROPERTY":
        return stored is not None
    if op == "NOT_HAS_PROPERTY":
        return stored is None
    if prop.type in ("number", "datetime", "date"):
        return _compare_number(prop, stored, op, f)
    parts = stored.split(";") if stored and prop.field_type == "checkbox" else \
        ([stored] if stored is not None else [])
    return _compare_text(parts, op, f, case_sensitive=prop.type == "enumeration",
                         lower_in=prop.type == "string")


def _number(prop: PropertyDef, raw: Any) -> float | None:
    text = text_of(raw)
    if text is None:
        return None
    if prop.type in ("datetime", "date"):
        ms = parse_instant(text)
        return None if ms is None else float(ms)
    try:
        return float(text)
    except ValueError:
        return None


def _compare_number(prop: PropertyDef, stored: str | None, op: str, f: dict) -> bool:
    have = _number(prop, stored) if stored is not None else None
    if op in ("IN", "NOT_IN"):
        wanted = {_number(prop, v) for v in f.get("values", [])}
        return (have in wanted) == (op == "IN") if have is not None else op == "NOT_IN"
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        hit = stored is not None and str(text_of(f.get("value"))).strip("*") in stored
        return hit == (op == "CONTAINS_TOKEN")
    value = _number(prop, f.get("value"))
    if value is None:
        raise bad_request(f"{f.get('value')} is not a valid value for {prop.name}")
    if op == "NEQ":
        return have != value
    if have is None:
        return False
    if op == "BETWEEN":
        high = _number(prop, f.get("highValue"))
        return high is not None and value <= have <= high
    return {"EQ": have == value, "LT": have < value, "LTE": have <= value,
            "GT": have > value, "GTE": have >= value}[op]


def _compare_text(parts: list[str], op: str, f: dict, *, case_sensitive: bool,
                  lower_in: bool = False) -> bool:
    def norm(s: str) -> str:
        return s if case_sensitive else s.lower()
    if op in ("IN", "NOT_IN"):
        values = [str(text_of(v)) for v in f.get("values", [])]
        # String IN matches lowercase values only (the guide: values must be lowercase).
        have = [p.lower() for p in parts] if lower_in else parts
        hit = any(p in values for p in have)
        return hit == (op == "IN")
    value = str(text_of(f.get("value")))
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = value.lower()
        if token.startswith("*") or token.endswith("*"):
            core = token.strip("*")
            hit = any((p.lower().endswith(core) if token.startswith("*") and not
                       token.endswith("*") else p.lower().startswith(core)
                       if token.endswith("*") and not token.startswith("*")
                       else core in p.lower()) for p in parts)
        else:
            hit = any(token in p.lower().replace("@", " ").replace(".", " ").split() or
                      token == p.lower() for p in parts)
        return hit == (op == "CONTAINS_TOKEN")
    if op == "EQ":
        return any(norm(p) == norm(value) for p in parts)
    if op == "NEQ":
        return not any(norm(p) == norm(value) for p in parts)
    if not parts:
        return False
    p = norm(parts[0])
    v = norm(value)
    if op == "BETWEEN":
        return v <= p <= norm(str(text_of(f.get("highValue"))))
    return {"LT": p < v, "LTE": p <= v, "GT": p > v, "GTE": p >= v}[op]

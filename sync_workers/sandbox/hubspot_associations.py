"""Meeting <-> contact associations: v4 endpoints, the v3 per-type form and inline
`associations` on create (associations v4 guide; meetings guide).

Only the HUBSPOT_DEFINED unlabeled pair is modelled: meeting -> contact is type 200,
contact -> meeting 199. `PUT .../associations/default/{to}/{toId}` makes it; the labelled
`PUT .../associations/{to}/{toId}` takes `[{associationCategory, associationTypeId}]`;
`DELETE` removes every association between the two records; `GET .../associations/{to}`
lists `{toObjectId, associationTypes:[{category, typeId, label}]}` (500 a page).
"""
from __future__ import annotations

from typing import Any

from .hubspot_common import HsError, bad_request, fmt_ms, not_found, object_type
from .hubspot_store import (
    ASSOCIATION_LABELS,
    CONTACT_TO_MEETING,
    MEETING_TO_CONTACT,
    Portal,
)

CATEGORIES = {"HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK"}


def type_id_for(from_type: str) -> int:
    return MEETING_TO_CONTACT if from_type == "meetings" else CONTACT_TO_MEETING


def pair(from_type: str, from_id: str, to_id: str) -> tuple[str, str]:
    """(meeting id, contact id) for an association seen from either side."""
    return (from_id, to_id) if from_type == "meetings" else (to_id, from_id)


def resolve_types(from_type: str, to_type: str) -> None:
    if {from_type, to_type} != {"meetings", "contacts"}:
        raise bad_request(f"Associations from {from_type} to {to_type} are not supported "
                          "by the sandbox")


def check_specs(from_type: str, specs: Any) -> None:
    if not isinstance(specs, list) or not specs:
        raise bad_request("Invalid input JSON: expected an array of association types")
    for spec in specs:
        if not isinstance(spec, dict):
            raise bad_request("Invalid input JSON: an association type must be an object")
        category, type_id = spec.get("associationCategory"), spec.get("associationTypeId")
        if category not in CATEGORIES:
            raise bad_request(f"Invalid associationCategory {category!r}")
        if category != "HUBSPOT_DEFINED" or type_id != type_id_for(from_type):
            other = "0-1" if from_type == "meetings" else "0-47"
            raise bad_request(f"association type {category} {type_id} is not valid from "
                              f"{from_type} to {other}; expected HUBSPOT_DEFINED "
                              f"{type_id_for(from_type)}")


def inline(portal: Portal, from_type: str, raw: Any) -> list[str]:
    """The ids an `associations` array of a create names, checked before anything is
    written (v3: `[{to:{id}, types:[{associationCategory, associationTypeId}]}]`)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("Invalid input JSON: associations must be an array")
    other = "contacts" if from_type == "meetings" else "meetings"
    ids = []
    for item in raw:
        to = item.get("to") if isinstance(item, dict) else None
        to_id = str(to.get("id")) if isinstance(to, dict) and to.get("id") is not None else None
        if to_id is None:
            raise bad_request("Invalid input JSON: an association needs to.id")
        check_specs(from_type, item.get("types"))
        if portal.find(other, to_id) is None:
            raise HsError(400, "One or more associations are invalid", "VALIDATION_ERROR",
                          context={"objectId": [to_id], "objectType": [other]},
                          sub_category="crm.associations.INVALID_OBJECT_IDS")
        ids.append(to_id)
    return ids


def _records(portal: Portal, from_type: str, from_id: str, to_type: str, to_id: str):
    src = portal.find(from_type, from_id)
    if src is None:
        raise not_found(f"No {from_type} with id {from_id}")
    dst = portal.find(to_type, to_id)
    if dst is None:
        raise HsError(400, "One or more associations are invalid", "VALIDATION_ERROR",
                      context={"objectId": [to_id], "objectType": [to_type]},
                      sub_category="crm.associations.INVALID_OBJECT_IDS")
    return src, dst


def put_default(portal: Portal, from_name: str, from_id: str, to_name: str, to_id: str,
                now: int) -> dict[str, Any]:
    from_type, to_type = _types(from_name, to_name)
    src, dst = _records(portal, from_type, from_id, to_type, to_id)
    portal.associate(*pair(from_type, src.id, dst.id), {MEETING_TO_CONTACT})
    stamp = fmt_ms(now)
    return {"status": "COMPLETE", "results": [
        {"from": {"id": src.id}, "to": {"id": dst.id},
         "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                             "associationTypeId": type_id_for(from_type)}}],
        "startedAt": stamp, "completedAt": stamp}


def put_labelled(portal: Portal, from_name: str, from_id: str, to_name: str, to_id: str,
                 specs: Any) -> dict[str, Any]:
    from_type, to_type = _types(from_name, to_name)
    check_specs(from_type, specs)
    src, dst = _records(portal, from_type, from_id, to_type, to_id)
    portal.associate(*pair(from_type, src.id, dst.id), {MEETING_TO_CONTACT})
    return {"fromObjectTypeId": _type_id(from_type), "fromObjectId": src.id,
            "toObjectTypeId": _type_id(to_type), "toObjectId": dst.id, "labels": []}


def delete(portal: Portal, from_name: str, from_id: str, to_name: str, to_id: str) -> None:
    from_type, _ = _types(from_name, to_name)
    portal.disassociate(*pair(from_type, from_id, to_id))


def list_v4(portal: Portal, from_name: str, from_id: str, to_name: str, args) -> dict:
    from_type, to_type = _types(from_name, to_name)
    if portal.find(from_type, from_id) is None:
        raise not_found(f"No {from_type} with id {from_id}")
    limit = min(max(int(args.get("limit", 500) or 500), 1), 500)
    after = args.get("after")
    ids = portal.associated(from_type, from_id)
    if after:
        ids = [i for i in ids if int(i) >= int(after)]
    page, rest = ids[:limit], ids[limit:]
    body: dict[str, Any] = {"results": [
        {"toObjectId": i, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": type_id_for(from_type), "label": None}]}
        for i in page]}
    if rest:
        body["paging"] = {"next": {"after": rest[0]}}
    return body


def labels(from_name: str, to_name: str) -> dict[str, Any]:
    from_type, _ = _types(from_name, to_name)
    return {"results": [{"category": "HUBSPOT_DEFINED", "typeId": type_id_for(from_type),
                         "label": None}]}


def v3_associations(portal: Portal, type_: str, record_id: str) -> dict[str, Any] | None:
    """The `associations` block of a v3 GET (`?associations=contacts`), None when empty."""
    ids = portal.associated(type_, record_id)
    if not ids:
        return None
    other = "contacts" if type_ == "meetings" else "meetings"
    label = ASSOCIATION_LABELS[type_id_for(type_)]
    return {other: {"results": [{"id": i, "type": label} for i in ids]}}


def _types(from_name: str, to_name: str) -> tuple[str, str]:
    from_type, to_type = object_type(from_name), object_type(to_name)
    if from_type is None:
        raise bad_request(f"Unable to infer object type from: {from_name}")
    if to_type is None:
        raise bad_request(f"Unable to infer object type from: {to_name}")
    resolve_types(from_type, to_type)
    return from_type, to_type


def _type_id(type_: str) -> str:
    return {"contacts": "0-1", "meetings": "0-47"}[type_]

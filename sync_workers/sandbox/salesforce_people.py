"""People on Salesforce records: Shared Activities (EventRelation, EventWhoRelation), lead
conversion, and duplicate rules. Called by the save pipeline (salesforce_store.Org); callers
hold `state.lock`.

What each behaviour rests on (the searches behind it are in the report of the change):

Shared Activities (the org setting "Allow users to relate multiple contacts to tasks and
events"; on by default here, `Org.shared_activities`, salesforce_admin.set_shared_activities)
- EventRelation page of the Object Reference (https://developer.salesforce.com/docs/platform/
  object-reference/references/standard-objects/object-eventrelation.html, and the older
  sforce_api_objects_eventattendee.htm versions): with Shared Activities a relation is an
  invitee (IsInvitee) and/or a related contact or lead (IsParent); "an event can be related
  to up to 50 contacts or one lead"; "if a contact or lead is also an invitee, there is one
  EventRelation record for that person with IsInvitee and IsParent set to true"; IsInvitee
  defaults to true when IsInvitee, IsParent and IsWhat are not set, to false when IsParent is
  set to true; deleting an event deletes its relations (restored with it); "if you delete the
  EventRelation record representing the WhoId on an event, then another Who, if any ... will
  be promoted to the WhoId"; deleting the relation of a what "may" clear the event's field;
  "EventRelation does not support triggers, workflow, or data validation rules" (no
  outbound messages, no validation rules here). Without Shared Activities "EventRelation
  records only represent invitees (contacts, users, and resources)".
- EventWhoRelation (object-eventwhorelation.html): the IsParent-and-not-IsWhat rows, query
  and retrieve only, "available only if you've enabled Shared Activities"; with AccountId
  "visible when Shared Activities is enabled" and IsInvitee likewise, that is how a client
  detects the setting: EventWhoRelation in the global describe (sobjects/EventWhoRelation/
  describe answers 404 otherwise), or IsParent among EventRelation's describe fields. With
  the setting off, a create naming IsParent fails as for any field the org doesn't have:
  400 INVALID_FIELD "No such column 'IsParent' on sobject of type EventRelation".
- What relations: a what (WhatId) is an EventRelation too (IsParent and IsWhat true: the
  EventWhoRelation definition implies it; a blog query, simplysfdc.com 2016/05, lists an
  opportunity among an event's relations). The emulator makes them from WhatId only.
- Help "Considerations for Enabling Shared Activities": "If a task or event is related to a
  lead, you can't relate the activity to additional contacts"; one contact is the primary
  one (the Event's WhoId).

Not confirmed, chosen here (the error codes and messages especially):
- the 51st contact: 400 LIMIT_EXCEEDED "You can't relate more than 50 contacts to an event.";
  a lead with contacts (or contacts with a lead): 400 FIELD_INTEGRITY_EXCEPTION; a second
  relation for the same person on one event: 400 DUPLICATE_VALUE (update the existing one
  instead); a user, resource or account as a who, or a relation that is neither invitee nor
  who: 400 FIELD_INTEGRITY_EXCEPTION.
- changing an Event's WhoId from A to B: B's relation becomes (or is created as) a who; A's
  relation loses IsParent if A is an invitee, else it is deleted; other relations stay.
  Clearing WhoId (or un-parenting or deleting the primary's relation) promotes the oldest
  remaining who relation to WhoId (the documented delete rule, applied to all three).
- a who relation added to an event without WhoId makes that person the WhoId.
- relation changes don't move the Event's timestamps, except where they change its WhoId or
  WhatId (then LastModifiedDate and SystemModstamp move, no outbound message).
- turning the setting off drops every relation that is not an invitee (the Help page on
  disabling it: related contacts other than the primary are lost); on, every event gets who
  and what relations for its WhoId and WhatId. Real orgs can't turn it off once on.

Leads: a lead can be a WhoId and a RelationId; a converted lead can't: "CANNOT_UPDATE_CONVERTED_
LEAD: cannot reference converted lead" (the error clients quote, e.g. gravityplus/Gravity-
Forms-Salesforce issue #342, mautic/mautic #6560; Salesforce Help article 000384333 says a
converted lead can't be updated either). Conversion creates an Account (Name = Company) and
a Contact, sets IsConverted, ConvertedAccountId/ContactId/Date and the converted status,
and moves the lead's events and relations to the contact (as Salesforce Help describes
conversion; not confirmed by the searches). Duplicate rules don't run during conversion.

Duplicate rules (emulated: one rule "same e-mail" per `add_duplicate_rule`, exact and
case-insensitive match of Email against live Contacts/Leads, converted leads excluded):
- the header: `Sforce-Duplicate-Rule-Header: allowSave=true; includeRecordDetails=true;
  runAsCurrentUser=true`, API 52.0 and later, every field false by default; allowSave
  applies "if an alert is enabled for the action" (https://developer.salesforce.com/docs/
  atlas.en-us.api_rest.meta/api_rest/headers_duplicaterules.htm). So a rule with
  action="allow" (Alert) still refuses an API save without allowSave=true, and a "block"
  rule refuses it whatever the header says.
- the answer: 400 `[{"duplicateResut": {"allowSave", "duplicateRule", "duplicateRuleEntityType",
  "errorMessage", "matchResults": [{"entityType", "errors": [], "matchEngine",
  "matchRecords": [{"additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
  "record": {"attributes": {...}, "Id"}}], "rule", "size", "success": true}]},
  "errorCode": "DUPLICATES_DETECTED", "message"}]` (DuplicateResult and MatchResult pages of
  the API guide for the fields; the JSON as REST clients record it: the key is misspelled
  "duplicateResut" in answers of v50.0, v51.0, v54.0 and v56.0, spelled "duplicateResult"
  in answers of v60.0 and v62.0 (georgebv/aiosalesforce tests; client code handling both).
  Where the spelling changed between 57.0 and 60.0 was not found: the emulator keeps the
  misspelling up to 59.0. Clients should read both keys.) No "fields" key, as recorded.
  An exact-match rule reports matchEngine "ExactMatchEngine" (recorded for custom rules).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .salesforce_common import SfError, id_key, sobject_of_id
from .salesforce_schema import (
    LEAD_CONVERTED_STATUS,
    event_relation_fields,
    event_who_relation_type,
    render,
)

MAX_WHO_CONTACTS = 50
DUPLICATE_HEADER = "Sforce-Duplicate-Rule-Header"
DUPLICATE_HEADER_FROM = 52.0
DUPLICATE_RESULT_SPELLED_FROM = 60.0  # "duplicateResut" before (see the module docstring)
INVITABLE = {"Contact", "Lead", "User", "Calendar"}
WHO_TYPES = {"Contact", "Lead"}


def target_of(record_id: str | None) -> str | None:
    if not record_id:
        return None
    return sobject_of_id(record_id) or ("Calendar" if record_id.startswith("023") else None)


# --- EventRelation -----------------------------------------------------------------------

def is_who(rel: dict[str, Any]) -> bool:
    return bool(rel.get("IsParent")) and not rel.get("IsWhat")


def relations_of(org, event_id: str) -> list[dict[str, Any]]:
    """The live relations of an event, oldest first."""
    return [r for r in org.all("EventRelation") if r["EventId"] == event_id]


def who_relations(org, include_deleted: bool = False) -> list[dict[str, Any]]:
    """EventWhoRelation's rows: EventRelation's who rows, with Type."""
    return [{**r, "Type": sobject_of_id(r["RelationId"])}
            for r in org.all("EventRelation", include_deleted) if is_who(r)]


def relation_defaults(org, rec: dict[str, Any], changes: dict[str, Any]) -> None:
    """IsInvitee's documented defaults, on create with Shared Activities."""
    if org.shared_activities and changes.get("IsParent") and "IsInvitee" not in changes:
        rec["IsInvitee"] = False


def _integrity(message: str, fields: list[str]) -> SfError:
    return SfError(400, "FIELD_INTEGRITY_EXCEPTION", message, fields)


def _check_who_room(others: list[dict[str, Any]], target: str, field_name: str) -> None:
    """Whether `target` (Contact or Lead) may join `others` as a who of one event."""
    kinds = [target_of(r["RelationId"]) for r in others]
    if target == "Lead" and kinds:
        raise _integrity("An event related to a lead can't be related to other contacts or "
                         "leads.", [field_name])
    if target == "Contact" and "Lead" in kinds:
        raise _integrity("An event related to a lead can't be related to other contacts or "
                         "leads.", [field_name])
    if target == "Contact" and kinds.count("Contact") >= MAX_WHO_CONTACTS:
        raise SfError(400, "LIMIT_EXCEEDED",
                      f"You can't relate more than {MAX_WHO_CONTACTS} contacts to an event.",
                      [field_name])


def check_relation(org, rec: dict[str, Any], changes: dict[str, Any],
                   old: dict[str, Any] | None) -> None:
    """An EventRelation save, before it is stored (references are canonical already)."""
    target = target_of(rec["RelationId"])
    siblings = [r for r in relations_of(org, rec["EventId"]) if r["Id"] != rec["Id"]]
    if old is None:
        same = next((r for r in siblings if r["RelationId"] == rec["RelationId"]), None)
        if same is not None:
            raise SfError(400, "DUPLICATE_VALUE", "duplicate value found: RelationId "
                          f"duplicates value on record with id: {same['Id']}", [])
    if not org.shared_activities:
        return
    if rec.get("IsWhat"):
        return  # made from the event's WhatId, IsWhat isn't writable
    if not rec.get("IsParent") and not rec.get("IsInvitee"):
        raise _integrity("An event relation is an invitee (IsInvitee), a related contact or "
                         "lead (IsParent), or both.", ["IsInvitee", "IsParent"])
    if rec.get("IsInvitee") and target not in INVITABLE:
        raise _integrity(f"Relation ID: only users, contacts, leads and resources can be "
                         f"invited: {rec['RelationId']}", ["RelationId"])
    if rec.get("IsParent"):
        if target not in WHO_TYPES:
            raise _integrity(f"Relation ID: only a contact or a lead can be related to an "
                             f"event (IsParent): {rec['RelationId']}", ["IsParent"])
        if old is None or not is_who(old):
            _check_who_room([r for r in siblings if is_who(r)], target, "RelationId")
    rec["AccountId"] = _account_of(org, rec["RelationId"])


def _account_of(org, relation_id: str) -> str | None:
    target = target_of(relation_id)
    if target == "Account":
        return relation_id
    if target == "Contact":
        contact = org.get("Contact", relation_id)
        return contact.get("AccountId") if contact else None
    return None


def after_relation_save(org, rel: dict[str, Any], before: dict[str, Any] | None,
                        actor: str, now: datetime) -> None:
    if not org.shared_activities:
        return
    event = org.get("Event", rel["EventId"])
    if event is None or event["IsDeleted"]:
        return
    if is_who(rel) and event.get("WhoId") is None:
        _set_event(org, event, actor, now, WhoId=rel["RelationId"])
    elif before is not None and is_who(before) and not is_who(rel) \
            and event.get("WhoId") == rel["RelationId"]:
        promote(org, event, actor, now)


def after_relation_delete(org, rel: dict[str, Any], actor: str, now: datetime) -> None:
    if not org.shared_activities:
        return
    event = org.get("Event", rel["EventId"])
    if event is None or event["IsDeleted"]:
        return
    if rel.get("IsWhat") and event.get("WhatId") == rel["RelationId"]:
        _set_event(org, event, actor, now, WhatId=None)
    elif is_who(rel) and event.get("WhoId") == rel["RelationId"]:
        promote(org, event, actor, now)


def promote(org, event: dict[str, Any], actor: str, now: datetime) -> None:
    """The event's WhoId becomes its oldest remaining who relation (or null)."""
    whos = [r for r in relations_of(org, event["Id"]) if is_who(r)]
    _set_event(org, event, actor, now, WhoId=whos[0]["RelationId"] if whos else None)


def _set_event(org, event: dict[str, Any], actor: str, now: datetime, **values: Any) -> None:
    event.update(values, LastModifiedDate=now, SystemModstamp=now, LastModifiedById=actor)
    event["AccountId"] = org._event_account(event)


def _touch(rel: dict[str, Any], actor: str, now: datetime, **values: Any) -> None:
    rel.update(values, LastModifiedDate=now, SystemModstamp=now, LastModifiedById=actor)


def _insert_relation(org, event: dict[str, Any], relation_id: str, actor: str,
                     now: datetime, *, parent: bool, invitee: bool,
                     what: bool = False) -> dict[str, Any]:
    t = org.schema["EventRelation"]
    rel = org._blank(t, actor, now)
    rel.update(EventId=event["Id"], RelationId=relation_id, IsParent=parent, IsInvitee=invitee,
               IsWhat=what, Status="New", AccountId=_account_of(org, relation_id))
    org.records["EventRelation"][id_key(rel["Id"])] = rel
    return rel


def check_event_people(org, rec: dict[str, Any], old: dict[str, Any] | None) -> None:
    """An Event save with Shared Activities: may its (new) WhoId join the event's people?"""
    who, old_who = rec.get("WhoId"), (old or {}).get("WhoId")
    if not org.shared_activities or who is None or who == old_who or old is None:
        return
    others = [r for r in relations_of(org, rec["Id"])
              if is_who(r) and r["RelationId"] not in (who, old_who)]
    _check_who_room(others, target_of(who), "WhoId")


def after_event_save(org, event: dict[str, Any], before: dict[str, Any] | None,
                     actor: str, now: datetime) -> None:
    """Keep the event's who and what relations in step with WhoId and WhatId."""
    if not org.shared_activities:
        return
    rels = {r["RelationId"]: r for r in relations_of(org, event["Id"])}
    who, old_who = event.get("WhoId"), (before or {}).get("WhoId")
    if who != old_who:
        old_rel = rels.get(old_who) if old_who else None
        if old_rel is not None and is_who(old_rel):
            if old_rel.get("IsInvitee"):
                _touch(old_rel, actor, now, IsParent=False)
            else:
                org._delete_tree("EventRelation", old_rel, now, root=old_rel["Id"])
        if who is not None:
            new_rel = rels.get(who)
            if new_rel is None:
                _insert_relation(org, event, who, actor, now, parent=True, invitee=False)
            elif not is_who(new_rel):
                _touch(new_rel, actor, now, IsParent=True)
        elif old_who is not None:
            promote(org, event, actor, now)
    what, old_what = event.get("WhatId"), (before or {}).get("WhatId")
    if what != old_what:
        old_rel = rels.get(old_what) if old_what else None
        if old_rel is not None and old_rel.get("IsWhat"):
            org._delete_tree("EventRelation", old_rel, now, root=old_rel["Id"])
        if what is not None:
            _insert_relation(org, event, what, actor, now, parent=True, invitee=False,
                             what=True)


def repoint_relations(org, old_id: str, new_id_: str, actor: str, now: datetime) -> None:
    """A merge or a lead conversion: old_id's relations become new_id_'s (one per event)."""
    for rel in org.all("EventRelation"):
        if rel["RelationId"] != old_id:
            continue
        existing = next((r for r in relations_of(org, rel["EventId"])
                         if r["RelationId"] == new_id_), None)
        if existing is None:
            _touch(rel, actor, now, RelationId=new_id_, AccountId=_account_of(org, new_id_))
            continue
        if org.shared_activities:
            _touch(existing, actor, now,
                   IsParent=bool(existing.get("IsParent") or rel.get("IsParent")),
                   IsInvitee=bool(existing.get("IsInvitee") or rel.get("IsInvitee")))
        org._delete_tree("EventRelation", rel, now, root=rel["Id"])


def set_shared_activities(org, enabled: bool, actor: str, now: datetime) -> None:
    enabled = bool(enabled)
    if enabled == org.shared_activities:
        return
    org.schema["EventRelation"].fields[:] = event_relation_fields(enabled)
    org.shared_activities = enabled
    records = org.records["EventRelation"]
    if not enabled:
        org.schema.pop("EventWhoRelation", None)
        for key, rel in list(records.items()):
            if rel.get("IsInvitee", True) and not rel.get("IsWhat"):
                for name in ("IsParent", "IsInvitee", "IsWhat", "AccountId"):
                    rel.pop(name, None)
            else:
                del records[key]
        return
    org.schema["EventWhoRelation"] = event_who_relation_type()
    for rel in records.values():
        rel.update(IsInvitee=True, IsParent=False, IsWhat=False,
                   AccountId=_account_of(org, rel["RelationId"]))
    for event in org.all("Event"):
        after_event_save(org, event, None, actor, now)


# --- leads -------------------------------------------------------------------------------

def converted_lead_error(fields: list[str]) -> SfError:
    return SfError(400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead",
                   fields)


def convert_lead(org, lead_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """Database.convertLead without an opportunity: a new Account and Contact."""
    lead = org.live("Lead", lead_id)
    if lead["IsConverted"]:
        raise converted_lead_error([])
    account = org.create("Account", {"Name": lead["Company"]}, actor, now)
    contact = org.create("Contact", {
        "FirstName": lead.get("FirstName"), "LastName": lead["LastName"],
        "Email": lead.get("Email"), "Title": lead.get("Title"), "Phone": lead.get("Phone"),
        "Salutation": lead.get("Salutation"), "AccountId": account["Id"]}, actor, now)
    lead.update(IsConverted=True, ConvertedAccountId=account["Id"],
                ConvertedContactId=contact["Id"], ConvertedDate=now.date(),
                Status=LEAD_CONVERTED_STATUS, LastModifiedDate=now, SystemModstamp=now,
                LastModifiedById=actor)
    for event in org.all("Event"):
        if event.get("WhoId") == lead["Id"]:
            _set_event(org, event, actor, now, WhoId=contact["Id"])
    repoint_relations(org, lead["Id"], contact["Id"], actor, now)
    org.notify("Lead", lead)
    return contact


# --- duplicate rules ---------------------------------------------------------------------

@dataclass
class DuplicateRule:
    name: str
    sobject: str
    action: str  # block | allow (allow = "Allow" with "Alert")
    compare_to: tuple[str, ...]
    message: str
    on_edit: bool = False

    def matching_rule(self, sobject: str) -> str:
        return f"{sobject}_Same_Email_Match"


@dataclass
class DuplicateHeader:
    """The Sforce-Duplicate-Rule-Header of a request (all false when absent)."""
    version: str = "62.0"
    allow_save: bool = False
    include_record_details: bool = False
    run_as_current_user: bool = False
    raw: dict[str, str] = field(default_factory=dict)


def parse_duplicate_header(value: str | None, version: str) -> DuplicateHeader:
    header = DuplicateHeader(version=version)
    if not value or float(version) < DUPLICATE_HEADER_FROM:
        return header
    for part in re.split(r"[;,]", value):
        name, _, raw = part.partition("=")
        name, raw = name.strip().lower(), raw.strip().lower()
        header.raw[name] = raw
        if name == "allowsave":
            header.allow_save = raw == "true"
        elif name == "includerecorddetails":
            header.include_record_details = raw == "true"
        elif name == "runascurrentuser":
            header.run_as_current_user = raw == "true"
    return header


class DuplicatesDetected(SfError):
    def __init__(self, org, rule: DuplicateRule, matches: dict[str, list[dict[str, Any]]],
                 header: DuplicateHeader) -> None:
        super().__init__(400, "DUPLICATES_DETECTED", rule.message)
        self.rule, self.matches, self.header = rule, matches, header
        self.org = org

    def _record(self, sobject: str, rec: dict[str, Any]) -> dict[str, Any]:
        version = self.header.version
        if self.header.include_record_details:
            return render(self.org.schema[sobject], rec, version)
        return {"attributes": {"type": sobject,
                               "url": f"/services/data/v{version}/sobjects/{sobject}/"
                                      f"{rec['Id']}"},
                "Id": rec["Id"]}

    def body(self) -> list[dict[str, Any]]:
        rule = self.rule
        results = [{"entityType": sobject, "errors": [], "matchEngine": "ExactMatchEngine",
                    "matchRecords": [{"additionalInformation": [], "fieldDiffs": [],
                                      "matchConfidence": 100.0,
                                      "record": self._record(sobject, rec)} for rec in recs],
                    "rule": rule.matching_rule(sobject), "size": len(recs), "success": True}
                   for sobject, recs in self.matches.items()]
        key = "duplicateResult" if float(self.header.version) >= DUPLICATE_RESULT_SPELLED_FROM \
            else "duplicateResut"
        return [{key: {"allowSave": rule.action == "allow", "duplicateRule": rule.name,
                       "duplicateRuleEntityType": rule.sobject, "errorMessage": rule.message,
                       "matchResults": results},
                 "errorCode": self.code, "message": self.message}]


def _same_email(org, sobject: str, email: str, self_id: str) -> list[dict[str, Any]]:
    wanted = email.casefold()
    return [r for r in org.all(sobject)
            if r["Id"] != self_id and r.get("Email") and r["Email"].casefold() == wanted
            and not (sobject == "Lead" and r.get("IsConverted"))]


def check_duplicates(org, sobject: str, rec: dict[str, Any], creating: bool,
                     header: DuplicateHeader | None) -> None:
    """The org's duplicate rules on a save; header None: a save that bypasses them."""
    if header is None or not rec.get("Email"):
        return
    for rule in org.duplicate_rules:
        if rule.sobject != sobject or not (creating or rule.on_edit):
            continue
        matches = {other: found for other in rule.compare_to
                   if (found := _same_email(org, other, rec["Email"], rec["Id"]))}
        if not matches or (rule.action == "allow" and header.allow_save):
            continue
        raise DuplicatesDetected(org, rule, matches, header)


def new_rule_name(org, sobject: str) -> str:
    taken = {r.name for r in org.duplicate_rules}
    name, n = f"{sobject}_Same_Email", 1
    while name in taken:
        n += 1
        name = f"{sobject}_Same_Email_{n}"
    return name


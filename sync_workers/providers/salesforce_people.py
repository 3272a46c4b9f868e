"""The people of a Salesforce meeting beyond its contact: Leads (a guest the org knows as a
lead is linked to the lead, not duplicated as a contact) and Shared Activities, where an
Event relates to up to 50 people through EventRelation records (IsParent: a "who" of the
event; the WhoId is one of them). Whether the org has Shared Activities shows in the
EventRelation describe: IsParent exists only when it is on.
"""
from __future__ import annotations

from ..schemas.salesforce import load_salesforce_lead, load_salesforce_relation, salesforce_id18
from ..sync.models import Contact
from .salesforce_api import SalesforceApi
from .salesforce_query import soql_string

LEAD = "Lead"
LEAD_PREFIX = "00Q"
LEAD_COLUMNS = "Id, FirstName, LastName, Email, Company, IsDeleted"
RELATION = "EventRelation"
# Lead.Company is required; a guest's calendar entry says nothing about it, and a guess
# (the mail domain) would be wrong data: Salesforce's own web-to-lead writes this.
UNKNOWN_COMPANY = "[not provided]"


def is_lead(record_id: str) -> bool:
    return record_id.startswith(LEAD_PREFIX)


def find_lead(api: SalesforceApi, email: str) -> Contact | None:
    """The oldest open (not converted) lead with this e-mail."""
    return _first_lead(api, f"SELECT {LEAD_COLUMNS} FROM Lead WHERE Email = "
                            f"{soql_string(email)} AND IsConverted = false "
                            "ORDER BY CreatedDate, Id LIMIT 1")


def get_lead(api: SalesforceApi, lead_id: str) -> Contact | None:
    record_id = salesforce_id18(lead_id, field="lead_id")
    return _first_lead(api, f"SELECT {LEAD_COLUMNS} FROM Lead WHERE Id = "
                            f"{soql_string(record_id)}", include_deleted=True)


def create_lead(api: SalesforceApi, body: dict[str, str]) -> str:
    """A new lead from a contact body (FirstName, LastName, Email); returns its id."""
    created = api.call("POST", f"sobjects/{LEAD}", json={**body, "Company": UNKNOWN_COMPANY})
    return salesforce_id18(created.json()["id"], field="id")


def related_people(api: SalesforceApi, event_id: str) -> dict[str, str]:
    """person id -> relation id, of the event's who relations (its WhoId among them)."""
    rows = api.query(f"SELECT Id, RelationId FROM {RELATION} WHERE EventId = "
                     f"{soql_string(salesforce_id18(event_id, field='event_id'))} "
                     "AND IsParent = true")
    return {person: relation for relation, person in map(load_salesforce_relation, rows)}


def relate(api: SalesforceApi, event_id: str, person_id: str) -> None:
    api.call("POST", f"sobjects/{RELATION}", json={
        "EventId": event_id, "RelationId": person_id, "IsParent": True, "IsInvitee": False})


def relation_refusal(who_id: str | None, person_id: str) -> str | None:
    """Why Salesforce would refuse relating `person_id` to an event whose WhoId is
    `who_id`, or None: an event relates up to 50 contacts, or one lead alone."""
    if who_id and is_lead(who_id):
        return "the meeting's contact is a lead: a lead's meeting relates nobody else"
    if is_lead(person_id):
        return "a lead cannot join a meeting with contacts"
    return None


def shares_activities(describe: dict) -> bool:
    return any(f.get("name") == "IsParent" for f in describe.get("fields") or ())


def _first_lead(api: SalesforceApi, soql: str, *, include_deleted: bool = False
                ) -> Contact | None:
    row = next(api.query(soql, include_deleted=include_deleted), None)
    return None if row is None else load_salesforce_lead(row)

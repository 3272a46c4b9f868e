"""Parse a Salesforce Outbound Message safely (defusedxml: no entities, no DTD tricks)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
MAX_NOTIFICATIONS = 100
_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


class MalformedMessage(ValueError):
    pass


@dataclass(frozen=True)
class Notification:
    notification_id: str
    record_id: str
    sobject_type: str
    fields: dict[str, str]


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str
    notifications: tuple[Notification, ...]


def parse_outbound_message(body: bytes) -> OutboundMessage:
    if not body:
        raise MalformedMessage("empty body")
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedMessage(f"not XML ({type(exc).__name__})") from None
    notifications_el = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if notifications_el is None:
        raise MalformedMessage("no soapenv:Body/notifications element")
    org = _text(notifications_el, "OrganizationId")
    if not _ID.match(org):
        raise MalformedMessage("OrganizationId missing or not a Salesforce id")
    items = notifications_el.findall(f"{{{OUTBOUND_NS}}}Notification")
    if not 1 <= len(items) <= MAX_NOTIFICATIONS:
        raise MalformedMessage(f"expected 1-{MAX_NOTIFICATIONS} notifications, got {len(items)}")
    return OutboundMessage(org, _text(notifications_el, "ActionId"),
                           tuple(_notification(el) for el in items))


def _notification(el) -> Notification:
    notification_id = _text(el, "Id")
    sobject = el.find(f"{{{OUTBOUND_NS}}}sObject")
    if not notification_id or sobject is None:
        raise MalformedMessage("a Notification lacks Id or sObject")
    xsi_type = sobject.get("{http://www.w3.org/2001/XMLSchema-instance}type", "")
    fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in sobject}
    record_id = fields.get("Id", "")
    if not _ID.match(record_id):
        raise MalformedMessage("a Notification's sObject has no valid Id")
    return Notification(notification_id, record_id, xsi_type.split(":")[-1], fields)


def _text(el, name: str) -> str:
    child = el.find(f"{{{OUTBOUND_NS}}}{name}")
    return (child.text or "").strip() if child is not None else ""

"""Salesforce Outbound Messages: SOAP parsed safely (defusedxml: no DTDs, no entities),
then validated by the Outbound Message schema like any other payload."""
from __future__ import annotations

from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from .salesforce import OutboundMessage, load_outbound_message

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


class MalformedMessage(ValueError):
    pass


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """The message, or MalformedMessage (not SOAP) / InvalidInput (wrong content)."""
    return load_outbound_message(outbound_message_dict(body))


def outbound_message_dict(body: bytes) -> dict[str, Any]:
    """The XML as the dict load_outbound_message reads: header fields, then
    Notification: [{Id, sObject: {type, <field>: text...}}]."""
    if not body:
        raise MalformedMessage("empty body")
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise MalformedMessage(f"not XML ({type(exc).__name__})") from None
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise MalformedMessage("no soapenv:Body/notifications element")
    message: dict[str, Any] = {"Notification": []}
    for child in notifications:
        name = _local(child.tag)
        if name == "Notification":
            message["Notification"].append(_notification(child))
        else:
            message[name] = (child.text or "").strip()
    return message


def _notification(element) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for child in element:
        if _local(child.tag) == "sObject":
            item["sObject"] = {"type": child.get(XSI_TYPE, ""),
                               **{_local(f.tag): (f.text or "") for f in child}}
        else:
            item[_local(child.tag)] = (child.text or "").strip()
    return item


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]

"""Outbound Messages: the SOAP notifications a workflow action POSTs on Contact/Event saves.

Saves queue a snapshot per registered action (Org.notify); `flush` sends what a request
queued, up to 100 notifications per message, through the sandbox webhook dispatcher. A
delivery counts as acknowledged only when the endpoint answers 2xx with
`<Ack>true</Ack>`; until then it is re-sent (Salesforce retries for 24 hours, in any order,
and may deliver a message twice: each notification keeps its Id across re-sends).
Null fields are left out of the sObject, as Salesforce does.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from .salesforce_common import fmt_soap_datetime, new_id
from .salesforce_store import Org, OutboundAction

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_VERSION = "62.0"
MAX_PER_MESSAGE = 100
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
_ACK = re.compile(rb"<(?:[\w.-]+:)?Ack>\s*true\s*</(?:[\w.-]+:)?Ack>")

# Notification ids use a key prefix of their own; the ActionId is the workflow action's id.
NOTIFICATION_PREFIX, ACTION_PREFIX = "04l", "04k"


def is_ack(response) -> bool:
    """The endpoint acknowledged: 2xx (checked by the dispatcher) and <Ack>true</Ack>."""
    return bool(_ACK.search(response.content or b""))


def new_action(sobject: str, url: str, fields: list[str] | None, name: str) -> OutboundAction:
    return OutboundAction(new_id(ACTION_PREFIX), sobject, url,
                          tuple(fields) if fields else None, name)


def flush(state, org: Org) -> None:
    """Send every queued notification, grouped per action, 100 per message."""
    pending, org.pending = org.pending, []
    by_action: dict[str, list[dict[str, Any]]] = {}
    actions: dict[str, OutboundAction] = {}
    for action, snapshot in pending:
        by_action.setdefault(action.action_id, []).append(snapshot)
        actions[action.action_id] = action
    origin = state.urls.get("salesforce", "")
    for action_id, snapshots in by_action.items():
        action = actions[action_id]
        for start in range(0, len(snapshots), MAX_PER_MESSAGE):
            body = envelope(org, action, snapshots[start:start + MAX_PER_MESSAGE], origin)
            state.webhooks.send("salesforce", action.url, headers=dict(HEADERS), body=body,
                                retry_until_acked=True, ack=is_ack)


def envelope(org: Org, action: OutboundAction, snapshots: list[dict[str, Any]],
             origin: str) -> bytes:
    org15 = org.org_id[:15]
    notifications = "".join(_notification(org, action, s) for s in snapshots)
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body>"
        f'<notifications xmlns="{OUTBOUND_NS}">'
        f"<OrganizationId>{org.org_id}</OrganizationId>"
        f"<ActionId>{action.action_id}</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"<EnterpriseUrl>{escape(origin)}/services/Soap/c/{SOAP_VERSION}/{org15}</EnterpriseUrl>"
        f"<PartnerUrl>{escape(origin)}/services/Soap/u/{SOAP_VERSION}/{org15}</PartnerUrl>"
        f"{notifications}"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    )
    return xml.encode("utf-8")


def _notification(org: Org, action: OutboundAction, snapshot: dict[str, Any]) -> str:
    t = org.schema[action.sobject]
    wanted = {"Id", *(action.fields or [f.name for f in t.fields])}
    parts = [f"<sf:{f.name}>{escape(_soap_value(snapshot[f.name]))}</sf:{f.name}>"
             for f in t.fields if f.name in wanted and snapshot.get(f.name) is not None]
    return (f"<Notification><Id>{new_id(NOTIFICATION_PREFIX)}</Id>"
            f'<sObject xsi:type="sf:{t.name}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"{''.join(parts)}</sObject></Notification>")


def _soap_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return fmt_soap_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)

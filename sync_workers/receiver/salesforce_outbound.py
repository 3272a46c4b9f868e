"""Salesforce Outbound Messages: a SOAP POST to a per-endpoint secret URL.

Verified by the secret in the URL (compared as a hash, in constant time) and by the
OrganizationId in the body. Parsed with defusedxml (no entities, no external loads).
Answered with the SOAP Ack; Salesforce re-sends until it gets one.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, request

from ..reliability.errors import InvalidInput
from ..schemas.soap import MalformedMessage, parse_outbound_message
from ..store import endpoints
from .errors import error_response
from .intake import BrokerUnavailable

salesforce_outbound = Blueprint("salesforce_outbound", __name__)

ACK = ('<?xml version="1.0" encoding="UTF-8"?>'
       '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
       '<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
       '<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>')


@salesforce_outbound.post("/webhooks/salesforce/<int:endpoint_id>/<secret>")
def receive(endpoint_id: int, secret: str):
    endpoint = endpoints.get_webhook_endpoint(endpoint_id)
    if endpoint is None or not endpoints.matches(secret, endpoint.secret_hash):
        return error_response(403, "unknown endpoint or wrong secret")
    body = request.get_data(cache=False)
    try:
        message = parse_outbound_message(body)
    except (MalformedMessage, InvalidInput) as exc:
        return error_response(400, f"malformed outbound message: {exc}")
    if message.organization_id[:15] != (endpoint.organization_id or "")[:15]:
        return error_response(403, "organization id does not match this endpoint")
    ids = sorted(n.record_id for n in message.notifications)
    delivery = hashlib.sha256(("\n".join(n.notification_id for n in message.notifications))
                              .encode()).hexdigest()
    # The records it names, never the body: its SessionId is a live Salesforce session,
    # and the parser, not a guess, has read whatever encoding the XML declared.
    event = {"provider": "salesforce", "kind": "records_changed",
             "account_id": endpoint.account_id, "endpoint_id": endpoint_id,
             "organization_id": message.organization_id, "action_id": message.action_id,
             "records": [{"id": n.record_id, "type": n.object_type}
                         for n in message.notifications]}
    try:
        current_app.extensions["sync_intake"].accept(
            f"salesforce:{endpoint_id}:{delivery}", event,
            summary=f"salesforce endpoint {endpoint_id}: {len(ids)} record(s) {ids[:5]}")
    except BrokerUnavailable as exc:
        return error_response(503, str(exc))
    return Response(ACK, status=200, content_type="text/xml; charset=utf-8")

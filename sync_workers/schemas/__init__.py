"""Inbound payloads validated (marshmallow) and turned into sync models; times to UTC.

Every `load_*` raises `InvalidInput` naming the field and what was expected.
"""
from .google import (
                     GoogleEventsPage,
                     GoogleNotification,
                     Rejected,
                     load_google_event,
                     load_google_events_page,
                     load_google_push_headers,
)
from .salesforce import (
                     ApiUsage,
                     OutboundMessage,
                     OutboundNotification,
                     load_outbound_message,
                     load_salesforce_contact,
                     load_salesforce_event,
                     load_sforce_limit_info,
                     salesforce_id18,
)

__all__ = [
    "ApiUsage", "GoogleEventsPage", "GoogleNotification", "OutboundMessage",
    "OutboundNotification", "Rejected", "load_google_event", "load_google_events_page",
    "load_google_push_headers", "load_outbound_message", "load_salesforce_contact",
    "load_salesforce_event", "load_sforce_limit_info", "salesforce_id18",
]

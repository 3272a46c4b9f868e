"""Deterministic calendar event ids, so that creating an event twice is harmless (invariant 3).

Google accepts a client-chosen id of base32hex characters (a-v, 0-9), 5 to 1024 long; a
second insert with the same id gets 409 instead of a duplicate.
"""
from __future__ import annotations

import base64
import hashlib


def calendar_event_id_for_crm(crm_event_id: str, *, namespace: str = "salesforce") -> str:
    """52 base32hex characters from sha256(namespace, id): stable across processes and
    releases, collision-safe, and the namespace keeps CRMs whose ids could coincide
    apart. Pass Salesforce ids in their 18-character form (15- and 18-character ids of the
    same record would otherwise give two events)."""
    if not crm_event_id:
        raise ValueError("a CRM event id is needed")
    digest = hashlib.sha256(f"{namespace}\x00{crm_event_id}".encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").rstrip("=").lower()

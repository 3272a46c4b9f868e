"""The pure core: models, field ownership, canonical views, plan(), fingerprints, ids.

No I/O, no Celery, no HTTP: standard library only.
"""
from .apply import apply_calendar_patch
from .contact_block import (
                            ContactCard,
                            parse_contact_block,
                            parse_contact_cards,
                            render_contact_block,
                            replace_contact_block,
)
from .fields import (
                            CALENDAR_KEYS,
                            CANONICAL_FIELDS,
                            CONTACT_FIELDS,
                            CRM_KEYS,
                            EVENT_FIELDS,
                            SPAN_FIELDS,
                            normalize,
)
from .fingerprint import fingerprint
from .ids import calendar_event_id_for_crm
from .models import Appointment, Attendee, Contact, CrmActivity, CrmSide, Link, TimeSpan
from .ownership import DEFAULT_OWNERSHIP, Ownership
from .plan import Plan, plan
from .views import activity_view, calendar_view, contact_view, crm_view

__all__ = [
    "CALENDAR_KEYS", "CANONICAL_FIELDS", "CONTACT_FIELDS", "CRM_KEYS", "DEFAULT_OWNERSHIP",
    "EVENT_FIELDS", "SPAN_FIELDS", "Appointment", "Attendee", "Contact", "ContactCard",
    "CrmActivity", "CrmSide", "Link", "Ownership", "Plan", "TimeSpan", "activity_view",
    "apply_calendar_patch", "calendar_event_id_for_crm", "calendar_view", "contact_view",
    "crm_view", "fingerprint", "normalize", "parse_contact_block",
    "parse_contact_cards", "plan",
    "render_contact_block", "replace_contact_block",
]

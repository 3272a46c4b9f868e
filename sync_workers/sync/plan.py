"""plan(): what to write on each side so that both show the same appointment. Pure.

The plan is computed from the current state of both sides and the link alone (invariant
1); a second plan over the result of the first is a no-op (invariant 2). Patches use
canonical field names (`fields.CANONICAL_FIELDS`) plus the key names `CALENDAR_KEYS` /
`CRM_KEYS`; a value of None means "clear it".

Applying a plan: write the CRM side first. A CRM create returns the new record id, which
the calendar must carry: continue with `plan.after_crm_create(new_id)`. Then store the
link with `dataclasses.replace(link, **plan.link_patch)` plus the versions (etag,
SystemModstamp) the writes returned.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping

from .fields import (
    CALENDAR_KEYS,
    CANONICAL_FIELDS,
    CONTACT_FIELDS,
    EVENT_FIELDS,
    SPAN_FIELDS,
    normalize,
)
from .fingerprint import fingerprint
from .models import Appointment, CrmActivity, CrmSide, Link
from .ownership import DEFAULT_OWNERSHIP, Ownership
from .views import activity_view, calendar_view, contact_view, people_view

Action = Literal["none", "create", "update", "delete"]
OnCalendarDelete = Literal["cancel", "delete"]


@dataclass(frozen=True)
class Plan:
    """calendar_action: none|create|update; crm_action: none|create|update|delete.
    A cancel is an update whose patch sets status "canceled". `link_patch` holds the link
    fields that change once the writes succeed."""

    calendar_action: Action = "none"
    calendar_patch: Mapping[str, Any] = field(default_factory=dict)
    crm_action: Action = "none"
    crm_patch: Mapping[str, Any] = field(default_factory=dict)
    link_patch: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_noop(self) -> bool:
        return self.calendar_action == "none" and self.crm_action == "none" \
            and not self.link_patch

    def keys_only_on_calendar(self) -> Plan:
        """This plan for a copy of a meeting that someone else organizes: only its own
        private keys may be written there (the meeting's fields are the organizer's)."""
        if self.calendar_action != "update":
            return self
        patch = {k: v for k, v in self.calendar_patch.items() if k in CALENDAR_KEYS}
        return replace(self, calendar_patch=patch,
                       calendar_action="update" if patch else "none")

    def for_occurrence(self, link: Link) -> Plan:
        """This plan for an occurrence of a recurring meeting: only the meeting's own fields
        are written there, no keys (the link holds them), no contact block and no attendee
        replaced for a contact's new e-mail, since any write to one occurrence makes it an
        exception that no longer follows its series' edits; a CRM user's change to a field
        the CRM owns still reaches that occurrence. The contact's address on the calendar
        stays the one it was found by."""
        link_patch = self.link_patch
        if link.last_contact_email is not None:
            link_patch = {k: v for k, v in link_patch.items() if k != "last_contact_email"}
        patch = {k: v for k, v in self.calendar_patch.items() if k in EVENT_FIELDS}
        action = self.calendar_action
        if action == "update" and not patch:
            action = "none"
        return replace(self, calendar_patch=patch if action != "none" else {},
                       calendar_action=action, link_patch=link_patch)

    def after_crm_create(self, crm_event_id: str) -> Plan:
        """This plan once the CRM create returned `crm_event_id`: the calendar carries it."""
        if self.crm_action != "create":
            raise ValueError("only a plan that creates the CRM activity learns its id")
        return replace(
            self,
            calendar_action="update" if self.calendar_action == "none" else self.calendar_action,
            calendar_patch={**self.calendar_patch, "crm_event_id": crm_event_id},
            link_patch={**self.link_patch, "crm_event_id": crm_event_id},
        )


def plan(link: Link, calendar_side: Appointment | None, crm_side: CrmSide,
         ownership: Ownership = DEFAULT_OWNERSHIP, *,
         on_calendar_delete: OnCalendarDelete = "cancel",
         crm_max_lengths: Mapping[str, int] | None = None) -> Plan:
    """The minimal writes that converge both sides.

    calendar_side None: the event is gone (or not created yet, if the link never saw it).
    crm_max_lengths: the CRM's length limit per canonical text field (from the describe,
    see `mapping.max_lengths`); the owner's value is compared as the CRM can hold it, so a
    truncated title counts as converged instead of being rewritten forever.
    """
    if on_calendar_delete not in ("cancel", "delete"):
        raise ValueError(f"on_calendar_delete must be 'cancel' or 'delete', "
                         f"not {on_calendar_delete!r}")
    _check_contact(link, crm_side)
    activity = crm_side.activity
    fit = _Fitter(crm_max_lengths or {})
    if calendar_side is None and link.calendar_fingerprint is None:
        # Never-seen calendar event: the CRM activity came first; create the event for a
        # scheduled activity of an active link, otherwise wait.
        if activity is None or activity.status != "scheduled" or link.status != "active":
            return Plan()
        return _converge(link, None, crm_side, ownership, fit)
    if calendar_side is None or not calendar_side.is_live:
        # Calendar event cancelled or deleted: cancel or delete the CRM activity (flag).
        return _calendar_gone(link, crm_side, on_calendar_delete)
    if activity is None and link.status != "active":
        # CRM activity deleted once the link had ended: it stays deleted.
        return Plan()
    # Both sides live (a deleted CRM activity is re-created: the calendar owns the event);
    # each field's owner's value overwrites the other side's.
    return _converge(link, calendar_side, crm_side, ownership, fit)


def _check_contact(link: Link, crm_side: CrmSide) -> None:
    contact = crm_side.contact
    if crm_side.activity is None and contact is not None and contact.id != link.crm_contact_id:
        raise ValueError(f"without an activity the contact must be the link's "
                         f"({link.crm_contact_id}), not {contact.id}")


class _Fitter:
    """A value as the CRM can hold it: text cut to the CRM's length, then normalised."""

    def __init__(self, max_lengths: Mapping[str, int]) -> None:
        self._max_lengths = max_lengths

    def __call__(self, name: str, value: Any) -> Any:
        limit = self._max_lengths.get(name)
        if limit is None or not isinstance(value, str):
            return value
        return normalize(name, value[:limit])


def _calendar_gone(link: Link, crm_side: CrmSide, on_calendar_delete: OnCalendarDelete) -> Plan:
    activity = crm_side.activity
    if on_calendar_delete == "delete":
        return Plan(crm_action="delete" if activity else "none",
                    link_patch=_changes(link, status="deleted"))
    if activity is None:
        return Plan(link_patch=_changes(link, status="canceled"))
    after = {**activity_view(activity), **contact_view(crm_side.contact),
             **people_view(crm_side.others), "status": "canceled"}
    patch = {"status": "canceled"} if activity.status != "canceled" else {}
    return Plan(crm_action="update" if patch else "none", crm_patch=patch,
                link_patch=_changes(link, status="canceled", crm_fingerprint=fingerprint(after)))


def _converge(link: Link, appointment: Appointment | None, crm_side: CrmSide,
              ownership: Ownership, fit: _Fitter) -> Plan:
    """Each field takes its owner's value, or the only value there is when one side is
    about to be created. Exactly one of the two records may be missing here."""
    activity, contact = crm_side.activity, crm_side.contact
    # Merged contact: crm_side.contact is the one who_id names now, so the link follows it.
    # Deleted contact: no contact; its block leaves the calendar and the link goes on.
    contact_id = contact.id if contact is not None and not contact.deleted else None
    calendar = calendar_view(appointment) if appointment else None
    crm = {**(activity_view(activity) if activity else {}), **contact_view(contact),
           **people_view(crm_side.others)}

    def desired(name: str) -> Any:
        if ownership.owner(name) == "calendar":
            return (calendar or crm)[name]  # a calendar event to create takes the CRM's
        # A CRM-owned value is what the CRM can hold, also when seeded from the calendar.
        return fit(name, crm[name] if name in crm else calendar[name])

    target = {name: desired(name) for name in CANONICAL_FIELDS}
    crm_holds = EVENT_FIELDS + (CONTACT_FIELDS if contact_id else ())
    crm_after = {**crm, **{name: fit(name, target[name]) for name in crm_holds}}

    calendar_patch = _diff(calendar or {}, target, CANONICAL_FIELDS)
    calendar_patch.update(_calendar_keys(appointment, activity, contact_id))
    crm_patch = _diff(crm, crm_after, crm_holds)
    crm_patch.update(_crm_keys(link, activity, contact_id))

    return Plan(
        calendar_action=_action(appointment, calendar_patch),
        calendar_patch=calendar_patch,
        crm_action=_action(activity, crm_patch),
        crm_patch=crm_patch,
        link_patch=_changes(
            link,
            status="canceled" if target["status"] == "canceled" else "active",
            crm_event_id=activity.id if activity else link.crm_event_id,
            crm_contact_id=contact_id,
            calendar_fingerprint=fingerprint(target),
            crm_fingerprint=fingerprint(crm_after),
            last_contact_email=target["contact_email"],
        ),
    )


def _diff(current: Mapping[str, Any], wanted: Mapping[str, Any], names: tuple[str, ...]
          ) -> dict[str, Any]:
    patch = {name: wanted[name] for name in names
             if name not in current or current[name] != wanted[name]}
    if any(name in patch for name in SPAN_FIELDS):
        patch.update({name: wanted[name] for name in SPAN_FIELDS})
    return patch


def _calendar_keys(appointment: Appointment | None, activity: CrmActivity | None,
                   contact_id: str | None) -> dict[str, str | None]:
    # The id of a CRM activity still to be created comes later: Plan.after_crm_create.
    wanted = {"crm_contact_id": contact_id}
    if activity is not None:
        wanted["crm_event_id"] = activity.id
    refs = appointment.crm_refs if appointment else {}
    return {key: value for key, value in wanted.items()
            if refs.get(key) != value and (appointment or value is not None)}


def _crm_keys(link: Link, activity: CrmActivity | None, contact_id: str | None
              ) -> dict[str, str]:
    # WhoId belongs to the CRM after the create (that is how a merge is followed); the
    # external id is restored if someone cleared it, or upserts would duplicate.
    if activity is None:
        keys = {"calendar_event_id": link.calendar_event_id, "contact_id": contact_id}
        return {key: value for key, value in keys.items() if value is not None}
    if activity.external_id != link.calendar_event_id:
        return {"calendar_event_id": link.calendar_event_id}
    return {}


def _action(record: object | None, patch: Mapping[str, Any]) -> Action:
    if record is None:
        return "create"
    return "update" if patch else "none"


def _changes(link: Link, **values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if getattr(link, name) != value}

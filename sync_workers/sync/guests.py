"""Who is a guest of a meeting: the one question that decides whether an event is a
booking and whom it is with. Pure.

A guest is an attendee who is not the calendar's owner, not a resource (room, equipment),
has an e-mail, is not internal, and has not declined. The owner is known by the
provider's own flag (Google `self`, Graph `isOrganizer` on the organizer's copy), and by
the owner's addresses where the flag is missing. Internal means the owner's e-mail domain
or one of SYNC_INTERNAL_DOMAINS: colleagues and group addresses are not customers. A
public mail domain (gmail.com, ...) is never internal by the owner's address alone: a rep
on gmail.com still books clients on gmail.com.

A guest who declined is not coming: the event is not a booking because of them, and they
are not linked to it; their answer may change, and the next reconcile sees it.
"""
from __future__ import annotations

from dataclasses import dataclass

from .models import Appointment, Attendee

PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "web.de", "yandex.com", "mail.com",
})


def _address(email: str | None) -> str:
    return (email or "").strip().lower()


def _domain(email: str) -> str:
    return email.rpartition("@")[2]


@dataclass(frozen=True)
class CalendarOwner:
    """Whose calendar a copy of an event sits in."""

    emails: frozenset[str] = frozenset()
    internal_domains: frozenset[str] = frozenset()

    @classmethod
    def of(cls, emails, internal_domains=()) -> "CalendarOwner":
        addresses = frozenset(a for a in (_address(e) for e in emails) if "@" in a)
        own = {_domain(a) for a in addresses} - PUBLIC_MAIL_DOMAINS
        extra = {d.strip().lower().lstrip("@") for d in internal_domains if d.strip()}
        return cls(addresses, frozenset(own | extra))

    def is_owner(self, attendee: Attendee) -> bool:
        return attendee.is_self or _address(attendee.email) in self.emails

    def is_internal(self, email: str) -> bool:
        domain = _domain(_address(email))
        return any(domain == d or domain.endswith("." + d) for d in self.internal_domains)

    def is_guest(self, attendee: Attendee) -> bool:
        email = _address(attendee.email)
        return bool(email) and "@" in email and not attendee.resource \
            and not self.is_owner(attendee) and not self.is_internal(email) \
            and attendee.response != "declined"


def guests(appointment: Appointment, owner: CalendarOwner) -> tuple[Attendee, ...]:
    """The event's guests, in the attendee list's order, each address once."""
    seen: set[str] = set()
    found = []
    for attendee in appointment.attendees:
        email = _address(attendee.email)
        if owner.is_guest(attendee) and email not in seen:
            seen.add(email)
            found.append(attendee)
    return tuple(found)


def has_left(appointment: Appointment | None, owner: CalendarOwner) -> bool:
    """The calendar's owner declined their copy of the meeting, or it is gone from their
    calendar altogether: their decision about their copy, not about the meeting."""
    if appointment is None:
        return True
    return any(owner.is_owner(a) and a.response == "declined" for a in appointment.attendees)

"""Pairing a rep's calendar with their CRM: which CRM account its bookings go to, and which
CRM user the calendar belongs to (found by the owner's e-mail among the CRM's active users,
or named by the operator). A CRM meeting reaches only its owner's calendar, and meetings
the sync creates in the CRM belong to that user."""
from __future__ import annotations

from dataclasses import dataclass

from ..providers.base import CrmUser
from ..providers.registry import crm_for, is_calendar, is_crm
from ..store import links
from .adapters import account


class PairingRefused(Exception):
    """The pair cannot be made; the message says what to do."""


@dataclass(frozen=True)
class Pairing:
    calendar_provider: str
    crm_provider: str
    crm_user: CrmUser
    replaced_crm_account: int | None  # the CRM account paired before, if another


def pair(calendar_account_id: int, crm_account_id: int,
         crm_user_id: str | None = None) -> Pairing:
    calendar, crm_account = account(calendar_account_id), account(crm_account_id)
    if not is_calendar(calendar.provider):
        raise PairingRefused(f"account {calendar_account_id} is a {calendar.provider} "
                             f"account, not a calendar")
    if not is_crm(crm_account.provider):
        raise PairingRefused(f"account {crm_account_id} is a {crm_account.provider} "
                             f"account, not a CRM")
    crm = crm_for(crm_account)
    missing = [f for f in crm.setup_findings() if f.required and not f.ready]
    if missing:
        raise PairingRefused(f"{crm_account.provider} account {crm_account_id} is not ready: "
                             + "; ".join(f"{f.piece}: {f.fix}" for f in missing)
                             + f" (sync-workers crm check {crm_account_id})")
    user = _named_user(crm, crm_user_id) if crm_user_id else _user_by_email(
        crm, calendar.owner_emails, calendar_account_id, crm_account.provider)
    taken = links.calendar_of_crm_user(crm_account_id, user.id)
    if taken not in (None, calendar_account_id):
        raise PairingRefused(f"{crm_account.provider} user {user.id} is paired with calendar "
                             f"account {taken} already; a rep's meetings go to one calendar")
    before = links.crm_account_for(calendar_account_id)
    links.pair(calendar_account_id, crm_account_id, user.id)
    return Pairing(calendar.provider, crm_account.provider, user,
                   before if before not in (None, crm_account_id) else None)


def _named_user(crm, user_id: str) -> CrmUser:
    user = crm.get_user(user_id)
    if user is None or not user.active:
        raise PairingRefused(f"{crm.provider} has no active user {user_id}")
    return user


def _user_by_email(crm, emails: tuple[str, ...], calendar_account_id: int,
                   provider: str) -> CrmUser:
    if not emails:
        raise PairingRefused(f"calendar account {calendar_account_id} has no owner e-mail on "
                             f"record (connected before it was kept): reconnect it, or name "
                             f"the rep with --crm-user")
    for email in emails:
        found = crm.find_users_by_email(email)
        if found:
            return found[0]
    raise PairingRefused(f"no active {provider} user has the e-mail {', '.join(emails)} of "
                         f"calendar account {calendar_account_id}: name the rep with "
                         f"--crm-user (their {provider} user id)")

"""The adapters of an account, by id: read the account, hand it to the provider registry."""
from __future__ import annotations

from ..providers.base import CalendarProvider, CrmProvider
from ..providers.registry import calendar_for, crm_for
from ..reliability.errors import Permanent
from ..store import accounts
from ..store.records import Account


def account(account_id: int) -> Account:
    found = accounts.get_account(account_id)
    if found is None:
        raise Permanent(f"account {account_id} does not exist")
    return found


def calendar_of(account_id: int) -> CalendarProvider:
    return calendar_for(account(account_id))


def crm_of(account_id: int) -> CrmProvider:
    return crm_for(account(account_id))

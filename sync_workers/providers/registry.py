"""Which adapter serves an account: a name-keyed registry that fails loudly on unknown names.

It takes an account value (anything with `id` and `provider`, such as store's `Account`);
reading the account is the caller's business, so adapters never touch the database.
"""
from __future__ import annotations

from importlib import import_module
from typing import Protocol

from ..reliability.errors import Permanent
from .base import CalendarProvider, CrmProvider

CALENDARS = {"google": "sync_workers.providers.google_calendar:GoogleCalendar"}
CRMS = {"salesforce": "sync_workers.providers.salesforce:Salesforce"}


class AccountRef(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def provider(self) -> str: ...


def _load(table: dict[str, str], provider: str, kind: str):
    try:
        module, name = table[provider].split(":")
    except KeyError:
        raise Permanent(f"no {kind} adapter for provider {provider!r}; known: "
                        f"{sorted(table)}") from None
    return getattr(import_module(module), name)


def calendar_for(account: AccountRef) -> CalendarProvider:
    return _build(_load(CALENDARS, account.provider, "calendar"), account.id)


def crm_for(account: AccountRef) -> CrmProvider:
    return _build(_load(CRMS, account.provider, "CRM"), account.id)


def _build(adapter_class, account_id: int):
    """An adapter may keep per-account state across calls (`for_account`)."""
    return getattr(adapter_class, "for_account", adapter_class)(account_id)


def is_calendar(provider: str) -> bool:
    return provider in CALENDARS


def is_crm(provider: str) -> bool:
    return provider in CRMS

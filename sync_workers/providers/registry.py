"""Which adapter serves an account: a name-keyed registry that fails loudly on unknown names."""
from __future__ import annotations

from importlib import import_module

from ..reliability.errors import Permanent
from ..store import accounts
from .base import CalendarProvider, CrmProvider

CALENDARS = {"google": "sync_workers.providers.google_calendar:GoogleCalendar"}
CRMS = {"salesforce": "sync_workers.providers.salesforce:Salesforce"}


def _load(table: dict[str, str], provider: str, kind: str):
    try:
        module, name = table[provider].split(":")
    except KeyError:
        raise Permanent(f"no {kind} adapter for provider {provider!r}; known: "
                        f"{sorted(table)}") from None
    return getattr(import_module(module), name)


def provider_of(account_id: int) -> str:
    account = accounts.get(account_id)
    if account is None:
        raise Permanent(f"account {account_id} does not exist")
    return account["provider"]


def calendar_for(account_id: int) -> CalendarProvider:
    return _build(_load(CALENDARS, provider_of(account_id), "calendar"), account_id)


def crm_for(account_id: int) -> CrmProvider:
    return _build(_load(CRMS, provider_of(account_id), "CRM"), account_id)


def _build(adapter_class, account_id: int):
    """An adapter may keep per-account state across calls (`for_account`)."""
    return getattr(adapter_class, "for_account", adapter_class)(account_id)


def is_calendar(provider: str) -> bool:
    return provider in CALENDARS


def is_crm(provider: str) -> bool:
    return provider in CRMS

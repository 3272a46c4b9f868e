"""The poller: the safety net that catches whatever webhooks lost.

Beat runs `poll_all_accounts` every slot (beat_schedule.py); each account is due in one
slot of the hour, picked by a stable hash, so the hour's polls are spread evenly.
"""
from __future__ import annotations

import zlib
from dataclasses import asdict
from datetime import datetime, timezone

from celery import shared_task

from beat_schedule import POLL_SLOT_SECONDS, POLL_SLOTS

from .. import dispatch
from ..config import get_settings
from ..engine import changes
from ..engine.sweep import sweep
from ..store import accounts
from ..store import series as series_store
from .base import ReliableTask
from .dead_letters import dead_letter_rejected_crm_record, dead_letter_rejected_event


def slot_of(account_id: int) -> int:
    return zlib.crc32(str(account_id).encode()) % POLL_SLOTS


def current_slot(now: datetime | None = None) -> int:
    now = now or datetime.now(timezone.utc)
    return int(now.timestamp() // POLL_SLOT_SECONDS) % POLL_SLOTS


@shared_task(base=ReliableTask, bind=True, name=dispatch.POLL_ALL_ACCOUNTS.name)
def poll_all_accounts(self, all_now: bool = False) -> int:
    """Fan out one poll_account per due account and resource (all of them if `all_now`)."""
    slot = current_slot()
    sent = 0
    for account in accounts.list_all(status="active"):
        if not all_now and slot_of(account.id) != slot:
            continue
        for resource in changes.resources_of(account.provider):
            dispatch.send(dispatch.POLL_ACCOUNT, {"account_id": account.id, "resource": resource},
                          expires=POLL_SLOT_SECONDS)
            sent += 1
    return sent


@shared_task(base=ReliableTask, bind=True, name=dispatch.POLL_ACCOUNT.name)
def poll_account(self, account_id: int, resource: str) -> dict:
    rejected = dead_letter_rejected_event if resource == changes.CALENDAR_RESOURCE \
        else dead_letter_rejected_crm_record
    summary = changes.poll(account_id, resource, on_rejected=rejected, owner=self.request.id)
    return {"listed": summary.listed, "queued": summary.queued,
            "full_resync": summary.full_resync, "coalesced": summary.coalesced}


@shared_task(base=ReliableTask, bind=True, name=dispatch.SWEEP_INTENT.name)
def sweep_intent(self) -> dict:
    """Beat, every minute: queue again what was recorded but lost (engine/sweep.py)."""
    return asdict(sweep(get_settings().intent_sweep_after))


@shared_task(base=ReliableTask, bind=True, name=dispatch.EXTEND_HORIZONS.name)
def extend_horizons(self) -> int:
    """Beat, daily: one extend_horizon per calendar that has recurring series."""
    accounts_with_series = series_store.accounts_with_series()
    for account_id in accounts_with_series:
        dispatch.send(dispatch.EXTEND_HORIZON, {"account_id": account_id})
    return len(accounts_with_series)


@shared_task(base=ReliableTask, bind=True, name=dispatch.EXTEND_HORIZON.name)
def extend_horizon(self, account_id: int) -> int:
    return changes.extend_horizon(account_id)

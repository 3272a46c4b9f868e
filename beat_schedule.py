"""The periodic schedule, read by the single Celery Beat (see docs/operations.md).

Polling is hourly per account, spread over the hour: `poll_all_accounts` runs every
`POLL_SLOT_SECONDS` and fans out only the accounts whose slot (a stable hash of the account
id) is due, so each account is polled once an hour and the load is even. This replaces a
fan-out with countdowns of up to an hour: such long countdowns sit unacked in worker memory
and outlive the broker's visibility timeout (see CELERY.md).

Once a day the horizon job links the occurrences of recurring series that came into the
sync horizon (engine/series.py). The intent sweeper runs every minute: it re-enqueues
reconciles whose intent is recorded in PostgreSQL but whose message was lost
(engine/sweep.py).

Every entry has `expires` so that runs queued while no worker is up do not pile up.
"""
from __future__ import annotations

from typing import Any

from sync_workers.dispatch import (
    EXTEND_HORIZONS,
    POLL_ALL_ACCOUNTS,
    RENEW_PUSH_CHANNELS,
    SWEEP_INTENT,
)

POLL_INTERVAL_SECONDS = 3600
POLL_SLOT_SECONDS = 300
POLL_SLOTS = POLL_INTERVAL_SECONDS // POLL_SLOT_SECONDS
RENEW_CHANNELS_SECONDS = 3 * 3600
SWEEP_INTENT_SECONDS = 60
EXTEND_HORIZONS_SECONDS = 24 * 3600


def beat_schedule(settings: Any = None) -> dict[str, dict[str, Any]]:
    return {
        "poll-accounts": {
            "task": POLL_ALL_ACCOUNTS.name,
            "schedule": float(POLL_SLOT_SECONDS),
            "options": {"expires": POLL_SLOT_SECONDS - 10},
        },
        "renew-push-channels": {
            "task": RENEW_PUSH_CHANNELS.name,
            "schedule": float(RENEW_CHANNELS_SECONDS),
            "options": {"expires": RENEW_CHANNELS_SECONDS // 2},
        },
        "extend-horizons": {
            "task": EXTEND_HORIZONS.name,
            "schedule": float(EXTEND_HORIZONS_SECONDS),
            "options": {"expires": EXTEND_HORIZONS_SECONDS // 2},
        },
        "sweep-intent": {
            "task": SWEEP_INTENT.name,
            "schedule": float(SWEEP_INTENT_SECONDS),
            "options": {"expires": SWEEP_INTENT_SECONDS - 5},
        },
    }

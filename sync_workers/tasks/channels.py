"""Push channel upkeep, run by Beat."""
from __future__ import annotations

from celery import shared_task

from .. import dispatch
from ..engine.channels import open_channel, renew_expiring
from ..store import endpoints
from .base import ReliableTask


@shared_task(base=ReliableTask, bind=True, name=dispatch.RENEW_PUSH_CHANNELS.name)
def renew_push_channels(self) -> int:
    return renew_expiring()


@shared_task(base=ReliableTask, bind=True, name=dispatch.OPEN_PUSH_CHANNEL.name)
def open_push_channel(self, account_id: int) -> str | None:
    """On connect; a redelivered message does not open a second channel."""
    if endpoints.active_channels(account_id):
        return None
    return open_channel(account_id)

"""Push channel upkeep, run by Beat."""
from __future__ import annotations

from celery import shared_task

from ..engine.channels import renew_expiring
from .base import ReliableTask


@shared_task(base=ReliableTask, bind=True, name="sync.renew_push_channels")
def renew_push_channels(self) -> int:
    return renew_expiring()

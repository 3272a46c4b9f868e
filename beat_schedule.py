"""The periodic schedule, read by the single Celery Beat (see docs/operations.md).

Every entry has `expires` so that runs queued while no worker is up do not pile up.
"""
from __future__ import annotations

from typing import Any


def beat_schedule(settings: Any = None) -> dict[str, dict[str, Any]]:
    return {}

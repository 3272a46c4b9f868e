"""Hand a verified delivery to the workers: dedupe on a delivery key, enqueue, or say 503.

A delivery is marked seen only once it is queued: if the broker cannot take it, the mark
is removed and the provider is told to retry (503), so a lost publish never turns into a
silently skipped event.
"""
from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery

from .. import dispatch
from ..counters import count_event

log = logging.getLogger(__name__)
DEDUPE_SECONDS = 24 * 3600  # Salesforce retries Outbound Messages for up to 24 hours


class BrokerUnavailable(Exception):
    """Redis or the broker did not take the event; the provider must retry."""


class Intake:
    def __init__(self, celery_app: Celery, redis_client: redis.Redis,
                 dedupe_seconds: int = DEDUPE_SECONDS) -> None:
        self.celery = celery_app
        self.redis = redis_client
        self.dedupe_seconds = dedupe_seconds

    def accept(self, delivery_key: str, event: dict[str, Any], summary: str) -> bool:
        """Queue `event` for ingest_event. False when this delivery was queued before."""
        key = f"sync:delivery:{delivery_key}"
        try:
            first = self.redis.set(key, "1", nx=True, ex=self.dedupe_seconds)
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"dedupe store unavailable: {type(exc).__name__}") from exc
        if not first:
            count_event(event.get("provider", "unknown"), "duplicate")
            return False
        try:
            # kwargsrepr keeps Flower and logs readable: ids, not the raw body.
            dispatch.send(dispatch.INGEST_EVENT, {"event": event}, app=self.celery,
                          kwargsrepr=summary, retry=False)
        except Exception as exc:  # noqa: BLE001 (any publish failure means: not queued)
            self._forget(key)
            raise BrokerUnavailable(f"broker unavailable: {type(exc).__name__}") from exc
        count_event(event.get("provider", "unknown"), "queued")
        return True

    def _forget(self, key: str) -> None:
        try:
            self.redis.delete(key)
        except redis.RedisError:
            log.warning("could not clear delivery mark after a failed publish",
                        extra={"delivery_key": key})

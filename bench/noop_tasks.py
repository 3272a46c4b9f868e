"""The baseline task, loaded by the benchmark's workers (`celery worker -I bench.noop_tasks`):
the same base class, queue and broker round trip as a reconcile, and no work."""
from __future__ import annotations

from celery import shared_task

from sync_workers.reliability.locks import redis_client
from sync_workers.tasks.base import ReliableTask

DONE_KEY = "bench:noop:done"


@shared_task(base=ReliableTask, bind=True, name="bench.noop")
def noop(self) -> None:
    redis_client().incr(DONE_KEY)  # no result backend: the bench counts completions here

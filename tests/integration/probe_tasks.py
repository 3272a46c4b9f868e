"""Tasks that only the test workers load (`celery worker -I tests.integration.probe_tasks`).

They exercise the real base task, retry policy and dead-letter hook with controllable
failures; the production code has no test-only tasks.
"""
from __future__ import annotations

import logging
import os
import signal
import time

from celery import shared_task

from sync_workers.logging import register_secret
from sync_workers.reliability.errors import Permanent, Transient
from sync_workers.reliability.http import ProviderHttp
from sync_workers.reliability.locks import redis_client
from sync_workers.tasks.base import ReliableTask

log = logging.getLogger("tests.probe")


def _count(marker: str) -> int:
    return redis_client().incr(f"probe:runs:{marker}")


@shared_task(base=ReliableTask, bind=True, name="probe.always_transient")
def always_transient(self, marker: str, account_id: int | None = None):
    _count(marker)
    raise Transient(f"probe {marker} fails transiently")


@shared_task(base=ReliableTask, bind=True, name="probe.permanent")
def permanent(self, marker: str):
    _count(marker)
    raise Permanent(f"probe {marker} fails permanently")


@shared_task(base=ReliableTask, bind=True, name="probe.fails_until_allowed")
def fails_until_allowed(self, marker: str):
    _count(marker)
    if not redis_client().get(f"probe:allow:{marker}"):
        raise Permanent(f"probe {marker} not allowed yet")
    redis_client().set(f"probe:done:{marker}", self.request.id)


@shared_task(base=ReliableTask, bind=True, name="probe.block")
def block(self, marker: str, timeout: float = 30):
    """Record this run's pid, then wait until the test releases the marker."""
    client = redis_client()
    client.rpush(f"probe:pids:{marker}", os.getpid())
    deadline = time.monotonic() + timeout
    while not client.get(f"probe:release:{marker}"):
        if time.monotonic() > deadline:
            raise Permanent("probe block was never released")
        time.sleep(0.05)
    client.set(f"probe:done:{marker}", self.request.id)


@shared_task(base=ReliableTask, bind=True, name="probe.call_provider")
def call_provider(self, url: str, marker: str):
    log.info("probe calling provider", extra={"marker": marker})
    ProviderHttp("google").request("GET", url)
    log_only.delay(marker)


@shared_task(base=ReliableTask, bind=True, name="probe.log_only")
def log_only(self, marker: str):
    log.info("probe sub-task ran", extra={"marker": marker})
    redis_client().set(f"probe:done:{marker}", self.request.id)


@shared_task(base=ReliableTask, bind=True, name="probe.log_secret")
def log_secret(self, token: str, marker: str):
    """Logs a token the way careless code would; the redaction filter must catch it.

    The auth code registers every token it handles (as done here), so even free text that
    matches no pattern is scrubbed.
    """
    register_secret(token)
    log.info(f"refreshing with Authorization: Bearer {token}")
    log.info("token response", extra={"access_token": token, "body": f"refresh_token={token}"})
    try:
        raise RuntimeError(f"provider said: invalid token {token}")
    except RuntimeError:
        log.exception("call failed")
    redis_client().set(f"probe:done:{marker}", "1")


@shared_task(base=ReliableTask, bind=True, name="probe.tick")
def tick(self, marker: str):
    redis_client().rpush(f"probe:ticks:{marker}", time.time())


@shared_task(base=ReliableTask, bind=True, name="probe.needs_token")
def needs_token(self, marker: str, account_id: int, env: dict[str, str]):
    """Asks for the account's token as an adapter would. `env` holds the sandbox's SYNC_*
    URLs, so whichever test worker takes the task talks to the test's sandbox."""
    from sync_workers.auth import get_valid_token
    from sync_workers.config import load_settings

    _count(marker)
    get_valid_token(account_id, load_settings({**os.environ, **env}))
    redis_client().set(f"probe:done:{marker}", self.request.id)


class _DiesAfterFirstUpsert:
    """The real CRM adapter, except that the first `upsert_activity` of `marker` kills its
    own pool process as soon as the CRM has the Event: the write is made, the link row not
    updated. Everything else is delegated untouched."""

    def __init__(self, crm, marker: str) -> None:
        self._crm, self._marker = crm, marker

    def __getattr__(self, name: str):
        return getattr(self._crm, name)

    def upsert_activity(self, external_id, values):
        activity = self._crm.upsert_activity(external_id, values)
        if redis_client().set(f"probe:killed:{self._marker}", os.getpid(), nx=True):
            os.kill(os.getpid(), signal.SIGKILL)
        return activity


@shared_task(base=ReliableTask, bind=True, name="probe.reconcile_dying_after_crm_write")
def reconcile_dying_after_crm_write(self, link_id: int, marker: str):
    """reconcile(link_id) with the real adapters; its first run dies between the CRM write
    and the link update, and the message comes back (reject_on_worker_lost)."""
    from sync_workers.engine.adapters import crm_of
    from sync_workers.engine.reconcile import reconcile
    from sync_workers.store import links

    _count(marker)
    crm = _DiesAfterFirstUpsert(crm_of(links.get(link_id).crm_account_id), marker)
    outcome = reconcile(link_id, crm=crm, task_id=self.request.id)
    redis_client().set(f"probe:done:{marker}", outcome.result)


@shared_task(base=ReliableTask, bind=True, name="probe.transient_at_gate")
def transient_at_gate(self, marker: str, gate: str, timeout: float = 30):
    """The first run waits until the test opens the gate (a file), then fails transiently;
    a later run succeeds."""
    runs = _count(marker)
    deadline = time.monotonic() + timeout
    while runs == 1 and not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise Permanent("probe gate was never opened")
        time.sleep(0.05)
    if runs == 1:
        raise Transient(f"probe {marker} fails once, at the gate")
    redis_client().set(f"probe:done:{marker}", self.request.id)

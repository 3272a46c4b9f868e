"""Prometheus counters of what the receiver and the workers did, and the helpers that count.

Counters and histograms are counted where things happen (the receiver, ProviderHttp,
ReliableTask, reconcile, the token refresh) through the `count_*` helpers below, which
never raise: a metric must not fail the work it describes. This module is a leaf: it
imports nothing of ours but the task names. Serving them, and the gauges read at scrape
time, is metrics.py.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from .dispatch import RECONCILE_TASKS

log = logging.getLogger(__name__)

# Our counters live in a registry of their own: a process that merely imports this module
# (Flower loads the tasks) does not export empty sync_* families from its default registry.
SYNC_METRICS = CollectorRegistry()
EVENT_OUTCOMES = ("queued", "duplicate", "rejected_4xx", "unavailable_503", "error_5xx")
RECONCILE_OUTCOMES = ("converged", "written", "waiting", "retried", "dead_lettered", "parked")
REFRESH_OUTCOMES = ("ok", "revoked", "transient")

EVENTS_RECEIVED = Counter(
    "sync_events_received_total",
    "Webhook deliveries received, by provider and outcome (queued, duplicate, "
    "rejected_4xx, unavailable_503, error_5xx).", ["provider", "outcome"],
    registry=SYNC_METRICS)
RECONCILES = Counter(
    "sync_reconciles_total",
    "Reconcile runs by outcome: converged (nothing to write), written, waiting (nothing to "
    "do yet), retried, dead_lettered, parked (account needs re-authorisation).", ["outcome"],
    registry=SYNC_METRICS)
PROVIDER_CALLS = Counter(
    "sync_provider_calls_total",
    "HTTP calls to provider APIs by provider and HTTP status ('error': no answer).",
    ["provider", "status"], registry=SYNC_METRICS)
PROVIDER_CALL_SECONDS = Histogram(
    "sync_provider_call_duration_seconds", "Duration of HTTP calls to provider APIs.",
    ["provider"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=SYNC_METRICS)
TASK_RETRIES = Counter(
    "sync_task_retries_total", "Task retries scheduled, by task and error type.",
    ["task", "error_type"], registry=SYNC_METRICS)
RATE_LIMIT_WAITS = Histogram(
    "sync_rate_limit_wait_seconds",
    "Waits a provider's rate limit imposed on a task (_count: waits, _sum: seconds).",
    ["provider"], buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900), registry=SYNC_METRICS)
TASKS_DEAD_LETTERED = Counter(
    "sync_tasks_dead_lettered_total", "Tasks that failed for good, by task and error type.",
    ["task", "error_type"], registry=SYNC_METRICS)
TOKEN_REFRESHES = Counter(
    "sync_token_refreshes_total",
    "OAuth token refreshes by provider and outcome (ok, revoked, transient).",
    ["provider", "outcome"], registry=SYNC_METRICS)
_COUNTED = (EVENTS_RECEIVED, RECONCILES, PROVIDER_CALLS, PROVIDER_CALL_SECONDS, TASK_RETRIES,
            RATE_LIMIT_WAITS, TASKS_DEAD_LETTERED, TOKEN_REFRESHES)


def _never_raises(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 (a metric must not fail the work it counts)
            log.debug("metric not counted", exc_info=True)
            return None
    return wrapper


# --- counting, called from the code that does the work --------------------------------------


@_never_raises
def count_event(provider: str, outcome: str) -> None:
    EVENTS_RECEIVED.labels(provider, outcome).inc()


def zero_event_series(provider: str) -> None:
    """Export every outcome of `provider` from the start (at 0), so rate() sees the first."""
    for outcome in EVENT_OUTCOMES:
        EVENTS_RECEIVED.labels(provider, outcome)


def count_reconcile(outcome):
    """Count an engine.reconcile Outcome by its result; returns it (used inline)."""
    _count_reconcile_result(outcome.result)
    return outcome


@_never_raises
def _count_reconcile_result(result: str) -> None:
    RECONCILES.labels(result).inc()


@_never_raises
def count_provider_call(provider: str, status: int | None, seconds: float) -> None:
    PROVIDER_CALLS.labels(provider, str(status) if status else "error").inc()
    PROVIDER_CALL_SECONDS.labels(provider).observe(seconds)


@_never_raises
def count_retry(task_name: str, error_type: str, countdown: float, *,
                rate_limited_by: str | None = None) -> None:
    """`rate_limited_by`: the provider whose rate limit imposed the wait, if one did."""
    TASK_RETRIES.labels(task_name, error_type).inc()
    if rate_limited_by is not None:
        RATE_LIMIT_WAITS.labels(rate_limited_by).observe(countdown)
    if task_name in RECONCILE_TASKS:
        RECONCILES.labels("retried").inc()


@_never_raises
def count_dead_letter(task_name: str, error_type: str) -> None:
    TASKS_DEAD_LETTERED.labels(task_name, error_type).inc()
    if task_name in RECONCILE_TASKS:
        RECONCILES.labels("dead_lettered").inc()


@_never_raises
def count_parked(task_name: str) -> None:
    if task_name in RECONCILE_TASKS:
        RECONCILES.labels("parked").inc()


@_never_raises
def count_token_refresh(provider: str, outcome: str) -> None:
    TOKEN_REFRESHES.labels(provider, outcome).inc()

"""Prometheus metrics: what the receiver and the workers did, and the state of the fleet.

Counters and histograms are counted where things happen (the receiver, ProviderHttp,
ReliableTask, reconcile, the token refresh) through the `count_*` helpers below, which
never raise: a metric must not fail the work it describes.

Gauges of shared state (queue lengths, open dead letters, parked accounts, cursor ages) are
read at scrape time by `FleetCollector`, so they cost nothing between scrapes and are
right whichever process serves them. The receiver's /metrics includes them; the workers'
endpoint does not (N worker hosts would export N copies of the same figures).

Workers count in several processes (the prefork pool), so they use prometheus-client's
multiprocess mode: each process writes its values to files in PROMETHEUS_MULTIPROC_DIR and
the main process's HTTP server (SYNC_METRICS_PORT) adds them up at scrape time.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Histogram, generate_latest, start_http_server)
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Our counters live in a registry of their own: a process that merely imports this module
# (Flower loads the tasks) does not export empty sync_* families from its default registry.
SYNC_METRICS = CollectorRegistry()
QUEUES = ("events", "reconcile", "poll", "dlq")  # as in celery_app.QUEUES (not imported: cycle)
# Tasks that run engine.reconcile: their retries, dead letters and parking are reconciles'.
RECONCILE_TASKS = frozenset({"sync.reconcile_link", "sync.reconcile_calendar_event"})
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
def count_retry(task_name: str, exc: BaseException, countdown: float) -> None:
    from .reliability.errors import RateLimited

    TASK_RETRIES.labels(task_name, type(exc).__name__).inc()
    if isinstance(exc, RateLimited):
        RATE_LIMIT_WAITS.labels(getattr(exc, "provider", None) or "unknown").observe(countdown)
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


# --- scrape-time gauges -----------------------------------------------------------------


def queue_depths() -> dict[str, int] | None:
    """Messages waiting per queue in the broker (None: the broker is not Redis).

    Kombu keeps a Redis queue as one list per priority step ("reconcile", and
    "reconcile\\x06\\x163" ... for priorities 3, 6, 9); the depth is their sum.
    """
    from .config import get_settings
    from .reliability.locks import redis_client

    url = get_settings().broker_url
    if not url.startswith(("redis://", "rediss://")):
        return None
    suffixes = ("", "\x06\x163", "\x06\x166", "\x06\x169")
    pipe = redis_client(url).pipeline(transaction=False)
    for queue in QUEUES:
        for suffix in suffixes:
            pipe.llen(queue + suffix)
    lengths = pipe.execute()
    step = len(suffixes)
    return {queue: sum(lengths[i * step:(i + 1) * step]) for i, queue in enumerate(QUEUES)}


def _database_figures(database_url: str | None = None) -> dict[str, Any]:
    """One short transaction; a slow database must not hold the scrape."""
    from .store.db import cursor

    with cursor(database_url) as cur:
        cur.execute("SET LOCAL statement_timeout = '2s'")
        cur.execute("""SELECT (SELECT count(*) FROM dead_letters WHERE status = 'open')
                                  AS open_dead_letters,
                              (SELECT count(*) FROM accounts WHERE status = 'reauth_required')
                                  AS parked_accounts""")
        figures = dict(cur.fetchone())
        cur.execute("""SELECT account_id, resource,
                              extract(epoch FROM now() - updated_at)::float AS age_seconds
                       FROM sync_cursors ORDER BY account_id, resource""")
        figures["cursor_ages"] = cur.fetchall()
    return figures


class FleetCollector:
    """Gauges read from Redis and PostgreSQL at scrape time. An outage of either leaves its
    gauges out and sets sync_metrics_source_up{source=...} to 0; /metrics still answers."""

    def __init__(self, database_url: str | None = None) -> None:
        self.database_url = database_url  # None: the configured database

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily("sync_metrics_source_up",
                               "1 if the source of the scrape-time gauges answered.",
                               labels=["source"])
        depths = self._read("redis", queue_depths, up)
        if depths is not None:
            gauge = GaugeMetricFamily("sync_queue_length",
                                      "Messages waiting in a broker queue.", labels=["queue"])
            for queue, depth in depths.items():
                gauge.add_metric([queue], depth)
            yield gauge
        figures = self._read("postgres", lambda: _database_figures(self.database_url), up)
        if figures is not None:
            yield GaugeMetricFamily("sync_dead_letters_open", "Dead letters not yet replayed "
                                    "or discarded.", value=figures["open_dead_letters"])
            yield GaugeMetricFamily("sync_parked_accounts", "Accounts that need "
                                    "re-authorisation (status reauth_required).",
                                    value=figures["parked_accounts"])
            ages = GaugeMetricFamily("sync_cursor_age_seconds", "Seconds since an account's "
                                     "change listing last moved its cursor.",
                                     labels=["account_id", "resource"])
            for row in figures["cursor_ages"]:
                ages.add_metric([str(row["account_id"]), row["resource"]], row["age_seconds"])
            yield ages
        yield up

    @staticmethod
    def _read(source: str, read: Callable[[], Any], up: GaugeMetricFamily) -> Any:
        try:
            value = read()
        except Exception as exc:  # noqa: BLE001 (report the outage, keep serving)
            log.warning("metrics source unavailable", extra={"source": source,
                                                             "error_type": type(exc).__name__})
            up.add_metric([source], 0)
            return None
        if value is not None:
            up.add_metric([source], 1)
        return value


class _DefaultRegistry:
    """The default registry of this process: its process, GC and platform metrics."""

    def collect(self):
        return REGISTRY.collect()


def receiver_registry(database_url: str | None = None) -> CollectorRegistry:
    """What the receiver's /metrics serves: its own counters (added up over the gunicorn
    workers when PROMETHEUS_MULTIPROC_DIR is set) and the scrape-time gauges."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_DefaultRegistry())
        registry.register(SYNC_METRICS)
    registry.register(FleetCollector(database_url))
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST


# --- the worker's endpoint ----------------------------------------------------------------


def start_worker_server(nodename: str, port: int, addr: str = "0.0.0.0") -> Any:
    """Serve the counters of this worker's main and pool processes on `port`.

    Runs in the worker's main process before the pool forks. Failing to bind (another
    worker on this host has the port) costs the metrics, never the worker.
    """
    registry = CollectorRegistry()
    try:
        server, _thread = start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        log.warning("worker metrics server not started", extra={"port": port,
                                                                "reason": str(exc)})
        return None
    configured = os.environ.get(MULTIPROC_ENV)
    safe_name = re.sub(r"[^A-Za-z0-9_.@-]", "_", nodename)
    directory = Path(configured or Path(tempfile.gettempdir()) / "sync-workers-metrics" / safe_name)
    directory.mkdir(parents=True, exist_ok=True)
    _use_multiprocess_dir(directory, made_here=not configured)
    MultiProcessCollector(registry, path=str(directory))
    log.info("worker metrics server started", extra={"port": server.server_port,
                                                     "metrics_dir": str(directory)})
    return server


_default_dir: Path | None = None  # made by this worker (no PROMETHEUS_MULTIPROC_DIR given)


def stop_worker_metrics() -> None:
    """At worker shutdown, after the pool: a directory this worker made goes with it (test
    runs start many workers); a configured one is the operator's, cleaned at next start."""
    if _default_dir is not None:
        shutil.rmtree(_default_dir, ignore_errors=True)


def _use_multiprocess_dir(directory: Path, made_here: bool) -> None:
    """Empty `directory` of earlier runs' files and make every process of this worker
    write its values there. One directory per worker: each cleans it at start.
    """
    global _default_dir
    own = f"_{os.getpid()}.db"
    for stale in directory.glob("*.db"):
        if not stale.name.endswith(own):
            stale.unlink(missing_ok=True)
    if made_here:
        _default_dir = directory
        # prometheus-client picks its value class when first imported; switching now is
        # safe because every metric here has labels and makes its values on first use
        # (any made before are dropped first). The pool processes inherit the variable.
        for metric in _COUNTED:
            metric.clear()
        os.environ[MULTIPROC_ENV] = str(directory)
        prometheus_values.ValueClass = prometheus_values.get_value_class()
    for outcome in RECONCILE_OUTCOMES:  # present at 0 from the start, so rate() works
        RECONCILES.labels(outcome)

"""Serving the metrics: the receiver's /metrics and the worker's endpoint, and the gauges of
shared state read at scrape time.

Gauges of shared state (queue lengths, open dead letters, parked accounts, cursor ages) are
read at scrape time by `FleetCollector` from the fleet read model (store/fleet.py), so
they cost nothing between scrapes and are right whichever process serves them. The
receiver's /metrics includes them; the workers' endpoint does not (N worker hosts would
export N copies of the same figures). The counters themselves are counters.py.

Workers count in several processes (the prefork pool), so they use prometheus-client's
multiprocess mode: each process writes its values to files in PROMETHEUS_MULTIPROC_DIR and
the main process's HTTP server (SYNC_METRICS_PORT) adds them up at scrape time.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .counters import _COUNTED, RECONCILE_OUTCOMES, RECONCILES, SYNC_METRICS
from .store import fleet

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


# --- scrape-time gauges -----------------------------------------------------------------


class FleetCollector:
    """Gauges read from Redis and PostgreSQL at scrape time. An outage of either leaves its
    gauges out and sets sync_metrics_source_up{source=...} to 0; /metrics still answers."""

    def __init__(self, database_url: str | None = None) -> None:
        self.database_url = database_url  # None: the configured database

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily("sync_metrics_source_up",
                               "1 if the source of the scrape-time gauges answered.",
                               labels=["source"])
        depths = self._read("redis", fleet.queue_depths, up)
        if depths is not None:
            gauge = GaugeMetricFamily("sync_queue_length",
                                      "Messages waiting in a broker queue.", labels=["queue"])
            for queue, depth in depths.items():
                gauge.add_metric([queue], depth)
            yield gauge
        state = self._read("postgres", lambda: fleet.read_fleet(self.database_url), up)
        if state is not None:
            yield GaugeMetricFamily("sync_dead_letters_open", "Dead letters not yet replayed "
                                    "or discarded.", value=state.open_dead_letters)
            yield GaugeMetricFamily("sync_parked_accounts", "Accounts that need "
                                    "re-authorisation (status reauth_required).",
                                    value=state.parked_accounts)
            ages = GaugeMetricFamily("sync_cursor_age_seconds", "Seconds since an account's "
                                     "change listing last moved its cursor.",
                                     labels=["account_id", "resource"])
            for row in state.cursors:
                ages.add_metric([str(row.account_id), row.resource], row.age_seconds)
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

"""Thin Celery tasks. Each takes ids, re-reads state, and raises only our error types."""
from . import channels, dead_letters, ingest, poll, reconcile  # noqa: F401 (registers the tasks)

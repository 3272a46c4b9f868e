"""Thin Celery tasks. Each takes ids, re-reads state, and raises only our error types."""
from . import dead_letters  # noqa: F401 (registers the tasks)

"""WSGI entry point for gunicorn: `gunicorn sync_workers.receiver.wsgi:app`.

The receiver process's wiring: it loads the Celery app that the receiver publishes through.
"""
from .. import celery_app  # noqa: F401 (binds the publisher: dispatch.send)
from ..config import get_settings
from ..logging import configure_logging
from .app import create_app

configure_logging(get_settings().log_level, fmt=get_settings().log_format)
app = create_app()

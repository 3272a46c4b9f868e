"""WSGI entry point for gunicorn: `gunicorn sync_workers.receiver.wsgi:app`."""
from ..config import get_settings
from ..logging import configure_logging
from .app import create_app

configure_logging(get_settings().log_level, fmt=get_settings().log_format)
app = create_app()

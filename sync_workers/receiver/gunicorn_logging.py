"""gunicorn's own lines (the master's start, workers booting, signals) as JSON like every
other line the receiver writes: `gunicorn --logger-class
sync_workers.receiver.gunicorn_logging.JsonLogger ...`. No access log: the receiver logs
each request itself, with its route pattern (a raw path may hold an endpoint's secret)."""
from __future__ import annotations

from gunicorn.glogging import Logger

from ..config import get_settings
from ..logging import configure_logging


class JsonLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        settings = get_settings()
        configure_logging(settings.log_level, fmt=settings.log_format)
        for log in (self.error_log, self.access_log):
            log.handlers[:] = []  # through the root's JSON handler
            log.propagate = True

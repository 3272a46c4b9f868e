"""Celery signal wiring: JSON logs, request ids across tasks, the dead-letter hook, and the
worker's metrics endpoint."""
from __future__ import annotations

import logging

from celery import signals

from . import logging as sync_logging
from .config import get_settings
from .metrics import start_worker_server, stop_worker_metrics
from .store.db import close_pools
from .tasks.dead_letters import publish_dead_letter

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = "x_request_id"
# ids a task's kwargs may carry; bound into the log context while it runs
_KWARG_IDS = ("account_id", "link_id", "source_event_id", "target_record_id")


@signals.celeryd_init.connect
@signals.setup_logging.connect
def _setup_logging(**_):
    # celeryd_init too: Celery checks privileges (a SecurityWarning when run as root)
    # before it sets up logging, and that warning must be a JSON record as well.
    settings = get_settings()
    sync_logging.configure_logging(settings.log_level, fmt=settings.log_format)


@signals.before_task_publish.connect
def _stamp_request_id(headers=None, **_):
    """Every message published while handling a request or a task carries its request id."""
    if headers is not None and not headers.get(REQUEST_ID_HEADER):
        headers[REQUEST_ID_HEADER] = sync_logging.request_id() or sync_logging.new_request_id()


@signals.task_prerun.connect
def _bind_task_context(task_id=None, task=None, kwargs=None, **_):
    kwargs = kwargs or {}
    ids = {name: kwargs.get(name) for name in _KWARG_IDS}
    ids.update(request_id=task.request.get(REQUEST_ID_HEADER) or sync_logging.new_request_id(),
               task_id=task_id, task_name=task.name)
    task.request._sync_log_token = sync_logging.set_context(ids)


@signals.task_postrun.connect
def _unbind_task_context(task=None, **_):
    token = getattr(task.request, "_sync_log_token", None)
    if token is not None:
        sync_logging.reset_context(token)


@signals.worker_init.connect
def _start_metrics_server(sender=None, **_):
    # The main process, before the pool forks: the server adds up every pool process.
    port = get_settings().metrics_port
    if port:
        start_worker_server(getattr(sender, "hostname", None) or "worker", port)


@signals.worker_ready.connect
def _shutdown_said_in_json(sender=None, **_):
    # Celery prints "worker: Warm shutdown (MainProcess)" straight to stdout on SIGTERM;
    # its handler re-installed without that line, the shutdown is logged below instead.
    from celery.apps.worker import install_worker_term_handler
    install_worker_term_handler(sender, verbose=False)


@signals.worker_shutting_down.connect
def _say_shutting_down(sig=None, how=None, exitcode=None, **_):
    log.info("worker shutting down", extra={"signal": sig, "how": how, "exitcode": exitcode})


@signals.worker_shutdown.connect
def _stop_metrics(**_):
    if get_settings().metrics_port:
        stop_worker_metrics()


@signals.worker_process_init.connect
def _fresh_process(**_):
    # A forked child must not reuse the parent's sockets.
    close_pools()


@signals.task_failure.connect
def _dead_letter(sender=None, task_id=None, exception=None, args=None, kwargs=None,
                 einfo=None, **_):
    publish_dead_letter(sender, task_id, exception, args, kwargs, einfo)

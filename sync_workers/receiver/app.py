"""Flask app factory shared by gunicorn, tests and the demo."""
from __future__ import annotations

import logging
from typing import Any, Iterable

from flask import Blueprint, Flask, g, request

from .. import dispatch
from ..config import get_settings
from ..logging import new_request_id, reset_context, set_context
from ..reliability.locks import redis_client
from .channel_cache import ChannelCache
from .errors import register_error_handlers
from .google_push import google_push
from .health import health
from .intake import Intake
from .metrics_route import install_metrics
from .oauth import oauth_connect
from .salesforce_outbound import salesforce_outbound

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-Request-ID"


def create_app(test_config: dict[str, Any] | None = None,
               blueprints: Iterable[Blueprint] = (), intake: Intake | None = None) -> Flask:
    """The receiver. Tests may pass their own `intake` (e.g. a broker they can stop)."""
    settings = get_settings()
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=settings.receiver_max_body, JSON_SORT_KEYS=False)
    app.config.update(test_config or {})
    app.extensions["sync_intake"] = intake or _default_intake()
    app.extensions["sync_channels"] = ChannelCache()
    register_error_handlers(app)
    for blueprint in (health, google_push, salesforce_outbound, oauth_connect, *blueprints):
        app.register_blueprint(blueprint)
    install_metrics(app)
    _install_request_ids(app)
    return app


def _default_intake() -> Intake:
    # The app the process's wiring bound (receiver/wsgi.py for gunicorn).
    return Intake(dispatch.publisher(), redis_client())


def _install_request_ids(app: Flask) -> None:
    @app.before_request
    def _take_request_id():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        # Accept a caller's id only when it is a sane token; never log arbitrary input as id.
        rid = incoming if 8 <= len(incoming) <= 128 and incoming.replace("-", "").isalnum() \
            else new_request_id()
        g.request_id = rid
        g.log_token = set_context({"request_id": rid})

    @app.after_request
    def _echo_request_id(resp):
        resp.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        if request.endpoint not in ("health.healthz", "health.readyz", "metrics.scrape"):
            # The route pattern, not the path: webhook paths carry endpoint secrets.
            route = request.url_rule.rule if request.url_rule else "(no route)"
            log.info("request", extra={"method": request.method, "route": route,
                                       "status": resp.status_code})
        return resp

    @app.teardown_request
    def _reset(_exc):
        token = g.pop("log_token", None)
        if token is not None:
            reset_context(token)



"""/metrics for Prometheus, and counting the webhook deliveries the receiver refused.

Accepted deliveries are counted by the intake (queued or duplicate); a refusal can happen
anywhere before that (a bad signature, a malformed body, a store outage), so it is counted
here from the answer's status.
"""
from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request

from ..counters import count_event, zero_event_series
from ..metrics import exposition, receiver_registry

metrics = Blueprint("metrics", __name__)
# Blueprint of a webhook route -> provider label.
WEBHOOK_PROVIDERS = {"google_push": "google", "salesforce_outbound": "salesforce"}


@metrics.get("/metrics")
def scrape():
    body, content_type = exposition(current_app.extensions["sync_metrics_registry"])
    return Response(body, content_type=content_type)


def install_metrics(app: Flask) -> None:
    app.extensions["sync_metrics_registry"] = receiver_registry()
    app.register_blueprint(metrics)
    for provider in WEBHOOK_PROVIDERS.values():
        zero_event_series(provider)

    @app.after_request
    def _count_refusals(resp):
        provider = WEBHOOK_PROVIDERS.get(request.blueprint or "")
        if provider is not None and resp.status_code >= 400:
            count_event(provider, _refusal(resp.status_code))
        return resp


def _refusal(status: int) -> str:
    if status < 500:
        return "rejected_4xx"
    return "unavailable_503" if status == 503 else "error_5xx"

"""The control API under /_sandbox/: for tests and the demo, never for the service."""
from __future__ import annotations

from typing import Any, Callable

from flask import Flask, jsonify, request

from .core import FaultRule, Latency, SandboxState
from .webhooks import DeliveryFaults


def control_route(app: Flask, base: str, name_prefix: str, api_error: type[Exception]
                  ) -> Callable[[str, list[str]], Callable]:
    """A decorator registering a provider's control routes under `base`: the provider's own
    API error answers as the API would (its `body()` and `status`), a bad control request
    is a 400."""
    def route(rule: str, methods: list[str]):
        def wrap(fn):
            def view(**kwargs):
                try:
                    return fn(**kwargs)
                except api_error as exc:
                    return jsonify(exc.body()), exc.status
                except (ValueError, KeyError, TypeError) as exc:
                    return jsonify(error=str(exc)), 400
            app.add_url_rule(base + rule, f"{name_prefix}_{fn.__name__}", view,
                             methods=methods)
            return fn
        return wrap
    return route


def json_body() -> dict[str, Any]:
    """The control request's JSON object ({} when there is none)."""
    return request.get_json(force=True, silent=True) or {}


def register(app: Flask, state: SandboxState) -> None:
    @app.post("/_sandbox/reset")
    def reset():
        state.reset()
        return jsonify(ok=True)

    @app.get("/_sandbox/clock")
    def clock():
        return jsonify(now=state.clock.time())

    @app.post("/_sandbox/clock/advance")
    def advance():
        state.clock.advance(float(request.get_json(force=True)["seconds"]))
        return jsonify(now=state.clock.time())

    @app.get("/_sandbox/requests")
    def requests_log():
        a = request.args
        return jsonify(state.log.entries(a.get("provider"), a.get("method"), a.get("path")))

    @app.delete("/_sandbox/requests")
    def clear_requests():
        state.log.clear()
        return jsonify(ok=True)

    @app.post("/_sandbox/faults")
    def add_fault():
        state.faults.add(FaultRule(**request.get_json(force=True)))
        return jsonify(ok=True)

    @app.post("/_sandbox/faults/rate")
    def fault_rate():
        body = request.get_json(force=True)
        state.faults.set_rate(float(body["rate"]), int(body.get("seed", 0)), body.get("provider"))
        return jsonify(ok=True)

    @app.delete("/_sandbox/faults")
    def clear_faults():
        state.faults.clear()
        return jsonify(ok=True)

    @app.post("/_sandbox/latency")
    def latency():
        body = request.get_json(force=True)
        state.set_latency(body["provider"], Latency(float(body.get("seconds", 0)),
                                                    float(body.get("jitter", 0))))
        return jsonify(ok=True)

    @app.post("/_sandbox/webhooks/faults")
    def webhook_faults():
        state.webhooks.set_faults(DeliveryFaults(**request.get_json(force=True)))
        return jsonify(ok=True)

    @app.get("/_sandbox/webhooks")
    def webhook_log():
        return jsonify([
            {"provider": d.provider, "url": d.url, "headers": d.headers,
             "attempts": d.attempts, "outcomes": d.outcomes}
            for d in list(state.webhooks.deliveries)
        ])

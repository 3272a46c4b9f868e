"""The control API under /_sandbox/: for tests and the demo, never for the service."""
from __future__ import annotations

from flask import Flask, jsonify, request

from .core import FaultRule, Latency, SandboxState
from .webhooks import DeliveryFaults


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

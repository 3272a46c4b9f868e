"""/healthz: the process answers. /readyz: Redis, PostgreSQL and migrations are in place."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..store.migrate import pending

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    return jsonify(status="ok")


@health.get("/readyz")
def readyz():
    checks = {"redis": _check_redis(), "postgres": _check_postgres()}
    ready = all(v == "ok" for v in checks.values())
    resp = jsonify(status="ready" if ready else "not ready", checks=checks)
    resp.status_code = 200 if ready else 503
    return resp


def _check_redis() -> str:
    """The Redis this receiver dedupes and enqueues through."""
    try:
        current_app.extensions["sync_intake"].redis.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001 (report any failure as not ready)
        return f"unreachable: {type(exc).__name__}"


def _check_postgres() -> str:
    try:
        missing = pending()
    except Exception as exc:  # noqa: BLE001
        return f"unreachable: {type(exc).__name__}"
    return "ok" if not missing else f"migrations pending: {', '.join(missing)}"

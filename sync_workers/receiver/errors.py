"""Every error answer is JSON with a reason; bad input never becomes a 500."""
from __future__ import annotations

import logging

import psycopg2
import redis
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def error_response(status: int, reason: str, **extra):
    resp = jsonify(error=reason, status=status, **extra)
    resp.status_code = status
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error_response(exc.code or 500, exc.description or exc.name)

    # A connection the pool held died with a restarted server: OperationalError on use,
    # or InterfaceError ("connection already closed") on commit or rollback.
    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(psycopg2.InterfaceError)
    @app.errorhandler(redis.RedisError)
    def _store_unavailable(exc: Exception):
        # The provider should retry later; this is our outage, not their bad input.
        log.warning("store unavailable", extra={"error_type": type(exc).__name__})
        resp = error_response(503, "temporarily unavailable")
        resp.headers["Retry-After"] = "30"
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error in receiver")
        return error_response(500, "internal error")

"""The connect flow's two endpoints: /oauth/<provider>/start and /oauth/<provider>/callback.

start accepts only a signed, unexpired connect link (anything else: 401), then redirects
to the provider with state and PKCE. The state also goes into a cookie scoped to this
provider's /oauth path, and the callback wants both to match: a state is good only in the
browser that started the flow, so nobody can get a victim to finish a flow they started
(and attach the victim's account to their own link). Everything else is in
auth/connect.py and engine/lifecycle.py; these handlers only translate HTTP.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, redirect, request

from ..auth import connect
from ..auth.links import InvalidLink, verify_link
from ..auth.registry import UnknownProvider, registry_for
from ..config import Settings, get_settings
from ..engine.lifecycle import account_connected
from ..logging import register_secret
from ..reliability.errors import Transient
from .errors import error_response

oauth_connect = Blueprint("oauth", __name__, url_prefix="/oauth")
STATE_COOKIE = "sync_oauth_state"


def _settings() -> Settings:
    # Tests pass Settings that point at the sandbox; production uses the environment.
    return current_app.config.get("SYNC_SETTINGS") or get_settings()


@oauth_connect.get("/<provider>/start")
def start(provider: str):
    link = request.args.get("link", "")
    settings = _settings()
    try:
        registry_for(settings).get(provider)
        claims = verify_link(link, settings.secret_keys)
    except UnknownProvider as exc:
        return error_response(404, str(exc))
    except InvalidLink as exc:
        return error_response(401, exc.reason)
    # A bearer credential until it expires: kept out of logs. Only once verified: junk
    # input must not grow the registry every log line is scrubbed against.
    register_secret(link)
    if claims.provider != provider:
        return error_response(401, f"connect link is for {claims.provider}, not {provider}")
    try:
        begun = connect.start(claims, settings)
    except Transient as exc:
        return error_response(503, exc.reason)
    resp = redirect(begun.authorize_url, code=302)
    resp.set_cookie(STATE_COOKIE, begun.state, max_age=connect.STATE_TTL, httponly=True,
                    samesite="Lax", secure=settings.public_url.startswith("https://"),
                    path=f"/oauth/{provider}")
    return resp


@oauth_connect.get("/<provider>/callback")
def callback(provider: str):
    state = request.args.get("state", "")
    if not state or not hmac.compare_digest(request.cookies.get(STATE_COOKIE, ""), state):
        return error_response(400, "state is missing or was not issued to this browser")
    try:
        done = connect.finish(provider, state, request.args.get("code"),
                              request.args.get("error"), _settings())
    except connect.ConnectRejected as exc:
        return error_response(exc.status, exc.reason)
    except Transient as exc:
        return error_response(503, exc.reason)
    activation = account_connected(done.account_id, done.provider, done.previous_status)
    resp = jsonify(account_id=activation.account_id, provider=done.provider,
                   external_account_id=done.external_account_id, owner=done.owner,
                   status="active", previous_status=activation.previous_status,
                   reconciliation_task_id=activation.reconciliation_task_id)
    resp.delete_cookie(STATE_COOKIE, path=f"/oauth/{provider}")
    return resp

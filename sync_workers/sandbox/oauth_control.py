"""Control routes under /_sandbox/oauth/ for tests and the demo, never for the service.

Each provider app answers for its own provider; the bodies mirror the Python helpers in
oauth.py.
"""
from __future__ import annotations

from flask import Flask, jsonify, request

from . import oauth
from .core import SandboxState
from .oauth_store import store_for

CLIENT_SETTINGS = ("redirect_uris", "access_token_lifetime", "refresh_token_lifetime",
                   "rotate_refresh_tokens", "require_pkce")


def register(app: Flask, state: SandboxState) -> None:
    provider = app.config["SANDBOX_PROVIDER"]

    @app.get("/_sandbox/oauth/clients")
    def oauth_clients():
        store = store_for(state, provider)
        with state.lock:
            return jsonify([c.public() for c in store.clients.values()])

    @app.post("/_sandbox/oauth/clients")
    def oauth_register_client():
        body = request.get_json(force=True)
        try:
            client = oauth.register_client(state, provider, body["client_id"],
                                           body.get("client_secret", ""), **_settings(body))
        except (KeyError, ValueError) as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(client.public()), 201

    @app.patch("/_sandbox/oauth/clients/<client_id>")
    def oauth_configure_client(client_id: str):
        try:
            client = oauth.configure_client(state, provider, client_id,
                                            **_settings(request.get_json(force=True)))
        except KeyError:
            return jsonify(error="unknown client"), 404
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(client.public())

    @app.post("/_sandbox/oauth/grants")
    def oauth_mint_grant():
        body = request.get_json(force=True)
        fields = {k: body[k] for k in ("client_id", "scope", "offline", "nonce") if k in body}
        return jsonify(oauth.mint_grant(state, provider, body["subject"], **fields)), 201

    @app.post("/_sandbox/oauth/revoke")
    def oauth_revoke_grants():
        body = request.get_json(force=True)
        revoked = oauth.revoke(state, provider, subject=body.get("subject"),
                               refresh_token=body.get("refresh_token"))
        return jsonify(revoked=revoked)

    @app.post("/_sandbox/oauth/expire")
    def oauth_expire_access_tokens():
        body = request.get_json(force=True, silent=True) or {}
        return jsonify(expired=oauth.expire_access_tokens(state, provider, body.get("subject")))

    @app.get("/_sandbox/oauth/tokens")
    def oauth_issued_tokens():
        every = request.args.get("all") in ("1", "true")
        return jsonify(oauth.issued_tokens(state, None if every else provider))

    @app.get("/_sandbox/oauth/refresh-requests")
    def oauth_refresh_requests():
        entries = oauth.refresh_requests(state, provider)
        return jsonify(count=len(entries), requests=entries)

    @app.get("/_sandbox/oauth/whoami")
    def oauth_whoami():
        # The smallest resource: who the bearer token belongs to, 401 if it is not valid.
        subject = oauth.bearer_subject(state, provider)
        return (jsonify(subject=subject), 200) if subject else (jsonify(subject=None), 401)


def _settings(body: dict) -> dict:
    unknown = set(body) - set(CLIENT_SETTINGS) - {"client_id", "client_secret"}
    if unknown:
        raise ValueError(f"unknown client settings: {sorted(unknown)}")
    return {k: body[k] for k in CLIENT_SETTINGS if k in body}

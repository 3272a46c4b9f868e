"""Serve every emulated provider on loopback, one port per provider.

Each provider is a Flask app on its own port so that its paths are the real ones relative
to the base URLs the service is configured with (Salesforce's `instance_url` is a bare
origin, Google's API lives under `/calendar/v3`). All apps share one `SandboxState`, and
each answers the control API under `/_sandbox/`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import ModuleType

from werkzeug.serving import BaseWSGIServer, make_server

from . import (
    control,
    google_calendar,
    hubspot,
    microsoft_graph,
    oauth,
    oauth_control,
    oauth_flow,
    salesforce,
)
from .core import SandboxState, provider_app

PROVIDERS = ("google", "salesforce", "microsoft", "hubspot")

# The OAuth authorization server: its endpoints, and its control routes under /_sandbox/oauth.
_OAUTH = (oauth_flow, oauth_control)
# provider -> modules whose `register(app, state)` adds routes to that provider's app.
PROVIDER_MODULES: dict[str, tuple[ModuleType, ...]] = {
    "google": (*_OAUTH, google_calendar),
    "salesforce": (*_OAUTH, salesforce),
    "microsoft": (*_OAUTH, microsoft_graph),
    "hubspot": (*_OAUTH, hubspot),
}


def build_apps(state: SandboxState):
    apps = {}
    state.subject_of = lambda provider: oauth.bearer_subject(state, provider)
    for provider in PROVIDERS:
        app = provider_app(provider, state)
        for module in PROVIDER_MODULES[provider]:
            module.register(app, state)
        control.register(app, state)
        apps[provider] = app
    return apps


@dataclass
class Sandbox:
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)  # 0 or missing = ephemeral
    state: SandboxState = field(default_factory=SandboxState)
    _servers: dict[str, BaseWSGIServer] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> "Sandbox":
        for provider, app in build_apps(self.state).items():
            server = make_server(self.host, self.ports.get(provider, 0), app, threaded=True)
            self._servers[provider] = server
            thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{provider}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        self.state.urls.update(self.urls)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def origin(self, provider: str) -> str:
        return f"http://{self.host}:{self._servers[provider].server_port}"

    @property
    def urls(self) -> dict[str, str]:
        google, sf = self.origin("google"), self.origin("salesforce")
        ms, hub = self.origin("microsoft"), self.origin("hubspot")
        return {
            "google": google,
            "google_api": f"{google}/calendar/v3",
            "google_auth": f"{google}/o/oauth2/v2/auth",
            "google_token": f"{google}/token",
            "google_revoke": f"{google}/revoke",
            "salesforce": sf,
            "salesforce_login": sf,
            "microsoft": ms,
            "microsoft_login": ms,
            "microsoft_graph": f"{ms}/v1.0",
            "hubspot": hub,
            "hubspot_api": hub,
            "hubspot_app": hub,
        }

    def env(self) -> dict[str, str]:
        """The SYNC_* variables that point the service at this sandbox."""
        u = self.urls
        return {
            "SYNC_GOOGLE_API_URL": u["google_api"],
            "SYNC_GOOGLE_AUTH_URL": u["google_auth"],
            "SYNC_GOOGLE_TOKEN_URL": u["google_token"],
            "SYNC_GOOGLE_REVOKE_URL": u["google_revoke"],
            "SYNC_SALESFORCE_LOGIN_URL": u["salesforce_login"],
            "SYNC_MICROSOFT_LOGIN_URL": u["microsoft_login"],
            "SYNC_MICROSOFT_GRAPH_URL": u["microsoft_graph"],
            "SYNC_HUBSPOT_API_URL": u["hubspot_api"],
            "SYNC_HUBSPOT_APP_URL": u["hubspot_app"],
        }

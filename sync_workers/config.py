"""Settings: one frozen object read from `SYNC_*` environment variables.

Defaults suit a developer machine (local PostgreSQL and Redis, the real providers' URLs).
A wrong value stops the process at start-up with the variable's name and what was expected,
instead of failing later inside a task.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Callable, Mapping
from urllib.parse import urlparse


class ConfigError(ValueError):
    pass


def _url(*schemes: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        parsed = urlparse(raw)
        if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
            raise ConfigError(f"{name}={raw!r}: expected a URL with scheme {' or '.join(schemes)}")
        return raw.rstrip("/")
    return parse


def _int(low: int, high: int | None = None) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(f"{name}={raw!r}: expected a number {bounds}")
        return value
    return parse


def _float(low: float) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: expected a number") from None
        if value < low:
            raise ConfigError(f"{name}={raw!r}: expected a number >= {low}")
        return value
    return parse


def _choice(*options: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if raw not in options:
            raise ConfigError(f"{name}={raw!r}: expected one of {', '.join(options)}")
        return raw
    return parse


def _keys(name: str, raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError(f"{name}: expected one or more comma-separated secret keys")
    return keys


def _bool(name: str, raw: str) -> bool:
    if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name}={raw!r}: expected true or false")
    return raw.lower() in ("true", "1", "yes")


def _text(name: str, raw: str) -> str:
    return raw


def _domains(name: str, raw: str) -> tuple[str, ...]:
    domains = tuple(d.strip().lower().lstrip("@") for d in raw.split(",") if d.strip())
    bad = [d for d in domains if "." not in d or "@" in d or " " in d]
    if bad:
        raise ConfigError(f"{name}: {bad[0]!r} is not a mail domain (e.g. example.com)")
    return domains


# Local default for development and tests only; `sync-workers` refuses it in production.
DEV_SECRET_KEY = "dev-only-insecure-key-change-me"

# provider -> (client id, client secret) of the sandbox's default OAuth client (the sandbox
# registers these, sandbox/oauth_providers.py). Outside production a provider whose client
# is not set gets this one, so the demo and the tests need no credentials; in production an
# unset client stays empty and the provider registry refuses it.
SANDBOX_CLIENTS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "google": ("sandbox-client.apps.googleusercontent.com", "GOCSPX-sandbox-google-secret"),
    "microsoft": ("00000000-0000-4000-8000-5a9db0c11e47", "sandbox~microsoft~secret"),
    "salesforce": ("3MVG9sandbox.salesforce.consumer.key", "SANDBOXSALESFORCECONSUMERSECRET"),
    "hubspot": ("0d5b5e4e-5a9d-4b0c-8e47-000000000001", "sandbox-hubspot-client-secret"),
})
_CLIENT_FIELDS = tuple(f"{provider}_client_{part}"
                       for provider in SANDBOX_CLIENTS for part in ("id", "secret"))


@dataclass(frozen=True)
class Settings:
    # name: (env default, parser) via _SPEC below; values are parsed and typed here.
    environment: str
    database_url: str
    broker_url: str
    redis_url: str
    secret_keys: tuple[str, ...]
    log_level: str
    log_format: str
    db_pool_max: int
    task_time_limit: int
    max_countdown: int
    retry_max_attempts: int
    retry_base_delay: float
    retry_max_delay: float
    receiver_max_body: int
    google_api_url: str
    google_auth_url: str
    google_token_url: str
    google_revoke_url: str
    salesforce_login_url: str
    salesforce_api_version: str
    microsoft_login_url: str
    microsoft_graph_url: str
    hubspot_api_url: str
    hubspot_app_url: str
    public_url: str
    on_calendar_delete: str
    create_missing_contacts: bool
    new_guest_as: str  # what a guest unknown to the CRM becomes: contact | lead
    ownership_file: str  # the ownership table (YAML); empty: the one shipped
    salesforce_api_hosts: tuple[str, ...]  # instance hosts beyond *.salesforce.com/force.com
    internal_domains: tuple[str, ...]  # besides the owner's: whose addresses are colleagues
    backfill_days: int  # meetings that ended longer ago are history, never linked
    horizon_days: int  # meetings starting further ahead are not linked yet
    intent_sweep_after: int  # a link's recorded intent unserved this long is re-enqueued
    rate_limit_budget: int  # seconds one task may wait out rate limits before a dead letter
    microsoft_tenant: str
    # OAuth clients: unset outside production, the sandbox's (SANDBOX_CLIENTS); unset in
    # production, empty (the provider registry then refuses to start).
    google_client_id: str
    google_client_secret: str
    microsoft_client_id: str
    microsoft_client_secret: str
    salesforce_client_id: str
    salesforce_client_secret: str
    hubspot_client_id: str
    hubspot_client_secret: str
    metrics_port: int

    @property
    def visibility_timeout(self) -> int:
        """Redis re-delivers an unacked message after this; must outlast any run + wait."""
        return 2 * (self.task_time_limit + self.max_countdown)


_SPEC: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "environment": ("development", _choice("development", "test", "production")),
    "database_url": ("postgresql://postgres@127.0.0.1:5432/sync_workers", _url("postgresql", "postgres")),
    "broker_url": ("redis://127.0.0.1:6379/0", _url("redis", "rediss", "amqp", "amqps")),
    "redis_url": ("redis://127.0.0.1:6379/0", _url("redis", "rediss")),
    "secret_keys": (DEV_SECRET_KEY, _keys),
    "log_level": ("INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR")),
    "log_format": ("json", _choice("json", "text")),
    "db_pool_max": ("10", _int(1, 200)),
    "task_time_limit": ("300", _int(10)),
    "max_countdown": ("900", _int(1)),
    "retry_max_attempts": ("8", _int(1, 50)),
    "retry_base_delay": ("2", _float(0.0)),
    "retry_max_delay": ("600", _float(0.0)),
    "receiver_max_body": ("1048576", _int(1024)),
    "google_api_url": ("https://www.googleapis.com/calendar/v3", _url("https", "http")),
    "google_auth_url": ("https://accounts.google.com/o/oauth2/v2/auth", _url("https", "http")),
    "google_token_url": ("https://oauth2.googleapis.com/token", _url("https", "http")),
    "google_revoke_url": ("https://oauth2.googleapis.com/revoke", _url("https", "http")),
    "salesforce_login_url": ("https://login.salesforce.com", _url("https", "http")),
    "salesforce_api_version": ("v59.0", _text),
    "microsoft_login_url": ("https://login.microsoftonline.com", _url("https", "http")),
    "microsoft_graph_url": ("https://graph.microsoft.com/v1.0", _url("https", "http")),
    "hubspot_api_url": ("https://api.hubapi.com", _url("https", "http")),
    "hubspot_app_url": ("https://app.hubspot.com", _url("https", "http")),
    "public_url": ("http://127.0.0.1:8000", _url("https", "http")),
    "on_calendar_delete": ("cancel", _choice("cancel", "delete")),
    "create_missing_contacts": ("true", _bool),
    "new_guest_as": ("contact", _choice("contact", "lead")),
    "ownership_file": ("", _text),
    "salesforce_api_hosts": ("", lambda name, raw: _domains(name, raw) if raw.strip() else ()),
    "internal_domains": ("", lambda name, raw: _domains(name, raw) if raw.strip() else ()),
    "backfill_days": ("30", _int(0, 3650)),
    "horizon_days": ("365", _int(1, 3650)),
    "intent_sweep_after": ("300", _int(0, 86400)),
    "rate_limit_budget": ("21600", _int(1)),
    "microsoft_tenant": ("common", _text),
    **{name: ("", _text) for name in _CLIENT_FIELDS},
    # The worker's Prometheus endpoint (main process); 0 turns it off. One port per worker
    # on a host: a second worker that cannot bind it runs on without metrics.
    "metrics_port": ("9808", _int(0, 65535)),
}

# Environment names that differ from SYNC_<FIELD>.
_ENV_NAMES = {"secret_keys": "SYNC_SECRET_KEY"}


def env_name(field_name: str) -> str:
    return _ENV_NAMES.get(field_name, f"SYNC_{field_name.upper()}")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    values = {}
    for f in fields(Settings):
        default, parse = _SPEC[f.name]
        name = env_name(f.name)
        values[f.name] = parse(name, env.get(name, default))
    if values["environment"] != "production":
        _sandbox_clients_stand_in(values)
    settings = Settings(**values)
    _check_consistency(settings)
    return settings


def _sandbox_clients_stand_in(values: dict[str, Any]) -> None:
    """A provider whose client id and secret are not both set gets the sandbox's client."""
    for provider, client in SANDBOX_CLIENTS.items():
        names = (f"{provider}_client_id", f"{provider}_client_secret")
        if not all(values[name] for name in names):
            values.update(zip(names, client))


def _check_consistency(s: Settings) -> None:
    if s.max_countdown >= s.visibility_timeout:
        raise ConfigError("SYNC_MAX_COUNTDOWN: must stay below the broker visibility timeout")
    if s.retry_max_delay > s.max_countdown:
        raise ConfigError(f"SYNC_RETRY_MAX_DELAY={s.retry_max_delay}: expected <= SYNC_MAX_COUNTDOWN "
                          f"({s.max_countdown}), or retries would outwait the broker")
    if s.environment == "production" and DEV_SECRET_KEY in s.secret_keys:
        raise ConfigError("SYNC_SECRET_KEY: set a real secret key in production")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def describe() -> list[tuple[str, str]]:
    """(variable, default) pairs, for the README and `sync-workers config`."""
    return [(env_name(name), _shown_default(name, default))
            for name, (default, _) in _SPEC.items()]


def _shown_default(name: str, default: str) -> str:
    if name == "secret_keys":
        return "(dev key)"
    if name in _CLIENT_FIELDS:
        return "(the sandbox's client outside production)"
    return default


def client_credentials(settings: Settings, provider: str) -> tuple[str, str]:
    return (getattr(settings, f"{provider}_client_id"),
            getattr(settings, f"{provider}_client_secret"))

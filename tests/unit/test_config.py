"""Settings: defaults, parsing, and start-up errors that name the variable."""
from __future__ import annotations

import dataclasses

import pytest

from sync_workers.config import ConfigError, load_settings


def test_defaults_point_at_the_real_providers():
    s = load_settings({})
    assert s.google_api_url == "https://www.googleapis.com/calendar/v3"
    assert s.salesforce_login_url == "https://login.salesforce.com"
    assert s.hubspot_api_url == "https://api.hubapi.com"
    assert s.microsoft_graph_url == "https://graph.microsoft.com/v1.0"


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings({}).broker_url = "redis://elsewhere"


@pytest.mark.parametrize("env, message", [
    ({"SYNC_DATABASE_URL": "mysql://x/y"}, "SYNC_DATABASE_URL"),
    ({"SYNC_BROKER_URL": "not a url"}, "SYNC_BROKER_URL"),
    ({"SYNC_TASK_TIME_LIMIT": "soon"}, "SYNC_TASK_TIME_LIMIT='soon': expected a whole number"),
    ({"SYNC_RETRY_MAX_ATTEMPTS": "0"}, "SYNC_RETRY_MAX_ATTEMPTS"),
    ({"SYNC_LOG_LEVEL": "LOUD"}, "expected one of DEBUG, INFO, WARNING, ERROR"),
    ({"SYNC_GOOGLE_API_URL": "ftp://x"}, "SYNC_GOOGLE_API_URL"),
    ({"SYNC_RETRY_MAX_DELAY": "5000"}, "SYNC_RETRY_MAX_DELAY"),
    ({"SYNC_ENVIRONMENT": "production"}, "SYNC_SECRET_KEY"),
])
def test_wrong_values_fail_with_the_variable_name(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(env)


def test_visibility_timeout_outlasts_any_run_plus_countdown():
    s = load_settings({"SYNC_TASK_TIME_LIMIT": "300", "SYNC_MAX_COUNTDOWN": "900"})
    assert s.visibility_timeout > s.task_time_limit + s.max_countdown
    assert s.retry_max_delay <= s.max_countdown


def test_several_secret_keys_first_one_encrypts():
    s = load_settings({"SYNC_SECRET_KEY": "new-key, old-key"})
    assert s.secret_keys == ("new-key", "old-key")

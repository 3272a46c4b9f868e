"""Fixtures shared by the whole suite.

The suite never touches a developer's data: it uses the database `sync_workers_test` on the
configured PostgreSQL server and Redis database 15 on the configured Redis server (both
emptied by the tests; SYNC_TEST_DATABASE and SYNC_TEST_REDIS_DB choose others). The
environment is set here, before any sync_workers import reads it.
"""
from __future__ import annotations

import os
from urllib.parse import urlparse, urlunparse

import pytest

# Two suites on one machine at once (e.g. two checkouts) can pick other names.
TEST_DATABASE = os.environ.get("SYNC_TEST_DATABASE", "sync_workers_test")
TEST_REDIS_DB = int(os.environ.get("SYNC_TEST_REDIS_DB", "15"))


def _test_urls() -> dict[str, str]:
    db = urlparse(os.environ.get("SYNC_DATABASE_URL",
                                 "postgresql://postgres@127.0.0.1:5432/sync_workers"))
    redis_url = urlparse(os.environ.get("SYNC_REDIS_URL", "redis://127.0.0.1:6379/0"))
    test_redis = urlunparse(redis_url._replace(path=f"/{TEST_REDIS_DB}"))
    return {
        "SYNC_ENVIRONMENT": "test",
        "SYNC_DATABASE_URL": urlunparse(db._replace(path=f"/{TEST_DATABASE}")),
        "SYNC_REDIS_URL": test_redis,
        "SYNC_BROKER_URL": test_redis,
        # Fast retries so exhausted-retry paths finish in seconds; a cap above the 30 s
        # Retry-After used by the tests.
        "SYNC_RETRY_MAX_ATTEMPTS": "3",
        "SYNC_RETRY_BASE_DELAY": "0.1",
        "SYNC_RETRY_MAX_DELAY": "60",
        "SYNC_MAX_COUNTDOWN": "120",
        "SYNC_TASK_TIME_LIMIT": "60",
        # Rate-limit waits without a hint go 2, 4, 8, 16 s: the fifth one passes this.
        "SYNC_RATE_LIMIT_BUDGET": "40",
    }


os.environ.update(_test_urls())

from sync_workers.sandbox.server import Sandbox  # noqa: E402 (after the environment is set)

# The session's sandbox starts before any settings are read, so that this process and the
# worker processes it starts (which inherit the environment) talk to it.
_SANDBOX = Sandbox().start()
os.environ.update(_SANDBOX.env())

pytest_plugins = ["tests.fixtures.services", "tests.fixtures.workers", "tests.fixtures.intake",
                  "tests.fixtures.brokers"]


@pytest.fixture(scope="session")
def sandbox_server():
    """All emulated providers on ephemeral loopback ports, for the whole session."""
    yield _SANDBOX
    _SANDBOX.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The session's sandbox with clean state for this test."""
    sandbox_server.state.reset()
    yield sandbox_server
    sandbox_server.state.webhooks.wait_idle(timeout=5)

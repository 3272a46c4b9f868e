"""Helpers shared by the auth integration tests: sandbox settings, accounts, log scans."""
from __future__ import annotations

import io
from contextlib import contextmanager
from typing import Iterable, Iterator

from sync_workers.logging import configure_logging
from sync_workers.sandbox import oauth
from sync_workers.store.db import cursor

PROVIDERS = ("google", "microsoft", "salesforce", "hubspot")


def make_due(account_id: int) -> None:
    """Move the stored expiry into the past, as the passing of time would."""
    with cursor() as cur:
        cur.execute("""UPDATE oauth_tokens SET expires_at = now() - interval '1 minute'
                       WHERE account_id = %s""", (account_id,))


def account_row(account_id: int) -> dict:
    with cursor() as cur:
        cur.execute("SELECT * FROM accounts WHERE id = %s", (account_id,))
        return cur.fetchone()


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything this process logs, as JSON lines, while the block runs."""
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        yield stream
    finally:
        configure_logging("INFO")


def assert_no_token_in(sandbox, texts: Iterable[str]) -> int:
    """No token the sandbox issued occurs in any of `texts`; returns how many were checked."""
    tokens = oauth.issued_tokens(sandbox.state)
    assert tokens, "the sandbox issued no tokens: the scan would prove nothing"
    for text in texts:
        leaked = [t[:12] for t in tokens if t in text]
        assert not leaked, f"tokens starting {leaked} appear in the logs"
    return len(tokens)



"""JSON log lines with context ids, and no secret in any part of a record."""
from __future__ import annotations

import io
import json
import logging

import pytest

from sync_workers.logging import configure_logging, log_context, register_secret


@pytest.fixture
def captured():
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    configure_logging("INFO")


def test_every_line_is_json_with_the_context_ids(captured):
    with log_context(request_id="r-1", account_id=5, link_id=9):
        logging.getLogger("x").info("reconciled", extra={"target_record_id": "00U1"})
    (line,) = captured()
    assert line["message"] == "reconciled" and line["level"] == "INFO" and line["logger"] == "x"
    assert line["request_id"] == "r-1" and line["account_id"] == 5 and line["link_id"] == 9
    assert line["target_record_id"] == "00U1" and line["timestamp"].endswith("+00:00")


@pytest.mark.parametrize("message", [
    "Authorization: Bearer ya29.a0AfB_secretvalue",
    "headers={'Authorization': 'Bearer ya29.a0AfB_secretvalue'}",
    "POST /token body=grant_type=refresh_token&refresh_token=1//0secretvalue&client_secret=cs_secretvalue",
    '{"access_token": "ya29.secretvalue", "expires_in": 3599}',
    "password=hunter2secretvalue",
])
def test_patterns_are_redacted(captured, message):
    logging.getLogger("x").warning(message)
    text = json.dumps(captured())
    assert "secretvalue" not in text and "[REDACTED]" in text


def test_registered_secrets_are_redacted_everywhere(captured):
    token = "tok_plain_text_without_any_marker"
    register_secret(token)
    log = logging.getLogger("x")
    log.info("got %s back", token, extra={"body": {"nested": [token]}, "access_token": token})
    try:
        raise ValueError(f"provider rejected {token}")
    except ValueError:
        log.exception("failed")
    text = json.dumps(captured())
    assert token not in text
    assert text.count("[REDACTED]") >= 4


def test_text_format_is_readable_and_still_redacted():
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, fmt="text")
    try:
        with log_context(request_id="r-9", link_id=3):
            logging.getLogger("x").info("Authorization: Bearer abcdefsecretvalue")
    finally:
        configure_logging("INFO")
    line = stream.getvalue().strip()
    assert "INFO" in line and "x:" in line and "request_id=r-9 link_id=3" in line
    assert "secretvalue" not in line and not line.startswith("{")

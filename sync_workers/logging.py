"""JSON logs with the ids that follow one event end to end, and secrets kept out.

Context ids live in contextvars so they flow through a request, a task and the provider
calls it makes; `log_context(...)` binds them, `ContextFilter` stamps every record.
`RedactionFilter` scrubs tokens from messages, arguments, extras and exception texts:
by pattern (Authorization values, token=..., "secret": ...) and by value (every token the
auth code handles is registered with `register_secret`).
"""
from __future__ import annotations

import contextvars
import logging
import re
import sys
import threading
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Iterator

from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("request_id", "task_id", "task_name", "account_id", "link_id",
                  "source_event_id", "target_record_id")
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("sync_log_context",
                                                                         default={})
REDACTED = "[REDACTED]"


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_context() -> dict[str, Any]:
    return dict(_context.get())


def request_id() -> str | None:
    return _context.get().get("request_id")


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Bind ids (None values are ignored) for everything logged inside the block."""
    merged = {**_context.get(), **{k: v for k, v in ids.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**ids: Any) -> None:
    """Add ids to the current context for the rest of it (e.g. once a task knows its link)."""
    _context.set({**_context.get(), **{k: v for k, v in ids.items() if v is not None}})


def set_context(ids: dict[str, Any]) -> contextvars.Token:
    return _context.set({k: v for k, v in ids.items() if v is not None})


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        record.request_id = getattr(record, "request_id", None) or ctx.get("request_id")
        for name in CONTEXT_FIELDS[1:]:  # the other ids only where known
            if getattr(record, name, None) is None and ctx.get(name) is not None:
                setattr(record, name, ctx[name])
        return True


_SENSITIVE_KEY = r"(?:access_token|refresh_token|id_token|client_secret|password|passwd|secret|" \
                 r"api_key|apikey|token|code_verifier|signature|authorization)"
_PATTERNS = [
    # Authorization: Bearer abc / "Authorization": "Basic abc"
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:bearer|basic|oauth)?\s*[^'\",\s}]+"),
     r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1" + REDACTED),
    # key=value in query strings and form bodies, "key": "value" in JSON texts
    (re.compile(rf"(?i)\b({_SENSITIVE_KEY}=)[^&\s'\"]+"), r"\1" + REDACTED),
    (re.compile(rf"(?i)(['\"]{_SENSITIVE_KEY}['\"]\s*:\s*['\"])[^'\"]*"), r"\1" + REDACTED),
]
# Values seen by this process, newest last; bounded, so that no input can grow it without
# end (an expired token falls off; a live one is registered again whenever it is read).
MAX_KNOWN_SECRETS = 4096
_known_secrets: OrderedDict[str, None] = OrderedDict()
_known_lock = threading.Lock()
_known_pattern: re.Pattern[str] | None = None  # one alternation of them, rebuilt on change
_SENSITIVE_NAME = re.compile(rf"(?i){_SENSITIVE_KEY}")


def register_secret(value: str | None) -> None:
    """Scrub this exact value from every later log record (tokens, client secrets). Only
    values the process holds as secrets belong here, never unverified input."""
    global _known_pattern
    if not value or len(value) < 8:
        return
    with _known_lock:
        if value in _known_secrets:
            _known_secrets.move_to_end(value)
            return
        _known_secrets[value] = None
        while len(_known_secrets) > MAX_KNOWN_SECRETS:
            _known_secrets.popitem(last=False)
        _known_pattern = None


def known_secret_count() -> int:
    with _known_lock:
        return len(_known_secrets)


def redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    pattern = _secrets_pattern()
    return pattern.sub(REDACTED, text) if pattern is not None else text


def _secrets_pattern() -> re.Pattern[str] | None:
    global _known_pattern
    with _known_lock:
        if _known_pattern is None and _known_secrets:
            # Longest first, so a secret that contains another is scrubbed whole.
            values = sorted(_known_secrets, key=len, reverse=True)
            _known_pattern = re.compile("|".join(map(re.escape, values)))
        return _known_pattern


def _redact_value(name: str, value: Any) -> Any:
    if isinstance(value, str):
        return REDACTED if _SENSITIVE_NAME.fullmatch(name) else redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(name, v) for v in value)
    return value


_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class RedactionFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Format once, redact, and keep the text so formatters don't re-render the raw one.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _redact_value(key, value))
        return True


class _JsonFormatter(JsonFormatter):
    def formatException(self, ei) -> str:  # noqa: N802 (logging API)
        return redact(super().formatException(ei))


def json_formatter() -> logging.Formatter:
    return _JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,  # ISO 8601 in UTC from the record's creation time
    )


def install_filters(handler: logging.Handler) -> None:
    for f in (ContextFilter(), RedactionFilter()):
        if not any(type(x) is type(f) for x in handler.filters):
            handler.addFilter(f)


class _TextFormatter(logging.Formatter):
    """For people watching `make run`: one readable line, the known ids at the end."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS
                       if getattr(record, name, None) is not None)
        return f"{line}  [{ids}]" if ids else line


def text_formatter() -> logging.Formatter:
    return _TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")


def configure_logging(level: str = "INFO", stream=None, fmt: str = "json") -> None:
    """Every record of every logger becomes one line on stderr (or `stream`): JSON, or
    readable text for a person at a terminal (`SYNC_LOG_FORMAT=text`)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else text_formatter())
    install_filters(handler)
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warnings are log lines too, not raw stderr
    # requests-oauthlib and urllib3 log tokens and full URLs at DEBUG.
    for noisy in ("requests_oauthlib", "oauthlib", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))

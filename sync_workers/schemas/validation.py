"""Marshmallow's verdicts, and the core's `InvalidModel`, turned into our `InvalidInput`, with
the field path in the reason."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from marshmallow import Schema, ValidationError

from ..reliability.errors import InvalidInput
from ..sync.errors import InvalidModel


def validated(schema: Schema, data: Any, *, what: str) -> dict[str, Any]:
    """`data` loaded by `schema`, or InvalidInput("<what>: <field>: <problem>; ...")."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{what}: expected an object, got {type(data).__name__}")
    try:
        with core_values():
            return schema.load(data)
    except ValidationError as error:
        raise InvalidInput(f"{what}: {'; '.join(_flatten(error.messages))}") from None


@contextmanager
def core_values() -> Iterator[None]:
    """Around building core models: a value the core refuses is InvalidInput here."""
    try:
        yield
    except InvalidModel as error:
        raise InvalidInput(error.reason) from None


_SUBJECT: ContextVar[str | None] = ContextVar("schema_subject", default=None)


@contextmanager
def about(what: str) -> Iterator[None]:
    """Prefix the reason of any InvalidInput raised inside with `what`; warnings logged
    inside name it too (`subject()`)."""
    token = _SUBJECT.set(what)
    try:
        with core_values():
            yield
    except InvalidInput as error:
        raise InvalidInput(f"{what}: {error.reason}") from None
    finally:
        _SUBJECT.reset(token)


def subject() -> str | None:
    """What is being loaded (e.g. "google event abc"), inside `about(...)`."""
    return _SUBJECT.get()


def _flatten(messages: Any, path: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [line for key, value in messages.items()
                for line in _flatten(value, f"{path}.{key}" if path else str(key))]
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return [f"{path}: {' '.join(messages)}"]
    return [f"{path}: {messages}"]

"""What every command shares: one clear line when a store is down, JSON output, ages."""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, Iterable, Iterator

import click
import psycopg2
import psycopg2.errors
import redis

from ..store import accounts
from ..store.records import Account


@contextmanager
def stores_reachable() -> Iterator[None]:
    """A down database or Redis is one clear line, not a traceback (and no URL in it)."""
    try:
        yield
    except psycopg2.errors.UndefinedTable:
        raise click.ClickException("the database has no tables yet: run "
                                   "`sync-workers migrate`") from None
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        raise click.ClickException(f"PostgreSQL unavailable ({type(exc).__name__})") from None
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis unavailable ({type(exc).__name__})") from None


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60),
                                      ("m", 60, "s", 1)):
        if seconds >= size:
            return f"{seconds // size}{unit}{(seconds % size) // sub_size:02d}{sub}"
    return f"{seconds}s"


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, default=str, indent=2))


def echo_json_lines(records: Iterable[Any]) -> None:
    """`--json` listings: one record (a dataclass) per line."""
    for record in records:
        click.echo(json.dumps(asdict(record), default=str))


def existing_account(account_id: int) -> Account:
    found = accounts.get_account(account_id)
    if found is None:
        raise click.ClickException(f"account {account_id} does not exist")
    return found

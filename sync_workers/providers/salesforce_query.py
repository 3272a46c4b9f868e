"""SOQL literals, and what changed in a window: SystemModstamp queries plus deleted/.

Changed records come from `SystemModstamp > since AND <= until` with every page read.
Deleted ones from `sobjects/X/deleted/`, which only knows whole minutes, wants a window of
at least one minute, reaches back 15 days, and covers up to the start of the current
minute (`latestDateCovered`). The newest timestamp reported is held at that coverage, so a
cursor stored from it cannot skip a deletion made in the uncovered tail of the window.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..reliability.errors import InvalidInput
from ..schemas.salesforce import salesforce_id18
from ..schemas.time import to_utc
from .salesforce_api import SalesforceApi

log = logging.getLogger(__name__)
MINUTE = timedelta(minutes=1)
DELETED_REACH = timedelta(days=15)
_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\b": "\\b", "\f": "\\f"}


def soql_string(value: str) -> str:
    """A quoted SOQL string literal that no quote or backslash in `value` can end early.
    (% and _ are wildcards only in LIKE, so they stay as they are for `=`.)"""
    return "'" + "".join(_ESCAPES.get(char, char) for char in value) + "'"


def soql_datetime(moment: datetime) -> str:
    """SOQL wants UTC with `Z`; SystemModstamp has whole seconds, so the seconds suffice."""
    if moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone: times are aware UTC past the boundary")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ObjectChanges:
    changed: tuple[str, ...]
    deleted: tuple[str, ...]
    newest: datetime | None  # newest timestamp seen, never past what deleted/ covered


def changes_of(api: SalesforceApi, sobject: str, since: datetime,
               until: datetime) -> ObjectChanges:
    modified = {_record_id(row): _timestamp(row.get("SystemModstamp"), "SystemModstamp")
                for row in api.query(_modified_query(sobject, since, until))}
    deleted, covered = _deleted(api, sobject, since, until)
    seen = [*modified.values(), *deleted.values()]
    return ObjectChanges(tuple(modified), tuple(deleted),
                         min(max(seen), covered) if seen else None)


def _modified_query(sobject: str, since: datetime, until: datetime) -> str:
    return (f"SELECT Id, SystemModstamp FROM {sobject} "
            f"WHERE SystemModstamp > {soql_datetime(since)} "
            f"AND SystemModstamp <= {soql_datetime(until)} ORDER BY SystemModstamp, Id")


def _deleted(api: SalesforceApi, sobject: str, since: datetime,
             until: datetime) -> tuple[dict[str, datetime], datetime]:
    start, end = _deleted_window(api.account_id, sobject, since, until)
    body = api.call("GET", f"sobjects/{sobject}/deleted/",
                    params={"start": soql_datetime(start), "end": soql_datetime(end)}).json()
    if not isinstance(body, dict) or not isinstance(body.get("deletedRecords"), list):
        raise InvalidInput(f"salesforce {sobject} deleted/: expected deletedRecords[]")
    deleted = {}
    for item in body["deletedRecords"]:
        if not isinstance(item, dict):
            raise InvalidInput(f"salesforce {sobject} deleted/: expected objects")
        deleted[_record_id(item)] = _timestamp(item.get("deletedDate"), "deletedDate")
    return deleted, _timestamp(body.get("latestDateCovered"), "latestDateCovered")


def _deleted_window(account_id: int, sobject: str, since: datetime,
                    until: datetime) -> tuple[datetime, datetime]:
    end = _minute(until)
    start = min(_minute(since), end - MINUTE)
    reachable = _minute(until - DELETED_REACH) + MINUTE  # a minute's margin for clock skew
    if start < reachable:
        # Salesforce has forgotten those deletions; their links learn of them when they
        # are next reconciled (the read finds the record gone).
        log.warning("salesforce deletions beyond reach", extra={
            "account_id": account_id, "sobject": sobject, "since": since.isoformat(),
            "reachable_from": reachable.isoformat()})
        start = reachable
    return start, end


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(second=0, microsecond=0)


def _record_id(row: Any) -> str:
    value = row.get("Id", row.get("id")) if isinstance(row, dict) else None
    return salesforce_id18(value, field="Id")


def _timestamp(value: Any, name: str) -> datetime:
    return to_utc(value, field=f"salesforce {name}")

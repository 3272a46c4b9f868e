"""Salesforce basics shared by the emulator modules: ids, errors, timestamps.

Ids are real-looking: 3-char key prefix + pod + 9 base-62 digits (15 chars, case-sensitive)
plus the 3-char case checksum that makes the 18-char form case-insensitive. The REST API
always answers with 18-char ids and accepts both forms, so a client that compares a 15-char
id with an 18-char one (or lower-cases ids) breaks here as it would in production.
"""
from __future__ import annotations

import itertools
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

POD = "5g"
# EventRelation's 0RE is the prefix its ids carry in real orgs (not found in the key prefix
# lists the search returned: unconfirmed). EventWhoRelation is a filtered view of
# EventRelation whose rows keep their EventRelation ids, so it shares the prefix (listed
# after EventRelation: sobject_of_id answers EventRelation for a 0RE id).
KEY_PREFIXES = {"Account": "001", "Contact": "003", "Event": "00U", "Lead": "00Q",
                "User": "005", "Opportunity": "006", "EventRelation": "0RE",
                "EventWhoRelation": "0RE"}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_SHAPE = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
# A large odd stride so consecutive ids differ in many places (and in letter case),
# never restarted: Salesforce never reuses an id, not even across sandbox resets.
_serial = itertools.count(9_000_000_000, 104_729)


class SfError(Exception):
    """An API error: HTTP status plus the `[{"message","errorCode","fields"}]` body."""

    def __init__(self, status: int, code: str, message: str,
                 fields: list[str] | None = None, extra: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields
        self.extra = extra or []  # further errors of the same save, reported together

    def body(self) -> list[dict[str, Any]]:
        first: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            first["fields"] = self.fields
        return [first, *self.extra]


def not_found() -> SfError:
    return SfError(404, "NOT_FOUND", "The requested resource does not exist")


def _base62(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    return "".join(reversed(digits))


def checksum(id15: str) -> str:
    """The 3-char suffix: one char per 5-char chunk, bit i set when char i is A-Z."""
    out = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, c in enumerate(id15[start:start + 5]) if "A" <= c <= "Z")
        out += _CHECKSUM[bits]
    return out


def to18(id15: str) -> str:
    return id15 + checksum(id15)


def new_id(prefix: str) -> str:
    return to18(prefix + POD + "0" + _base62(next(_serial), 9))


def normalize_id(value: Any) -> str | None:
    """The canonical 18-char id for a 15- or 18-char id (any case for 18), else None."""
    if not isinstance(value, str) or not _ID_SHAPE.match(value):
        return None
    if len(value) == 15:
        return to18(value)
    suffix = value[15:].upper()
    if any(c not in _CHECKSUM for c in suffix):
        return None
    chars = list(value[:15])
    for chunk, c in enumerate(suffix):
        bits = _CHECKSUM.index(c)
        for i in range(5):
            pos = chunk * 5 + i
            chars[pos] = chars[pos].upper() if bits >> i & 1 else chars[pos].lower()
    fixed = "".join(chars)
    return to18(fixed) if checksum(fixed) == suffix else None


def id_key(id18: str) -> str:
    """Dictionary key of a canonical id (the 18-char form is case-insensitive)."""
    return id18.lower()


def sobject_of_id(id18: str) -> str | None:
    for name, prefix in KEY_PREFIXES.items():
        if id18.startswith(prefix):
            return name
    return None


# --- time -------------------------------------------------------------------------------

def now_seconds(clock) -> datetime:
    """The sandbox time truncated to the second: Salesforce stores datetimes to the
    second (the API prints .000), so records saved in one second share a timestamp."""
    return clock.now().replace(microsecond=0)


def fmt_datetime(dt: datetime) -> str:
    """REST JSON form: 2024-01-02T03:04:05.000+0000 (not Z)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.microsecond // 1000:03d}+0000"


def fmt_soap_datetime(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.microsecond // 1000:03d}Z"


_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$")


def parse_datetime(text: str, *, require_zone: bool = False) -> datetime | None:
    """ISO 8601 as Salesforce accepts it (Z, +hh:mm or +hhmm; no zone = UTC)."""
    m = _DATETIME.match(text.strip()) if isinstance(text, str) else None
    if not m or (require_zone and not m.group(8)):
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micro,
                      tzinfo=timezone.utc)
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        dt -= sign * timedelta(hours=hours, minutes=minutes)
    return dt


def parse_date(text: str) -> date | None:
    if not isinstance(text, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None

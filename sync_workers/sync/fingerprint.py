"""A stable hash of a canonical view: equal meaning, equal fingerprint.

Values are normalised first (UTC, whole seconds, stripped text, lower-case e-mail), then
written as JSON with sorted keys, so "+00:00" vs "Z" or a trailing space cannot tell two
equal states apart.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any, Mapping

from .fields import normalize_all


def fingerprint(view: Mapping[str, Any]) -> str:
    """Hex sha256 of the canonical JSON of `view` (canonical field names only)."""
    canonical = json.dumps(normalize_all(dict(view)), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False, default=_json_time)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _json_time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")  # normalised to UTC already
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot fingerprint {value!r}")

"""Which side owns each canonical field (invariant 5): configuration, not code.

The owner's value overwrites the other side. Build a table with `Ownership.from_dict`
(e.g. from a settings file); anything unknown or incomplete fails at load time.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping

from .fields import CANONICAL_FIELDS, PEOPLE_FIELDS, SPAN_FIELDS

Side = Literal["calendar", "crm"]
SIDES: frozenset[str] = frozenset({"calendar", "crm"})


@dataclass(frozen=True)
class Ownership:
    """Every canonical field named exactly once with side calendar|crm."""

    owners: Mapping[str, Side]

    def __post_init__(self) -> None:
        data = self.owners
        unknown = sorted(set(data) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(f"ownership names unknown fields {unknown}; "
                             f"known: {list(CANONICAL_FIELDS)}")
        missing = [name for name in CANONICAL_FIELDS if name not in data]
        if missing:
            raise ValueError(f"ownership gives no owner for {missing}")
        bad = {name: side for name, side in data.items() if side not in SIDES}
        if bad:
            raise ValueError(f"ownership sides must be one of {sorted(SIDES)}: {bad}")
        if len({data[name] for name in SPAN_FIELDS}) != 1:
            raise ValueError(f"{list(SPAN_FIELDS)} form one span and need one owner")
        if any(data[name] != "crm" for name in PEOPLE_FIELDS):
            raise ValueError(f"{list(PEOPLE_FIELDS)} can only be the CRM's: the people "
                             f"related to a meeting follow its guests, not a field")
        object.__setattr__(self, "owners", MappingProxyType(dict(data)))

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Ownership:
        return cls(data)  # type: ignore[arg-type]  # checked in __post_init__

    def owner(self, field: str) -> Side:
        return self.owners[field]


DEFAULT_OWNERSHIP = Ownership.from_dict({
    "title": "calendar", "start": "calendar", "end": "calendar", "all_day": "calendar",
    "location": "calendar", "status": "calendar",
    "contact_name": "crm", "contact_email": "crm", "contact_company": "crm",
    "other_people": "crm",
})

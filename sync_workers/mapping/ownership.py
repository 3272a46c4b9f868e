"""The ownership table as configuration: a YAML file (SYNC_OWNERSHIP_FILE, by default the
one shipped beside this module), checked when a process starts, with the field named in
every error. A combination the adapters cannot write is refused here, not half applied:
the CRM must own the contact's data, since the sync writes no Contact fields.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from ..sync.fields import CONTACT_FIELDS
from ..sync.ownership import Ownership

DEFAULT_OWNERSHIP_PATH = Path(__file__).with_name("ownership.yaml")


class OwnershipError(ValueError):
    pass


@lru_cache(maxsize=8)
def load_ownership(path: str | None = None) -> Ownership:
    """The table in `path` (the shipped default when empty)."""
    source = Path(path) if path else DEFAULT_OWNERSHIP_PATH
    try:
        data = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise OwnershipError(f"ownership file {source}: {error}") from None
    return parse_ownership(data, where=str(source))


def parse_ownership(data: object, *, where: str = "ownership") -> Ownership:
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise OwnershipError(f"{where}: expected a mapping of field: calendar|crm")
    try:
        table = Ownership.from_dict(data)
    except ValueError as error:
        raise OwnershipError(f"{where}: {error}") from None
    calendar_contact = [name for name in CONTACT_FIELDS if table.owner(name) == "calendar"]
    if calendar_contact:
        raise OwnershipError(f"{where}: {', '.join(calendar_contact)}: the calendar cannot own "
                             f"contact data (the sync writes no CRM contact fields)")
    return table

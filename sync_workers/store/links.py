"""The `sync_links`, `sync_pairs` and `sync_log` tables."""
from __future__ import annotations

from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any, Iterable, Mapping

import psycopg2.errors

from ..reliability.errors import Conflict
from ..sync.models import Link
from .db import Tx, columns, fetch_all, fetch_column, fetch_one, fetch_value, joined
from .records import LinkChange, LinkDetails, LinkRow, LinkSummary

_LINK_COLUMNS = tuple(f.name for f in dataclass_fields(Link))
# What a reconcile saves: not the id, and not a copy's place in its meeting, which only
# store/meetings.py changes (under the meeting's lock).
_SAVED_COLUMNS = tuple(name for name in _LINK_COLUMNS
                       if name not in ("link_id", "ical_uid", "role", "organizer_copy"))
_PROVIDERS = ("calendar_provider", "crm_provider")  # of LinkRow: from the accounts, joined
_ROW_COLUMNS = ", ".join(f"l.{f.name}" for f in dataclass_fields(LinkRow)
                         if f.name not in _PROVIDERS)


def to_link(row: Mapping[str, Any]) -> Link:
    return Link(**{name: row["id" if name == "link_id" else name] for name in _LINK_COLUMNS})


def get(link_id: int, *, tx: Tx | None = None) -> Link | None:
    with joined(tx) as tx:
        tx.execute("SELECT * FROM sync_links WHERE id = %s", (link_id,))
        row = tx.fetchone()
    return to_link(row) if row else None


def ensure(calendar_account_id: int, crm_account_id: int, calendar_event_id: str, *,
           origin: str, crm_event_id: str | None = None, tx: Tx | None = None) -> int:
    """The link of this calendar event, created if missing (once, whatever races it)."""
    with joined(tx) as tx:
        tx.execute(
            """INSERT INTO sync_links (calendar_account_id, crm_account_id, calendar_event_id,
                   crm_event_id, origin)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (calendar_account_id, calendar_event_id) DO NOTHING
               RETURNING id""",
            (calendar_account_id, crm_account_id, calendar_event_id, crm_event_id, origin))
        created = fetch_value(tx)
        if created is not None:
            return created
        tx.execute("""SELECT id FROM sync_links WHERE calendar_account_id = %s
                      AND calendar_event_id = %s""", (calendar_account_id, calendar_event_id))
        return fetch_value(tx)


def find_by_calendar_event(calendar_account_id: int, event_id: str, *,
                           tx: Tx | None = None) -> int | None:
    with joined(tx) as tx:
        tx.execute("""SELECT id FROM sync_links WHERE calendar_account_id = %s
                      AND calendar_event_id = %s""", (calendar_account_id, event_id))
        return fetch_value(tx)


def calendar_versions(calendar_account_id: int, event_ids: Iterable[str], *,
                      tx: Tx | None = None) -> dict[str, tuple[int, str | None]]:
    """The links of these events (one query for a whole listing): event id -> (link id,
    the calendar version the link last saw, e.g. the etag of our own write)."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    with joined(tx) as tx:
        tx.execute("""SELECT calendar_event_id, id, calendar_version FROM sync_links
                      WHERE calendar_account_id = %s AND calendar_event_id = ANY(%s)""",
                   (calendar_account_id, ids))
        return {row["calendar_event_id"]: (row["id"], row["calendar_version"])
                for row in tx.fetchall()}


def find_by_crm_records(crm_account_id: int, record_ids: Iterable[str], *,
                        tx: Tx | None = None) -> list[int]:
    """Links whose CRM event or contact is one of `record_ids` (18- or 15-char ids)."""
    ids = list({i for r in record_ids for i in (r, r[:15])})
    if not ids:
        return []
    with joined(tx) as tx:
        tx.execute("""SELECT id FROM sync_links WHERE crm_account_id = %s
                      AND (crm_event_id = ANY(%s) OR left(crm_event_id, 15) = ANY(%s)
                           OR crm_contact_id = ANY(%s) OR left(crm_contact_id, 15) = ANY(%s))
                      ORDER BY id""", (crm_account_id, ids, ids, ids, ids))
        return fetch_column(tx)


def linked_crm_events(crm_account_id: int, event_ids: Iterable[str], *,
                      tx: Tx | None = None) -> set[str]:
    """Which of these CRM events have a link, as their 15-character ids."""
    short = list({i[:15] for i in event_ids})
    if not short:
        return set()
    with joined(tx) as tx:
        tx.execute("""SELECT left(crm_event_id, 15) AS id FROM sync_links
                      WHERE crm_account_id = %s AND left(crm_event_id, 15) = ANY(%s)""",
                   (crm_account_id, short))
        return set(fetch_column(tx))


def for_account(account_id: int, *, tx: Tx | None = None) -> list[Link]:
    with joined(tx) as tx:
        tx.execute("""SELECT * FROM sync_links WHERE calendar_account_id = %s
                      OR crm_account_id = %s ORDER BY id""", (account_id, account_id))
        return [to_link(row) for row in tx.fetchall()]


def save(link: Link, changes: Mapping[str, tuple[str, str, Any, Any]],
         request_id: str | None, task_id: str | None, *, tx: Tx | None = None) -> None:
    """Store the link and, in the same transaction, one sync_log row per changed field.

    `changes`: "side.field" -> (side, action, old, new). A save that another link's keys
    forbid (two links deciding one CRM event) is a Conflict: re-read and re-plan.
    """
    values = {name: getattr(link, name) for name in _SAVED_COLUMNS}
    values["crm_people"] = list(link.crm_people)
    assignments = ", ".join(f"{name} = %({name})s" for name in values)
    with joined(tx) as tx:
        try:
            tx.execute(f"""UPDATE sync_links SET {assignments}, updated_at = now(),
                           reconciled_at = now() WHERE id = %(link_id)s""",
                       {**values, "link_id": link.link_id})
        except psycopg2.errors.UniqueViolation as exc:
            raise Conflict(f"link {link.link_id}: {exc.diag.constraint_name} holds another "
                           f"link's keys") from None
        for key, (side, action, old, new) in changes.items():
            tx.execute(
                """INSERT INTO sync_log (link_id, side, action, field, old_value, new_value,
                       request_id, task_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (link.link_id, side, action, key.split(".", 1)[1], _text(old), _text(new),
                 request_id, task_id))


def set_people(link_id: int, person_ids: list[str], *, tx: Tx | None = None) -> None:
    """The further people the sync related to the link's CRM meeting."""
    with joined(tx) as tx:
        tx.execute("UPDATE sync_links SET crm_people = %s, updated_at = now() WHERE id = %s",
                   (list(person_ids), link_id))


def mark_reconciled(link_id: int, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("UPDATE sync_links SET reconciled_at = now() WHERE id = %s", (link_id,))


def history(link_id: int, limit: int = 20, *, tx: Tx | None = None) -> list[LinkChange]:
    with joined(tx) as tx:
        tx.execute(f"""SELECT {columns(LinkChange)} FROM sync_log WHERE link_id = %s
                       ORDER BY id DESC LIMIT %s""", (link_id, limit))
        return fetch_all(tx, LinkChange)


def listing(account_id: int | None = None, status: str | None = None, limit: int = 100, *,
            tx: Tx | None = None) -> list[LinkSummary]:
    """Links by id with both sides' ids, for operators (`links list`)."""
    with joined(tx) as tx:
        tx.execute(f"""SELECT {columns(LinkSummary)} FROM sync_links
                       WHERE (%(account)s::bigint IS NULL OR calendar_account_id = %(account)s
                              OR crm_account_id = %(account)s)
                         AND (%(status)s::text IS NULL OR status = %(status)s)
                       ORDER BY id LIMIT %(limit)s""",
                   {"account": account_id, "status": status, "limit": limit})
        return fetch_all(tx, LinkSummary)


def details(link_id: int, changes: int, *, tx: Tx | None = None) -> LinkDetails | None:
    """One link with its accounts' providers and its latest `changes` sync_log rows."""
    with joined(tx) as tx:
        tx.execute(f"""SELECT {_ROW_COLUMNS}, ca.provider AS calendar_provider,
                              cr.provider AS crm_provider
                       FROM sync_links l
                       JOIN accounts ca ON ca.id = l.calendar_account_id
                       JOIN accounts cr ON cr.id = l.crm_account_id
                       WHERE l.id = %s""", (link_id,))
        link = fetch_one(tx, LinkRow)
        if link is None:
            return None
        return LinkDetails(link, tuple(history(link_id, changes, tx=tx)))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def pair(calendar_account_id: int, crm_account_id: int, crm_user_id: str | None = None, *,
         tx: Tx | None = None) -> None:
    """The calendar's CRM and the rep's user in it (pairing again replaces both)."""
    with joined(tx) as tx:
        tx.execute("""INSERT INTO sync_pairs (calendar_account_id, crm_account_id, crm_user_id)
                      VALUES (%s, %s, %s) ON CONFLICT (calendar_account_id)
                      DO UPDATE SET crm_account_id = EXCLUDED.crm_account_id,
                                    crm_user_id = EXCLUDED.crm_user_id""",
                   (calendar_account_id, crm_account_id, crm_user_id))


def crm_user_for(calendar_account_id: int, *, tx: Tx | None = None) -> str | None:
    """The CRM user whose calendar this is (None: paired without one)."""
    with joined(tx) as tx:
        tx.execute("SELECT crm_user_id FROM sync_pairs WHERE calendar_account_id = %s",
                   (calendar_account_id,))
        return fetch_value(tx)


def calendar_of_crm_user(crm_account_id: int, crm_user_id: str, *,
                         tx: Tx | None = None) -> int | None:
    """The calendar paired with this CRM user (15- or 18-character id), if any."""
    with joined(tx) as tx:
        tx.execute("""SELECT calendar_account_id FROM sync_pairs WHERE crm_account_id = %s
                      AND left(crm_user_id, 15) = left(%s, 15)""",
                   (crm_account_id, crm_user_id))
        return fetch_value(tx)


def crm_account_for(calendar_account_id: int, *, tx: Tx | None = None) -> int | None:
    with joined(tx) as tx:
        tx.execute("SELECT crm_account_id FROM sync_pairs WHERE calendar_account_id = %s",
                   (calendar_account_id,))
        return fetch_value(tx)

"""One meeting in several reps' calendars: its copies' links, and which of them decides.

A meeting is its iCalUID within one CRM account. Its first linked copy decides, unless the
organizer's own copy is linked too, which then takes over; a decider that leaves (its rep
declined) hands over to the next copy. Every change of roles happens under a transaction
lock per meeting, so two listings linking copies of one meeting at once make one decider
and never trip the unique index.
"""
from __future__ import annotations

from ..sync.models import Link
from .db import Tx, fetch_value, transaction
from .links import to_link

_HANDED_OVER = ("crm_event_id", "crm_contact_id", "crm_fingerprint", "crm_version",
                "last_contact_email", "crm_people")


def _carried(link: Link, names: tuple[str, ...]) -> dict:
    return {name: list(value) if isinstance(value := getattr(link, name), tuple) else value
            for name in names}


def _lock(tx: Tx, crm_account_id: int, ical_uid: str) -> None:
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
               (f"meeting:{crm_account_id}:{ical_uid}",))


def _decider(tx: Tx, crm_account_id: int, ical_uid: str) -> Link | None:
    tx.execute("""SELECT * FROM sync_links WHERE crm_account_id = %s AND ical_uid = %s
                  AND role = 'decider'""", (crm_account_id, ical_uid))
    row = tx.fetchone()
    return to_link(row) if row else None


def decider_of(link: Link) -> Link | None:
    """The link that decides the meeting `link` is a copy of (itself if it decides)."""
    if link.ical_uid is None:
        return link if link.role == "decider" else None
    with transaction() as tx:
        return _decider(tx, link.crm_account_id, link.ical_uid)


def copies_of(link: Link) -> list[Link]:
    """The other active copies of `link`'s meeting."""
    if link.ical_uid is None:
        return []
    with transaction() as tx:
        tx.execute("""SELECT * FROM sync_links WHERE crm_account_id = %s AND ical_uid = %s
                      AND id <> %s AND status = 'active' ORDER BY id""",
                   (link.crm_account_id, link.ical_uid, link.link_id))
        return [to_link(row) for row in tx.fetchall()]


def link_copy(calendar_account_id: int, crm_account_id: int, calendar_event_id: str, *,
              ical_uid: str, organizer_copy: bool) -> int:
    """The link of this copy of a meeting, made if missing: it decides when the meeting has
    no decider yet, or when it is the organizer's copy and the decider is not."""
    with transaction() as tx:
        _lock(tx, crm_account_id, ical_uid)
        tx.execute("""SELECT id FROM sync_links WHERE calendar_account_id = %s
                      AND calendar_event_id = %s""", (calendar_account_id, calendar_event_id))
        existing = fetch_value(tx)
        if existing is not None:
            return existing
        decider = _decider(tx, crm_account_id, ical_uid)
        takes_over = decider is not None and organizer_copy and not decider.organizer_copy
        if takes_over:
            tx.execute("UPDATE sync_links SET role = 'copy', updated_at = now() WHERE id = %s",
                       (decider.link_id,))
        role = "decider" if decider is None or takes_over else "copy"
        # A new decider carries on the meeting's CRM side; a copy only names its records.
        carried = {} if decider is None else _carried(
            decider, _HANDED_OVER if role == "decider" else ("crm_event_id", "crm_contact_id"))
        tx.execute(
            """INSERT INTO sync_links (calendar_account_id, crm_account_id, calendar_event_id,
                   ical_uid, role, organizer_copy, origin, crm_event_id, crm_contact_id,
                   crm_fingerprint, crm_version, last_contact_email, crm_people)
               VALUES (%s, %s, %s, %s, %s, %s, 'calendar', %s, %s, %s, %s, %s, %s)
               RETURNING id""",
            (calendar_account_id, crm_account_id, calendar_event_id, ical_uid, role,
             organizer_copy, *(carried.get(name) for name in _HANDED_OVER[:-1]),
             carried.get("crm_people", [])))
        return fetch_value(tx)


def hand_over(leaving: Link) -> int | None:
    """`leaving` (a decider whose rep left) becomes a detached copy; the next active copy
    (the organizer's first) decides from now on. Returns that link's id, if any."""
    with transaction() as tx:
        _lock(tx, leaving.crm_account_id, leaving.ical_uid or "")
        tx.execute("""UPDATE sync_links SET role = 'copy', status = 'detached',
                             updated_at = now() WHERE id = %s""", (leaving.link_id,))
        if leaving.ical_uid is None:
            return None
        tx.execute("""SELECT id FROM sync_links WHERE crm_account_id = %s AND ical_uid = %s
                      AND status = 'active' AND id <> %s
                      ORDER BY organizer_copy DESC, id LIMIT 1""",
                   (leaving.crm_account_id, leaving.ical_uid, leaving.link_id))
        successor = fetch_value(tx)
        if successor is not None:
            tx.execute(f"""UPDATE sync_links SET role = 'decider', updated_at = now(),
                               {', '.join(f'{n} = %({n})s' for n in _HANDED_OVER)}
                           WHERE id = %(id)s""",
                       {**_carried(leaving, _HANDED_OVER), "id": successor})
        return successor


def adopt_ical_uid(link: Link, ical_uid: str) -> None:
    """A link made before meetings were known learns its meeting; if the meeting has a
    decider already, this link becomes its copy."""
    with transaction() as tx:
        _lock(tx, link.crm_account_id, ical_uid)
        decider = _decider(tx, link.crm_account_id, ical_uid)
        role = "copy" if decider is not None and decider.link_id != link.link_id \
            else link.role
        tx.execute("""UPDATE sync_links SET ical_uid = %s, role = %s, updated_at = now()
                      WHERE id = %s""", (ical_uid, role, link.link_id))


def detach(link: Link) -> None:
    """A copy whose rep declined or removed it: kept for the record, never reconciled."""
    with transaction() as tx:
        tx.execute("""UPDATE sync_links SET status = 'detached', updated_at = now()
                      WHERE id = %s""", (link.link_id,))


def take_over(copy: Link) -> None:
    """A copy whose meeting has no decider left (every other copy detached): it decides."""
    with transaction() as tx:
        _lock(tx, copy.crm_account_id, copy.ical_uid or "")
        if copy.ical_uid and _decider(tx, copy.crm_account_id, copy.ical_uid) is None:
            tx.execute("""UPDATE sync_links SET role = 'decider', updated_at = now()
                          WHERE id = %s""", (copy.link_id,))

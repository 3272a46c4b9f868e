"""Recurring series: what was last seen of each (`calendar_series`) and the links of their
occurrences (`sync_links.series_id`, `occurrence_start`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .db import Tx, joined


@dataclass(frozen=True)
class SeriesSeen:
    account_id: int
    series_id: str
    fingerprint: str
    first_start: datetime | None
    read_until: datetime


@dataclass(frozen=True)
class OccurrenceLink:
    link_id: int
    calendar_event_id: str
    occurrence_start: datetime


def seen(account_id: int, series_id: str, *, tx: Tx | None = None) -> SeriesSeen | None:
    with joined(tx) as tx:
        tx.execute("""SELECT account_id, series_id, fingerprint, first_start, read_until
                      FROM calendar_series WHERE account_id = %s AND series_id = %s""",
                   (account_id, series_id))
        row = tx.fetchone()
    return SeriesSeen(**row) if row else None


def remember(series: SeriesSeen, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("""INSERT INTO calendar_series (account_id, series_id, fingerprint,
                          first_start, read_until)
                      VALUES (%s, %s, %s, %s, %s)
                      ON CONFLICT (account_id, series_id) DO UPDATE SET
                          fingerprint = EXCLUDED.fingerprint,
                          first_start = EXCLUDED.first_start,
                          read_until = EXCLUDED.read_until, updated_at = now()""",
                   (series.account_id, series.series_id, series.fingerprint,
                    series.first_start, series.read_until))


def forget(account_id: int, series_id: str, *, tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("DELETE FROM calendar_series WHERE account_id = %s AND series_id = %s",
                   (account_id, series_id))


def of_account(account_id: int, *, tx: Tx | None = None) -> list[SeriesSeen]:
    with joined(tx) as tx:
        tx.execute("""SELECT account_id, series_id, fingerprint, first_start, read_until
                      FROM calendar_series WHERE account_id = %s ORDER BY series_id""",
                   (account_id,))
        return [SeriesSeen(**row) for row in tx.fetchall()]


def accounts_with_series(*, tx: Tx | None = None) -> list[int]:
    """Active calendar accounts that have recurring series."""
    with joined(tx) as tx:
        tx.execute("""SELECT DISTINCT s.account_id FROM calendar_series s
                      JOIN accounts a ON a.id = s.account_id WHERE a.status = 'active'
                      ORDER BY s.account_id""")
        return [row["account_id"] for row in tx.fetchall()]


def name_occurrence(link_id: int, series_id: str, occurrence_start: datetime, *,
                    tx: Tx | None = None) -> None:
    with joined(tx) as tx:
        tx.execute("""UPDATE sync_links SET series_id = %s, occurrence_start = %s
                      WHERE id = %s AND series_id IS NULL""",
                   (series_id, occurrence_start, link_id))


def occurrence_links(account_id: int, series_id: str, since: datetime, *,
                     tx: Tx | None = None) -> list[OccurrenceLink]:
    """The active links of the series' occurrences from `since` on, in time order."""
    with joined(tx) as tx:
        tx.execute("""SELECT id AS link_id, calendar_event_id, occurrence_start
                      FROM sync_links WHERE calendar_account_id = %s AND series_id = %s
                        AND occurrence_start >= %s AND status = 'active'
                      ORDER BY occurrence_start""", (account_id, series_id, since))
        return [OccurrenceLink(**row) for row in tx.fetchall()]


def move_occurrence(link_id: int, calendar_event_id: str, occurrence_start: datetime,
                    ical_uid: str | None, *, tx: Tx | None = None) -> None:
    """A series moved in time gives its occurrences new ids: the link follows its
    occurrence to the new one, so its CRM meeting moves rather than being replaced."""
    with joined(tx) as tx:
        tx.execute("""UPDATE sync_links SET calendar_event_id = %s, occurrence_start = %s,
                          ical_uid = %s, updated_at = now()
                      WHERE id = %s""",
                   (calendar_event_id, occurrence_start, ical_uid, link_id))


def links_of_series(account_id: int, series_ids: list[str], *, tx: Tx | None = None
                    ) -> set[int]:
    if not series_ids:
        return set()
    with joined(tx) as tx:
        tx.execute("""SELECT id FROM sync_links WHERE calendar_account_id = %s
                      AND series_id = ANY(%s)""", (account_id, series_ids))
        return {row["id"] for row in tx.fetchall()}

"""Operator commands: what the fleet is doing (`status`, `links`), and doing it now
(`reconcile`, `poll`, `pair`) in this process instead of waiting for a worker.

Output carries ids, states and counts, never tokens. Reads go straight to PostgreSQL and
the broker Redis, so they work while every worker is down.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator

import click
import psycopg2
import psycopg2.errors
import redis

from .store.db import cursor

CALENDAR_RESOURCE = "calendar:events"  # as engine.changes (imported lazily: slow imports)
CRM_RESOURCE = "crm:records"


@contextmanager
def _stores_reachable() -> Iterator[None]:
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


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60),
                                      ("m", 60, "s", 1)):
        if seconds >= size:
            return f"{seconds // size}{unit}{(seconds % size) // sub_size:02d}{sub}"
    return f"{seconds}s"


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, default=str, indent=2))


# --- status ---------------------------------------------------------------------------------


def fleet_status() -> dict[str, Any]:
    """Everything `status` shows, as plain data."""
    from .store import cursors

    with cursor() as cur:
        cur.execute("""SELECT provider, status, count(*) AS n FROM accounts
                       GROUP BY provider, status ORDER BY provider, status""")
        accounts = [dict(r) for r in cur.fetchall()]
        cur.execute("SELECT status, count(*) AS n FROM sync_links GROUP BY status ORDER BY status")
        link_counts = {r["status"]: r["n"] for r in cur.fetchall()}
        cur.execute("SELECT count(*) AS n FROM dead_letters WHERE status = 'open'")
        open_letters = cur.fetchone()["n"]
        cur.execute("""SELECT account_id, count(*) AS n FROM parked_tasks
                       WHERE status = 'parked' GROUP BY account_id ORDER BY account_id""")
        parked = {r["account_id"]: r["n"] for r in cur.fetchall()}
    return {
        "accounts": accounts,
        "links": link_counts,
        "dead_letters_open": open_letters,
        "parked_tasks": {"total": sum(parked.values()), "by_account": parked},
        "cursors": [{k: _plain(v) for k, v in row.items()} for row in cursors.ages()],
        "queues": _queue_depths_or_reason(),
    }


def _queue_depths_or_reason() -> dict[str, Any]:
    from .metrics import queue_depths

    try:
        depths = queue_depths()
    except redis.RedisError as exc:
        return {"unavailable": f"broker Redis unreachable ({type(exc).__name__})"}
    return depths if depths is not None else {"unavailable": "the broker is not Redis"}


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def status(as_json: bool) -> None:
    """Accounts by status, links by status, open dead letters, parked tasks, cursor ages
    per account and resource, and queue depths in the broker."""
    with _stores_reachable():
        state = fleet_status()
    if as_json:
        _echo_json(state)
        return
    by_provider: dict[str, list[str]] = {}
    for row in state["accounts"]:
        by_provider.setdefault(row["provider"], []).append(f"{row['status']} {row['n']}")
    click.echo("accounts      " + ("; ".join(f"{p}: {', '.join(s)}" for p, s in
                                             by_provider.items()) or "none"))
    click.echo("links         " + (", ".join(f"{s} {n}" for s, n in state["links"].items())
                                   or "none"))
    click.echo(f"dead letters  {state['dead_letters_open']} open"
               + ("  (sync-workers dlq list --status open)" if state["dead_letters_open"] else ""))
    parked = state["parked_tasks"]
    click.echo(f"parked tasks  {parked['total']}" + (
        "  (accounts " + ", ".join(f"{a}: {n}" for a, n in parked["by_account"].items()) + ")"
        if parked["total"] else ""))
    queues = state["queues"]
    click.echo("queues        " + (queues["unavailable"] if "unavailable" in queues else
                                   "  ".join(f"{q} {n}" for q, n in queues.items())))
    if not state["cursors"]:
        click.echo("cursors       none yet")
        return
    click.echo("cursors")
    click.echo(f"  {'ACCOUNT':>7}  {'RESOURCE':<16}  {'AGE':>8}  UPDATED")
    for row in state["cursors"]:
        click.echo(f"  {row['account_id']:>7}  {row['resource']:<16}  "
                   f"{_age(row['age_seconds']):>8}  {row['updated_at']:%Y-%m-%d %H:%M:%S %Z}")


# --- links ----------------------------------------------------------------------------------


@click.group("links", help="Links between calendar events and CRM records: list, show.")
def links_group() -> None:
    pass


@links_group.command("list")
@click.option("--account", "account_id", type=int,
              help="Only links of this account (calendar or CRM side).")
@click.option("--status", "link_status", type=click.Choice(["active", "canceled", "deleted"]),
              help="Only links in this status.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True,
              help="At most this many, by id.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def links_list(account_id: int | None, link_status: str | None, limit: int,
               as_json: bool) -> None:
    """List links with both sides' ids and when each was last reconciled."""
    with _stores_reachable(), cursor() as cur:
        cur.execute("""SELECT id, status, calendar_account_id, calendar_event_id,
                              crm_account_id, crm_event_id, crm_contact_id, reconciled_at
                       FROM sync_links
                       WHERE (%(account)s::bigint IS NULL OR calendar_account_id = %(account)s
                              OR crm_account_id = %(account)s)
                         AND (%(status)s::text IS NULL OR status = %(status)s)
                       ORDER BY id LIMIT %(limit)s""",
                    {"account": account_id, "status": link_status, "limit": limit})
        rows = cur.fetchall()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    if not rows:
        click.echo("no links")
        return
    click.echo(f"{'ID':>5}  {'STATUS':<8}  {'CALENDAR (ACCOUNT/EVENT)':<34}  "
               f"{'CRM (ACCOUNT/EVENT)':<28}  RECONCILED")
    for r in rows:
        calendar = f"{r['calendar_account_id']}/{r['calendar_event_id']}"
        crm = f"{r['crm_account_id']}/{r['crm_event_id'] or '-'}"
        reconciled = f"{r['reconciled_at']:%Y-%m-%d %H:%M:%S}" if r["reconciled_at"] else "never"
        click.echo(f"{r['id']:>5}  {r['status']:<8}  {calendar:<34}  {crm:<28}  {reconciled}")


def link_details(link_id: int, changes: int) -> dict[str, Any] | None:
    from .store import links

    with cursor() as cur:
        cur.execute("""SELECT l.*, ca.provider AS calendar_provider,
                              cr.provider AS crm_provider
                       FROM sync_links l
                       JOIN accounts ca ON ca.id = l.calendar_account_id
                       JOIN accounts cr ON cr.id = l.crm_account_id
                       WHERE l.id = %s""", (link_id,))
        row = cur.fetchone()
    if row is None:
        return None
    return {"link": dict(row), "changes": links.history(link_id, changes)}


@links_group.command("show")
@click.argument("link_id", type=int)
@click.option("--changes", type=click.IntRange(0), default=10, show_default=True,
              help="How many of the latest sync_log rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def links_show(link_id: int, changes: int, as_json: bool) -> None:
    """Show one link: both sides' ids, versions and fingerprints, its status, and the
    latest field changes the sync made (from sync_log), newest first."""
    with _stores_reachable():
        details = link_details(link_id, changes)
    if details is None:
        raise click.ClickException(f"link {link_id} does not exist")
    if as_json:
        _echo_json(details)
        return
    link = details["link"]
    reconciled = f"{link['reconciled_at']:%Y-%m-%d %H:%M:%S %Z}" if link["reconciled_at"] \
        else "never"
    click.echo(f"link {link['id']}  status {link['status']}  origin {link['origin']}  "
               f"reconciled {reconciled}")
    click.echo(f"  calendar  account {link['calendar_account_id']} "
               f"({link['calendar_provider']})  event {link['calendar_event_id']}")
    click.echo(f"            version {link['calendar_version'] or '-'}  "
               f"fingerprint {(link['calendar_fingerprint'] or '-')[:16]}")
    click.echo(f"  crm       account {link['crm_account_id']} ({link['crm_provider']})  "
               f"event {link['crm_event_id'] or '-'}  contact {link['crm_contact_id'] or '-'}")
    click.echo(f"            version {link['crm_version'] or '-'}  "
               f"fingerprint {(link['crm_fingerprint'] or '-')[:16]}")
    if not details["changes"]:
        click.echo("  no changes recorded")
        return
    click.echo(f"  latest changes ({len(details['changes'])}):")
    for c in details["changes"]:
        click.echo(f"    {c['at']:%Y-%m-%d %H:%M:%S}  {c['side']:<8}  {c['action']:<6}  "
                   f"{c['field']}: {_short(c['old_value'])} -> {_short(c['new_value'])}")


def _short(value: str | None, width: int = 40) -> str:
    if value is None:
        return "-"
    return repr(value if len(value) <= width else value[:width - 3] + "...")


# --- doing it now -------------------------------------------------------------------------


def _account(account_id: int) -> dict[str, Any]:
    from .store import accounts

    row = accounts.get(account_id)
    if row is None:
        raise click.ClickException(f"account {account_id} does not exist")
    return row


@click.command("reconcile")
@click.argument("link_id", type=int, required=False)
@click.option("--account", "account_id", type=int,
              help="Reconcile every link of this account (calendar or CRM side) instead.")
def reconcile_now(link_id: int | None, account_id: int | None) -> None:
    """Reconcile LINK_ID, or every link of --account, now in this process: read both
    sides, write what differs, one line per link with its outcome. Exit status 1 if any
    link failed (e.g. a worker holds its lock: try again)."""
    from .engine.reconcile import reconcile
    from .reliability.errors import SyncError
    from .store import links

    if (link_id is None) == (account_id is None):
        raise click.UsageError("give either a LINK_ID or --account ACCOUNT_ID")
    with _stores_reachable():
        if account_id is not None:
            _account(account_id)
            link_ids = [link.link_id for link in links.for_account(account_id)]
            if not link_ids:
                click.echo(f"account {account_id} has no links")
                return
        else:
            link_ids = [link_id]
        tally: dict[str, int] = {}
        for done, current in enumerate(link_ids, 1):
            prefix = f"[{done}/{len(link_ids)}] link {current}:"
            try:
                outcome = reconcile(current)
            except SyncError as exc:
                tally["failed"] = tally.get("failed", 0) + 1
                click.echo(f"{prefix} failed: {type(exc).__name__}: {exc.reason}")
                continue
            tally[outcome.result] = tally.get(outcome.result, 0) + 1
            writes = f" ({outcome.writes} write(s))" if outcome.writes else ""
            click.echo(f"{prefix} {outcome.result}{writes}")
    click.echo(", ".join(f"{result} {n}" for result, n in sorted(tally.items())))
    if tally.get("failed"):
        raise SystemExit(1)


@click.command("poll")
@click.argument("account_id", type=int)
@click.option("--resource", type=click.Choice([CALENDAR_RESOURCE, CRM_RESOURCE]),
              help="Only this resource (default: every resource of the account's provider).")
def poll_now(account_id: int, resource: str | None) -> None:
    """List ACCOUNT_ID's changes since its cursor now, in this process, and queue one
    reconcile per affected link for the workers (as the hourly poll does)."""
    from .engine import changes
    from .reliability.errors import SyncError
    from .tasks.dead_letters import dead_letter_rejected_event
    from .tasks.poll import resources_of

    with _stores_reachable():
        resources = [resource] if resource else resources_of(_account(account_id)["provider"])
        if not resources:
            raise click.ClickException(f"account {account_id}: its provider has nothing to poll")
        for name in resources:
            try:
                if name == CALENDAR_RESOURCE:
                    summary = changes.sync_calendar(account_id, on_rejected=dead_letter_rejected_event)
                else:
                    summary = changes.sync_crm(account_id)
            except SyncError as exc:
                raise click.ClickException(f"{name}: {type(exc).__name__}: {exc.reason}") from None
            full = " (full resync: the stored cursor had expired)" if summary.full_resync else ""
            click.echo(f"{name}: listed {summary.listed} change(s), queued "
                       f"{summary.queued} reconcile(s){full}")
            for record_id, reason in summary.rejected:
                click.echo(f"  rejected {record_id}: {reason} (dead-lettered)")


@click.command("pair")
@click.option("--calendar", "calendar_account", type=int, required=True,
              help="Id of the calendar account (e.g. Google).")
@click.option("--crm", "crm_account", type=int, required=True,
              help="Id of the CRM account (e.g. Salesforce) its bookings go to.")
def pair(calendar_account: int, crm_account: int) -> None:
    """Pair a calendar account with a CRM account, so bookings in the calendar sync to
    that CRM (a calendar pairs with one CRM; pairing again replaces it)."""
    from .providers.registry import is_calendar, is_crm
    from .store import links

    with _stores_reachable():
        calendar, crm = _account(calendar_account), _account(crm_account)
        if not is_calendar(calendar["provider"]):
            raise click.ClickException(f"account {calendar_account} is a {calendar['provider']} "
                                       f"account, not a calendar")
        if not is_crm(crm["provider"]):
            raise click.ClickException(f"account {crm_account} is a {crm['provider']} "
                                       f"account, not a CRM")
        before = links.crm_account_for(calendar_account)
        links.pair(calendar_account, crm_account)
    replaced = f" (was CRM account {before})" if before not in (None, crm_account) else ""
    click.echo(f"paired calendar account {calendar_account} ({calendar['provider']}) with "
               f"CRM account {crm_account} ({crm['provider']}){replaced}")


OPERATOR_COMMANDS = (status, links_group, reconcile_now, poll_now, pair)

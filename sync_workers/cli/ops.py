"""Operator commands: what the fleet is doing (`status`), and doing it now (`reconcile`,
`poll`, `pair`) in this process instead of waiting for a worker.

Output carries ids, states and counts, never tokens. Reads go straight to PostgreSQL and
the broker Redis, so they work while every worker is down.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
import redis

from ..engine import changes, pairing
from ..engine.reconcile import reconcile
from ..reliability.errors import SyncError
from ..store import fleet, links
from ..tasks.dead_letters import dead_letter_rejected_event
from .common import age, echo_json, existing_account, stores_reachable
from .links import links_group

CALENDAR_RESOURCE, CRM_RESOURCE = changes.CALENDAR_RESOURCE, changes.CRM_RESOURCE


# --- status ---------------------------------------------------------------------------------


def fleet_status() -> dict[str, Any]:
    """Everything `status` shows, as plain data."""
    state = fleet.read_fleet()
    return {
        "accounts": [asdict(a) for a in state.accounts],
        "links": state.links,
        "dead_letters_open": state.open_dead_letters,
        "parked_tasks": {"total": sum(state.parked_tasks.values()),
                         "by_account": state.parked_tasks},
        "cursors": [asdict(c) for c in state.cursors],
        "queues": _queue_depths_or_reason(),
    }


def _queue_depths_or_reason() -> dict[str, Any]:
    try:
        depths = fleet.queue_depths()
    except redis.RedisError as exc:
        return {"unavailable": f"broker Redis unreachable ({type(exc).__name__})"}
    return depths if depths is not None else {"unavailable": "the broker is not Redis"}


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def status(as_json: bool) -> None:
    """Accounts by status, links by status, open dead letters, parked tasks, cursor ages
    per account and resource, and queue depths in the broker."""
    with stores_reachable():
        state = fleet_status()
    if as_json:
        echo_json(state)
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
                   f"{age(row['age_seconds']):>8}  {row['updated_at']:%Y-%m-%d %H:%M:%S %Z}")


# --- doing it now -------------------------------------------------------------------------


@click.command("reconcile")
@click.argument("link_id", type=int, required=False)
@click.option("--account", "account_id", type=int,
              help="Reconcile every link of this account (calendar or CRM side) instead.")
def reconcile_now(link_id: int | None, account_id: int | None) -> None:
    """Reconcile LINK_ID, or every link of --account, now in this process: read both
    sides, write what differs, one line per link with its outcome. Exit status 1 if any
    link failed (e.g. a worker holds its lock: try again)."""
    if (link_id is None) == (account_id is None):
        raise click.UsageError("give either a LINK_ID or --account ACCOUNT_ID")
    with stores_reachable():
        if account_id is not None:
            existing_account(account_id)
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
    with stores_reachable():
        resources = [resource] if resource \
            else changes.resources_of(existing_account(account_id).provider)
        if not resources:
            raise click.ClickException(f"account {account_id}: its provider has nothing to poll")
        for name in resources:
            try:
                summary = changes.poll(account_id, name, on_rejected=dead_letter_rejected_event)
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
@click.option("--crm-user", "crm_user", metavar="USER_ID",
              help="The rep's user in the CRM (Salesforce: the 005... id). Default: the "
                   "active CRM user with the calendar owner's e-mail.")
def pair(calendar_account: int, crm_account: int, crm_user: str | None) -> None:
    """Pair a calendar account with a CRM account and the rep's user there: bookings in
    the calendar sync to that CRM, owned by the rep, and the rep's meetings made in the
    CRM reach this calendar (nobody else's do). A calendar pairs with one CRM; pairing
    again replaces it. Refused when no CRM user matches: name one with --crm-user."""
    with stores_reachable():
        existing_account(calendar_account), existing_account(crm_account)
        try:
            made = pairing.pair(calendar_account, crm_account, crm_user)
        except (pairing.PairingRefused, SyncError) as exc:
            raise click.ClickException(str(getattr(exc, "reason", exc))) from None
    replaced = f" (was CRM account {made.replaced_crm_account})" \
        if made.replaced_crm_account else ""
    user = made.crm_user
    click.echo(f"paired calendar account {calendar_account} ({made.calendar_provider}) with "
               f"CRM account {crm_account} ({made.crm_provider}), as {made.crm_provider} user "
               f"{user.id} ({user.name or '-'}, {user.email or 'no e-mail'}){replaced}")


OPERATOR_COMMANDS = (status, links_group, reconcile_now, poll_now, pair)

"""`sync-workers links ...`: links between calendar events and CRM records, with both
sides' ids, versions and the latest field changes the sync made."""
from __future__ import annotations

from dataclasses import asdict

import click

from ..store import links
from .common import echo_json, echo_json_lines, stores_reachable


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
    with stores_reachable():
        rows = links.listing(account_id, link_status, limit)
    if as_json:
        echo_json_lines(rows)
        return
    if not rows:
        click.echo("no links")
        return
    click.echo(f"{'ID':>5}  {'STATUS':<8}  {'CALENDAR (ACCOUNT/EVENT)':<34}  "
               f"{'CRM (ACCOUNT/EVENT)':<28}  RECONCILED")
    for r in rows:
        calendar = f"{r.calendar_account_id}/{r.calendar_event_id}"
        crm = f"{r.crm_account_id}/{r.crm_event_id or '-'}"
        reconciled = f"{r.reconciled_at:%Y-%m-%d %H:%M:%S}" if r.reconciled_at else "never"
        click.echo(f"{r.id:>5}  {r.status:<8}  {calendar:<34}  {crm:<28}  {reconciled}")


@links_group.command("show")
@click.argument("link_id", type=int)
@click.option("--changes", type=click.IntRange(0), default=10, show_default=True,
              help="How many of the latest sync_log rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def links_show(link_id: int, changes: int, as_json: bool) -> None:
    """Show one link: both sides' ids, versions and fingerprints, its status, and the
    latest field changes the sync made (from sync_log), newest first."""
    with stores_reachable():
        details = links.details(link_id, changes)
    if details is None:
        raise click.ClickException(f"link {link_id} does not exist")
    if as_json:
        echo_json(asdict(details))
        return
    link = details.link
    reconciled = f"{link.reconciled_at:%Y-%m-%d %H:%M:%S %Z}" if link.reconciled_at else "never"
    click.echo(f"link {link.id}  status {link.status}  origin {link.origin}  "
               f"reconciled {reconciled}")
    click.echo(f"  calendar  account {link.calendar_account_id} "
               f"({link.calendar_provider})  event {link.calendar_event_id}")
    click.echo(f"            version {link.calendar_version or '-'}  "
               f"fingerprint {(link.calendar_fingerprint or '-')[:16]}")
    click.echo(f"  crm       account {link.crm_account_id} ({link.crm_provider})  "
               f"event {link.crm_event_id or '-'}  contact {link.crm_contact_id or '-'}")
    click.echo(f"            version {link.crm_version or '-'}  "
               f"fingerprint {(link.crm_fingerprint or '-')[:16]}")
    if not details.changes:
        click.echo("  no changes recorded")
        return
    click.echo(f"  latest changes ({len(details.changes)}):")
    for c in details.changes:
        click.echo(f"    {c.at:%Y-%m-%d %H:%M:%S}  {c.side:<8}  {c.action:<6}  "
                   f"{c.field}: {_short(c.old_value)} -> {_short(c.new_value)}")


def _short(value: str | None, width: int = 40) -> str:
    if value is None:
        return "-"
    return repr(value if len(value) <= width else value[:width - 3] + "...")

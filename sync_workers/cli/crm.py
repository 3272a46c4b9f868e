"""`sync-workers crm ...`: is a connected CRM ready for the sync."""
from __future__ import annotations

import click

from ..engine.adapters import crm_of
from ..providers.registry import is_crm
from ..reliability.errors import SyncError
from .common import existing_account, stores_reachable


@click.group(help="The CRM side's setup: what the sync needs in the org.")
def crm() -> None:
    pass


@crm.command("check")
@click.argument("account_id", type=int)
def check(account_id: int) -> None:
    """Read the CRM's metadata and say, for every piece the sync needs, whether it is
    there, and if not what to create and where in Setup. Exit status 1 until every
    required piece is there (see docs/salesforce-setup.md)."""
    with stores_reachable():
        account = existing_account(account_id)
        if not is_crm(account.provider):
            raise click.ClickException(f"account {account_id} is a {account.provider} "
                                       f"account, not a CRM")
        try:
            findings = crm_of(account_id).setup_findings()
        except SyncError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc.reason}") from None
    for finding in findings:
        mark = "ok     " if finding.ready else ("MISSING" if finding.required else "advice ")
        click.echo(f"{mark}  {finding.piece}" + (f"\n         {finding.fix}" if finding.fix
                                                  else ""))
    missing = [f for f in findings if f.required and not f.ready]
    click.echo(f"{account.provider} account {account_id}: " + (
        f"{len(missing)} required piece(s) missing" if missing else "ready for the sync"))
    if missing:
        raise SystemExit(1)

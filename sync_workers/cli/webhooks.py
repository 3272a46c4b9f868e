"""`sync-workers webhooks ...`: push channels and signed webhook endpoints."""
from __future__ import annotations

import click

from ..config import get_settings
from ..engine.channels import open_channel, renew_expiring
from ..store import endpoints


@click.group()
def webhooks() -> None:
    """Set up and inspect how providers notify the receiver."""


@webhooks.command("salesforce-endpoint")
@click.argument("account_id", type=int)
@click.option("--org-id", required=True, help="The Salesforce organization id (00D...) "
              "that will post Outbound Messages here.")
def salesforce_endpoint(account_id: int, org_id: str) -> None:
    """Create a secret Outbound Message endpoint for a Salesforce account.

    Prints the URL once: paste it into the Outbound Message's Endpoint URL in Salesforce
    Setup. Only a hash of the secret is stored; a lost URL means creating a new endpoint.
    """
    secret = endpoints.new_secret()
    endpoint_id = endpoints.add_webhook_endpoint(account_id, "salesforce", secret, org_id)
    click.echo(f"{get_settings().public_url}/webhooks/salesforce/{endpoint_id}/{secret}")


@webhooks.command("google-channel")
@click.argument("account_id", type=int)
def google_channel(account_id: int) -> None:
    """Open a Google Calendar push channel for ACCOUNT_ID now (normally done on connect)."""
    click.echo(f"channel {open_channel(account_id)} opened")


@webhooks.command("renew")
def renew() -> None:
    """Replace push channels that expire within a day (Beat does this every few hours)."""
    click.echo(f"renewed {renew_expiring()} channel(s)")


@webhooks.command("list")
@click.option("--account", "account_id", type=int, default=None, help="Only this account.")
def list_channels(account_id: int | None) -> None:
    """List push channels (active and stopped); tokens are never shown."""
    rows = endpoints.list_channels(account_id)
    if not rows:
        click.echo("no push channels")
    for row in rows:
        click.echo(f"account {row.account_id}  {row.channel_id}  {row.status:<8} "
                   f"expires {row.expires_at:%Y-%m-%d %H:%M}")

"""`sync-workers accounts ...`: connected accounts, connect links, key rotation."""
from __future__ import annotations

from dataclasses import asdict

import click

from ..auth import links
from ..auth.crypto import TokenDecryptionError
from ..auth.tokens import rotate_encryption
from ..config import get_settings
from ..engine.disconnect import disconnect as run_disconnect
from ..reliability.errors import SyncError
from ..sandbox.connect import ConnectFailed, connect_without_browser
from ..store import accounts as repo
from .common import echo_json, echo_json_lines

PROVIDERS = ("google", "microsoft", "salesforce", "hubspot")


@click.group(help="Connected provider accounts: list, show, disconnect, connect links, "
                  "token key rotation, parked work.")
def accounts() -> None:
    pass


@accounts.command("list")
@click.option("--status", type=click.Choice(["active", "reauth_required", "disabled"]),
              help="Only accounts in this status.")
@click.option("--provider", type=click.Choice(PROVIDERS), help="Only this provider.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_accounts(status, provider, as_json) -> None:
    """List accounts (never their tokens)."""
    rows = repo.list_all(status, provider)
    if as_json:
        echo_json_lines(rows)
        return
    if not rows:
        click.echo("no accounts")
        return
    click.echo(f"{'ID':>5}  {'PROVIDER':<10}  {'STATUS':<15}  {'OWNER':<20}  EXTERNAL ID")
    for r in rows:
        click.echo(f"{r.id:>5}  {r.provider:<10}  {r.status:<15}  "
                   f"{r.owner[:20]:<20}  {r.external_account_id}")
        if r.last_error:
            click.echo(f"{'':>7}last error: {r.last_error[:100]}")


@accounts.command("show")
@click.argument("account_id", type=int)
def show(account_id) -> None:
    """Show one account: status, token expiry and version, parked tasks (no tokens)."""
    details = repo.get(account_id)
    if details is None:
        raise click.ClickException(f"account {account_id} does not exist")
    echo_json(asdict(details))


@accounts.command("disconnect")
@click.argument("account_id", type=int)
@click.option("--no-revoke", is_flag=True,
              help="Do not revoke at the provider (e.g. it is unreachable for good).")
def disconnect(account_id, no_revoke) -> None:
    """Revoke the grant at the provider where it can, then disable the account and delete
    its tokens. If the provider cannot be reached, nothing changes: try again later."""
    try:
        outcome = run_disconnect(account_id, revoke_at_provider=not no_revoke)
    except (SyncError, TokenDecryptionError) as exc:
        raise click.ClickException(f"account {account_id} unchanged: {exc}") from None
    click.echo(f"account {account_id} disabled ({outcome})")


@accounts.command("connect-link")
@click.option("--provider", required=True, type=click.Choice(PROVIDERS))
@click.option("--owner", required=True, help="Who the connected account will belong to.")
@click.option("--ttl", type=click.IntRange(1), default=links.DEFAULT_TTL, show_default=True,
              help="Seconds until the link expires.")
def connect_link(provider, owner, ttl) -> None:
    """Print a signed, expiring link that starts connecting PROVIDER for OWNER."""
    settings = get_settings()
    link = links.sign_link(provider, owner, settings.secret_keys[0], ttl)
    click.echo(links.start_url(settings.public_url, provider, link))


@accounts.command("connect-sandbox")
@click.option("--provider", required=True, type=click.Choice(PROVIDERS))
@click.option("--owner", required=True, help="Who the connected account will belong to.")
@click.option("--user", help="The sandbox user who approves (default: the sandbox's).")
@click.option("--receiver", help="Base URL of the running receiver (default: SYNC_PUBLIC_URL).")
def connect_sandbox(provider, owner, user, receiver) -> None:
    """Connect an account against the sandbox without a browser: the sandbox approves at
    once, and this command follows the redirects through the receiver's callback."""
    settings = get_settings()
    if settings.environment == "production":
        raise click.ClickException("connect-sandbox is for the sandbox, not production")
    link = links.sign_link(provider, owner, settings.secret_keys[0], ttl=300)
    try:
        answer = connect_without_browser(
            links.start_url(receiver or settings.public_url, provider, link), user)
    except ConnectFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"connected account {answer['account_id']} ({provider} "
               f"{answer['external_account_id']}, owner {answer['owner']})")


@accounts.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored token with the first SYNC_SECRET_KEY. Put the new key
    first (SYNC_SECRET_KEY=new,old), run this, then the old key can be removed."""
    try:
        done = rotate_encryption()
    except TokenDecryptionError as exc:
        raise click.ClickException(f"nothing re-encrypted: {exc}") from None
    click.echo(f"re-encrypted the tokens of {done} account(s)")


@accounts.command("parked")
@click.option("--account", "account_id", type=int, help="Only this account's tasks.")
@click.option("--status", type=click.Choice(["parked", "superseded"]), default="parked",
              show_default=True)
def parked(account_id, status) -> None:
    """List tasks parked because their account needs re-authorisation."""
    rows = repo.parked_tasks(account_id, status)
    if not rows:
        click.echo(f"no {status} tasks")
    for r in rows:
        click.echo(f"{r.id:>5}  account {r.account_id}  {r.task_name:<24}  "
                   f"{r.parked_at:%Y-%m-%d %H:%M:%S}  {r.reason[:60]}")

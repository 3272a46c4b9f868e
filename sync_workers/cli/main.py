"""`sync-workers`: the root group, migrations, settings and dead letters. Every command has
--help; the other groups live beside this module, one file each."""
from __future__ import annotations

import sys
from dataclasses import asdict

import click

from ..config import ConfigError, describe, get_settings
from ..logging import configure_logging
from ..mapping.ownership import OwnershipError, load_ownership
from ..store import dead_letters
from ..store.db import ensure_database
from ..store.migrate import migrate as run_migrations
from ..tasks.dead_letters import replay_letter
from . import accounts, crm, demo, ops, sandbox, webhooks
from .common import echo_json, echo_json_lines


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Operate sync-workers: status, links, reconcile or poll now, dead letters, accounts,
    migrations, the sandbox."""
    try:
        settings = get_settings()
        load_ownership(settings.ownership_file)
    except (ConfigError, OwnershipError) as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    configure_logging(settings.log_level, fmt=settings.log_format)
    # Here, not at the top: the Celery app is made from the settings just checked, so a bad
    # setting is one clear line instead of a traceback at import.
    from .. import celery_app  # noqa: F401, PLC0415 (binds the publisher every command uses)


@main.command()
def migrate() -> None:
    """Create the database if needed and apply pending SQL migrations (safe to repeat)."""
    url = get_settings().database_url
    if ensure_database(url):
        click.echo("created database")
    applied = run_migrations(url)
    click.echo(f"applied {len(applied)} migration(s)"
               + (": " + ", ".join(applied) if applied else ""))


@main.command("config")
def show_config() -> None:
    """Print every SYNC_* variable with its default."""
    for name, default in describe():
        click.echo(f"{name}={default}")


@main.group()
def dlq() -> None:
    """Inspect, replay and discard dead letters."""


@dlq.command("list")
@click.option("--status", type=click.Choice(["open", "replayed", "discarded"]), default=None,
              help="Only letters in this status (default: all).")
@click.option("--task", "task_name", default=None, help="Only letters of this task name.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def dlq_list(status, task_name, limit, as_json) -> None:
    """List dead letters, newest first."""
    rows = dead_letters.list_letters(status, task_name, limit)
    if as_json:
        echo_json_lines(rows)
        return
    if not rows:
        click.echo("no dead letters")
        return
    click.echo(f"{'ID':>5}  {'STATUS':<9}  {'TASK':<24}  {'ERROR':<14}  {'ATTEMPTS':>8}  REASON")
    for r in rows:
        click.echo(f"{r.id:>5}  {r.status:<9}  {r.task_name:<24}  "
                   f"{r.error_type:<14}  {r.attempts:>8}  {r.error_message[:60]}")


@dlq.command("show")
@click.argument("letter_id", type=int)
def dlq_show(letter_id) -> None:
    """Show one dead letter with payload and traceback."""
    letter = dead_letters.get(letter_id)
    if letter is None:
        raise click.ClickException(f"dead letter {letter_id} does not exist")
    echo_json(asdict(letter))


@dlq.command("replay")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
def dlq_replay(letter_ids) -> None:
    """Re-publish dead tasks through their own queues; the records note the new task ids."""
    failed = False
    for letter_id in letter_ids:
        try:
            click.echo(f"{letter_id}: replayed as task {replay_letter(letter_id)}")
        except (LookupError, ValueError) as exc:
            failed = True
            click.echo(f"{letter_id}: {exc}", err=True)
    sys.exit(1 if failed else 0)


@dlq.command("discard")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="Why these letters need no replay (kept).")
def dlq_discard(letter_ids, reason) -> None:
    """Mark dead letters as discarded, keeping the reason. Nothing is deleted."""
    failed = False
    for letter_id in letter_ids:
        if dead_letters.discard(letter_id, reason):
            click.echo(f"{letter_id}: discarded")
        else:
            failed = True
            click.echo(f"{letter_id}: not open or does not exist", err=True)
    sys.exit(1 if failed else 0)


for command in (accounts.accounts, crm.crm, sandbox.sandbox, webhooks.webhooks, demo.demo,
                *ops.OPERATOR_COMMANDS):
    main.add_command(command)

"""`sync-workers demo`: the CLI entry; demo/run.py does the work."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--keep-running", is_flag=True,
              help="Stay up after the summary (to click around Flower) until Ctrl-C.")
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
@click.option("--port-base", "--sandbox-port-base", "port_base", type=click.IntRange(0, 65532),
              default=8901, show_default=True,
              help="First of the sandbox's four consecutive ports (Google, Salesforce, "
                   "Microsoft, HubSpot); 0 picks free ports, as does a taken range.")
@click.option("--receiver-port", type=click.IntRange(0, 65535), default=8000,
              show_default=True, help="Port of the receiver (gunicorn); 0 or a taken port "
                                      "picks a free one.")
@click.option("--flower-port", type=click.IntRange(0, 65535), default=5555, show_default=True,
              help="Port of Flower; 0 or a taken port picks a free one.")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".run/demo"), show_default=True,
              help="Where each process's output goes (emptied per run).")
@click.option("--step-timeout", type=click.FloatRange(5), default=60.0, show_default=True,
              help="Seconds a step may take to converge before it counts as failed.")
def demo(keep_running: bool, no_flower: bool, port_base: int, receiver_port: int,
         flower_port: int, log_dir: Path, step_timeout: float) -> None:
    """Run the whole pipeline against the sandbox and narrate a scenario.

    Starts the sandbox providers, the receiver under gunicorn, a worker on every queue,
    Beat and Flower as child processes (their output in --log-dir); connects a Google and
    a Salesforce sandbox account through the receiver and pairs them; then plays a
    booking, a reschedule, a contact rename in the CRM, a cancellation, a 429 storm, a
    lost webhook caught by the poller and a malformed event that is dead-lettered, each
    step waiting until both sides show the result. Ends with a summary.

    Uses the database and Redis of SYNC_DATABASE_URL, SYNC_REDIS_URL and SYNC_BROKER_URL
    (the database is created and migrated if needed). Ctrl-C or SIGTERM stops everything
    the demo started. Exit code 0 when every step converged, 1 otherwise.
    """
    # Here: the other commands need not load the demo.
    from ..demo.run import Options, run  # noqa: PLC0415

    sys.exit(run(Options(keep_running=keep_running, flower=not no_flower,
                         port_base=port_base, receiver_port=receiver_port,
                         flower_port=flower_port, log_dir=log_dir,
                         step_timeout=step_timeout)))

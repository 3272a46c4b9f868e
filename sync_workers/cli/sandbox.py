"""`sandbox` CLI group: run the provider emulators for the demo or for manual testing.

The main CLI adds this group; it also runs on its own:
`python -m sync_workers.cli.sandbox serve --help`.
"""
from __future__ import annotations

import signal
import threading

import click

from ..sandbox import oauth
from ..sandbox.core import Latency
from ..sandbox.server import PROVIDERS, Sandbox
from ..sandbox.webhooks import DeliveryFaults

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT_BASE = 8901  # google 8901, salesforce 8902, microsoft 8903, hubspot 8904


def provider_ports(port_base: int, overrides: dict[str, int | None]) -> dict[str, int]:
    """Consecutive ports from `port_base` in PROVIDERS order; 0 means all ephemeral."""
    ports = {p: (port_base + i if port_base else 0) for i, p in enumerate(PROVIDERS)}
    ports.update({p: port for p, port in overrides.items() if port is not None})
    return ports


def export_lines(env: dict[str, str]) -> list[str]:
    return [f"export {name}={value}" for name, value in env.items()]


@click.group(help="Local emulators of Google Calendar, Microsoft Graph, Salesforce and "
                  "HubSpot (the sandbox).")
def sandbox() -> None:
    pass


@sandbox.command(help="Serve every emulated provider, print the base URLs and the SYNC_* "
                      "variables to export, and run until Ctrl-C.")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Interface to listen on (loopback by default: the sandbox has no auth "
                   "on its /_sandbox control API).")
@click.option("--port-base", type=int, default=DEFAULT_PORT_BASE, show_default=True,
              help="First of four consecutive ports (google, salesforce, microsoft, "
                   "hubspot); 0 picks free ports.")
@click.option("--google-port", type=int, help="Port for Google (overrides --port-base).")
@click.option("--salesforce-port", type=int, help="Port for Salesforce (overrides --port-base).")
@click.option("--microsoft-port", type=int, help="Port for Microsoft (overrides --port-base).")
@click.option("--hubspot-port", type=int, help="Port for HubSpot (overrides --port-base).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random fault and webhook-fault generators, to replay a run.")
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of provider API requests answered with a random 503.")
@click.option("--webhook-drop-rate", type=click.FloatRange(0, 1), default=0.0,
              show_default=True, help="Share of outbound webhook deliveries silently dropped.")
@click.option("--webhook-duplicate-rate", type=click.FloatRange(0, 1), default=0.0,
              show_default=True, help="Share of outbound webhook deliveries sent twice.")
@click.option("--webhook-delay", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Seconds to hold each webhook delivery back.")
@click.option("--webhook-reorder", is_flag=True,
              help="Deliver each webhook after the one that follows it.")
@click.option("--salesforce-rotate-refresh-tokens", is_flag=True,
              help="Turn on refresh-token rotation for the default Salesforce client (each "
                   "refresh returns a new token and kills the old one).")
@click.option("--salesforce-session-timeout", type=click.IntRange(1), default=7200,
              show_default=True,
              help="Lifetime in seconds of Salesforce access tokens (the org session timeout).")
@click.option("--latency", "latencies", multiple=True, metavar="PROVIDER=SECONDS[:JITTER]",
              help="Answer each API call of PROVIDER after SECONDS, plus up to JITTER more "
                   "(repeatable), e.g. --latency google=0.1:0.05 --latency salesforce=0.15.")
@click.option("--redirect-uri", multiple=True,
              help="Redirect URI the default OAuth clients accept (repeatable). Without it "
                   "they accept any loopback URI.")
def serve(host: str, port_base: int, google_port: int | None, salesforce_port: int | None,
          microsoft_port: int | None, hubspot_port: int | None, seed: int, fault_rate: float,
          webhook_drop_rate: float, webhook_duplicate_rate: float, webhook_delay: float,
          webhook_reorder: bool, salesforce_rotate_refresh_tokens: bool,
          salesforce_session_timeout: int, latencies: tuple[str, ...],
          redirect_uri: tuple[str, ...]) -> None:
    parsed_latencies = {provider: latency for provider, latency in map(_latency, latencies)}
    ports = provider_ports(port_base, {"google": google_port, "salesforce": salesforce_port,
                                       "microsoft": microsoft_port, "hubspot": hubspot_port})
    running = Sandbox(host=host, ports=ports).start()
    state = running.state
    webhook_faults = DeliveryFaults(
        drop_rate=webhook_drop_rate, duplicate_rate=webhook_duplicate_rate,
        delay_seconds=webhook_delay, reorder=webhook_reorder, seed=seed)

    def apply_faults() -> None:
        state.faults.set_rate(fault_rate, seed)
        state.webhooks.set_faults(webhook_faults)

    state.on_reset(apply_faults)  # runs now, and again after each /_sandbox/reset
    for provider, latency in parsed_latencies.items():
        state.set_latency(provider, latency)
    _configure_oauth(state, redirect_uri, salesforce_rotate_refresh_tokens,
                     salesforce_session_timeout)
    _print_banner(running)
    _wait_for_stop()
    running.stop()
    click.echo("sandbox stopped")


def _latency(text: str) -> tuple[str, Latency]:
    provider, sep, value = text.partition("=")
    seconds, _, jitter = value.partition(":")
    if not sep or provider not in PROVIDERS:
        raise click.BadParameter(f"{text!r}: expected PROVIDER=SECONDS[:JITTER], PROVIDER one "
                                 f"of {', '.join(PROVIDERS)}", param_hint="--latency")
    try:
        return provider, Latency(float(seconds), float(jitter or 0))
    except ValueError as error:
        raise click.BadParameter(f"{text!r}: {error}", param_hint="--latency") from None


def _configure_oauth(state, redirect_uris: tuple[str, ...], rotate: bool,
                     session_timeout: int) -> None:
    # As defaults, so that they survive a /_sandbox/reset from the demo or a test.
    for provider in PROVIDERS:
        if redirect_uris:
            oauth.set_default_client_settings(state, provider, redirect_uris=list(redirect_uris))
    oauth.set_default_client_settings(state, "salesforce", rotate_refresh_tokens=rotate,
                                      access_token_lifetime=session_timeout)


def _print_banner(running: Sandbox) -> None:
    for provider in PROVIDERS:
        click.echo(f"{provider:<11} {running.origin(provider)}")
    click.echo("")
    for provider, (client_id, secret) in oauth.DEFAULT_CLIENTS.items():
        click.echo(f"# {provider} OAuth client: id={client_id} secret={secret}")
    for line in export_lines(running.env()):
        click.echo(line)
    click.echo("# Ctrl-C to stop", err=False)


def _wait_for_stop() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM, so `kill` and container stops end it cleanly."""
    stop = threading.Event()
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in handled}
    try:
        while not stop.wait(timeout=1.0):  # a timed wait lets the signal handler run
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sandbox()

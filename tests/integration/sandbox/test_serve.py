"""`sandbox serve`: its help, its port layout, and a real run stopped like Ctrl-C does."""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import requests
from click.testing import CliRunner

from sync_workers.cli.sandbox import provider_ports, sandbox


def test_serve_help_documents_every_option():
    result = CliRunner().invoke(sandbox, ["serve", "--help"])

    assert result.exit_code == 0
    for option in ("--host", "--port-base", "--google-port", "--salesforce-port",
                   "--microsoft-port", "--hubspot-port", "--seed", "--fault-rate",
                   "--webhook-drop-rate", "--salesforce-rotate-refresh-tokens",
                   "--redirect-uri"):
        assert option in result.output
    # Every option line carries help text, not only its name and type.
    serve = sandbox.commands["serve"]
    assert all(param.help for param in serve.params)


def test_ports_are_consecutive_from_the_base_and_overridable():
    assert provider_ports(8901, {"hubspot": 9999, "google": None}) == {
        "google": 8901, "salesforce": 8902, "microsoft": 8903, "hubspot": 9999}
    assert set(provider_ports(0, {}).values()) == {0}


def test_serve_prints_urls_and_exports_and_stops_on_ctrl_c():
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_workers.cli.sandbox", "serve", "--port-base", "0",
         "--salesforce-rotate-refresh-tokens"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = _read_until(proc, "# Ctrl-C to stop")
        origins = dict(re.findall(r"^(google|salesforce|microsoft|hubspot)\s+(http://\S+)$",
                                  "\n".join(lines), re.M))
        exports = [line for line in lines if line.startswith("export SYNC_")]

        assert set(origins) == {"google", "salesforce", "microsoft", "hubspot"}
        assert f"export SYNC_SALESFORCE_LOGIN_URL={origins['salesforce']}" in exports
        clients = requests.get(f"{origins['salesforce']}/_sandbox/oauth/clients", timeout=5)
        assert clients.json()[0]["rotate_refresh_tokens"] is True
        # The serve settings outlive a reset done by a test run or the demo.
        requests.post(f"{origins['salesforce']}/_sandbox/reset", timeout=5)
        clients = requests.get(f"{origins['salesforce']}/_sandbox/oauth/clients", timeout=5)
        assert clients.json()[0]["rotate_refresh_tokens"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out


def _read_until(proc: subprocess.Popen, marker: str) -> list[str]:
    lines = []
    for line in proc.stdout:  # blocks until the server prints; no sleeping
        lines.append(line.rstrip("\n"))
        if line.startswith(marker):
            return lines
    raise AssertionError(f"serve exited early: {proc.stderr.read()}")

"""Start each process of the demo and wait (with a deadline) until it answers.

Every child runs the same commands an operator would (see docs/architecture.md), from the
same virtualenv as the demo itself.
"""
from __future__ import annotations

import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from ..celery_app import app
from .progress import Narrator
from .supervisor import Child, Supervisor

QUEUES = "events,reconcile,poll,dlq"
START_TIMEOUT = 45.0  # a cold start of Celery on a busy machine takes a while


class StartFailed(RuntimeError):
    def __init__(self, child: Child, what: str) -> None:
        super().__init__(f"{child.name} did not {what} within {START_TIMEOUT:.0f}s; "
                         f"its log: {child.log_path}\n{child.log_tail()}")


def _celery(*args: str) -> list[str]:
    # -q: no banner; every line the worker and Beat write is a JSON log record.
    return [sys.executable, "-m", "celery", "-q", "-A", "sync_workers.celery_app", *args]


def sync_workers_command(*args: str) -> list[str]:
    """`sync-workers ARGS` from the demo's own virtualenv, as an operator would type it."""
    script = shutil.which("sync-workers", path=str(Path(sys.executable).parent))
    if script:
        return [script, *args]
    return [sys.executable, "-m", "sync_workers.cli", *args]


def _answers(url: str, auth: tuple[str, str] | None = None) -> bool:
    return requests.get(url, timeout=2, auth=auth).status_code == 200


# --- the sandbox ------------------------------------------------------------------------

@dataclass(frozen=True)
class SandboxInfo:
    env: dict[str, str]  # the SYNC_* variables it printed
    google: str  # origins
    salesforce: str


def start_sandbox(sup: Supervisor, narrator: Narrator, env: dict[str, str],
                  port_base: int) -> SandboxInfo:
    child = sup.start("sandbox", sync_workers_command("sandbox", "serve", "--port-base",
                                                      str(port_base)), env)
    exported = narrator.wait_until(lambda: _sandbox_banner(child.log_path), START_TIMEOUT,
                                   guard=sup.check)
    if not exported:
        raise StartFailed(child, "print its URLs")
    google = exported["SYNC_GOOGLE_API_URL"].removesuffix("/calendar/v3")
    return SandboxInfo(exported, google, exported["SYNC_SALESFORCE_LOGIN_URL"])


def _sandbox_banner(log_path: Path) -> dict[str, str] | None:
    text = log_path.read_text(errors="replace")
    if "# Ctrl-C to stop" not in text:  # the banner's last line: all exports are out
        return None
    pairs = (line.removeprefix("export ").split("=", 1) for line in text.splitlines()
             if line.startswith("export SYNC_"))
    return {name: value for name, value in pairs}


# --- receiver, worker, Beat, Flower ---------------------------------------------------

def start_receiver(sup: Supervisor, narrator: Narrator, env: dict[str, str],
                   port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    child = sup.start("receiver", [
        # No gunicorn access log: it prints raw paths, and an Outbound Message's path holds
        # its endpoint's secret. The receiver logs each request with its route pattern.
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--logger-class", "sync_workers.receiver.gunicorn_logging.JsonLogger",
        "sync_workers.receiver.wsgi:app"], env)
    if not narrator.wait_until(lambda: _answers(f"{url}/readyz"), START_TIMEOUT,
                               guard=sup.check):
        raise StartFailed(child, "answer /readyz")
    return url


def start_worker(sup: Supervisor, narrator: Narrator, env: dict[str, str],
                 run_id: str) -> str:
    """Start the worker; returns its name."""
    name = f"demo-{run_id}@{socket.gethostname()}"
    child = sup.start("worker", _celery(
        "worker", "-Q", QUEUES, "--pool", "threads", "-c", "8", "-E", "-n", name,
        "--without-gossip", "--without-mingle", "--loglevel", "INFO"), env)
    if not narrator.wait_until(lambda: app.control.ping(destination=[name], timeout=0.5),
                               START_TIMEOUT, guard=sup.check):
        raise StartFailed(child, "answer a ping")
    return name


def start_beat(sup: Supervisor, narrator: Narrator, env: dict[str, str],
               log_dir: Path) -> None:
    child = sup.start("beat", _celery(
        "beat", "--loglevel", "INFO", "--schedule", str(log_dir / "celerybeat-schedule")), env)
    if not narrator.wait_until(lambda: "Starting" in child.log_path.read_text(errors="replace"),
                               START_TIMEOUT, guard=sup.check):
        raise StartFailed(child, "start")


def start_flower(sup: Supervisor, narrator: Narrator, env: dict[str, str], port: int,
                 basic_auth: str) -> str:
    url = f"http://127.0.0.1:{port}"
    # The credentials travel in the environment, not on the command line (`ps` shows that).
    child = sup.start("flower", _celery("flower", "--address=127.0.0.1", f"--port={port}"),
                      {**env, "FLOWER_BASIC_AUTH": basic_auth})
    user, _, password = basic_auth.split(",")[0].partition(":")
    if not narrator.wait_until(lambda: _answers(f"{url}/healthcheck", (user, password)),
                               START_TIMEOUT, guard=sup.check):
        raise StartFailed(child, "answer /healthcheck")
    return url


def other_workers(ours: str) -> list[str]:
    """Workers on the broker that the demo did not start (e.g. `make run`'s): they would
    take some of the demo's tasks and run them with their own settings."""
    return sorted(name for reply in app.control.ping(timeout=1.0) or [] for name in reply
                  if name != ours)

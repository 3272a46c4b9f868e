"""The demo from start to end: set-up, scenario, summary; and the stop of everything it
started, whatever happens (Ctrl-C, SIGTERM, a failure)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import click
import psycopg2
import redis
from kombu.exceptions import OperationalError as BrokerError

from ..config import get_settings
from ..logging import configure_logging
from ..sandbox.connect import ConnectFailed
from . import startup
from .guard import DemoAlreadyRunning, RunClaim
from .options import Options
from .progress import Narrator
from .readback import pipeline_quiet
from .scene import Scene
from .stack import StartFailed
from .steps import STEPS, play
from .summary import WhereToLook, print_summary
from .supervisor import ChildExited, Supervisor

SETTLE_TIMEOUT = 30.0
_SERVICE_ERRORS = (psycopg2.OperationalError, redis.RedisError, BrokerError)
_STOPS = (ChildExited, StartFailed, startup.SetupFailed, ConnectFailed, DemoAlreadyRunning)


def run(opts: Options) -> int:
    """0 when every scenario step converged, 1 otherwise, 130 when interrupted."""
    if get_settings().environment == "production":
        raise click.ClickException("the demo drives the sandbox; it does not run in production")
    opts.log_dir.mkdir(parents=True, exist_ok=True)
    _log_to_file(opts.log_dir / "demo.log")
    steps = startup.STEPS + (1 if opts.flower else 0) + len(STEPS) + 1  # +1: the settle
    narrator = Narrator(steps)
    supervisor = Supervisor(opts.log_dir)
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in handled}
    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop like Ctrl-C does
        signal.signal(sig, _interrupt)
    demo = Demo(opts, narrator, supervisor)
    try:
        code = demo.play()
        if opts.keep_running:
            demo.stay_up()
        return code
    except KeyboardInterrupt:
        narrator.say()
        narrator.say("interrupted")
        return 130
    except _STOPS as exc:
        narrator.failed()
        narrator.say(str(exc))
        return 1
    except _SERVICE_ERRORS as exc:
        narrator.failed(f"{type(exc).__name__}: {exc}")
        narrator.say("PostgreSQL or Redis does not answer: `make services` checks and starts "
                     "them (SYNC_DATABASE_URL, SYNC_REDIS_URL, SYNC_BROKER_URL say where)")
        return 1
    finally:
        # A second Ctrl-C must not leave children behind: shutdown runs to its end.
        for sig in handled:
            signal.signal(sig, signal.SIG_IGN)
        if supervisor.children:
            narrator.say(f"stopping the {len(supervisor.children)} processes the demo started")
            killed = supervisor.stop_all()
            if killed:
                narrator.say(f"  killed after the grace period: {', '.join(killed)}")
        demo.claim.release()  # after the children: they used the queues until now
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Demo:
    def __init__(self, opts: Options, narrator: Narrator, supervisor: Supervisor) -> None:
        self.opts, self.narrator, self.supervisor = opts, narrator, supervisor
        self.startup = startup.Startup(opts, narrator, supervisor)
        self.claim = RunClaim(self.startup.run_id)

    def play(self) -> int:
        up = self.startup
        up.introduce()
        up.prepare_storage(self.claim)
        sandbox, receiver = up.start_processes()
        accounts = up.connect_accounts(sandbox, receiver)
        self.narrator.heading("The scenario")
        sandbox.calendar_user = accounts.calendar_user
        worker_log = self.opts.log_dir / "worker.log"
        results = play(Scene(sandbox, accounts, self.narrator, self.supervisor.check,
                             self.opts.step_timeout, worker_log))
        self.narrator.step("letting the pipeline go quiet before counting")
        if self.narrator.wait_until(pipeline_quiet, SETTLE_TIMEOUT, guard=self.supervisor.check):
            self.narrator.ok()
        else:
            self.narrator.done("busy", f"still after {SETTLE_TIMEOUT:.0f}s: counts may grow")
        converged = print_summary(self.narrator, results, sandbox.requests_log(), worker_log,
                                  accounts.ids, self._where_to_look(), up.metrics_urls)
        return 0 if converged else 1

    def stay_up(self) -> None:
        url = self.startup.flower_url
        self.narrator.say()
        self.narrator.say("Still running (--keep-running)" + (f"; Flower at {url}" if url else "")
                          + ". Ctrl-C stops everything.")
        try:
            while True:
                self.supervisor.check()
                time.sleep(1)
        except KeyboardInterrupt:
            self.narrator.say()

    def _where_to_look(self) -> WhereToLook:
        overridden = [name for name in ("SYNC_DATABASE_URL", "SYNC_REDIS_URL",
                                        "SYNC_BROKER_URL") if name in os.environ]
        note = ("run these with the demo's " + ", ".join(overridden) + " set") \
            if overridden else ""
        return WhereToLook(self.opts.log_dir, self.startup.flower_url, self.startup.flower_hint,
                           (f"{'sync-workers dlq list --status open':<40} dead letters",
                            f"{'sync-workers status':<40} accounts, links, queues",
                            f"{'sync-workers webhooks list':<40} push channels"), note)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _log_to_file(path: Path) -> None:
    """This process's own JSON logs go to a file: the terminal is for the narration."""
    configure_logging(get_settings().log_level, stream=open(path, "w", encoding="utf-8"))

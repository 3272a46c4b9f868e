"""Getting the demo going: the database, the processes, the accounts. Each part is one
numbered step of the narration."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from ..config import get_settings
from ..store.db import ensure_database
from ..store.migrate import migrate
from . import accounts as demo_accounts
from . import ports, stack
from .guard import RunClaim
from .options import Options
from .progress import Narrator
from .sandbox_client import SandboxClient
from .supervisor import Supervisor

SANDBOX_PORTS = 4  # google, salesforce, microsoft, hubspot
STEPS = 7  # database, sandbox, receiver, worker, Beat, connect, pair (Flower: one more)


class SetupFailed(RuntimeError):
    pass


@dataclass
class Startup:
    opts: Options
    narrator: Narrator
    supervisor: Supervisor
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    # The children's environment; it learns the sandbox's URLs and the receiver's.
    env: dict[str, str] = field(
        default_factory=lambda: {**os.environ, "PYTHONUNBUFFERED": "1"})  # logs in real time
    flower_url: str | None = None
    flower_hint: str = ""  # how to log in to Flower, without the password
    metrics_urls: dict[str, str] = field(default_factory=dict)  # receiver and worker /metrics

    def introduce(self) -> None:
        s = get_settings()
        say = self.narrator.say
        say("sync-workers demo: Google Calendar <-> Salesforce through the whole pipeline, "
            "against the sandbox")
        say(f"  database  {_hide_password(s.database_url)}")
        say(f"  redis     {_hide_password(s.redis_url)} (broker {_hide_password(s.broker_url)})")
        say(f"  logs      {self.opts.log_dir}/ (one file per process)")
        say("  Ctrl-C stops everything the demo started.")
        self.narrator.heading("Starting up")

    def prepare_storage(self, claim: RunClaim) -> None:
        self.narrator.step("database and Redis: migrations, one demo per Redis database")
        claim.acquire()
        url = get_settings().database_url
        created = ensure_database(url)
        applied = migrate(url)
        retired = demo_accounts.retire_earlier_demo_accounts()
        self.narrator.ok(("created, " if created else "") + f"{len(applied)} migration(s) applied"
                         + (f", {retired} account(s) of earlier demo runs disabled"
                            if retired else ""))

    def start_processes(self) -> tuple[SandboxClient, str]:
        n, sup = self.narrator, self.supervisor
        n.step("sandbox providers (sync-workers sandbox serve)")
        base, moved = ports.pick_base(self.opts.port_base, SANDBOX_PORTS)
        info = stack.start_sandbox(sup, n, self.env, base)
        n.ok(f"Google {info.google}, Salesforce {info.salesforce}"
             + (f" (ports {self.opts.port_base}.. were taken)" if moved else ""))

        port, moved = ports.pick(self.opts.receiver_port)
        receiver = f"http://127.0.0.1:{port}"
        # Children and this process talk to the sandbox; providers reach the receiver here.
        for env in (self.env, os.environ):
            env.update(info.env, SYNC_PUBLIC_URL=receiver)
        get_settings.cache_clear()

        n.step("receiver (gunicorn sync_workers.receiver.wsgi:app)")
        stack.start_receiver(sup, n, self.env, port)
        n.ok(receiver + (f" (port {self.opts.receiver_port} was taken)" if moved else ""))
        n.step("worker on every queue (celery worker -E)")
        metrics_port = ports.free_port()
        self.env["SYNC_METRICS_PORT"] = str(metrics_port)
        self.metrics_urls = {"receiver": f"{receiver}/metrics",
                             "worker": f"http://127.0.0.1:{metrics_port}/metrics"}
        worker = stack.start_worker(sup, n, self.env, self.run_id)
        n.ok(worker)
        others = stack.other_workers(worker)
        if others:
            n.detail(f"warning: other workers use this broker ({', '.join(others)}); they will "
                     f"take some of the demo's tasks with their own settings")
        n.step("Beat (celery beat; the hourly poll and channel renewals)")
        stack.start_beat(sup, n, self.env, self.opts.log_dir)
        n.ok()
        if self.opts.flower:
            self.start_flower()
        return SandboxClient(info.google, info.salesforce), receiver

    def start_flower(self) -> None:
        n = self.narrator
        n.step("Flower (celery flower, basic auth)")
        port, moved = ports.pick(self.opts.flower_port)
        given = os.environ.get("FLOWER_BASIC_AUTH")
        basic_auth = given or f"demo:{secrets.token_urlsafe(12)}"
        self.flower_url = stack.start_flower(self.supervisor, n, self.env, port, basic_auth)
        n.ok(self.flower_url + (f" (port {self.opts.flower_port} was taken)" if moved else ""))
        if given:
            self.flower_hint = "credentials from FLOWER_BASIC_AUTH"
        else:
            n.detail(f"user demo, password {basic_auth.split(':', 1)[1]} "
                     f"(made for this run, shown only here)")
            self.flower_hint = "user demo, password shown when Flower started"

    def connect_accounts(self, sandbox: SandboxClient,
                         receiver: str) -> demo_accounts.DemoAccounts:
        n = self.narrator
        google_user, salesforce_user = demo_accounts.sandbox_users(self.run_id)
        n.step("connect Google and Salesforce (OAuth through the receiver)")
        google = demo_accounts.connect("google", google_user, receiver)
        crm = demo_accounts.connect("salesforce", salesforce_user, receiver)
        calendar_account, crm_account = google["account_id"], crm["account_id"]
        if not n.wait_until(lambda: demo_accounts.has_push_channel(calendar_account),
                            self.opts.step_timeout, guard=self.supervisor.check):
            raise SetupFailed("the worker opened no push channel for the Google account "
                              f"(see {self.opts.log_dir}/worker.log)")
        n.ok()
        n.detail(f"Google account {calendar_account} ({google_user}), "
                 f"push channel to {receiver}/webhooks/google/calendar\n"
                 f"Salesforce account {crm_account} ({crm['external_account_id']})")

        n.step("pair them; Salesforce Outbound Messages to the receiver")
        rep = demo_accounts.pair(sandbox, calendar_account, crm_account, google_user)
        endpoint = demo_accounts.register_outbound_messages(sandbox, crm_account, receiver)
        n.ok()
        n.detail(f"calendar account {calendar_account} <-> CRM account {crm_account}, "
                 f"as Salesforce user {rep} (found by {google_user})\n"
                 f"Outbound Messages post to {receiver}/webhooks/salesforce/{endpoint}/<secret>")
        return demo_accounts.DemoAccounts(google_user, calendar_account, crm_account)


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))

"""The reconcile benchmark's work; imported by bench_reconcile.py once the environment
points at the bench's database, Redis database and sandbox.

Every phase is timed from its trigger until the pipeline is quiet and the phase's records
show the work done; provider calls are read from the sandbox's request log, reconcile
outcomes from the workers' JSON logs.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from bench.common import prepare_store
from bench.noop_tasks import DONE_KEY
from sync_workers.celery_app import app
from sync_workers.config import get_settings
from sync_workers.dispatch import RECONCILE_LINK
from sync_workers.engine.changes import CALENDAR_RESOURCE, CRM_RESOURCE
from sync_workers.engine.lifecycle import activate_account
from sync_workers.reliability.locks import redis_client
from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as sf
from sync_workers.sandbox.core import Latency
from sync_workers.store import links
from sync_workers.store.db import cursor

REPO = Path(__file__).resolve().parents[1]
REP = "rep@example.com"
QUEUES = "events,reconcile,poll,dlq"
MONDAY = datetime(2027, 3, 1, 9, tzinfo=timezone.utc)
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
PHASE_TIMEOUT = 600
MIN_BASELINE_TASKS = 500  # a no-op batch of a few hundred ms at least, for a steady rate


# --- services and workers ---------------------------------------------------------------------

def fresh_services(sandbox) -> None:
    prepare_store()
    # The org's daily allowance would make the adapter pace itself: measure the sync, not that.
    sf.configure(sandbox.state, daily_api_limit=100_000_000)


class Workers:
    """W real `celery worker` processes (the given pool), loading the baseline task too."""

    def __init__(self, count: int, concurrency: int, pool: str = "threads") -> None:
        self.log_dir = Path(tempfile.mkdtemp(prefix="bench-workers-"))
        self.count, self.concurrency, self.pool = count, concurrency, pool
        self.procs: list[subprocess.Popen] = []
        self.offsets: dict[Path, int] = {}

    def start(self) -> Workers:
        names = [f"bench{i}-{uuid.uuid4().hex[:6]}@localhost" for i in range(self.count)]
        for name in names:
            with open(self.log_dir / f"{name.split('@')[0]}.log", "ab") as log:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "sync_workers.celery_app", "worker",
                     "-Q", QUEUES, "-c", str(self.concurrency), "--pool", self.pool, "-n", name,
                     "-I", "bench.noop_tasks", "--without-gossip", "--without-mingle",
                     "--loglevel", "INFO"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
        for name, proc in zip(names, self.procs):
            wait_until(lambda name=name, proc=proc: proc.poll() is not None or app.control.ping(
                destination=[name], timeout=0.5), f"worker {name} to answer", timeout=60)
            if proc.poll() is not None:
                raise RuntimeError(f"worker {name} exited; see {self.log_dir}")
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def new_records(self, message: str) -> list[dict]:
        """JSON records with this message logged since the last call."""
        records = []
        for path in sorted(self.log_dir.glob("*.log")):
            with open(path, "rb") as log:
                log.seek(self.offsets.get(path, 0))
                data = log.read()
            complete = data[:data.rfind(b"\n") + 1]
            self.offsets[path] = self.offsets.get(path, 0) + len(complete)
            for line in complete.decode(errors="replace").splitlines():
                if f'"{message}"' in line:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if record.get("message") == message:
                        records.append(record)
        return records


def wait_until(predicate: Callable[[], object], what: str, timeout: float = PHASE_TIMEOUT,
               interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def quiet() -> bool:
    """Nothing waiting, running or held back for a retry (acks_late keeps a fetched
    message in kombu's `unacked` hash until its task has run)."""
    client = redis_client()
    busy = next(client.scan_iter("sync:pending:link:*"), None) or next(
        client.scan_iter("sync:lock:*"), None)
    return busy is None and client.hlen("unacked") == 0 and all(
        client.llen(queue) == 0 for queue in QUEUES.split(","))


# --- the paired accounts and what a person does to them ----------------------------------------

@dataclass
class Pair:
    sandbox: object
    calendar_account: int
    crm_account: int

    @property
    def state(self):
        return self.sandbox.state

    def poll(self, side: str) -> None:
        account, resource = ((self.calendar_account, CALENDAR_RESOURCE) if side == "calendar"
                             else (self.crm_account, CRM_RESOURCE))
        app.send_task("sync.poll_account", kwargs={"account_id": account, "resource": resource})

    def reconcile_every_link(self) -> None:
        for link in links.for_account(self.calendar_account):
            app.send_task(RECONCILE_LINK.name, kwargs={"link_id": link.link_id},
                          queue="reconcile", routing_key="reconcile")

    def book(self, count: int) -> list[str]:
        ids = []
        for n in range(count):
            start = MONDAY + timedelta(hours=n)
            ids.append(gcal.seed_event(self.state, REP, {
                "summary": f"Intro call {n}", "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
                "attendees": [{"email": REP, "organizer": True},
                              {"email": f"guest{n}@client.example"}]})["id"])
        return ids

    def reschedule_all(self, event_ids: list[str]) -> None:
        for n, event_id in enumerate(event_ids):
            start = MONDAY + timedelta(days=30, hours=n)
            gcal.user_edit_event(self.state, REP, event_id, {
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=45)).isoformat()}})

    def rename_all_contacts(self) -> None:
        for contact in sf.records(self.state, "Contact"):
            sf.update_as_user(self.state, "Contact", contact["Id"],
                              {"LastName": f"{contact['LastName']} Renamed"})


def connect_pair(sandbox) -> Pair:
    accounts = {}
    for provider, subject in (("google", REP), ("salesforce", None)):
        subject = subject or oauth.DEFAULT_SUBJECTS[provider]
        grant = oauth.mint_grant(sandbox.state, provider, subject)
        accounts[provider] = activate_account(provider, subject, "bench@example.com",
                                              grant).account_id
    links.pair(accounts["google"], accounts["salesforce"])
    return Pair(sandbox, accounts["google"], accounts["salesforce"])


def linked_count() -> int:
    with cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM sync_links WHERE crm_event_id IS NOT NULL")
        return cur.fetchone()["n"]


def database_now() -> datetime:
    with cursor() as cur:
        cur.execute("SELECT clock_timestamp() AS now")
        return cur.fetchone()["now"]


def reconciled_since(moment: datetime) -> int:
    with cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM sync_links WHERE reconciled_at >= %s", (moment,))
        return cur.fetchone()["n"]


# --- measuring a phase ---------------------------------------------------------------------------

@dataclass
class Figures:
    phase: str
    tasks: int  # reconciles run (for the baseline: no-op tasks)
    seconds: float
    writes: Counter  # "google" / "salesforce" -> successful write calls
    reads: int  # successful reads made by reconciles (listings by polls excluded)
    outcomes: Counter  # written / converged / waiting

    @property
    def per_second(self) -> float:
        return self.tasks / self.seconds if self.seconds else 0.0


def is_listing(entry: dict) -> bool:
    """A poll's change listing, not a reconcile's read."""
    path = entry["path"]
    return path.endswith("/events") or "/deleted/" in path or (
        path.endswith("/query") and "SystemModstamp" in entry["query"])


def api_calls(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["status"] < 400
            and ("/calendar/v3/" in e["path"] or "/services/data/" in e["path"])]


def measure(phase: str, pair: Pair, workers: Workers, start: Callable[[], None],
            done: Callable[[], bool], tasks: int | None = None) -> Figures:
    """Run `start`, wait until `done` and quiet; `tasks` None: count the reconciles logged."""
    workers.new_records("reconciled")
    mark = len(pair.state.log.entries())
    began = time.perf_counter()
    start()
    wait_until(lambda: done() and quiet(), phase)
    seconds = time.perf_counter() - began
    calls = api_calls(pair.state.log.entries()[mark:])
    outcomes = Counter(r.get("result") for r in workers.new_records("reconciled"))
    return Figures(phase, tasks if tasks is not None else sum(outcomes.values()), seconds,
                   Counter(e["provider"] for e in calls if e["method"] in WRITE_METHODS),
                   sum(1 for e in calls if e["method"] == "GET" and not is_listing(e)),
                   outcomes)


def baseline(pair: Pair, workers: Workers, count: int) -> Figures:
    client = redis_client()
    client.delete(DONE_KEY)

    def publish() -> None:
        for _ in range(count):
            app.send_task("bench.noop", queue="reconcile", routing_key="reconcile")
    return measure("no-op task (baseline)", pair, workers, publish,
                   lambda: int(client.get(DONE_KEY) or 0) >= count, tasks=count)


def reconcile_phase(name: str, pair: Pair, workers: Workers, count: int,
                    start: Callable[[], None]) -> Figures:
    """A phase done once every link has been reconciled after its trigger."""
    since = database_now()
    return measure(name, pair, workers, start, lambda: reconciled_since(since) >= count)


def echo_phase(pair: Pair, workers: Workers, count: int) -> Figures:
    return reconcile_phase("  echo: poll both sides", pair, workers, count,
                           lambda: (pair.poll("calendar"), pair.poll("crm")))


def run_phases(pair: Pair, workers: Workers, count: int) -> list[Figures]:
    figures = [baseline(pair, workers, max(count, MIN_BASELINE_TASKS))]
    event_ids = pair.book(count)
    figures.append(measure("booked -> contact, CRM event, link", pair, workers,
                           lambda: pair.poll("calendar"), lambda: linked_count() >= count))
    figures.append(echo_phase(pair, workers, count))
    figures.append(reconcile_phase("converged: reconcile every link", pair, workers, count,
                                   pair.reconcile_every_link))
    pair.reschedule_all(event_ids)
    figures.append(reconcile_phase("rescheduled in the calendar", pair, workers, count,
                                   lambda: pair.poll("calendar")))
    figures.append(echo_phase(pair, workers, count))
    pair.rename_all_contacts()
    figures.append(reconcile_phase("contact renamed in the CRM", pair, workers, count,
                                   lambda: pair.poll("crm")))
    figures.append(echo_phase(pair, workers, count))
    return figures


# --- the report ------------------------------------------------------------------------------------

def report(figures: list[Figures], links_count: int, workers: int, concurrency: int,
           pool: str = "threads", latency: float = 0.0) -> str:
    base = figures[0].per_second
    lines = [(f"reconcile benchmark: {links_count} links, {workers} worker(s) x "
              f"{concurrency} slots ({pool} pool), provider latency {latency * 1000:.0f} ms, "
              f"sandbox in-process, {sys.platform}"),
             "",
             (f"{'phase':36} {'tasks':>6} {'seconds':>8} {'tasks/s':>8} {'vs no-op':>8} "
              f"{'writes cal/crm':>14} {'writes/task':>11} {'reads/task':>10}  outcomes")]
    for f in figures:
        writes = f.writes["google"] + f.writes["salesforce"]
        per_task = f"{writes / f.tasks:.2f}" if f.tasks else "-"
        reads = f"{f.reads / f.tasks:.2f}" if f.tasks and f.outcomes else "-"
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(f.outcomes.items())) or "-"
        lines.append(f"{f.phase:36} {f.tasks:6} {f.seconds:8.2f} {f.per_second:8.1f} "
                     f"{f.per_second / base:8.2f} "
                     f"{f.writes['google']:>6}/{f.writes['salesforce']:<7} {per_task:>11} "
                     f"{reads:>10}  {outcomes}")
    by_name = {f.phase.strip(): f for f in figures}
    echoes = [f for f in figures if f.phase.strip().startswith("echo")]
    echo_writes = sum(sum(f.writes.values()) for f in echoes)
    echo_tasks = sum(f.tasks for f in echoes)
    reschedule = _per(by_name["rescheduled in the calendar"], links_count)
    rename = _per(by_name["contact renamed in the CRM"], links_count)
    booking = _per(by_name["booked -> contact, CRM event, link"], links_count)
    lines += ["",
              (f"writes per genuine change (one side touched): reschedule {reschedule}, "
               f"contact rename {rename}"),
              (f"writes per echo: {echo_writes / max(echo_tasks, 1):.2f} "
               f"({echo_writes} writes over {echo_tasks} echo reconciles)"),
              (f"writes per booking: {booking} (contact create + CRM event upsert + "
               f"calendar refs and contact block)")]
    return "\n".join(lines)


def _per(figures: Figures, count: int) -> str:
    return f"{sum(figures.writes.values()) / count:.2f}"


def run(sandbox, *, count: int, workers: int, concurrency: int, pool: str = "threads",
        latency: float = 0.0) -> None:
    get_settings.cache_clear()  # read again, with the sandbox's URLs
    fresh_services(sandbox)
    pair = connect_pair(sandbox)
    for provider in ("google", "salesforce"):  # after the connect: it makes no API calls
        sandbox.state.set_latency(provider, Latency(latency))
    fleet = Workers(workers, concurrency, pool).start()
    try:
        figures = run_phases(pair, fleet, count)
    finally:
        fleet.stop()
    print(report(figures, count, workers, concurrency, pool, latency))
    print(f"\n(worker logs: {fleet.log_dir})")

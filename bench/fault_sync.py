"""The fault suite's world: the sandbox in this process, a receiver and workers as real
processes, Google reps and a Salesforce org connected through the receiver's OAuth flow,
a real push channel and Outbound Messages; bookings made as a person would; the checks
that count lost, duplicated and wrong bookings; and the stand-in for Beat.

Beat is not run: its schedule is replaced by what the suite needs, said in every result's
notes: `sync.sweep_intent` published every SWEEP_EVERY s to workers whose
SYNC_INTENT_SWEEP_AFTER is SWEEP_AFTER (Beat: every 60 s, 300), and one
`sync.poll_all_accounts(all_now=True)` once the burst is over (Beat: each account hourly).

Imported once bench/faults.py has put the suite's settings in the environment.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from bench.fault_world import QUEUES, Receiver, Stack, Worker, free_port, say, wait_until

FAULTS_DATABASE = os.environ.get("SYNC_FAULTS_DATABASE", "sync_workers_faults")
SWEEP_AFTER = 20
SWEEP_EVERY = 10
SHARED_DATABASE_URL = os.environ.get("SYNC_DATABASE_URL",
                                     "postgresql://postgres@127.0.0.1:5432/sync_workers")
GOOGLE_RATE_LIMIT = {"error": {"code": 429, "message": "Rate Limit Exceeded", "errors": [
    {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]}}


def shared_database_url() -> str:
    """The suite's own database on the configured (shared) server."""
    return urlunparse(urlparse(SHARED_DATABASE_URL)._replace(path=f"/{FAULTS_DATABASE}"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("+0000", "+00:00").replace("Z", "+00:00"))


@dataclass(frozen=True)
class Booking:
    event_id: str
    rep: str
    guest: str
    summary: str
    start: datetime
    end: datetime
    pushes: tuple = ()  # the push deliveries the booking itself caused
    contact_name: str | None = None  # a name given in the CRM: expected in the description

    @property
    def push_lost(self) -> bool:
        return all("dropped" in d.outcomes for d in self.pushes)


@dataclass
class Tally:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # "event id: what differs"
    duplicate_contacts: int = 0  # guests with more than one Contact

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong)

    def brief(self) -> str:
        return (f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, "
                f"wrong {len(self.wrong)}")


@dataclass
class Webhook5xx:
    codes: Counter  # status -> deliveries answered with it (>= 500)
    no_answer: int  # connection refused, reset, timed out

    @property
    def total(self) -> int:
        return sum(self.codes.values())

    def brief(self) -> str:
        parts = [f"{n} x {code}" for code, n in sorted(self.codes.items())]
        if self.no_answer:
            parts.append(f"{self.no_answer} unanswered")
        return ", ".join(parts) or "none"


class World:
    """One scenario's pipeline. `redis_url`/`database_url`: the servers it uses (its own
    Redis always; the suite's database on the shared PostgreSQL, or a server of its own)."""

    def __init__(self, stack: Stack, *, redis_url: str, database_url: str, workers: int = 2,
                 concurrency: int = 2, extra_env: dict[str, str] | None = None,
                 with_outbound: bool = True) -> None:
        self.stack = stack
        self.redis_url, self.database_url = redis_url, database_url
        self.worker_count, self.concurrency = workers, concurrency
        self.extra_env = extra_env or {}
        self.with_outbound = with_outbound
        self.run_id = os.urandom(3).hex()
        self.bookings: list[Booking] = []
        self.workers: list[Worker] = []
        self.reps: dict[str, int] = {}  # Google user -> calendar account
        self.crm_account: int | None = None
        self.sweeps = 0
        self.milestones: dict[str, float] = {}
        self.lock_holds: dict[tuple[str, str], float] = {}  # longest unbroken hold seen
        self._holding: dict[str, tuple[str, float]] = {}  # lock -> (holder, since)
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._slot = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) \
            + timedelta(days=2)

    # --- start-up ----------------------------------------------------------------------
    def start(self, reps: int = 1) -> "World":
        from sync_workers.sandbox import salesforce_admin as sf
        from sync_workers.sandbox.server import Sandbox

        self.sandbox = Sandbox().start()
        self.stack.on_close(self.sandbox.stop)
        self._sandbox_log()
        # The org's daily allowance would make the adapter pace itself: test the faults.
        sf.configure(self.sandbox.state, daily_api_limit=100_000_000)
        self.receiver_port = free_port()
        self.env = self._environment()
        self._configure_this_process()
        self._prepare_store()
        self.receiver = Receiver(self.stack, self.env, self.receiver_port).start()
        for i in range(self.worker_count):
            self.workers.append(Worker(self.stack, i, self.env, self.concurrency).start())
        for worker in self.workers:
            wait_until(lambda w=worker: self.celery.control.ping(destination=[w.name],
                                                                  timeout=0.5),
                       f"worker {worker.name} to answer", 90, 0.2,
                       guard=lambda w=worker: self._exited(w))
        self._connect(reps)
        return self

    def _sandbox_log(self) -> None:
        """The sandbox apps' own errors (a killed worker hangs up mid-request) go to a file
        beside the other logs, not across the progress on stderr."""
        logger = logging.getLogger("sandbox")
        handler = logging.FileHandler(self.stack.logs / "sandbox.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False

        def detach() -> None:
            logger.removeHandler(handler)
            handler.close()
        self.stack.on_close(detach)

    def _environment(self) -> dict[str, str]:
        return {**os.environ, **self.sandbox.env(),
                "PYTHONUNBUFFERED": "1",
                "SYNC_ENVIRONMENT": "test",
                "SYNC_DATABASE_URL": self.database_url,
                "SYNC_REDIS_URL": self.redis_url,
                "SYNC_BROKER_URL": self.redis_url,
                "SYNC_PUBLIC_URL": f"http://127.0.0.1:{self.receiver_port}",
                "SYNC_LOG_LEVEL": "INFO",  # the figures are explained from these logs
                "SYNC_METRICS_PORT": "0",  # several workers on one host
                "SYNC_INTENT_SWEEP_AFTER": str(SWEEP_AFTER),
                **self.extra_env}

    def _configure_this_process(self) -> None:
        from sync_workers import dispatch
        from sync_workers.celery_app import make_celery
        from sync_workers.config import get_settings

        os.environ.update({k: v for k, v in self.env.items() if k.startswith("SYNC_")})
        os.environ["SYNC_LOG_LEVEL"] = "WARNING"
        get_settings.cache_clear()
        self.celery = make_celery(get_settings())
        dispatch.bind(self.celery)  # what dispatch.send publishes through, here

    def _prepare_store(self) -> None:
        from sync_workers.store.db import cursor, ensure_database
        from sync_workers.store.migrate import migrate

        ensure_database(self.database_url)
        migrate(self.database_url)
        with cursor() as cur:
            cur.execute("""SELECT string_agg(quote_ident(tablename), ', ') AS t FROM pg_tables
                           WHERE schemaname = 'public' AND tablename <> 'schema_migrations'""")
            cur.execute(f"TRUNCATE {cur.fetchone()['t']} RESTART IDENTITY CASCADE")

    def _exited(self, worker: Worker) -> None:
        if not worker.child.alive():
            raise RuntimeError(f"worker {worker.name} exited:\n{worker.child.log_tail()}")

    def _connect(self, reps: int) -> None:
        """As a person would: each account through the receiver's connect flow (the
        worker opens the calendar's push channel), `pair`, an Outbound Message endpoint;
        then a first listing of each, as after a connect."""
        from sync_workers import dispatch
        from sync_workers.auth.links import sign_link, start_url
        from sync_workers.config import get_settings
        from sync_workers.engine import pairing
        from sync_workers.engine.changes import CALENDAR_RESOURCE, CRM_RESOURCE
        from sync_workers.sandbox import salesforce_admin as sf
        from sync_workers.sandbox.connect import connect_without_browser
        from sync_workers.store import cursors, endpoints

        def connect(provider: str, user: str | None) -> int:
            link = sign_link(provider, "fault suite", get_settings().secret_keys[0], ttl=300)
            return connect_without_browser(start_url(self.receiver.url, provider, link),
                                           user)["account_id"]

        state = self.sandbox.state
        self.crm_account = connect("salesforce", None)
        for i in range(reps):
            rep = f"rep{i}.{self.run_id}@example.com"
            self.reps[rep] = connect("google", rep)
            wait_until(lambda a=self.reps[rep]: endpoints.active_channels(a),
                       f"the push channel of {rep}", 60, 0.2)
            sf.add_user(state, rep, "Fault", f"Rep{i}")
            pairing.pair(self.reps[rep], self.crm_account)
        if self.with_outbound:
            secret = endpoints.new_secret()
            endpoint = endpoints.add_webhook_endpoint(self.crm_account, "salesforce", secret,
                                                      sf.org(state).org_id)
            url = f"{self.receiver.url}/webhooks/salesforce/{endpoint}/{secret}"
            for sobject in ("Event", "Contact"):
                sf.add_outbound_message(state, sobject, url)
        listings = [(a, CALENDAR_RESOURCE) for a in self.reps.values()]
        listings.append((self.crm_account, CRM_RESOURCE))
        for account, resource in listings:
            dispatch.send(dispatch.POLL_ACCOUNT, {"account_id": account, "resource": resource})
        for account, resource in listings:
            wait_until(lambda a=account, r=resource: cursors.get(a, r),
                       f"the first listing of account {account}", 60, 0.2)

    # --- what people do ------------------------------------------------------------------
    def book(self, n: int, rep: str | None = None) -> Booking:
        """A booking in the rep's calendar: one event, one guest (unknown to the CRM)."""
        from sync_workers.sandbox import google_calendar as gcal

        reps = list(self.reps)
        rep = rep or reps[n % len(reps)]  # round robin: a team of reps
        start = self._slot + timedelta(minutes=30 * n)
        end = start + timedelta(minutes=30)
        guest = f"guest{n}.{self.run_id}@client.example"
        summary = f"Booking {n} ({self.run_id})"
        state = self.sandbox.state
        with state.lock:  # the deliveries made meanwhile are this booking's push
            first = len(state.webhooks.deliveries)
            event = gcal.seed_event(state, rep, {
                "summary": summary, "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
                "attendees": [{"email": rep, "organizer": True}, {"email": guest}]})
            pushes = state.webhooks.deliveries[first:]
        booking = Booking(event["id"], rep, guest, summary, start, end, tuple(pushes))
        self.bookings.append(booking)
        return booking

    def burst(self, count: int, rate: float, rep_of=None,
              on_booking=None, offset: int = 0) -> float:
        """`count` bookings at `rate` a second (paced on a clock, not slept per booking);
        `on_booking(i)` after each. Returns the monotonic time of the last."""
        began = sampled = time.monotonic()
        for i in range(count):
            due = began + i / rate
            while time.monotonic() < due:
                time.sleep(min(0.05, due - time.monotonic()))
            self.book(offset + i, rep_of(i) if rep_of else None)
            if time.monotonic() - sampled >= 1:
                self._sample_locks()
                sampled = time.monotonic()
            if on_booking:
                on_booking(i)
            if (i + 1) % max(1, count // 10) == 0:
                say(f"  {i + 1}/{count} booked; {self.tally().brief()} so far")
        return time.monotonic()

    # --- Beat's stand-in -------------------------------------------------------------------
    def start_sweeper(self) -> None:
        def loop() -> None:
            from sync_workers import dispatch

            while not self._stop.wait(SWEEP_EVERY):
                try:
                    dispatch.send(dispatch.SWEEP_INTENT, {})
                    self.sweeps += 1
                except Exception:  # noqa: BLE001 (the broker is down: Beat would miss it too)
                    pass
        self._sweeper = threading.Thread(target=loop, name="sweeper", daemon=True)
        self._sweeper.start()
        self.stack.on_close(self._stop.set)

    def poll_everything(self, timeout: float = 120) -> None:
        """One poll of every account now (Beat's hourly poll), published once the broker
        takes it."""
        from sync_workers import dispatch

        wait_until(lambda: dispatch.send(dispatch.POLL_ALL_ACCOUNTS, {"all_now": True}),
                   "the broker to take the poll", timeout, 0.5)

    # --- reading the outcome -----------------------------------------------------------
    def tally(self, bookings: list[Booking] | None = None) -> Tally:
        from sync_workers.sandbox import salesforce_admin as sf

        state = self.sandbox.state
        by_event: dict[str, list[dict]] = defaultdict(list)
        for record in sf.records(state, "Event"):
            by_event[record.get("Calendar_Event_Id__c")].append(record)
        contacts = sf.records(state, "Contact")
        emails = {c["Id"]: (c.get("Email") or "").lower() for c in contacts}
        tally = Tally()
        per_guest = Counter((c.get("Email") or "").lower() for c in contacts)
        for b in self.bookings if bookings is None else bookings:
            found = by_event.get(b.event_id, [])
            if not found:
                tally.lost.append(b.event_id)
            elif len(found) > 1:
                tally.duplicated.append(b.event_id)
            else:
                diff = _differences(b, found[0], emails)
                if diff:
                    tally.wrong.append(f"{b.event_id}: {diff}")
                if not diff and b.contact_name and b.contact_name not in self._description(b):
                    tally.wrong.append(f"{b.event_id}: the calendar's contact block lacks "
                                       f"{b.contact_name!r}")
            if per_guest[b.guest] > 1:
                tally.duplicate_contacts += 1
        return tally

    def _description(self, b: Booking) -> str:
        from sync_workers.sandbox import google_calendar as gcal

        event = gcal.raw_event(self.sandbox.state, b.rep, b.event_id)["event"]
        return event.get("description") or ""

    def rename_contacts(self, bookings: list[Booking]) -> int:
        """A CRM user renames each booking's contact (Salesforce owns the name): the sync
        must carry it into the calendar's contact block. Updates the expectations."""
        from dataclasses import replace

        from sync_workers.sandbox import salesforce_admin as sf

        state = self.sandbox.state
        who = {e.get("Calendar_Event_Id__c"): e.get("WhoId") for e in sf.records(state, "Event")}
        renamed = 0
        for i, b in enumerate(self.bookings):
            if b in bookings and who.get(b.event_id):
                name = f"Renamed{i}x{self.run_id}"
                sf.update_as_user(state, "Contact", who[b.event_id], {"LastName": name})
                self.bookings[i] = replace(b, contact_name=name)
                renamed += 1
        return renamed

    def converge(self, timeout: float, interval: float = 1.0,
                 watch: dict[str, list[Booking]] | None = None) -> float | None:
        """The monotonic time at which every booking had its one right Event (None at the
        deadline). `watch`: subsets whose own moment is recorded in `self.milestones`."""
        began = last_report = time.monotonic()
        pending = dict(watch or {})
        while True:
            self._sample_locks()
            tally = self.tally()
            now = time.monotonic()
            for name, subset in list(pending.items()):
                if self.tally(subset).ok:
                    self.milestones[name] = now
                    del pending[name]
            if tally.ok:
                return now
            if now - began > timeout:
                return None
            if now - last_report >= 15:
                say(f"  converging: {tally.brief()} after {now - began:.0f}s; "
                    f"{self.diagnose()}")
                last_report = now
            time.sleep(interval)

    def _sample_locks(self) -> None:
        """Locks (listings, links, contacts) and who holds them (a task id). A hold counts
        only while every sample sees it (a retried task keeps its id, and takes the lock
        again and again)."""
        from sync_workers.reliability.locks import redis_client

        now = time.monotonic()
        try:
            client = redis_client()
            seen = {}
            for key in client.scan_iter("sync:lock:*"):
                owner = client.get(key)
                if owner is not None:
                    seen[key.decode()] = owner.decode()
        except Exception:  # noqa: BLE001 (Redis down: no sample, every hold ends)
            seen = {}
        for key, (owner, first) in list(self._holding.items()):
            if seen.get(key) != owner:
                del self._holding[key]
        for key, owner in seen.items():
            first = self._holding.setdefault(key, (owner, now))[1]
            longest = self.lock_holds.get((key, owner), 0.0)
            self.lock_holds[(key, owner)] = max(longest, now - first)

    def stuck_locks(self, longer_than: float = 60) -> list[tuple[str, str, float]]:
        """(lock, holder's task id, seconds seen held by it) for holds past the limit."""
        return [(key.removeprefix("sync:lock:"), owner, seconds)
                for (key, owner), seconds in self.lock_holds.items() if seconds > longer_than]

    def last_word_of(self, task_id: str) -> str:
        """What the workers' logs last said about a task (its fate), and whose log."""
        last = None
        for path in sorted(self.stack.logs.glob("faults*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if task_id in line:
                    try:
                        last = (json.loads(line).get("message", ""), path.stem)
                    except ValueError:
                        continue
        if last is None:
            return "never logged"
        return f"{last[0].splitlines()[0][:160]} ({last[1]})"

    def diagnose(self) -> str:
        """Where work waits: queues, unacked messages, recorded intents, listing locks."""
        from sync_workers.reliability.coalesce import REQUESTS_KEY
        from sync_workers.reliability.locks import redis_client
        from sync_workers.store import intent

        try:
            client = redis_client()
            queued = "/".join(str(client.llen(q)) for q in QUEUES.split(","))
            locks = [(k.decode(), client.ttl(k)) for k in client.scan_iter("sync:lock:cursor:*")]
            held = ", ".join(f"{k.removeprefix('sync:lock:')} (ttl {t}s)" for k, t in locks)
            waiting = client.zcard(REQUESTS_KEY)
            unacked = client.hlen("unacked")
        except Exception as exc:  # noqa: BLE001
            return f"redis unreadable ({type(exc).__name__})"
        try:
            dirty = intent.count_dirty()
        except Exception as exc:  # noqa: BLE001
            dirty = f"? ({type(exc).__name__})"
        return (f"queued e/r/p/d {queued}, unacked {unacked}, dirty links {dirty}, "
                f"listing requests {waiting}, listing locks: {held or 'none'}")

    def quiet(self) -> bool:
        """Nothing queued, no link with a recorded intent, no webhook being delivered."""
        from sync_workers.reliability.locks import redis_client
        from sync_workers.store import intent

        client = redis_client()
        return all(client.llen(q) == 0 for q in QUEUES.split(",")) \
            and intent.count_dirty() == 0 and self.sandbox.state.webhooks.wait_idle(0.01)

    def settle(self, timeout: float = 120) -> bool:
        """Wait for the pipeline to go quiet (twice, a second apart): late duplicates
        from redelivered work would show after that."""
        try:
            wait_until(lambda: self.quiet() and time.sleep(1) is None and self.quiet(),
                       "the pipeline to go quiet", timeout, 0.5)
            return True
        except TimeoutError:
            return False

    def webhook_5xx(self) -> Webhook5xx:
        codes: Counter = Counter()
        no_answer = 0
        for delivery in list(self.sandbox.state.webhooks.deliveries):
            for outcome in list(delivery.outcomes):
                if isinstance(outcome, int) and outcome >= 500:
                    codes[outcome] += 1
                elif isinstance(outcome, str) and outcome.startswith("error"):
                    no_answer += 1
        return Webhook5xx(codes, no_answer)

    def dropped_pushes(self) -> int:
        return sum(1 for d in self.sandbox.state.webhooks.deliveries
                   if d.provider == "google" and "dropped" in d.outcomes)

    def receiver_records(self, message: str) -> list[dict]:
        return log_records(self.receiver.child.log_path, message)

    def worker_records(self, message: str) -> list[dict]:
        return [r for w in self.stack.logs.glob("faults*.log")
                for r in log_records(w, message)]

    def dead_letters(self) -> Counter:
        from sync_workers.store.db import cursor

        with cursor() as cur:
            cur.execute("SELECT task_name, count(*) AS n FROM dead_letters GROUP BY 1")
            return Counter({row["task_name"]: row["n"] for row in cur.fetchall()})


def _differences(b: Booking, event: dict, emails: dict[str, str]) -> str:
    diffs = []
    if event.get("Subject") != b.summary:
        diffs.append(f"Subject {event.get('Subject')!r}")
    for name, want in (("StartDateTime", b.start), ("EndDateTime", b.end)):
        value = event.get(name)
        if not value or utc(value) != want:
            diffs.append(f"{name} {value}")
    if emails.get(event.get("WhoId") or "", "") != b.guest:
        diffs.append(f"WhoId {event.get('WhoId')} is not {b.guest}")
    return ", ".join(diffs)


def log_records(path: Path, message: str) -> list[dict]:
    out = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return out
    needle = f'"{message}"'
    for line in text.splitlines():
        if needle not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("message") == message:
            out.append(record)
    return out


"""The fault suite: the whole pipeline (sandbox providers -> gunicorn receiver -> celery
workers -> providers) under crashes, restarts, rate limits and lossy or hostile webhooks,
counting what was lost, duplicated or wrong. Too long for CI; run it by hand.

    python bench/faults.py [SCENARIO ...] [--bookings N] [--requests N]
    make bench-faults FAULTS_ARGS="kill-storm --bookings 200"

Scenarios (all by default, in this order):
  kill-storm        N bookings (1000) pushed through a real watch channel while >= 20
                    SIGKILLs hit the workers' pool processes and main processes (a main
                    process is restarted at once, as a supervisor would)
  redis-aof         the broker+lock Redis crashes (SIGKILL) mid-burst and restarts, AOF on
  redis-no-aof      the same without persistence: every queued message is lost
  postgres-restart  PostgreSQL crashes (pg_ctl stop -m immediate) mid-burst, back after 10 s;
                    the receiver must answer 503, never 500
  rate-limit        160 x 429 (Retry-After 3) on one Google account beside a quiet one
  lossy-webhooks    30% of push notifications dropped, 20% duplicated; the poller converges
  fuzz              N requests (10000) of garbage at the receiver: never a 5xx

Every scenario prints ONE result line on stdout when it ends,
    scenario  N  faults  lost  duplicated  wrong  5xx  converge_s
and a table of all of them with notes at the end; progress goes to stderr. The exit code
is 0 only if every scenario passed. A booking is lost when it has no Salesforce Event at
the deadline, duplicated when it has more than one, wrong when the Event's
Calendar_Event_Id__c, Subject, start, end or contact differ. converge_s counts from the
end of the burst (the last booking made, the last fault injected) until every booking is
right; 5xx counts the webhook deliveries (for the fuzz, the requests) the receiver
answered with a 5xx.

Every server and process is the suite's own, on its own port and directory: a redis-server
per scenario, a throwaway PostgreSQL (initdb, run as `nobody` under root) for
postgres-restart, and otherwise the database sync_workers_faults (SYNC_FAULTS_DATABASE) on
the configured PostgreSQL, which it empties. Beat is not run; its stand-in is said in each
result's notes. Logs of a scenario that failed are kept (the path is printed).
"""
from __future__ import annotations

import argparse
import bisect
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.fault_world import (  # noqa: E402
    PostgresServer,
    RedisServer,
    Stack,
    say,
)

SCENARIOS = ["kill-storm", "redis-aof", "redis-no-aof", "postgres-restart", "rate-limit",
             "lossy-webhooks", "fuzz"]
DEFAULT_N = {"kill-storm": 1000, "redis-aof": 400, "redis-no-aof": 400,
             "postgres-restart": 300, "rate-limit": 200, "lossy-webhooks": 300, "fuzz": 10_000}
RATE = {"kill-storm": 10.0}  # bookings per second during the burst (default: 15)
# Google reps (calendar accounts) sharing the org, bookings round robin: one Google user's
# proactive budget (600 calls a minute, reliability/limiter.py) would pace a larger burst.
REPS = {"kill-storm": 4, "redis-aof": 3, "redis-no-aof": 3, "postgres-restart": 3,
        "lossy-webhooks": 3}
MIN_KILLS = 24
MAIN_EVERY = 4  # every 4th kill is a worker's main process
REDIS_DOWN_S = 3.0
POSTGRES_DOWN_S = 10.0
STORM_429 = 160
RETRY_AFTER = 3
PAUSE_SLACK = 0.25  # a call already past the limiter when another worker's 429 came in
OUTAGE_SLACK = 5.0  # 503s this long after a dependency is back still count as the outage


@dataclass
class Result:
    scenario: str
    n: int
    faults: str
    lost: int | None = None
    duplicated: int | None = None
    wrong: int | None = None
    errors_5xx: int | None = None
    statuses_5xx: Counter = field(default_factory=Counter)  # status -> count, for the cell
    converge_s: float | None = None
    passed: bool = False
    notes: list[str] = field(default_factory=list)
    logs: str | None = None

    def cells(self) -> list[str]:
        def n(v):
            return "-" if v is None else str(v)
        conv = "-" if self.converge_s is None else f"{self.converge_s:.1f}"
        if self.converge_s is None and self.lost is not None:
            conv = "never"
        fivexx = n(self.errors_5xx)
        if self.errors_5xx and self.statuses_5xx:
            fivexx += " (" + ",".join(f"{c}x{s}" for s, c in sorted(self.statuses_5xx.items())) \
                + ")"
        return [self.scenario, str(self.n), self.faults, n(self.lost), n(self.duplicated),
                n(self.wrong), fivexx, conv]

    def line(self) -> str:
        return "  ".join(self.cells())


# --- shared parts of the booking scenarios -------------------------------------------------

BEAT_STAND_IN = ("Beat stand-in: sync.sweep_intent published every 10 s to workers with "
                 "SYNC_INTENT_SWEEP_AFTER=20 (Beat: every 60 s, 300 s); one "
                 "poll_all_accounts(all_now=True) at the end of the burst (Beat: hourly)")


# Settings the suite gives every process it starts (main() adds --task-time-limit).
SUITE_ENV: dict[str, str] = {}


def new_world(stack: Stack, redis_url: str, database_url: str | None = None, **kw):
    from bench.fault_sync import World, shared_database_url

    return World(stack, redis_url=redis_url, database_url=database_url or shared_database_url(),
                 extra_env=dict(SUITE_ENV), **kw)


def settings_note() -> str:
    limit = int(SUITE_ENV.get("SYNC_TASK_TIME_LIMIT", 300))
    return (f"workers run with SYNC_TASK_TIME_LIMIT={limit} (production default 300): a lock "
            f"left by a dead run lives {limit + 30} s (--task-time-limit)")


def finish(world, result: Result, burst_end: float, deadline: float,
           watch: dict | None = None, poll: bool = True) -> float | None:
    """After the burst: webhooks delivered, the final poll, convergence, quiet, counts."""
    world.sandbox.state.webhooks.wait_idle(60)
    if poll:
        say("  burst over: final poll of every account")
        world.poll_everything()
    converged_at = world.converge(deadline, watch=watch)
    result.converge_s = None if converged_at is None else converged_at - burst_end
    say(f"  converged after {result.converge_s:.1f}s" if converged_at else
        f"  NOT converged within {deadline:.0f}s")
    if not world.settle(180):
        result.notes.append("the pipeline was not quiet 180 s after convergence "
                            "(counts taken anyway)")
    tally = world.tally()
    result.lost, result.duplicated, result.wrong = (len(tally.lost), len(tally.duplicated),
                                                    len(tally.wrong))
    for label, items in (("lost", tally.lost), ("duplicated", tally.duplicated),
                         ("wrong", tally.wrong)):
        if items:
            result.notes.append(f"{label}: {', '.join(items[:5])}"
                                + (f" (+{len(items) - 5} more)" if len(items) > 5 else ""))
    if tally.duplicate_contacts:
        result.notes.append(f"guests with more than one Contact: {tally.duplicate_contacts}")
    fivexx = world.webhook_5xx()
    result.errors_5xx = fivexx.total
    result.statuses_5xx = fivexx.codes
    result.notes.append(f"webhook deliveries answered 5xx: {fivexx.brief()}")
    errors = world.receiver_records("unhandled error in receiver")
    if errors:
        first = (errors[0].get("exc_info") or "").strip().splitlines()
        result.notes.append(f"receiver 500s: {len(errors)} unhandled errors, first: "
                            f"{first[-1] if first else '?'}")
    _sweeper_notes(world, result)
    _stall_notes(world, result)
    result.notes.append(settings_note())
    return converged_at


def _stall_notes(world, result: Result) -> None:
    from sync_workers.config import get_settings
    from sync_workers.reliability.locks import task_lock_ttl

    visibility = get_settings().visibility_timeout
    for key, owner, seconds in world.stuck_locks():
        waiting = ("that account's listings (pushes, the poll, the sweeper's relistings) found "
                   "it taken and listed nothing" if key.startswith("cursor:") else
                   "the link's reconciles (the sweeper's too) met LockBusy and waited"
                   if key.startswith("link:") else "its waiters retried")
        result.notes.append(
            f"STALL: lock {key} held by task {owner} for {seconds:.0f}s+ while {waiting}; the "
            f"holder's last log line: {world.last_word_of(owner)!r}. That run is gone and its "
            f"message comes back only after the visibility timeout ({visibility} s), so the "
            f"lock's TTL (SYNC_TASK_TIME_LIMIT + 30 s = {task_lock_ttl():.0f} s) frees it")


def _sweeper_notes(world, result: Result) -> None:
    swept = world.worker_records("lost work queued again")
    requeued = sum(int(r.get("requeued") or 0) for r in swept)
    relisted = sum(int(r.get("relisted") or 0) for r in swept)
    try:
        dead = world.dead_letters()
    except Exception:  # noqa: BLE001 (a database that is gone: say so, keep the figures)
        dead = Counter({"(unreadable)": 1})
    result.notes.append(f"sweeper: {world.sweeps} sweeps sent, {requeued} reconciles and "
                        f"{relisted} listings queued again; dead letters: "
                        + (", ".join(f"{n} {t}" for t, n in sorted(dead.items())) or "none"))


def base_pass(result: Result) -> bool:
    return (result.converge_s is not None and result.lost == 0 and result.duplicated == 0
            and result.wrong == 0)


def status_503_outside(world, windows: list[tuple[float, float]]) -> tuple[Counter, int]:
    """Receiver answers >= 500 by status, and how many 503s fell outside the outages
    (wall-clock windows, plus OUTAGE_SLACK)."""
    by_status: Counter = Counter()
    outside = 0
    for record in world.receiver_records("request"):
        status = int(record.get("status") or 0)
        if status < 500:
            continue
        by_status[status] += 1
        at = datetime.fromisoformat(record["timestamp"]).timestamp()
        if status == 503 and not any(lo <= at <= hi + OUTAGE_SLACK for lo, hi in windows):
            outside += 1
    return by_status, outside


# --- 1. kill-storm -----------------------------------------------------------------------------

class KillStorm(threading.Thread):
    """SIGKILLs at an even pace until the burst is over and at least `minimum` were sent:
    every MAIN_EVERY-th one a worker's main process (restarted at once, same command and
    node name, as systemd or Kubernetes would), the others a pool process (the worker
    replaces it itself)."""

    def __init__(self, workers, interval: float, minimum: int, seed: int = 1) -> None:
        super().__init__(name="kill-storm", daemon=True)
        self.workers, self.interval, self.minimum = workers, interval, minimum
        self.rng = random.Random(seed)
        self.burst_over = threading.Event()
        self.halt = threading.Event()
        self.pool_kills = self.main_kills = 0
        self.last_kill = time.monotonic()

    @property
    def kills(self) -> int:
        return self.pool_kills + self.main_kills

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            if self.burst_over.is_set() and self.kills >= self.minimum:
                return
            ready = [w for w in self.workers if w.ready()]
            if not ready:
                continue
            worker = self.rng.choice(ready)
            if self.kills % MAIN_EVERY == MAIN_EVERY - 1:
                worker.child.kill()
                worker.restart()
                self.main_kills += 1
                say(f"  kill {self.kills}: main process of {worker.name} (restarted)")
            else:
                pids = worker.pool_children()
                if not pids:
                    continue
                try:
                    os.kill(self.rng.choice(pids), signal.SIGKILL)
                except ProcessLookupError:
                    continue
                self.pool_kills += 1
            self.last_kill = time.monotonic()


def kill_storm(stack: Stack, args) -> Result:
    n = args.bookings or DEFAULT_N["kill-storm"]
    rate = RATE["kill-storm"]
    result = Result("kill-storm", n, "")
    redis = RedisServer(stack, "broker").start()
    world = new_world(stack, redis.url, with_outbound=False).start(reps=REPS["kill-storm"])
    world.start_sweeper()
    storm = KillStorm(world.workers, interval=max(1.0, n / rate / (MIN_KILLS + 1)),
                      minimum=MIN_KILLS)
    say(f"  {n} bookings at {rate:.0f}/s; a SIGKILL every {storm.interval:.1f}s")
    storm.start()
    try:
        world.burst(n, rate)
        storm.burst_over.set()
        storm.join()
    finally:
        storm.halt.set()
    burst_end = max(time.monotonic(), storm.last_kill)
    result.faults = (f"{storm.kills} SIGKILL ({storm.pool_kills} pool, {storm.main_kills} "
                     f"main+restart)")
    finish(world, result, burst_end, args.deadline)
    lost_workers = _worker_lost(world)
    result.notes.insert(0, BEAT_STAND_IN)
    result.notes.append(f"{lost_workers} task runs lost with their process "
                        f"(WorkerLostError, redelivered); {len(world.reps)} Google reps, "
                        f"bookings round robin; 2 workers x 2 pool processes")
    result.passed = base_pass(result) and result.errors_5xx == 0 and storm.kills >= 20
    return result


def _worker_lost(world) -> int:
    count = 0
    for path in world.stack.logs.glob("faults*.log"):
        count += path.read_text(errors="replace").count("WorkerLostError(")
    return count


# --- 2. redis-aof / redis-no-aof ---------------------------------------------------------------

def redis_restart(stack: Stack, args, appendonly: bool) -> Result:
    name = "redis-aof" if appendonly else "redis-no-aof"
    n = args.bookings or DEFAULT_N[name]
    rate = RATE.get(name, 15.0)
    result = Result(name, n, "")
    redis = RedisServer(stack, "broker", appendonly=appendonly).start()
    world = new_world(stack, redis.url, with_outbound=False).start(reps=REPS[name])
    world.start_sweeper()
    outage: dict[str, float] = {}

    def crash_and_restart() -> None:
        import redis as redis_py

        client = redis_py.Redis(port=redis.port, socket_timeout=2)
        held = _broker_holdings(client)
        outage["wall_down"], outage["down"] = time.time(), time.monotonic()
        redis.crash()
        say(f"  redis-server SIGKILLed holding {held}; restarting in {REDIS_DOWN_S:.0f}s")
        time.sleep(REDIS_DOWN_S)  # the outage itself
        redis.start()
        outage["wall_up"], outage["up"] = time.time(), time.monotonic()
        outage["held"], outage["kept"] = held, _broker_holdings(client)
        say(f"  redis-server back, holding {outage['kept']}")

    thread = threading.Thread(target=crash_and_restart, daemon=True)
    burst_end = world.burst(n, rate, on_booking=lambda i: i == n // 2 and thread.start())
    thread.join()
    burst_end = max(burst_end, outage["up"])
    result.faults = (f"SIGKILL+restart after {REDIS_DOWN_S:.0f}s at booking {n // 2} "
                     f"(appendonly {'yes' if appendonly else 'no'})")
    converged_at = finish(world, result, burst_end, args.deadline)
    by_status, outside = status_503_outside(world, [(outage["wall_down"], outage["wall_up"])])
    result.notes.insert(0, BEAT_STAND_IN)
    result.notes.append(f"broker before the crash: {outage['held']}; after the restart: "
                        f"{outage['kept']}")
    if converged_at is not None:
        result.notes.append(f"converged {converged_at - outage['up']:.1f}s after Redis was "
                            f"back (one sweep period here: {SWEEP_PERIOD})")
    result.notes.append("receiver answers >= 500: " + _statuses(by_status)
                        + f"; 503 outside the outage: {outside}")
    result.passed = (base_pass(result) and set(by_status) <= {503}
                     and set(result.statuses_5xx) <= {503} and outside == 0)
    return result


SWEEP_PERIOD = "up to 30 s, SYNC_INTENT_SWEEP_AFTER 20 s + 10 s between sweeps"


def _broker_holdings(client) -> str:
    try:
        queued = sum(client.llen(q) for q in ("events", "reconcile", "poll", "dlq"))
        return (f"{queued} queued, {client.hlen('unacked')} unacked, "
                f"{client.dbsize()} keys")
    except Exception as exc:  # noqa: BLE001
        return f"unreadable ({type(exc).__name__})"


def _statuses(by_status: Counter) -> str:
    return ", ".join(f"{n} x {s}" for s, n in sorted(by_status.items())) or "none"


# --- 3. postgres-restart -----------------------------------------------------------------------

def postgres_restart(stack: Stack, args) -> Result:
    from bench.fault_sync import FAULTS_DATABASE

    n = args.bookings or DEFAULT_N["postgres-restart"]
    rate = RATE.get("postgres-restart", 15.0)
    result = Result("postgres-restart", n, "")
    pg = PostgresServer(stack).init()
    pg.start()
    say(f"  own PostgreSQL on port {pg.port} ({pg.data})")
    redis = RedisServer(stack, "broker").start()
    world = new_world(stack, redis.url, pg.url(FAULTS_DATABASE),
                      with_outbound=True).start(reps=REPS["postgres-restart"])
    world.start_sweeper()
    outage: dict[str, float] = {}

    def crash_and_restart() -> None:
        outage["wall_down"], outage["down"] = time.time(), time.monotonic()
        pg.stop("immediate")
        say(f"  PostgreSQL stopped (immediate); starting again in {POSTGRES_DOWN_S:.0f}s")
        time.sleep(POSTGRES_DOWN_S)  # the outage itself
        pg.start()
        outage["wall_up"], outage["up"] = time.time(), time.monotonic()
        say("  PostgreSQL back")

    thread = threading.Thread(target=crash_and_restart, daemon=True)
    burst_end = world.burst(n, rate, on_booking=lambda i: i == n // 2 and thread.start())
    thread.join()
    burst_end = max(burst_end, outage["up"])
    result.faults = (f"pg_ctl stop -m immediate at booking {n // 2}, start after "
                     f"{POSTGRES_DOWN_S:.0f}s")
    finish(world, result, burst_end, args.deadline)
    by_status, outside = status_503_outside(world, [(outage["wall_down"], outage["wall_up"])])
    result.notes.insert(0, BEAT_STAND_IN + "; Salesforce Outbound Messages wired too "
                        "(Salesforce re-sends what gets no Ack)")
    result.notes.append("receiver answers >= 500: " + _statuses(by_status)
                        + f"; 503 outside the outage (+{OUTAGE_SLACK:.0f}s): {outside}")
    result.passed = (base_pass(result) and set(by_status) <= {503}
                     and set(result.statuses_5xx) <= {503} and outside == 0)
    return result


# --- 4. rate-limit ------------------------------------------------------------------------------

def rate_limit(stack: Stack, args) -> Result:
    """Half the bookings first, synced; then the storm starts on the limited account while
    a CRM user renames every contact (Outbound Messages: reconciles of both accounts at
    once, each reading and writing its calendar) and the other half is booked."""
    from bench.fault_sync import GOOGLE_RATE_LIMIT
    from sync_workers.sandbox.core import FaultRule

    n = args.bookings or DEFAULT_N["rate-limit"]
    rate = RATE.get("rate-limit", 15.0)
    result = Result("rate-limit", n, f"{STORM_429} x 429 Retry-After {RETRY_AFTER} on one of "
                                     f"2 Google accounts")
    redis = RedisServer(stack, "broker").start()
    # 4 processes a worker (they mostly wait): more calls meet each end of a pause.
    world = new_world(stack, redis.url, with_outbound=True, concurrency=4).start(reps=2)
    world.start_sweeper()
    limited, quiet = list(world.reps)
    state = world.sandbox.state
    first = n // 2
    say(f"  {first} bookings before the storm")
    world.burst(first, rate, rep_of=lambda i: limited if i % 2 == 0 else quiet)
    if world.converge(args.deadline) is None or not world.settle(180):
        raise RuntimeError("the bookings before the storm did not sync")
    state.faults.add(FaultRule(kind="status", provider="google", path="^/calendar/v3/",
                               subject=limited, count=STORM_429, status=429,
                               headers={"Retry-After": str(RETRY_AFTER)},
                               body=GOOGLE_RATE_LIMIT))
    renamed = world.rename_contacts(list(world.bookings))
    say(f"  storm on {limited}; {renamed} contacts renamed in the CRM; {n - first} more "
        f"bookings")
    burst_end = world.burst(n - first, rate, offset=first,
                            rep_of=lambda i: limited if i % 2 == 0 else quiet)
    quiet_bookings = [b for b in world.bookings if b.rep == quiet]
    finish(world, result, burst_end, args.deadline, watch={"quiet": quiet_bookings})
    report = pause_report(state.log.entries(provider="google"), limited, quiet)
    result.notes.insert(0, BEAT_STAND_IN + f"; {first} bookings synced before the storm, "
                        f"then {renamed} contacts renamed in Salesforce (Outbound Messages) "
                        f"and {n - first} more booked during it")
    result.notes += report.notes
    if "quiet" in world.milestones:
        storm_end = report.storm_end - time.time() + time.monotonic()  # wall -> monotonic
        result.notes.append(f"the quiet account's {len(quiet_bookings)} bookings were all "
                            f"right {world.milestones['quiet'] - burst_end:+.1f}s from the "
                            f"burst's end; the storm's last 429 came at "
                            f"{storm_end - burst_end:+.1f}s")
    result.passed = (base_pass(result) and result.errors_5xx == 0 and report.ok)
    return result


@dataclass
class PauseReport:
    ok: bool
    storm_end: float  # wall clock of the last 429
    notes: list[str]


def pause_report(entries: list[dict], limited: str, quiet: str) -> PauseReport:
    """From the sandbox's request log: no call of the limited account may start within
    Retry-After of a 429 it got (a call already past the limiter when another worker's
    429 arrived, within PAUSE_SLACK, is reported apart); the quiet account's calls go on."""
    api = [e for e in entries if e["path"].startswith("/calendar/v3/")
           and e.get("started_at") is not None]
    mine = [e for e in api if e["subject"] == limited]
    hits = sorted(e["at"] for e in mine if e["status"] == 429)
    notes = [f"429s served: {len(hits)} of {STORM_429}"]
    if not hits:
        return PauseReport(False, time.time(), notes + ["no 429 was served: no storm"])
    early: list[float] = []
    for e in mine:
        i = bisect.bisect_left(hits, e["started_at"]) - 1  # the last 429 before it started
        if i >= 0 and e["started_at"] - hits[i] < RETRY_AFTER:
            early.append(e["started_at"] - hits[i])
    racing = [d for d in early if d <= PAUSE_SLACK]
    late = [d for d in early if d > PAUSE_SLACK]
    storm = (hits[0], hits[-1])
    during = [e for e in api if e["subject"] == quiet and storm[0] <= e["started_at"] <= storm[1]]
    quiet_ok = Counter(e["status"] for e in during)
    notes.append(f"storm lasted {storm[1] - storm[0]:.1f}s; calls of the limited account "
                 f"started within {RETRY_AFTER}s of a 429: {len(late)}"
                 + (f" (max {max(late):.2f}s after it)" if late else "")
                 + (f"; plus {len(racing)} already past the limiter when a concurrent call's "
                    f"429 came in (started {max(racing) * 1000:.0f} ms after it at most; "
                    f"allowed: {PAUSE_SLACK * 1000:.0f} ms)" if racing else ""))
    notes.append(f"the quiet account's calls during the storm: {len(during)} ("
                 + ", ".join(f"{n} x {s}" for s, n in sorted(quiet_ok.items())) + ")")
    ok = len(hits) == STORM_429 and not late and len(during) > 0 and \
        all(200 <= s < 300 for s in quiet_ok)
    return PauseReport(ok, storm[1], notes)


# --- 5. lossy-webhooks ---------------------------------------------------------------------------

def lossy_webhooks(stack: Stack, args) -> Result:
    """A burst with lossy pushes; then, once the pipeline is quiet, a tail of bookings whose
    every push is lost: no later push's listing covers them, only the poll does."""
    from sync_workers.sandbox.webhooks import DeliveryFaults

    n = args.bookings or DEFAULT_N["lossy-webhooks"]
    rate = RATE.get("lossy-webhooks", 15.0)
    tail = max(1, min(n // 2, max(3, n // 50)))
    result = Result("lossy-webhooks", n, f"30% pushes dropped, 20% duplicated; last {tail} "
                                         f"all dropped")
    redis = RedisServer(stack, "broker").start()
    world = new_world(stack, redis.url, with_outbound=False).start(reps=REPS["lossy-webhooks"])
    world.start_sweeper()
    state = world.sandbox.state
    state.webhooks.set_faults(DeliveryFaults(drop_rate=0.3, duplicate_rate=0.2, seed=11))
    world.burst(n - tail, rate)
    state.webhooks.wait_idle(60)
    quiet = world.settle(180)
    alone = (n - tail) - len(world.tally().lost)
    say(f"  webhooks alone: {alone}/{n - tail} bookings in the CRM; {tail} more, every push "
        f"dropped")
    state.webhooks.set_faults(DeliveryFaults(drop_rate=1.0))
    burst_end = world.burst(tail, rate, offset=n - tail)
    state.webhooks.wait_idle(10)
    pushes = [d for d in state.webhooks.deliveries if d.provider == "google"]
    dropped = sum(1 for d in pushes if "dropped" in d.outcomes)
    doubled = sum(1 for d in pushes if len(d.outcomes) > 1)
    own_lost = sum(1 for b in world.bookings[:n - tail] if b.push_lost)
    tail_missing = len(world.tally(world.bookings[n - tail:]).lost)
    state.webhooks.set_faults(DeliveryFaults())
    finish(world, result, burst_end, args.deadline)
    result.notes.insert(0, BEAT_STAND_IN)
    result.notes.append(
        f"pushes: {len(pushes)} (the bookings' and the sync's own writes'), {dropped} dropped, "
        f"{doubled} delivered twice; in the lossy burst {own_lost} bookings' own push was "
        f"dropped and {alone}/{n - tail} reached the CRM from webhooks alone "
        f"({'quiet' if quiet else 'not yet quiet'}: a later push's listing covers a lost "
        f"one); of the tail, {tail_missing}/{tail} were not in the CRM when the poll was sent "
        f"(converge_s counts from the tail's last booking)")
    result.passed = base_pass(result) and result.errors_5xx == 0 and dropped > 0
    return result


# --- 6. fuzz ---------------------------------------------------------------------------------------

def fuzz(stack: Stack, args) -> Result:
    from bench.fault_fuzz import Fuzzer
    from bench.fault_sync import shared_database_url
    from bench.fault_world import Receiver, free_port

    n = args.requests
    result = Result("fuzz", n, "garbled push headers, SOAP in UTF-8/ISO-8859-1/UTF-16, "
                               "truncated XML, bombs, content types, huge bodies, bad paths")
    redis = RedisServer(stack, "broker").start()
    target, env = _fuzz_store(redis.url, shared_database_url(), free_port())
    receiver = Receiver(stack, env, int(env["FAULTS_RECEIVER_PORT"])).start()
    statuses: Counter = Counter()
    by_kind: dict[str, Counter] = {}
    unsent = Counter()
    lock = threading.Lock()
    local = threading.local()
    fuzzer = Fuzzer(target, seed=args.seed)

    def send(case) -> None:
        import requests

        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            resp = session.request(case.method, receiver.url + case.path, headers=case.headers,
                                   data=case.body, timeout=30, allow_redirects=False)
            status = resp.status_code
        except requests.exceptions.InvalidHeader:
            with lock:
                unsent[case.kind] += 1
            return
        except requests.RequestException as exc:
            status = f"no answer ({type(exc).__name__})"
            local.session = None
        with lock:
            statuses[status] += 1
            by_kind.setdefault(case.kind, Counter())[status] += 1

    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        for i, _ in enumerate(pool.map(send, fuzzer.cases(n)), 1):
            if i % 1000 == 0:
                say(f"  {i}/{n} requests: {_status_brief(statuses)}")
    seconds = time.monotonic() - began
    fivexx = sum(c for s, c in statuses.items() if isinstance(s, int) and s >= 500)
    result.errors_5xx = fivexx
    result.statuses_5xx = Counter({s: c for s, c in statuses.items()
                                   if isinstance(s, int) and s >= 500})
    result.notes.append(f"{sum(statuses.values())} requests in {seconds:.0f}s by status: "
                        + _status_brief(statuses))
    valid = {k: c for k, c in by_kind.items() if "valid" in k}
    result.notes.append("valid messages: " + "; ".join(
        f"{k.replace('salesforce valid ', 'SOAP ')} {_status_brief(c)}"
        for k, c in sorted(valid.items())))
    refused_valid = {k: c for k, c in valid.items()
                     if k != "large valid body" and set(c) - {200}}
    if refused_valid:
        result.notes.append("valid messages NOT accepted: " + "; ".join(
            f"{k}: {_status_brief(c)}" for k, c in sorted(refused_valid.items())))
    for kind, counter in sorted(by_kind.items()):
        bad = {s: c for s, c in counter.items() if not isinstance(s, int) or s >= 500}
        if bad:
            result.notes.append(f"{kind}: {_status_brief(Counter(bad))}")
    if unsent:
        result.notes.append(f"not sendable by the client (invalid header): {sum(unsent.values())}")
    errors = _records(receiver, "unhandled error in receiver")
    if errors:
        last = (errors[0].get("exc_info") or "").strip().splitlines()
        result.notes.append(f"receiver tracebacks: {len(errors)}, first: "
                            f"{last[-1] if last else '?'}")
    no_answer = sum(c for s, c in statuses.items() if not isinstance(s, int))
    huge = sum(sum(c.values()) for k, c in by_kind.items() if k.startswith("huge"))
    result.passed = fivexx == 0 and not errors and not refused_valid and \
        no_answer <= huge  # a refused huge upload may be cut off before its answer
    return result


def _records(receiver, message: str) -> list[dict]:
    from bench.fault_sync import log_records

    return log_records(receiver.child.log_path, message)


def _status_brief(counter: Counter) -> str:
    return ", ".join(f"{n} x {s}" for s, n in sorted(counter.items(), key=lambda kv: str(kv[0])))


def _fuzz_store(redis_url: str, database_url: str, port: int):
    """The receiver's settings and what the fuzz aims at: a live push channel and an
    Outbound Message endpoint (no workers: accepted messages stay queued)."""
    from datetime import timedelta, timezone

    from bench.fault_fuzz import Target

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SYNC_ENVIRONMENT": "test",
           "SYNC_DATABASE_URL": database_url, "SYNC_REDIS_URL": redis_url,
           "SYNC_BROKER_URL": redis_url, "SYNC_LOG_LEVEL": "INFO",
           "SYNC_PUBLIC_URL": f"http://127.0.0.1:{port}", "FAULTS_RECEIVER_PORT": str(port)}
    os.environ.update({k: v for k, v in env.items() if k.startswith("SYNC_")})
    os.environ["SYNC_LOG_LEVEL"] = "WARNING"
    from sync_workers.config import get_settings

    get_settings.cache_clear()
    from sync_workers.store import endpoints
    from sync_workers.store.db import cursor, ensure_database
    from sync_workers.store.migrate import migrate

    ensure_database(database_url)
    migrate(database_url)
    org = "00D5g000000SbXqEAK"
    with cursor() as cur:
        cur.execute("""SELECT string_agg(quote_ident(tablename), ', ') AS t FROM pg_tables
                       WHERE schemaname = 'public' AND tablename <> 'schema_migrations'""")
        cur.execute(f"TRUNCATE {cur.fetchone()['t']} RESTART IDENTITY CASCADE")
        ids = {}
        for provider, external in (("google", "fuzz@example.com"), ("salesforce", org)):
            cur.execute("""INSERT INTO accounts (provider, external_account_id, owner)
                           VALUES (%s, %s, 'fault suite') RETURNING id""", (provider, external))
            ids[provider] = cur.fetchone()["id"]
    token, secret = endpoints.new_secret(), endpoints.new_secret()
    endpoints.add_push_channel(ids["google"], "google", "fuzz-channel", token,
                               datetime.now(timezone.utc) + timedelta(days=1), "fuzz-resource")
    endpoint = endpoints.add_webhook_endpoint(ids["salesforce"], "salesforce", secret, org)
    return Target("fuzz-channel", token, "fuzz-resource", endpoint, secret, org,
                  get_settings().receiver_max_body), env


# --- the command ------------------------------------------------------------------------------------

RUNNERS: dict[str, Callable[[Stack, argparse.Namespace], Result]] = {
    "kill-storm": kill_storm,
    "redis-aof": lambda stack, args: redis_restart(stack, args, appendonly=True),
    "redis-no-aof": lambda stack, args: redis_restart(stack, args, appendonly=False),
    "postgres-restart": postgres_restart,
    "rate-limit": rate_limit,
    "lossy-webhooks": lossy_webhooks,
    "fuzz": fuzz,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"some of: {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--bookings", type=int, metavar="N",
                        help="bookings per booking scenario (default: "
                             + ", ".join(f"{k} {v}" for k, v in DEFAULT_N.items()
                                         if k != "fuzz") + ")")
    parser.add_argument("--requests", type=int, default=DEFAULT_N["fuzz"], metavar="N",
                        help="requests of the fuzz (default: %(default)s)")
    parser.add_argument("--deadline", type=float, default=600, metavar="S",
                        help="seconds after the burst for every booking to be right "
                             "(default: %(default)s)")
    parser.add_argument("--task-time-limit", type=int, default=60, metavar="S",
                        help="SYNC_TASK_TIME_LIMIT of the workers (default: %(default)s; the "
                             "production default, 300, makes a lock left by a killed run "
                             "live 330 s, and the scenarios that leave one take minutes "
                             "longer)")
    parser.add_argument("--seed", type=int, default=0, help="the fuzz's seed")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep every scenario's logs, not only those of failures")
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(SCENARIOS)}")
    args.scenarios = args.scenarios or list(SCENARIOS)
    if args.bookings is not None and args.bookings < 2:
        parser.error("--bookings: at least 2")
    return args


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    SUITE_ENV["SYNC_TASK_TIME_LIMIT"] = str(args.task_time_limit)
    signal.signal(signal.SIGTERM, _terminate)  # stop what we started, as on Ctrl-C
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandbox's access log
    results: list[Result] = []
    began = time.monotonic()
    for name in args.scenarios:
        say(f"{name}: starting")
        stack = Stack(name)
        started = time.monotonic()
        try:
            result = RUNNERS[name](stack, args)
        except KeyboardInterrupt:
            say(f"{name}: interrupted; stopping everything it started")
            stack.close()
            _close_pools()
            return 130
        except Exception as exc:  # noqa: BLE001 (one broken scenario must not stop the rest)
            import traceback

            traceback.print_exc()
            n = args.requests if name == "fuzz" else args.bookings or DEFAULT_N[name]
            result = Result(name, n, "(scenario failed)",
                            notes=[f"the scenario itself failed: {type(exc).__name__}: {exc}"])
        stack.keep_logs = args.keep_logs or not result.passed
        if stack.keep_logs:
            result.logs = str(stack.logs)
        try:
            stack.close()
        finally:
            _close_pools()
        say(f"{name}: {'passed' if result.passed else 'FAILED'} in "
            f"{time.monotonic() - started:.0f}s")
        print(result.line(), flush=True)
        results.append(result)
    print(table(results, time.monotonic() - began), flush=True)
    return 0 if all(r.passed for r in results) else 1


def _close_pools() -> None:
    try:
        from sync_workers.store.db import close_pools

        close_pools()
    except Exception:  # noqa: BLE001
        pass


def table(results: list[Result], seconds: float) -> str:
    header = ["scenario", "N", "faults", "lost", "duplicated", "wrong", "5xx", "converge_s",
              "verdict"]
    rows = [r.cells() + ["pass" if r.passed else "FAIL"] for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["", f"fault suite: {len(results)} scenario(s) in {seconds / 60:.1f} min, "
                 f"{os.cpu_count()} cores", ""]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    for r in results:
        lines += ["", f"{r.scenario}:"] + [f"  - {note}" for note in r.notes]
        if r.logs:
            lines.append(f"  - logs: {r.logs}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

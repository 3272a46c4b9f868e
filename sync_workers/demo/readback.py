"""What the demo reads back from sync-workers itself: dead letters, the worker's retries,
and whether the pipeline has gone quiet."""
from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from ..config import get_settings
from ..dispatch import QUEUES
from ..reliability.locks import redis_client
from ..store import dead_letters
from ..store.records import DeadLetterRecord, DeadLetterSummary
from .stack import sync_workers_command

REJECTED_TASK = "sync.reconcile_calendar_event"  # what a rejected calendar event replays as


def dead_letter_for_event(calendar_account: int, event_id: str) -> DeadLetterRecord | None:
    for summary in dead_letters.list_letters("open", REJECTED_TASK, limit=50):
        if summary.account_id != calendar_account:
            continue
        letter = dead_letters.get(summary.id)
        if letter and (letter.kwargs or {}).get("event_id") == event_id:
            return letter
    return None


def open_dead_letters(account_ids: tuple[int, ...]) -> list[DeadLetterSummary]:
    return [letter for letter in dead_letters.list_letters("open", limit=500)
            if letter.account_id in account_ids]


def dlq_list_output(task_name: str, limit: int = 1) -> str:
    """What `sync-workers dlq list --status open --task NAME --limit N` prints, indented:
    the command itself, run as an operator would, in the demo's environment."""
    command = sync_workers_command("dlq", "list", "--status", "open", "--task", task_name,
                                   "--limit", str(limit))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
        raise RuntimeError(f"`sync-workers dlq list` exited with {done.returncode}: {said}")
    return "\n".join("     " + line for line in done.stdout.splitlines())


def retry_records(worker_log: Path) -> list[dict[str, Any]]:
    """The worker's "retrying" log records (error type, attempt, countdown), oldest first."""
    try:
        lines = worker_log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        if '"retrying"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("message") == "retrying":
            records.append(record)
    return records


def retries(worker_log: Path) -> Counter:
    """Retries the worker logged, by error type."""
    return Counter(r.get("error_type") or "?" for r in retry_records(worker_log))


def pipeline_quiet() -> bool:
    """No reconcile waiting or running, nothing queued or held back for a retry."""
    state = redis_client()
    if next(state.scan_iter("sync:pending:link:*"), None) or \
            next(state.scan_iter("sync:lock:*"), None):
        return False
    broker_url = get_settings().broker_url
    if not broker_url.startswith("redis"):
        return True  # only Redis brokers can be looked into this cheaply
    broker = redis_client(broker_url)
    # Messages held for a countdown (retries) sit in kombu's "unacked" hash.
    return all(broker.llen(q) == 0 for q in QUEUES) and broker.hlen("unacked") == 0

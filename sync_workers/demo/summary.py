"""The closing summary: what converged, the provider calls the sandbox served, the retries
the worker logged, this run's dead letters, and where to look next."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .metrics_check import EXPECTED, missing_metrics
from .progress import Narrator
from .readback import open_dead_letters, retries
from .scene import StepResult

ALL_CONVERGED = "every step converged"
ALL_METRICS = "metrics: every metric exposed"
# Error answers a healthy run shows, and why.
_EXPECTED = {404: "lookups by calendar event id before a create", 429: "the storm"}


@dataclass(frozen=True)
class WhereToLook:
    log_dir: Path
    flower_url: str | None
    flower_credentials: str  # a hint, never the password itself
    commands: tuple[str, ...]
    env_note: str  # how to point the commands at the demo's database, if needed


def calls_by_provider(request_log: list[dict[str, Any]]) -> dict[str, tuple[Counter, Counter]]:
    """provider -> (calls by HTTP method, error answers by status)."""
    calls: dict[str, tuple[Counter, Counter]] = defaultdict(lambda: (Counter(), Counter()))
    for entry in request_log:
        methods, errors = calls[entry["provider"]]
        methods[entry["method"]] += 1
        if entry["status"] >= 400 or entry["status"] == 0:  # 0: a connection reset fault
            errors[entry["status"]] += 1
    return dict(calls)


def print_summary(narrator: Narrator, results: list[StepResult],
                  request_log: list[dict[str, Any]], worker_log: Path,
                  account_ids: tuple[int, ...], where: WhereToLook,
                  metrics_urls: dict[str, str]) -> bool:
    """Print the summary; True when every step converged and every metric is exposed."""
    narrator.heading("Summary")
    everything = _converged(narrator, results)
    everything = _metrics(narrator, metrics_urls) and everything
    _provider_calls(narrator, calls_by_provider(request_log))
    seen = retries(worker_log)
    narrator.say(f"  retries (worker log): {sum(seen.values())}" + (
        " (" + ", ".join(f"{kind} {n}" for kind, n in seen.most_common()) + ")" if seen else ""))
    letters = open_dead_letters(account_ids)
    narrator.say(f"  dead letters (open, of this run's accounts): {len(letters)}")
    for letter in letters:
        narrator.say(f"    {letter.id:>5}  {letter.task_name}  {letter.error_type}: "
                     f"{letter.error_message[:60]}")
    _where_to_look(narrator, where)
    return everything


def _converged(narrator: Narrator, results: list[StepResult]) -> bool:
    converged = [r for r in results if r.ok]
    everything = bool(results) and len(converged) == len(results)
    verdict = ALL_CONVERGED if everything else "NOT every step converged"
    narrator.say(f"  {verdict} ({len(converged)}/{len(results)})")
    for r in results:
        narrator.say(f"    {'ok    ' if r.ok else 'FAILED'}  {r.name:<16} {r.detail}")
    return everything


def _metrics(narrator: Narrator, urls: dict[str, str]) -> bool:
    missing = missing_metrics(urls)
    total = sum(len(names) for names in EXPECTED.values())
    if missing:
        narrator.say(f"  metrics: {total - len(missing)}/{total} exposed; missing "
                     f"{', '.join(missing)}")
    else:
        narrator.say(f"  {ALL_METRICS} ({total}/{total}): {urls['receiver']}, "
                     f"{urls['worker']}")
    return not missing


def _provider_calls(narrator: Narrator, calls: dict[str, tuple[Counter, Counter]]) -> None:
    narrator.say("  provider calls (the sandbox's request log):")
    statuses: set[int] = set()
    for provider, (methods, errors) in sorted(calls.items()):
        by_method = ", ".join(f"{m} {n}" for m, n in sorted(methods.items()))
        answered = ", ".join(f"{status} x{n}" for status, n in sorted(errors.items()))
        narrator.say(f"    {provider:<11} {by_method}"
                     + (f"  (answered {answered})" if answered else ""))
        statuses.update(errors)
    expected = [f"{s}: {_EXPECTED[s]}" for s in sorted(statuses) if s in _EXPECTED]
    if expected:
        narrator.say(f"    ({'; '.join(expected)})")


def _where_to_look(narrator: Narrator, where: WhereToLook) -> None:
    narrator.heading("Where to look next")
    if where.flower_url:
        narrator.say(f"  Flower        {where.flower_url}  ({where.flower_credentials})")
    for command in where.commands:
        narrator.say(f"  {command}")
    narrator.say(f"  logs          {where.log_dir}/ (sandbox, receiver, worker, beat, flower, "
                 f"demo)")
    if where.env_note:
        narrator.say(f"  {where.env_note}")

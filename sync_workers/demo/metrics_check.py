"""After the scenario: do the receiver's and the worker's /metrics expose every metric?"""
from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

# Each metric of the issue: where it is served, and its family name (counters without the
# _total suffix, as the parser names them).
EXPECTED = {
    "receiver": ("sync_events_received", "sync_queue_length", "sync_dead_letters_open",
                 "sync_parked_accounts", "sync_cursor_age_seconds"),
    "worker": ("sync_reconciles", "sync_provider_calls", "sync_task_retries",
               "sync_rate_limit_wait_seconds", "sync_token_refreshes",
               "sync_tasks_dead_lettered"),
}


def families_with_samples(url: str) -> set[str]:
    text = requests.get(url, timeout=5).text
    return {f.name for f in text_string_to_metric_families(text) if f.samples}


def missing_metrics(urls: dict[str, str]) -> list[str]:
    """Expected families without a sample, as "source:name" (unreachable: "source:*")."""
    missing = []
    for source, names in EXPECTED.items():
        try:
            seen = families_with_samples(urls[source])
        except requests.RequestException:
            missing.append(f"{source}:*")
            continue
        missing += [f"{source}:{name}" for name in names if name not in seen]
    return missing

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sync_workers.mapping import DescribeCache


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Fetcher:
    def __init__(self):
        self.calls = []

    def __call__(self, object_name):
        self.calls.append(object_name)
        return {"name": object_name, "version": len(self.calls)}


def cache_with(ttl=60.0):
    fetch, clock = Fetcher(), Clock()
    return DescribeCache(fetch, ttl_seconds=ttl, clock=clock), fetch, clock


def test_a_describe_is_fetched_once_per_ttl():
    cache, fetch, clock = cache_with()
    assert cache.get("Event") is cache.get("Event")
    clock.now = 59.9
    cache.get("Event")
    assert fetch.calls == ["Event"]
    clock.now = 60.0
    assert cache.get("Event")["version"] == 2


def test_objects_are_cached_apart():
    cache, fetch, _ = cache_with()
    cache.get("Event"), cache.get("Contact"), cache.get("Event")
    assert fetch.calls == ["Event", "Contact"]


def test_invalidate_forces_a_fresh_describe_of_that_object_only():
    cache, fetch, _ = cache_with()
    cache.get("Event"), cache.get("Contact")
    cache.invalidate("Event")
    cache.invalidate("Task")  # never fetched: harmless
    assert cache.get("Event")["version"] == 3
    cache.get("Contact")
    assert fetch.calls == ["Event", "Contact", "Event"]


def test_a_failed_fetch_is_not_cached():
    calls = []

    def flaky(object_name):
        calls.append(object_name)
        if len(calls) == 1:
            raise TimeoutError("salesforce slow")
        return {"name": object_name}

    cache = DescribeCache(flaky, ttl_seconds=60)
    with pytest.raises(TimeoutError):
        cache.get("Event")
    assert cache.get("Event") == {"name": "Event"} and len(calls) == 2


def test_threads_missing_together_share_one_fetch():
    release, started = threading.Event(), threading.Event()
    calls = []

    def slow(object_name):
        calls.append(object_name)
        started.set()
        release.wait(5)
        return {"name": object_name}

    cache = DescribeCache(slow, ttl_seconds=60)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(cache.get, "Event") for _ in range(8)]
        started.wait(5)
        release.set()
        results = [future.result(5) for future in futures]
    assert calls == ["Event"] and all(result is results[0] for result in results)


def test_an_invalidate_during_a_fetch_keeps_its_answer_out_of_the_cache():
    fetched, proceed = threading.Event(), threading.Event()
    versions = iter(range(1, 10))

    def fetch(object_name):
        version = next(versions)
        if version == 1:
            fetched.set()
            proceed.wait(5)
        return {"version": version}

    cache = DescribeCache(fetch, ttl_seconds=60)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(cache.get, "Event")
        fetched.wait(5)
        cache.invalidate("Event")  # e.g. INVALID_FIELD seen by another worker thread
        proceed.set()
        assert first.result(5) == {"version": 1}
    assert cache.get("Event") == {"version": 2}

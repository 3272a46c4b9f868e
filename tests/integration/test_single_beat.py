"""Two Beats running at once still send each scheduled run once (RedBeat's lock)."""
from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from celery.schedules import schedule
from redbeat import RedBeatSchedulerEntry

from sync_workers.celery_app import app
from tests.fixtures.workers import REPO, wait_for

pytestmark = pytest.mark.integration


def _start_beat(log_dir, name: str) -> subprocess.Popen:
    import os

    log = open(log_dir / f"beat-{name}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "sync_workers.celery_app", "beat",
         "--loglevel", "INFO", "--max-interval", "1"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log,
        stderr=subprocess.STDOUT)


def test_a_second_beat_does_not_double_the_schedule(db, redis_db, session_worker, tmp_path):
    marker = uuid.uuid4().hex
    entry = RedBeatSchedulerEntry(f"probe-tick-{marker}", "probe.tick", schedule(1.0),
                                  kwargs={"marker": marker}, app=app)
    entry.save()
    beats = [_start_beat(tmp_path, "a"), _start_beat(tmp_path, "b")]
    try:
        key = f"probe:ticks:{marker}"
        wait_for(lambda: redis_db.llen(key) >= 2, timeout=30, what="first ticks")
        start_count, started = redis_db.llen(key), time.monotonic()
        wait_for(lambda: redis_db.llen(key) >= start_count + 8, timeout=30,
                 what="eight more ticks")
        rate = (redis_db.llen(key) - start_count) / (time.monotonic() - started)
        # One Beat sends about one tick a second; two unguarded Beats would send two.
        assert rate < 1.5, f"{rate:.2f} ticks/s: the schedule is being sent twice"
    finally:
        entry.delete()
        for beat in beats:
            beat.terminate()
            beat.wait(20)

"""`sync-workers demo` end to end, as CI runs it: no terminal, free ports, and a database
and Redis database of its own (not the suite's), so it runs beside the suite and beside a
developer's demo. SYNC_DEMO_TEST_DATABASE and SYNC_DEMO_TEST_REDIS_DB choose others."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
import redis

from sync_workers.demo.guard import KEY as CLAIM_KEY

pytestmark = pytest.mark.integration

DEMO_DATABASE = os.environ.get("SYNC_DEMO_TEST_DATABASE", "sync_workers_demo_test")
DEMO_REDIS_DB = int(os.environ.get("SYNC_DEMO_TEST_REDIS_DB", "3"))
DEADLINE = 240  # seconds for the whole demo; it takes well under a minute when healthy
REPO = Path(__file__).resolve().parents[2]


def demo_env() -> dict[str, str]:
    """The environment without the suite's SYNC_* settings (its database, Redis DB 15 and
    sandbox), pointed at the demo test's own database and Redis database."""
    db = urlparse(os.environ["SYNC_DATABASE_URL"])._replace(path=f"/{DEMO_DATABASE}")
    redis_url = urlunparse(urlparse(os.environ["SYNC_REDIS_URL"])._replace(
        path=f"/{DEMO_REDIS_DB}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_", "FLOWER_"))}
    return {**env, "SYNC_ENVIRONMENT": "test", "SYNC_DATABASE_URL": urlunparse(db),
            "SYNC_REDIS_URL": redis_url, "SYNC_BROKER_URL": redis_url}


def run_demo(env: dict[str, str], log_dir: Path) -> tuple[int, str]:
    command = [str(Path(sys.executable).parent / "sync-workers"), "demo", "--port-base", "0",
               "--receiver-port", "0", "--flower-port", "0", "--log-dir", str(log_dir)]
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the demo stops what it started; a kill would not
        out, _ = proc.communicate(timeout=60)
        pytest.fail(f"the demo took longer than {DEADLINE}s:\n{out}")
    return proc.returncode, out


def wait_for_other_demo(client: redis.Redis) -> None:
    """A suite running beside this one may be running this test on the same databases:
    a demo claims its Redis database, so wait for that run to end (or its claim to lapse)."""
    deadline = time.monotonic() + DEADLINE
    while client.exists(CLAIM_KEY):
        if time.monotonic() > deadline:
            pytest.fail(f"another demo held {CLAIM_KEY} for more than {DEADLINE}s")
        time.sleep(1)


@pytest.mark.timeout(2 * DEADLINE + 120)  # a concurrent run to wait for, then this one
def test_the_demo_scenario_converges_end_to_end(tmp_path):
    env = demo_env()
    client = redis.Redis.from_url(env["SYNC_REDIS_URL"])
    wait_for_other_demo(client)
    client.flushdb()  # the demo test's own database: leftovers of an interrupted run are noise

    code, out = run_demo(env, tmp_path / "logs")

    assert code == 0, f"the demo exited with {code}:\n{out}"
    assert "every step converged (7/7)" in out, out
    # The receiver's and the worker's /metrics expose every metric after the scenario.
    assert "metrics: every metric exposed (11/11)" in out, out
    assert "refreshed once, call repeated" in out, out
    for step in ("booking", "reschedule", "contact rename", "cancellation", "429 storm",
                 "lost webhook", "malformed event"):
        assert re.search(rf"^\s+ok\s+{step}\b", out, re.MULTILINE), f"{step}:\n{out}"
    assert re.search(r"google .*\(answered .*429 x5\b", out), out  # the storm was served
    # No log line of any process names an Outbound Message endpoint's secret path.
    secret_paths = re.compile(r"/webhooks/salesforce/\d+/(?!<secret>)[A-Za-z0-9_-]{20,}")
    for log_file in (tmp_path / "logs").glob("*.log"):
        assert not secret_paths.search(log_file.read_text(errors="replace")), log_file.name
    # Every line the receiver, the worker and Beat write is one JSON log record. (Flower
    # logs through tornado's own formatter; the sandbox prints its banner for the demo.)
    for name in ("receiver", "worker", "beat"):
        lines = (tmp_path / "logs" / f"{name}.log").read_text(errors="replace").splitlines()
        not_json = [line for line in lines if line.strip() and not _is_json(line)]
        assert not_json == [], f"{name}.log: {not_json[:5]}"
    assert re.search(r"dead letters \(open, of this run's accounts\): 1\b", out), out
    assert "stopping the 5 processes the demo started" in out, out
    assert "Traceback" not in out, out


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False

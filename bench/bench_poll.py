"""The cost of a poll cycle with N accounts and no changes: provider calls and time per
account, beside the same cycle's bare cost of reading each account's cursor (the baseline
a poll cannot go below), measured in the same run.

    python bench/bench_poll.py [--accounts 50]

Needs PostgreSQL and Redis (`make services`); starts the sandbox in-process; uses its own
database and Redis database. Polls run in-process (the work of one poll_account task), so
the figures are the poll's own cost without queueing.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import prepare_store, use_bench_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=50, help="Google accounts to poll")
    args = parser.parse_args()

    from sync_workers.sandbox.server import Sandbox

    sandbox = Sandbox().start()
    use_bench_environment(**sandbox.env())
    prepare_store()

    from sync_workers.engine.changes import CALENDAR_RESOURCE, sync_calendar
    from sync_workers.engine.lifecycle import activate_account
    from sync_workers.sandbox import google_calendar as gcal
    from sync_workers.sandbox import oauth
    from sync_workers.store import cursors

    accounts = []
    for n in range(args.accounts):
        subject = f"poll{n}@example.com"
        gcal.seed_event(sandbox.state, subject, {
            "summary": "existing", "start": {"dateTime": "2027-01-01T10:00:00Z"},
            "end": {"dateTime": "2027-01-01T11:00:00Z"}})
        grant = oauth.mint_grant(sandbox.state, "google", subject)
        accounts.append(activate_account("google", subject, "bench", grant).account_id)
        print(f"\r  connecting accounts {n + 1}/{args.accounts}", end="", file=sys.stderr)
    for account_id in accounts:  # the first cycle takes sync tokens (a full list)
        sync_calendar(account_id)
    print("\r  first cycle done".ljust(40), file=sys.stderr)

    started = time.perf_counter()
    for account_id in accounts:
        cursors.get(account_id, CALENDAR_RESOURCE)
    baseline = (time.perf_counter() - started) / len(accounts)

    sandbox.state.log.clear()
    started = time.perf_counter()
    queued = sum(sync_calendar(account_id).queued for account_id in accounts)
    per_account = (time.perf_counter() - started) / len(accounts)
    calls = sandbox.state.log.entries()
    api_calls = [c for c in calls if "/calendar/v3/" in c["path"]]
    token_calls = [c for c in calls if c["path"].endswith("/token")]

    print(f"\npoll cycle with {len(accounts)} accounts and no changes")
    print(f"{'':<38}{'per account':>14}")
    print(f"{'baseline: read the cursor':<38}{baseline * 1000:>11.2f} ms")
    print(f"{'poll: lock, list with sync token,':<38}{per_account * 1000:>11.2f} ms")
    print(f"{'      store cursor':<38}")
    print(f"{'provider calls':<38}{len(api_calls) / len(accounts):>14.2f}")
    print(f"{'token refreshes':<38}{len(token_calls) / len(accounts):>14.2f}")
    print(f"reconciles queued: {queued}")
    sandbox.stop()


if __name__ == "__main__":
    main()

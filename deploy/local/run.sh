#!/usr/bin/env bash
# `make run`: receiver, worker and beat in the foreground, each line prefixed with its
# process name. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
trap 'kill 0' INT TERM EXIT

prefix() { sed -u "s/^/$(printf '%-9s' "$1")| /"; }

"$BIN/gunicorn" --bind "${SYNC_RECEIVER_BIND:-127.0.0.1:8000}" --workers 2 \
  "sync_workers.receiver.wsgi:app" 2>&1 | prefix receiver &
"$BIN/celery" -A sync_workers.celery_app worker -Q events,reconcile,poll,dlq -c 2 -E \
  --loglevel INFO 2>&1 | prefix worker &
"$BIN/celery" -A sync_workers.celery_app beat --loglevel INFO \
  --schedule .run/celerybeat-schedule 2>&1 | prefix beat &
wait

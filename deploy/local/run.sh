#!/usr/bin/env bash
# `make run`: receiver, worker and beat in the foreground, each line prefixed with its
# process name. Ctrl-C stops all three (and only them).
set -euo pipefail
cd "$(dirname "$0")/../.."
export SYNC_LOG_FORMAT=${SYNC_LOG_FORMAT:-text}  # JSON is for machines; this is for you
BIN=.venv/bin
groups=()

# Each process runs in its own session so that stopping it takes its children too.
start() {
  local name=$1; shift
  setsid bash -c '"$@" 2>&1 | sed -u "s/^/$(printf "%-9s" "$0")| /"' "$name" "$@" &
  groups+=($!)
}

stop() {
  trap - INT TERM EXIT
  for group in "${groups[@]}"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  wait
}
trap stop INT TERM EXIT

start receiver "$BIN/gunicorn" --bind "${SYNC_RECEIVER_BIND:-127.0.0.1:8000}" --workers 2 \
  --logger-class sync_workers.receiver.gunicorn_logging.JsonLogger sync_workers.receiver.wsgi:app
start worker "$BIN/celery" -q -A sync_workers.celery_app worker -Q events,reconcile,poll,dlq \
  --pool threads -c 16 -E --loglevel INFO
start beat "$BIN/celery" -q -A sync_workers.celery_app beat --loglevel INFO
wait

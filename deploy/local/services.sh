#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer at the configured URLs. Where they don't and the
# server binaries are installed, start throwaway ones under .run/ and write .run/env with
# the URLs to use. Otherwise stop with a message saying what to install.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN=.run
mkdir -p "$RUN"
: > "$RUN/env"

PY=${PYTHON:-.venv/bin/python}
DB_URL=${SYNC_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/sync_workers}
REDIS_URL=${SYNC_REDIS_URL:-redis://127.0.0.1:6379/0}

answers_pg() { "$PY" -c "import psycopg2,sys; psycopg2.connect(sys.argv[1].rsplit('/',1)[0]+'/postgres', connect_timeout=3).close()" "$1" 2>/dev/null; }
answers_redis() { "$PY" -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()" "$1" 2>/dev/null; }

find_pg_bin() {
  for d in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin /opt/homebrew/bin /usr/local/bin /usr/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

if answers_pg "$DB_URL"; then
  echo "postgres: answering at ${DB_URL%%\?*}"
else
  PGBIN=$(find_pg_bin) || { echo "PostgreSQL does not answer at $DB_URL and no server is installed: install PostgreSQL (e.g. apt-get install postgresql) or set SYNC_DATABASE_URL." >&2; exit 1; }
  PGPORT=15432  # below the ephemeral port range, so no client socket holds it
  if ! answers_pg "postgresql://postgres@127.0.0.1:$PGPORT/postgres"; then
    echo "postgres: starting a throwaway server on port $PGPORT under $RUN/pg"
    data="$PWD/$RUN/pg"
    mkdir -p "$data"
    # PostgreSQL refuses to run as root: root runs it as `nobody`, which owns the folder.
    as_owner() { if [ "$(id -u)" = 0 ]; then su -s /bin/sh nobody -c "$1"; else sh -c "$1"; fi; }
    [ "$(id -u)" = 0 ] && chown nobody "$data" && chmod 700 "$data"
    [ -f "$data/PG_VERSION" ] || as_owner "$PGBIN/initdb -D $data -U postgres -A trust" >/dev/null
    as_owner "$PGBIN/pg_ctl -D $data -l $data/server.log -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1' -w start" >/dev/null
  else
    echo "postgres: the throwaway server on port $PGPORT answers"
  fi
  DB_URL="postgresql://postgres@127.0.0.1:$PGPORT/sync_workers"
  echo "export SYNC_DATABASE_URL=$DB_URL" >> "$RUN/env"
fi

if answers_redis "$REDIS_URL"; then
  echo "redis: answering at $REDIS_URL"
else
  command -v redis-server >/dev/null || { echo "Redis does not answer at $REDIS_URL and redis-server is not installed: install Redis (e.g. apt-get install redis-server) or set SYNC_REDIS_URL and SYNC_BROKER_URL." >&2; exit 1; }
  RPORT=16379
  if ! answers_redis "redis://127.0.0.1:$RPORT/0"; then
    echo "redis: starting a throwaway server on port $RPORT under $RUN"
    redis-server --daemonize yes --bind 127.0.0.1 --port $RPORT --save "" --appendonly no \
      --dir "$PWD/$RUN" --logfile "$PWD/$RUN/redis.log" --pidfile "$PWD/$RUN/redis.pid"
    for _ in $(seq 50); do answers_redis "redis://127.0.0.1:$RPORT/0" && break; sleep 0.1; done
  else
    echo "redis: the throwaway server on port $RPORT answers"
  fi
  echo "export SYNC_REDIS_URL=redis://127.0.0.1:$RPORT/0" >> "$RUN/env"
  echo "export SYNC_BROKER_URL=redis://127.0.0.1:$RPORT/0" >> "$RUN/env"
fi

#!/usr/bin/env bash
# Stop the throwaway PostgreSQL and Redis that services.sh started under .run/ (if any).
set -uo pipefail
cd "$(dirname "$0")/../.."
data="$PWD/.run/pg"
if [ -f "$data/postmaster.pid" ]; then
  pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl /usr/local/bin/pg_ctl /usr/bin/pg_ctl 2>/dev/null | head -1)")
  if [ "$(id -u)" = 0 ]; then su -s /bin/sh nobody -c "$pgbin/pg_ctl -D $data stop"; else "$pgbin/pg_ctl" -D "$data" stop; fi
fi
if [ -f .run/redis.pid ]; then
  kill "$(cat .run/redis.pid)" 2>/dev/null && echo "redis: stopped"
fi
rm -f .run/env

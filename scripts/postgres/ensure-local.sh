#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with trust authentication for the
# `postgres` user, as on the project's machines: the database layer's unit tests
# (packages/db/src/clinical.test.ts) create and drop temporary databases there. Where none answers
# (a fresh CI machine), starts a throw-away cluster from Debian's binaries on loopback only.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "postgres: 127.0.0.1:5432 answers"
  exit 0
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "postgres: server binaries missing (apt-get install postgresql)" >&2; exit 1; }
root=${LASCAR_CI_PGDATA:-/tmp/lascar-ci-postgres}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$root/data/PG_VERSION" ]; then
  mkdir -p "$root"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$root"
  as_pg "$bin/initdb" -D "$root/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
fi
as_pg "$bin/pg_ctl" -D "$root/data" -l "$root/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p 5432 -k $root" start >/dev/null
for db in test; do
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
done
echo "postgres: started a local cluster on 127.0.0.1:5432 ($root)"

#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the test suite and print its SQLAlchemy URL on stdout.
#
# Installs Debian's postgresql package when it is missing and we are root, starts the
# cluster, and creates the role and database the tests use. Prints nothing (and the
# PostgreSQL-backed tests skip, saying why) when PostgreSQL cannot be had on this machine.
# Set MODELLOOP_NO_POSTGRES=1 to skip it on purpose.
set -u
log() { echo "postgres-up: $*" >&2; }

[ "${MODELLOOP_NO_POSTGRES:-}" = "1" ] && { log "skipped (MODELLOOP_NO_POSTGRES=1)"; exit 0; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's postgresql package"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 \
      || { log "could not install postgresql"; exit 0; }
  else
    log "PostgreSQL is not installed and cannot be installed here (not root or no apt-get)"
    exit 0
  fi
fi

version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
[ -n "$version" ] || { log "no PostgreSQL version found"; exit 0; }
if ! pg_lsclusters -h 2>/dev/null | awk '{print $2}' | grep -qx main; then
  pg_createcluster "$version" main >&2 || { log "could not create a cluster"; exit 0; }
fi
status=$(pg_lsclusters -h | awk '$2 == "main" {print $4}')
if [ "$status" != "online" ]; then
  pg_ctlcluster "$version" main start >&2 || { log "could not start PostgreSQL"; exit 0; }
fi
port=$(pg_lsclusters -h | awk '$2 == "main" {print $3}')

as_postgres() { if [ "$(id -u)" = "0" ]; then su postgres -c "$1"; else sh -c "$1"; fi; }
for _ in $(seq 1 30); do
  as_postgres "psql -p $port -tAc 'SELECT 1'" >/dev/null 2>&1 && break
  sleep 1
done
as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'modelloop'\"" | grep -q 1 \
  || as_postgres "psql -p $port -qc \"CREATE ROLE modelloop LOGIN SUPERUSER PASSWORD 'modelloop'\"" >&2
as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname = 'modelloop_test'\"" | grep -q 1 \
  || as_postgres "createdb -p $port -O modelloop modelloop_test" >&2
echo "postgresql+psycopg://modelloop:modelloop@127.0.0.1:${port}/modelloop_test"

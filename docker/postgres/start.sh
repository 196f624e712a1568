#!/bin/sh
# Postgres for the compose deployment (Debian's package): a cluster made on first start
# in the data volume, with POSTGRES_USER owning POSTGRES_DB, reached with its password
# (scram-sha-256) over the stack's network.
set -eu
: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}" "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
DATA=/var/lib/postgresql/data
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
install -d -o postgres -g postgres -m 0755 /run/postgresql
if [ ! -s "$DATA/PG_VERSION" ]; then
  install -d -o postgres -g postgres -m 0700 "$DATA"
  as_postgres "$BIN/initdb" -D "$DATA" --username=postgres --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >> "$DATA/pg_hba.conf"
  as_postgres "$BIN/pg_ctl" -D "$DATA" -o "-c listen_addresses=''" -w start >/dev/null
  # The password goes through psql's variable quoting, never into a command line.
  printf '%s' "$POSTGRES_PASSWORD" | as_postgres sh -c '
    pw=$(cat); psql -v ON_ERROR_STOP=1 -q -v user="$1" -v db="$2" -v pw="$pw" <<SQL
CREATE ROLE :"user" LOGIN PASSWORD :'"'"'pw'"'"';
CREATE DATABASE :"db" OWNER :"user";
SQL' sh "$POSTGRES_USER" "$POSTGRES_DB"
  as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$BIN/postgres" -D "$DATA" \
  -c listen_addresses='*' -c unix_socket_directories=/run/postgresql

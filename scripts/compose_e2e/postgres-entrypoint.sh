#!/bin/sh
# The official postgres image's docker-entrypoint.sh, reduced to what docker-compose.yml relies on (see
# postgres.Containerfile): on first start, initialise $PGDATA with POSTGRES_USER, POSTGRES_PASSWORD and
# POSTGRES_DB, listening on the Unix socket only meanwhile; then exec the command as the postgres user.
set -eu

if [ "${1:-}" != postgres ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        pg_ctl -w -o "-c listen_addresses=''" start >/dev/null
        # From stdin: psql interpolates :"db" (a quoted identifier) there, not in -c.
        echo 'CREATE DATABASE :"db"' | psql -v ON_ERROR_STOP=1 -v db="$db" --username="$user" --dbname=postgres -q
        pg_ctl -w -m fast stop >/dev/null
    fi
    echo "initialised $PGDATA (user $user, database $db)"
fi

exec "$@"

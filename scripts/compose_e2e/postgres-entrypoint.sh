#!/bin/sh
# The official postgres image's docker-entrypoint.sh, reduced to what docker-compose.yml relies on (see
# postgres.Containerfile): on first start, initialise $PGDATA with POSTGRES_USER, POSTGRES_PASSWORD and
# POSTGRES_DB and run the scripts in /docker-entrypoint-initdb.d (*.sh: executed if executable, else sourced;
# *.sql: through psql), listening on the Unix socket only meanwhile; then exec the command as the postgres user.
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
    pg_ctl -w -o "-c listen_addresses=''" start >/dev/null
    if [ "$db" != postgres ]; then
        # From stdin: psql interpolates :"db" (a quoted identifier) there, not in -c.
        echo 'CREATE DATABASE :"db"' | psql -v ON_ERROR_STOP=1 -v db="$db" --username="$user" --dbname=postgres -q
    fi
    export POSTGRES_USER="$user" POSTGRES_DB="$db"
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    echo "running $f"
                    "$f"
                else
                    echo "sourcing $f"
                    . "$f"
                fi
                ;;
            *.sql)
                echo "running $f"
                psql -v ON_ERROR_STOP=1 --username="$user" --dbname="$db" -q -f "$f"
                ;;
            */\*) ;;
            *) echo "ignoring $f" ;;
        esac
    done
    pg_ctl -w -m fast stop >/dev/null
    echo "initialised $PGDATA (user $user, database $db)"
fi

exec "$@"

#!/bin/sh
# Init script of the `dagster_postgres` service (mounted into /docker-entrypoint-initdb.d; the postgres image
# runs it once, when it initialises an empty data directory, as the bootstrap superuser over the Unix socket).
#
# DAGSTER_USER (dagster), what DAGSTER_POSTGRES_URL logs in as (every Dagster process and run container):
# owns the database (and so, PostgreSQL 15 and newer, its `public` schema, where Dagster keeps its tables),
# no superuser (a superuser can run `COPY ... TO PROGRAM`, a shell in this container).
set -eu
: "${DAGSTER_PASSWORD:?set DAGSTER_POSTGRES_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v db="$POSTGRES_DB" -v dagster="${DAGSTER_USER:-dagster}" -v dagster_password="$DAGSTER_PASSWORD" <<'SQL'
CREATE ROLE :"dagster" LOGIN PASSWORD :'dagster_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER DATABASE :"db" OWNER TO :"dagster";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
echo "dagster-role.sh: role ${DAGSTER_USER:-dagster} created, owner of database $POSTGRES_DB"

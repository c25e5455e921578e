#!/bin/sh
# Init script of the `etl_postgres` service (mounted into /docker-entrypoint-initdb.d; the postgres image runs
# it once, when it initialises an empty data directory, as the bootstrap superuser over the Unix socket).
#
# The roles of the ETL database, none of them a superuser (a superuser can run `COPY ... TO PROGRAM`, a shell
# in this container):
#   ETL_LOADER_USER (etl)      the loader: what ETL_DATABASE_URL logs in as (the code server, the daemon's run
#                              containers); owns the schemas etl, utilities and etl_staging and everything the
#                              migrations create in them; may create schemas in this database (the migrations'
#                              `CREATE SCHEMA IF NOT EXISTS` needs that privilege even when the schema exists)
#                              and temporary tables (the loader's validation tables).
#   ETL_ANALYST_USER (analyst) reads etl and utilities, nothing else, in read-only transactions.
# The same SQL, for a DBA to run on an existing server, is in docs/legacy-migration.md ("Roles on your server").
set -eu
: "${ETL_LOADER_PASSWORD:?set ETL_POSTGRES_PASSWORD in .env}"
: "${ETL_ANALYST_PASSWORD:?set ETL_ANALYST_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v db="$POSTGRES_DB" \
    -v loader="${ETL_LOADER_USER:-etl}" -v loader_password="$ETL_LOADER_PASSWORD" \
    -v analyst="${ETL_ANALYST_USER:-analyst}" -v analyst_password="$ETL_ANALYST_PASSWORD" <<'SQL'
CREATE ROLE :"loader" LOGIN PASSWORD :'loader_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE :"analyst" LOGIN PASSWORD :'analyst_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE :"analyst" SET default_transaction_read_only = on;

REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE :"db" TO :"loader";
GRANT CONNECT ON DATABASE :"db" TO :"analyst";
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA etl AUTHORIZATION :"loader";
CREATE SCHEMA utilities AUTHORIZATION :"loader";
CREATE SCHEMA etl_staging AUTHORIZATION :"loader";

GRANT USAGE ON SCHEMA etl, utilities TO :"analyst";
-- Tables the loader's migrations create later are readable by the analyst too.
ALTER DEFAULT PRIVILEGES FOR ROLE :"loader" IN SCHEMA etl, utilities GRANT SELECT ON TABLES TO :"analyst";
SQL
echo "etl-roles.sh: roles ${ETL_LOADER_USER:-etl} (loader) and ${ETL_ANALYST_USER:-analyst} (read only) created"

"""The roles of the docker-compose deployment (deploy/postgres/etl-roles.sh, which docs/legacy-migration.md
gives a DBA too): the loader migrates and loads without being a superuser, cannot run programs on the server,
and the analyst reads and cannot write. The script itself runs, through psql, on the test server."""

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from etl_project.database.embedded import with_database
from etl_project.paths import PROJECT_ROOT
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project_tests.helpers import count_rows, materialize_batches, write_generated_batch

pytestmark = pytest.mark.every_postgres_major

SCRIPT = PROJECT_ROOT / "deploy" / "postgres" / "etl-roles.sh"


def _login_url(server_url: str, database: str, user: str, password: str) -> str:
    params = psycopg2.extensions.parse_dsn(with_database(server_url, database))
    params.update(user=user, password=password)
    return psycopg2.extensions.make_dsn(**params)


@pytest.fixture
def roles(pg_server_url: str) -> Iterator[dict[str, str]]:
    """A fresh database set up by etl-roles.sh, as the postgres image runs it; the roles' login URLs."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed (apt-get install postgresql-client)")
    suffix = secrets.token_hex(4)
    database, loader, analyst = f"roles_{suffix}", f"loader_{suffix}", f"analyst_{suffix}"
    passwords = {loader: secrets.token_hex(12), analyst: secrets.token_hex(12)}
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    server = psycopg2.extensions.parse_dsn(pg_server_url)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PGHOST": server.get("host", ""),
        "PGPORT": str(server.get("port", "5432")),
        "PGPASSWORD": server.get("password", ""),
        "POSTGRES_USER": server.get("user", "postgres"),
        "POSTGRES_DB": database,
        "ETL_LOADER_USER": loader,
        "ETL_LOADER_PASSWORD": passwords[loader],
        "ETL_ANALYST_USER": analyst,
        "ETL_ANALYST_PASSWORD": passwords[analyst],
    }
    try:
        result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        yield {
            "loader": _login_url(pg_server_url, database, loader, passwords[loader]),
            "analyst": _login_url(pg_server_url, database, analyst, passwords[analyst]),
            "loader_name": loader,
        }
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
            for role in (loader, analyst):
                cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.close()


def _query(url: str, query: str) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def test_the_loader_migrates_and_loads_without_being_a_superuser(roles, instance, tmp_path: Path):
    shared = tmp_path / "shared_data"
    shared.mkdir()
    write_generated_batch(shared, "roles_batch")
    resources = {
        "etl_database": EtlDatabase(url=roles["loader"]),
        "shared_directory": SharedDirectory(path=str(shared), settle_seconds=0),
    }
    result = materialize_batches(instance, resources, ["roles_batch"])
    assert result.success
    conn = psycopg2.connect(roles["loader"])
    try:
        counts = count_rows(conn, "roles_batch")
    finally:
        conn.close()
    assert counts["raw_events"] > 0 and counts["sales"] > 0
    [(superuser, createrole, createdb)] = _query(
        roles["loader"],
        "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user",
    )
    assert not (superuser or createrole or createdb)
    owners = _query(
        roles["loader"],
        "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace "
        "WHERE nspname IN ('etl', 'utilities', 'etl_staging') ORDER BY 1",
    )
    assert owners == [(schema, roles["loader_name"]) for schema in ("etl", "etl_staging", "utilities")]


def test_the_loader_cannot_run_programs_on_the_server(roles):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="pg_execute_server_program"):
        _query(roles["loader"], "COPY (SELECT 1) TO PROGRAM 'id'")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _query(roles["loader"], "CREATE ROLE intruder SUPERUSER")


def test_the_analyst_reads_the_tables_the_migrations_create_and_cannot_write(roles):
    from etl_project.database.migrations import apply_migrations

    conn = psycopg2.connect(roles["loader"])
    try:
        apply_migrations(conn)
    finally:
        conn.close()
    assert _query(roles["analyst"], "SELECT count(*) FROM etl.sales") == [(0,)]
    assert _query(roles["analyst"], "SELECT count(*) FROM utilities.processed_files") == [(0,)]
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        _query(roles["analyst"], "DELETE FROM etl.sales")
    # Read-only is only the default; what stops a write is the missing privilege.
    conn = psycopg2.connect(roles["analyst"])
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET default_transaction_read_only = off")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("DELETE FROM etl.sales")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT count(*) FROM etl_staging.any_table")
    finally:
        conn.close()

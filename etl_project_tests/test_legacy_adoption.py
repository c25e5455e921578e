"""Issue 11 part 2: a database of the legacy pipeline is adopted in place by `etl adopt-legacy`, not fought.

The conversion itself: migrating refuses and points at the command; adoption keeps every row and id and leaves
exactly the platform's schema; a second adoption, and the command's second run, change nothing; legacy dates
are read in the session's time zone. Life after adoption (the sensor, new files, the sales-drop check) is in
test_legacy_after_adoption.py; the legacy database and its fixtures in legacy_database.py and
legacy_adoption_fixtures.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from psycopg2 import sql

from etl_project.database.legacy_adoption import (
    SEED_BATCH_ID,
    NotLegacyDatabaseError,
    adopt_legacy_database,
    adopt_legacy_database_at,
)
from etl_project.database.migrations import LegacyDatabaseError
from etl_project.paths import PROJECT_ROOT
from etl_project.resources import EtlDatabase
from etl_project_tests.legacy_adoption_fixtures import (
    connect_to,
    query_rows,
    row_counts,
)

pytestmark = pytest.mark.every_postgres_major

SCHEMAS = ["etl", "utilities", "etl_staging"]


def _catalog(url: str) -> dict[str, list[tuple]]:
    """The schema's shape: columns, indexes, constraints, sequences and recorded migrations."""
    shape = {
        "columns": query_rows(
            url,
            "SELECT table_schema, table_name, column_name, data_type, numeric_precision, numeric_scale, "
            "is_nullable, column_default, is_identity, identity_generation FROM information_schema.columns "
            "WHERE table_schema = ANY(%s) ORDER BY 1, 2, 3",
            (SCHEMAS,),
        ),
        "indexes": query_rows(
            url,
            "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = ANY(%s) "
            "ORDER BY 1, 2, 3",
            (SCHEMAS,),
        ),
        "constraints": query_rows(
            url,
            "SELECT n.nspname, c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = ANY(%s) "
            "ORDER BY 1, 2, 3",
            (SCHEMAS,),
        ),
        "sequences": query_rows(
            url,
            "SELECT schemaname, sequencename, data_type FROM pg_sequences WHERE schemaname = ANY(%s) ORDER BY 1, 2",
            (SCHEMAS,),
        ),
        "functions": query_rows(
            url,
            "SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = ANY(%s) ORDER BY 1, 2",
            (SCHEMAS,),
        ),
    }
    if query_rows(url, "SELECT to_regclass('utilities.schema_migrations') IS NOT NULL")[0][0]:
        shape["migrations"] = query_rows(
            url, "SELECT name, checksum_sha256 FROM utilities.schema_migrations ORDER BY 1"
        )
    return shape


def _ids(url: str) -> dict[str, list[int]]:
    ids = {"etl.raw_events": query_rows(url, "SELECT raw_id FROM etl.raw_events ORDER BY 1")}
    for table in ("stores", "products", "orders", "sales"):
        ids[table] = query_rows(
            url, sql.SQL("SELECT id FROM {} ORDER BY 1").format(sql.Identifier("etl", table))
        )
    return ids


def test_migrating_a_legacy_database_refuses_naming_etl_adopt_legacy_and_changes_nothing(legacy):
    before = (_catalog(legacy.url), row_counts(legacy.url))

    with pytest.raises(LegacyDatabaseError) as refused, EtlDatabase(url=legacy.url).connect():
        pass

    assert "legacy pipeline's schema" in str(refused.value)
    assert "Run `etl adopt-legacy` once" in str(refused.value)
    assert "Migrating from the legacy pipeline" in str(refused.value)
    assert (_catalog(legacy.url), row_counts(legacy.url)) == before
    assert "migrations" not in before[0]  # not even utilities.schema_migrations was created


def test_adoption_keeps_every_row_and_id_and_gives_exactly_the_platform_schema(legacy, database_url):
    ids_before = _ids(legacy.url)
    sales_before = query_rows(
        legacy.url,
        "SELECT id, sale_date, quantity, store_id FROM etl.sales WHERE batch_id IS NOT NULL ORDER BY id",
    )
    rejected_before = query_rows(
        legacy.url, "SELECT raw_id, payload FROM etl.rejected_events ORDER BY raw_id"
    )
    max_ids = {t: max(i for (i,) in ids_before[t]) for t in ("stores", "products", "orders", "sales")}

    conn = connect_to(legacy.url)
    report = adopt_legacy_database(conn)
    conn.close()

    # every row, every id
    assert report.rows_before == report.rows_after == legacy.history.counts == row_counts(legacy.url)
    assert _ids(legacy.url) == ids_before
    assert report.seed_rows == legacy.history.seed_rows
    assert report.files_marked_processed == len(legacy.history.batches)
    # exactly the shape a fresh database gets from the migrations (columns, types, nullability, defaults,
    # identities, indexes, constraints, sequences, recorded migrations)
    assert _catalog(legacy.url) == _catalog(database_url)
    # values: naive timestamps read in the session's TimeZone (UTC here), the time of day kept
    assert (
        query_rows(
            legacy.url,
            "SELECT id, sale_date AT TIME ZONE 'UTC', quantity, store_id FROM etl.sales "
            "WHERE batch_id <> %s ORDER BY id",
            (SEED_BATCH_ID,),
        )
        == sales_before
    )
    assert query_rows(
        legacy.url,
        "SELECT count(*), min(raw_id), max(raw_id), bool_and(batch_created_at = created_at AT TIME ZONE 'UTC') "
        "FROM etl.stores WHERE batch_id = %s",
        (SEED_BATCH_ID,),
    ) == [(legacy.history.seed_rows["stores"], 0, 0, True)]
    rejected = query_rows(
        legacy.url,
        "SELECT raw_id, payload, event_type, file_row, reject_id FROM etl.rejected_events ORDER BY raw_id",
    )
    assert [(r, json.loads(p)) for r, p, *_ in rejected] == [(r, p) for r, p in rejected_before]
    assert {e for _, _, e, _, _ in rejected} == {"sales_event"}
    assert all(row > 1 for *_, row, _ in rejected)  # its position among its batch's raw events
    assert sorted(i for *_, i in rejected) == list(range(1, len(rejected) + 1))
    first = legacy.history.batches[0]
    assert query_rows(
        legacy.url,
        "SELECT batch_id, status, size_bytes, file_mtime_ns FROM utilities.processed_files WHERE filename = %s",
        (first.filename,),
    ) == [(first.run_id, "loaded", None, None)]
    # sequences continue: after max(id), or after the legacy sequence when it was ahead (a rolled-back insert)
    assert report.next_ids["stores"] == max_ids["stores"] + 1
    assert report.next_ids["products"] == max_ids["products"] + 2
    assert report.next_ids["sales"] == max_ids["sales"] + 1
    new_ids = query_rows(
        legacy.url,
        "WITH s AS (INSERT INTO etl.stores (raw_id, batch_id, batch_created_at, created_at, name, tax_id, status) "
        "VALUES (1, 'b', now(), now(), 'n', 1, 'active') RETURNING id), "
        "p AS (INSERT INTO etl.products (raw_id, batch_id, batch_created_at, created_at, name, price) "
        "VALUES (1, 'b', now(), now(), 'n', 1) RETURNING id) "
        "SELECT (SELECT id FROM s), (SELECT id FROM p)",
    )
    assert new_ids == [(max_ids["stores"] + 1, max_ids["products"] + 2)]


def test_adopting_twice_says_there_is_nothing_to_adopt_and_changes_nothing(adopted):
    before = (_catalog(adopted.url), row_counts(adopted.url))

    with pytest.raises(NotLegacyDatabaseError, match="Nothing to adopt: this database already has") as err:
        adopt_legacy_database_at(adopted.url, "UTC")

    assert err.value.already_adopted
    assert (_catalog(adopted.url), row_counts(adopted.url)) == before


def test_etl_adopt_legacy_command_prints_the_report_and_a_second_run_is_a_no_op(legacy):
    env = {**os.environ, "ETL_DATABASE_URL": legacy.url, "ETL_TIMEZONE": "UTC"}
    command = [sys.executable, "-m", "etl_project.cli", "adopt-legacy"]

    first = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    second = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)

    assert first.returncode == 0, first.stderr
    stores = legacy.history.counts["etl.stores"]
    assert "etl.stores" in first.stdout and f"{stores} before" in first.stdout
    assert f"Files marked processed (never loaded again): {len(legacy.history.batches)}" in first.stdout
    assert "Next ids: stores " in first.stdout
    assert "(5 legacy seed rows kept as batch 'legacy_seed')" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "Nothing to adopt" in second.stdout
    assert row_counts(legacy.url) == legacy.history.counts


def test_a_legacy_date_is_kept_in_the_session_time_zone(legacy):
    """Legacy naive timestamps are read in ETL_TIMEZONE: 2025-01-01 00:30 in Berlin is 23:30 UTC the day before."""
    conn = connect_to(legacy.url)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE etl.sales SET sale_date = '2025-01-01 00:30:00' WHERE id = 1")
    conn.close()

    adopt_legacy_database_at(legacy.url, "Europe/Berlin")

    assert query_rows(legacy.url, "SELECT sale_date FROM etl.sales WHERE id = 1") == [
        (datetime(2024, 12, 31, 23, 30, tzinfo=timezone.utc),)
    ]

"""Issue 11 part 2: a database of the legacy pipeline is adopted in place by `etl adopt-legacy`, not fought.

A legacy database is built from the legacy DDL and filled as the legacy pipeline fills it
(legacy_database.py), then adopted; new files load on top, the old ones are never loaded again, and the
sales-drop check works on the adopted history at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import dagster as dg
import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql

from etl_project.database.embedded import with_database
from etl_project.database.legacy_adoption import (
    SEED_BATCH_ID,
    NotLegacyDatabaseError,
    adopt_legacy_database,
    adopt_legacy_database_at,
)
from etl_project.database.migrations import LegacyDatabaseError
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.paths import PROJECT_ROOT
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project_tests.helpers import count_rows, materialize_batches
from etl_project_tests.legacy_database import (
    LEGACY_TABLES,
    STAMP,
    LegacyBatch,
    LegacyHistory,
    create_legacy_schema,
    fill_legacy_database,
    write_legacy_file,
)

pytestmark = pytest.mark.every_postgres_major

SCHEMAS = ["etl", "utilities", "etl_staging"]


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
        conn = _connect(url)
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


@pytest.fixture
def legacy_resources(adopted: LegacyDatabase, shared_dir: Path) -> dict:
    return {
        "etl_database": EtlDatabase(url=adopted.url),
        "shared_directory": SharedDirectory(path=str(shared_dir), settle_seconds=0),
    }


def _connect(url: str) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SET TimeZone = 'UTC'")
    return conn


def _query(url: str, query: str, params: tuple = ()) -> list[tuple]:
    conn = _connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()


def _catalog(url: str) -> dict[str, list[tuple]]:
    """The schema's shape: columns, indexes, constraints, sequences and recorded migrations."""
    shape = {
        "columns": _query(
            url,
            "SELECT table_schema, table_name, column_name, data_type, numeric_precision, numeric_scale, "
            "is_nullable, column_default, is_identity, identity_generation FROM information_schema.columns "
            "WHERE table_schema = ANY(%s) ORDER BY 1, 2, 3",
            (SCHEMAS,),
        ),
        "indexes": _query(
            url,
            "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = ANY(%s) "
            "ORDER BY 1, 2, 3",
            (SCHEMAS,),
        ),
        "constraints": _query(
            url,
            "SELECT n.nspname, c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = ANY(%s) "
            "ORDER BY 1, 2, 3",
            (SCHEMAS,),
        ),
        "sequences": _query(
            url,
            "SELECT schemaname, sequencename, data_type FROM pg_sequences WHERE schemaname = ANY(%s) ORDER BY 1, 2",
            (SCHEMAS,),
        ),
        "functions": _query(
            url,
            "SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = ANY(%s) ORDER BY 1, 2",
            (SCHEMAS,),
        ),
    }
    if _query(url, "SELECT to_regclass('utilities.schema_migrations') IS NOT NULL")[0][0]:
        shape["migrations"] = _query(
            url, "SELECT name, checksum_sha256 FROM utilities.schema_migrations ORDER BY 1"
        )
    return shape


def _counts(url: str) -> dict[str, int]:
    return {
        table: _query(url, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split("."))))[0][0]
        for table in LEGACY_TABLES
    }


def _ids(url: str) -> dict[str, list[int]]:
    ids = {"etl.raw_events": _query(url, "SELECT raw_id FROM etl.raw_events ORDER BY 1")}
    for table in ("stores", "products", "orders", "sales"):
        ids[table] = _query(url, sql.SQL("SELECT id FROM {} ORDER BY 1").format(sql.Identifier("etl", table)))
    return ids


def _new_legacy_style_batch(history: LegacyHistory) -> LegacyBatch:
    """A file written after the switch, the legacy way: entities without ids, sales referencing legacy rows
    (a seed store and product, a store and an order of a legacy batch), sale_date with its time of day."""
    today = history.as_of + timedelta(days=1)
    batch = LegacyBatch(
        f"scheduled__{today.isoformat()}T09:20:00+00:00", datetime.combine(today, time(9, 20))
    )
    created = (batch.created_at - timedelta(minutes=5)).strftime(STAMP)
    for n in range(2):
        batch.events.append(
            (
                "store_event",
                {"created_at": created, "name": f"New{n}", "tax_id": 123456789012 + n, "status": "active"},
            )
        )
        batch.events.append(("product_event", {"created_at": created, "name": f"NewP{n}", "price": 12.5}))
    for n in range(10):
        batch.events.append(("order_event", {"created_at": created, "user_id": 100 + n}))
    for minute in (1, 700, 1439):
        sold = (datetime.combine(today, time()) + timedelta(minutes=minute)).strftime(STAMP)
        sale = {"sale_date": sold, "order_id": 21, "store_id": history.dropping_store_id, "product_id": 1}
        batch.events.append(("sales_event", {**sale, "quantity": 3}))
    sale = {
        "sale_date": f"{today} 08:00:00",
        "order_id": 1,
        "store_id": history.steady_store_id,
        "product_id": 2,
    }
    batch.events.append(("sales_event", {**sale, "quantity": 1}))
    return batch


def test_migrating_a_legacy_database_refuses_naming_etl_adopt_legacy_and_changes_nothing(legacy):
    before = (_catalog(legacy.url), _counts(legacy.url))

    with pytest.raises(LegacyDatabaseError) as refused, EtlDatabase(url=legacy.url).connect():
        pass

    assert "legacy pipeline's schema" in str(refused.value)
    assert "Run `etl adopt-legacy` once" in str(refused.value)
    assert "Migrating from the legacy pipeline" in str(refused.value)
    assert (_catalog(legacy.url), _counts(legacy.url)) == before
    assert "migrations" not in before[0]  # not even utilities.schema_migrations was created


def test_adoption_keeps_every_row_and_id_and_gives_exactly_the_platform_schema(legacy, database_url):
    ids_before = _ids(legacy.url)
    sales_before = _query(
        legacy.url,
        "SELECT id, sale_date, quantity, store_id FROM etl.sales WHERE batch_id IS NOT NULL ORDER BY id",
    )
    rejected_before = _query(legacy.url, "SELECT raw_id, payload FROM etl.rejected_events ORDER BY raw_id")
    max_ids = {t: max(i for (i,) in ids_before[t]) for t in ("stores", "products", "orders", "sales")}

    conn = _connect(legacy.url)
    report = adopt_legacy_database(conn)
    conn.close()

    # every row, every id
    assert report.rows_before == report.rows_after == legacy.history.counts == _counts(legacy.url)
    assert _ids(legacy.url) == ids_before
    assert report.seed_rows == legacy.history.seed_rows
    assert report.files_marked_processed == len(legacy.history.batches)
    # exactly the shape a fresh database gets from the migrations (columns, types, nullability, defaults,
    # identities, indexes, constraints, sequences, recorded migrations)
    assert _catalog(legacy.url) == _catalog(database_url)
    # values: naive timestamps read in the session's TimeZone (UTC here), the time of day kept
    assert (
        _query(
            legacy.url,
            "SELECT id, sale_date AT TIME ZONE 'UTC', quantity, store_id FROM etl.sales "
            "WHERE batch_id <> %s ORDER BY id",
            (SEED_BATCH_ID,),
        )
        == sales_before
    )
    assert _query(
        legacy.url,
        "SELECT count(*), min(raw_id), max(raw_id), bool_and(batch_created_at = created_at AT TIME ZONE 'UTC') "
        "FROM etl.stores WHERE batch_id = %s",
        (SEED_BATCH_ID,),
    ) == [(legacy.history.seed_rows["stores"], 0, 0, True)]
    rejected = _query(
        legacy.url,
        "SELECT raw_id, payload, event_type, file_row, reject_id FROM etl.rejected_events ORDER BY raw_id",
    )
    assert [(r, json.loads(p)) for r, p, *_ in rejected] == [(r, p) for r, p in rejected_before]
    assert {e for _, _, e, _, _ in rejected} == {"sales_event"}
    assert all(row > 1 for *_, row, _ in rejected)  # its position among its batch's raw events
    assert sorted(i for *_, i in rejected) == list(range(1, len(rejected) + 1))
    first = legacy.history.batches[0]
    assert _query(
        legacy.url,
        "SELECT batch_id, status, size_bytes, file_mtime_ns FROM utilities.processed_files WHERE filename = %s",
        (first.filename,),
    ) == [(first.run_id, "loaded", None, None)]
    # sequences continue: after max(id), or after the legacy sequence when it was ahead (a rolled-back insert)
    assert report.next_ids["stores"] == max_ids["stores"] + 1
    assert report.next_ids["products"] == max_ids["products"] + 2
    assert report.next_ids["sales"] == max_ids["sales"] + 1
    new_ids = _query(
        legacy.url,
        "WITH s AS (INSERT INTO etl.stores (raw_id, batch_id, batch_created_at, created_at, name, tax_id, status) "
        "VALUES (1, 'b', now(), now(), 'n', 1, 'active') RETURNING id), "
        "p AS (INSERT INTO etl.products (raw_id, batch_id, batch_created_at, created_at, name, price) "
        "VALUES (1, 'b', now(), now(), 'n', 1) RETURNING id) "
        "SELECT (SELECT id FROM s), (SELECT id FROM p)",
    )
    assert new_ids == [(max_ids["stores"] + 1, max_ids["products"] + 2)]


def test_adopting_twice_says_there_is_nothing_to_adopt_and_changes_nothing(adopted):
    before = (_catalog(adopted.url), _counts(adopted.url))

    with pytest.raises(NotLegacyDatabaseError, match="Nothing to adopt: this database already has") as err:
        adopt_legacy_database_at(adopted.url, "UTC")

    assert err.value.already_adopted
    assert (_catalog(adopted.url), _counts(adopted.url)) == before


def test_files_of_the_legacy_processed_files_are_never_requested_again(
    adopted, legacy_resources, instance, shared_dir
):
    for batch in adopted.history.batches:
        write_legacy_file(shared_dir, batch)
    new = _new_legacy_style_batch(adopted.history)
    write_legacy_file(shared_dir, new)

    result = batch_file_sensor(dg.build_sensor_context(instance=instance, resources=legacy_resources))

    assert [r.partition_key for r in result.run_requests] == [new.run_id]
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [[new.run_id]]


def test_a_new_legacy_style_file_loads_on_top_of_the_adopted_history(
    adopted, legacy_resources, instance, shared_dir
):
    before = _counts(adopted.url)
    max_store, max_order = _query(
        adopted.url, "SELECT (SELECT max(id) FROM etl.stores), (SELECT max(id) FROM etl.orders)"
    )[0]
    new = _new_legacy_style_batch(adopted.history)
    write_legacy_file(shared_dir, new)

    assert materialize_batches(instance, legacy_resources, [new.run_id]).success

    conn = _connect(adopted.url)
    assert count_rows(conn, new.run_id) == {
        "raw_events": 18,
        "stores": 2,
        "products": 2,
        "orders": 10,
        "sales": 4,
        "rejected_events": 0,
    }
    conn.close()
    after = _counts(adopted.url)
    assert {t: after[t] - before[t] for t in after} == {
        "etl.raw_events": 18,
        "etl.stores": 2,
        "etl.products": 2,
        "etl.orders": 10,
        "etl.sales": 4,
        "etl.rejected_events": 0,
        "utilities.processed_files": 1,
    }
    # ids continue after the legacy ones (products after the legacy sequence, which a rolled-back insert moved)
    assert _query(
        adopted.url, "SELECT id FROM etl.stores WHERE batch_id = %s ORDER BY id", (new.run_id,)
    ) == [
        (max_store + 1,),
        (max_store + 2,),
    ]
    assert _query(adopted.url, "SELECT min(id) FROM etl.orders WHERE batch_id = %s", (new.run_id,)) == [
        (max_order + 1,)
    ]
    # the sales reference legacy rows and keep their time of day
    assert _query(
        adopted.url,
        "SELECT store_id, product_id, order_id, to_char(sale_date AT TIME ZONE 'UTC', 'HH24:MI') FROM etl.sales "
        "WHERE batch_id = %s ORDER BY sale_date",
        (new.run_id,),
    ) == [
        (adopted.history.dropping_store_id, 1, 21, "00:01"),
        (adopted.history.steady_store_id, 2, 1, "08:00"),
        (adopted.history.dropping_store_id, 1, 21, "11:40"),
        (adopted.history.dropping_store_id, 1, 21, "23:59"),
    ]


def test_sales_drop_check_flags_the_legacy_store_on_its_first_evaluation(adopted, instance):
    rules = SalesDropRules(threshold_percent=-20, min_baseline_amount=50)  # as of yesterday, like the history
    assert rules.evaluation_date() == adopted.history.as_of

    result = dg.materialize(
        [store_daily_sales, sales_drop_check],
        instance=instance,
        resources={"etl_database": EtlDatabase(url=adopted.url), "sales_drop_rules": rules},
    )

    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    flagged = evaluation.metadata["flagged_stores"].value
    assert [
        (s["store_id"], s["as_of_amount"], s["baseline_amount"], s["percent_change"]) for s in flagged
    ] == [(adopted.history.dropping_store_id, 20.0, 100.0, -80.0)]
    assert evaluation.metadata["stores_examined"].value == 2  # the steady store too


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
    assert _counts(legacy.url) == legacy.history.counts


def test_a_legacy_date_is_kept_in_the_session_time_zone(legacy):
    """Legacy naive timestamps are read in ETL_TIMEZONE: 2025-01-01 00:30 in Berlin is 23:30 UTC the day before."""
    conn = _connect(legacy.url)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE etl.sales SET sale_date = '2025-01-01 00:30:00' WHERE id = 1")
    conn.close()

    adopt_legacy_database_at(legacy.url, "Europe/Berlin")

    assert _query(legacy.url, "SELECT sale_date FROM etl.sales WHERE id = 1") == [
        (datetime(2024, 12, 31, 23, 30, tzinfo=timezone.utc),)
    ]

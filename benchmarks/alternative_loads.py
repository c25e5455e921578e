"""Subprocess entry points of the `alternatives` scenario: the large batch loaded the two ways a user would
otherwise pick, each alone in a process of its own (as benchmarks/workers.py does for the platform and pandas).

`python -m benchmarks.alternative_loads {legacy_sql,dlt} --file F --batch-id B`, the database URL in
BENCH_DATABASE_URL; prints one JSON object (seconds from connect to commit, rows, own peak RSS).

- legacy_sql: the legacy pipeline's own approach, written fresh from shared/legacy-notes.md: its tables (serial
  keys, foreign keys, the four sales indexes), a `COPY` of the file into etl.raw_events, then one
  `INSERT ... SELECT` per event type from the jsonb payloads, casting each field. No validation: a bad value
  fails the whole load. The COPY is server-side (`COPY ... FROM '<file>'`, the server reads the file) when the
  server may read it, else the same COPY from the client (`FROM STDIN`); the result says which ran.
- dlt: the data load tool's usual pipeline: the CSV read row by row, each payload parsed, one dlt table per
  event type (dlt infers the columns), loaded by its PostgreSQL destination with its defaults.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from benchmarks.workers import WORKER_URL_ENV, process_memory_mb
from etl_project.schemas import EVENT_SCHEMAS
from etl_testkit.legacy_database import LEGACY_DDL
from etl_testkit.legacy_load import legacy_load

#: The dataset (PostgreSQL schema) the dlt pipeline loads into.
DLT_DATASET = "dlt_events"


def load_legacy_sql(url: str, path: Path, batch_id: str, *, create_tables: bool = True) -> dict[str, object]:
    """The legacy approach in one transaction: COPY into raw_events, then one INSERT ... SELECT per type.

    The legacy tables are created first (untimed) unless the database already has them."""
    conn = psycopg2.connect(url, application_name="etl_bench_legacy_sql")
    if create_tables:
        with conn, conn.cursor() as cur:
            cur.execute(LEGACY_DDL)
    rss_before = process_memory_mb("VmRSS")
    start = time.perf_counter()
    try:
        copy, loaded = legacy_load(conn, path, batch_id)
        seconds = time.perf_counter() - start
    finally:
        conn.close()
    event_rows = sum(v for k, v in loaded.items() if k != "raw_events")
    return {
        "seconds": seconds,
        "rss_before_work_mb": rss_before,
        "rows_read": loaded["raw_events"],
        "rows_loaded": event_rows,
        "rows_rejected": loaded["raw_events"] - event_rows,
        "loaded": loaded,
        "copy": copy,
    }


def _events(path: Path) -> Iterator[dict[str, object]]:
    """The file's rows as a dlt user reads them: csv module, payload parsed, envelope kept beside it."""
    with open(path, encoding="utf-8", newline="") as data:
        for row in csv.DictReader(data, escapechar="\\", doublequote=False):
            yield {
                "event_type": row["event_type"],
                "batch_id": row["batch_id"],
                "batch_created_at": row["batch_created_at"],
                **json.loads(row["payload"]),
            }


def load_with_dlt(url: str, path: Path, batch_id: str) -> dict[str, object]:
    """dlt: one resource whose rows go to the table of their event type; dlt's defaults otherwise."""
    import dlt

    rss_before = process_memory_mb("VmRSS")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="etl-bench-dlt-") as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="etl_bench_dlt",
            pipelines_dir=pipelines_dir,
            destination=dlt.destinations.postgres(credentials=dlt_credentials(url)),
            dataset_name=DLT_DATASET,
        )
        events = dlt.resource(_events(path), name="events", table_name=lambda e: e["event_type"])
        pipeline.run(events)
        seconds = time.perf_counter() - start
    loaded = _dlt_row_counts(url)
    rows = sum(loaded.values())
    return {
        "seconds": seconds,
        "rss_before_work_mb": rss_before,
        "rows_read": rows,
        "rows_loaded": rows,
        "rows_rejected": 0,
        "loaded": loaded,
        "dlt_version": dlt.__version__,
    }


def dlt_credentials(url: str) -> dict[str, object]:
    """dlt's credential fields from a libpq URL. dlt insists on a host and a password; a Unix socket's directory
    goes in the query, where libpq reads it too (trust or peer authentication ignores the empty password)."""
    dsn = psycopg2.extensions.parse_dsn(url)
    names = {"dbname": "database", "user": "username", "password": "password", "port": "port"}
    credentials: dict[str, object] = {names[k]: v for k, v in dsn.items() if k in names}
    credentials.setdefault("password", "")
    host = dsn.get("host", "localhost")
    if host.startswith("/"):
        credentials.update(host="localhost", query={"host": host})
    else:
        credentials["host"] = host
    return credentials


def _dlt_row_counts(url: str) -> dict[str, int]:
    """Rows per event-type table dlt created (its own _dlt_* tables left out)."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            counts = {}
            for schema in EVENT_SCHEMAS:
                cur.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(DLT_DATASET, schema.event_type))
                )
                counts[schema.event_type] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


METHODS = {"legacy_sql": load_legacy_sql, "dlt": load_with_dlt}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--batch-id", required=True)
    args = parser.parse_args(argv)
    url = os.environ.get(WORKER_URL_ENV)
    if not url:
        parser.error(f"{WORKER_URL_ENV} is not set")
    result = METHODS[args.method](url, args.file, args.batch_id)
    json.dump({**result, "vm_hwm_mb": process_memory_mb("VmHWM")}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Subprocess entry points of the large-file scenario: each load runs alone, in a process of its own.

`python -m benchmarks.workers {platform,pandas} --file F --batch-id B`, with the database URL in the
BENCH_DATABASE_URL environment variable (argv is visible to every user in `ps`). Prints one JSON object.

A process per method is what makes peak RSS mean something: the parent reads the child's own high-water mark.
The worker itself times the work (connect to commit), leaving out interpreter start-up and imports, which the
parent's wall time includes. Workers import only what their method needs, never Dagster.

The platform worker also profiles `load_batch` without touching it: its connection hands out cursors that time
every statement (wall, this process' CPU, the server backend's CPU, WAL written) and name it by its shape
(statement_profile.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from benchmarks.statement_profile import ProfilingConnection, ProfilingCursor
from etl_project.schemas import BATCH_FILE_COLUMNS, EVENT_SCHEMAS, EventSchema, FieldType

#: Environment variable through which a worker receives its database URL.
WORKER_URL_ENV = "BENCH_DATABASE_URL"


def process_memory_mb(field: str) -> float | None:
    """`VmRSS` (now) or `VmHWM` (peak) of this process, from /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ------------------------------------------------------------------------------------------------- methods


def _enable_auto_explain(conn: psycopg2.extensions.connection, min_duration_ms: int) -> bool:
    """Have the server send the plan of every slower statement back as a NOTICE (no server log needed).

    `LOAD` needs superuser; without it the load goes on without plans.
    """
    settings = {
        "auto_explain.log_min_duration": f"{min_duration_ms}ms",
        "auto_explain.log_analyze": "on",
        "auto_explain.log_buffers": "on",
        "auto_explain.log_level": "notice",
    }
    try:
        with conn.cursor() as cur:
            cur.execute("LOAD 'auto_explain'")
            for name, value in settings.items():
                cur.execute(
                    sql.SQL("SET {} = {}").format(sql.Identifier(*name.split(".")), sql.Literal(value))
                )
        conn.commit()
    except psycopg2.Error:
        conn.rollback()
        return False
    conn.notices = []  # unbounded: psycopg2 keeps only the last 50 by default
    return True


def _bucket_object(source_url: str, batch_id: str) -> Any:
    """The batch's object in the bucket, read through boto3's own client (the bucket scenario)."""
    import boto3

    from etl_project.sources import BucketLocation, BucketSource

    client = boto3.client("s3", endpoint_url=os.environ.get("ETL_S3_ENDPOINT_URL") or None)
    return BucketSource(client, BucketLocation.parse(source_url)).batch_object(batch_id)


def load_with_platform(
    url: str, path: Any, batch_id: str, explain_to: Path | None = None
) -> dict[str, object]:
    """The platform's own path: `load_batch` exactly as the asset calls it, one transaction.

    With `explain_to`, plans of statements over 100 ms (auto_explain, with ANALYZE: slower, so such a run is
    never the timed one) are written to that file.
    """
    from etl_project.loading import load_batch

    rss_before = process_memory_mb("VmRSS")  # the imports' share of the peak
    cpu_start, start = time.process_time(), time.perf_counter()
    conn = psycopg2.connect(
        url,
        connection_factory=ProfilingConnection,
        cursor_factory=ProfilingCursor,
        application_name="etl_bench_platform",
    )
    try:
        explained = explain_to is not None and _enable_auto_explain(conn, min_duration_ms=100)
        conn.start_profile(url)
        report = load_batch(conn, batch_id, path)
        if explain_to is not None:
            explain_to.write_text(
                "\n".join(conn.notices) if explained else "auto_explain unavailable (needs superuser)\n",
                encoding="utf-8",
            )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        profile = [asdict(t) for t in conn.timings]
    finally:
        if conn.probe is not None:
            conn.probe.close()
        conn.close()
    return {
        "seconds": seconds,
        "client_cpu_s": cpu,
        "rss_before_work_mb": rss_before,
        "rows_read": report.rows_read,
        "raw_events": report.raw_events,
        "rows_loaded": report.rows_loaded,
        "rows_rejected": report.rows_rejected,
        "loaded": report.loaded,
        "rejected_by_reason": report.rejected_by_reason(),
        "profile": profile,
    }


def _converted(values: Any, field_type: FieldType) -> Any:
    import pandas as pd

    if field_type is FieldType.INTEGER:
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if field_type is FieldType.DECIMAL:
        return pd.to_numeric(values, errors="coerce").round(2)
    if field_type is FieldType.TIMESTAMP:
        return pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    return values


def _typed_frame(schema: EventSchema, frame: Any, payloads: list[dict[str, Any]]) -> Any:
    """One event table's rows, typed the usual pandas way; invalid rows dropped rather than explained."""
    import pandas as pd

    positions = (frame["event_type"] == schema.event_type).to_numpy().nonzero()[0]
    records = pd.DataFrame.from_records([payloads[i] for i in positions])
    typed = pd.DataFrame(
        {
            "raw_id": frame["raw_id"].to_numpy()[positions],
            "batch_id": frame["batch_id"].to_numpy()[positions],
            "batch_created_at": pd.to_datetime(frame["batch_created_at"].to_numpy()[positions]),
        }
    )
    if schema.is_entity:
        typed["id"] = _converted(records["id"], FieldType.INTEGER)
    for payload_field in schema.fields:
        typed[payload_field.name] = _converted(records.get(payload_field.name), payload_field.type)
    typed = typed.dropna(subset=[f.name for f in schema.fields if f.required])
    for payload_field in schema.fields:
        if payload_field.must_be_positive:
            typed = typed[typed[payload_field.name] > 0]
    return typed


def load_with_pandas(url: str, path: Path, batch_id: str) -> dict[str, object]:
    """What most pipelines do: read_csv, json.loads per payload, one DataFrame per table, `to_sql`.

    Validation is simplified (rows with missing or mistyped fields are dropped, references are not checked,
    nothing goes to rejected_events), which only flatters pandas. The typed tables need each row's raw_id:
    where the database numbers raw_events (an identity column) it is read back after the insert, otherwise
    the file row is used.
    """
    import pandas as pd
    import sqlalchemy as sa

    rss_before = process_memory_mb("VmRSS")  # the imports' share of the peak
    start = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, escapechar="\\", keep_default_na=False, encoding="utf-8")
    frame["file_row"] = range(1, len(frame) + 1)
    payloads = [json.loads(p) for p in frame["payload"]]
    engine = sa.create_engine(
        "postgresql+psycopg2://" + url.partition("://")[2],
        connect_args={"options": "-c TimeZone=UTC", "application_name": "etl_bench_pandas"},
    )
    loaded: dict[str, int] = {}
    with engine.begin() as conn:
        numbered_by_database = conn.execute(
            sa.text(
                "SELECT is_identity = 'YES' OR column_default IS NOT NULL FROM information_schema.columns "
                "WHERE table_schema = 'etl' AND table_name = 'raw_events' AND column_name = 'raw_id'"
            )
        ).scalar_one()
        raw_columns = [*BATCH_FILE_COLUMNS, "file_row"]
        if not numbered_by_database:
            frame["raw_id"] = frame["file_row"]
            raw_columns.append("raw_id")
        frame[raw_columns].to_sql("raw_events", conn, schema="etl", if_exists="append", index=False)
        loaded["raw_events"] = len(frame)
        if numbered_by_database:
            raw_ids = pd.read_sql_query(
                sa.text("SELECT file_row, raw_id FROM etl.raw_events WHERE batch_id = :batch_id"),
                conn,
                params={"batch_id": batch_id},
                index_col="file_row",
            )["raw_id"]
            frame["raw_id"] = frame["file_row"].map(raw_ids)
        for schema in EVENT_SCHEMAS:
            typed = _typed_frame(schema, frame, payloads)
            typed.to_sql(schema.table, conn, schema="etl", if_exists="append", index=False)
            loaded[schema.table] = len(typed)
    seconds = time.perf_counter() - start
    engine.dispose()
    event_rows = sum(v for k, v in loaded.items() if k != "raw_events")
    return {
        "seconds": seconds,
        "rss_before_work_mb": rss_before,
        "rows_read": len(frame),
        "raw_events": loaded["raw_events"],
        "rows_loaded": event_rows,
        "rows_rejected": len(frame) - event_rows,
        "loaded": loaded,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("method", choices=["pandas", "platform"])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--batch-id", required=True)
    parser.add_argument("--explain-to", type=Path, help="platform: write plans of slow statements here")
    parser.add_argument(
        "--source-url",
        help="platform: load <batch-id>.csv from this s3://bucket/prefix/ (ETL_S3_ENDPOINT_URL, AWS's "
        "credential chain) instead of --file",
    )
    args = parser.parse_args(argv)
    url = os.environ.get(WORKER_URL_ENV)
    if not url:
        parser.error(f"{WORKER_URL_ENV} is not set")
    if args.method == "platform":
        source = _bucket_object(args.source_url, args.batch_id) if args.source_url else args.file
        result = load_with_platform(url, source, args.batch_id, explain_to=args.explain_to)
    else:
        result = load_with_pandas(url, args.file, args.batch_id)
    json.dump({**result, "vm_hwm_mb": process_memory_mb("VmHWM")}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Loads one batch file into every event table in a single transaction.

The order inside the transaction: lock the batch, delete whatever an earlier load of it left (so a re-run
replaces, never duplicates), COPY the file into a temporary staging table, then let the SQL generated from the
event schemas move each row into its table or into `etl.rejected_events`, and record the file as processed.
A crash anywhere rolls all of it back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading import validation_sql as q
from etl_project.loading.staging import stage_file
from etl_project.schemas import EVENT_SCHEMAS, EventSchema

#: Advisory-lock class of "loading a batch"; the second key is the hash of the batch id.
BATCH_LOCK_CLASS = 7_301_002
#: Rows shown in the materialisation's preview.
PREVIEW_ROWS = 5
#: Memory for the joins that check a batch's references (PostgreSQL's default, 4MB, spills to disk at ~100k rows).
LOAD_WORK_MEM = "64MB"


@dataclass
class BatchLoadReport:
    """What one load did, for run metadata and logs."""

    batch_id: str
    filename: str
    checksum_sha256: str
    size_bytes: int
    rows_read: int
    raw_events: int
    loaded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, Counter[str]] = field(default_factory=dict)
    raw_id_base: int | None = None
    file_mtime_ns: int | None = None
    parsed_by: str = ""
    ignored_columns: list[str] = field(default_factory=list)
    preview: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(self.loaded.values())

    @property
    def rows_rejected(self) -> int:
        return sum(sum(c.values()) for c in self.rejected.values())

    def rejected_by_reason(self, table: str | None = None) -> dict[str, int]:
        """Rejections counted by reason category; `table=None` for all, `"raw_events"` for envelope ones."""
        total: Counter[str] = Counter()
        for key, counts in self.rejected.items():
            if table is None or key == table:
                total.update(counts)
        return dict(total.most_common())


def lock_batch(cur: psycopg2.extensions.cursor, batch_id: str) -> None:
    """Two loads of the same batch (sensor and a person in the UI) queue here instead of interleaving."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (BATCH_LOCK_CLASS, batch_id))


def _rejections_by_table(cur: psycopg2.extensions.cursor, batch_id: str) -> dict[str, Counter[str]]:
    """The batch's rejections counted by reason category, per table ("raw_events" for envelope ones), in one query."""
    cur.execute(
        "SELECT CASE WHEN raw_id IS NULL THEN NULL ELSE event_type END, split_part(rejection_reason, ':', 1), "
        "count(*) FROM etl.rejected_events WHERE batch_id = %s GROUP BY 1, 2",
        (batch_id,),
    )
    tables = {schema.event_type: schema.table for schema in EVENT_SCHEMAS}
    counts: dict[str, Counter[str]] = {"raw_events": Counter(), **{t: Counter() for t in tables.values()}}
    for event_type, category, n in cur.fetchall():
        counts["raw_events" if event_type is None else tables[event_type]][category] = n
    return counts


def _preview(cur: psycopg2.extensions.cursor, table: str, params: dict) -> list[dict[str, object]]:
    cur.execute(q.select_batch_preview(table, PREVIEW_ROWS), params)
    names = [d.name for d in cur.description]
    return [
        {n: (v if isinstance(v, int | float) else str(v)) for n, v in zip(names, row, strict=True)}
        for row in cur.fetchall()
    ]


def _delete_previous_load(cur: psycopg2.extensions.cursor, batch_id: str) -> None:
    """Remove what earlier loads of the batch left, so that this load replaces them."""
    cur.execute("SELECT raw_id_base, status FROM utilities.processed_files WHERE batch_id = %s", (batch_id,))
    previous = cur.fetchone()
    if previous is not None and previous[0] is not None:
        for table in q.RAW_ID_TABLES:
            cur.execute(q.delete_previous_load(table), {"previous_base": previous[0]})
    elif previous is not None and previous[1] == "loaded":  # loaded before raw_id ranges existed
        for table in q.RAW_ID_TABLES:
            cur.execute(q.delete_by_batch_id(table), {"batch_id": batch_id})
    cur.execute(q.delete_rejections(), {"batch_id": batch_id})


def load_batch(conn: psycopg2.extensions.connection, batch_id: str, path: Path) -> BatchLoadReport:
    """Load `path` as batch `batch_id`, replacing any earlier load of it; all or nothing.

    Raises `BatchFileError` (after rolling back) when the file cannot be read at all.
    """
    with conn, conn.cursor() as cur:
        lock_batch(cur, batch_id)
        cur.execute("SET LOCAL TimeZone = 'UTC'")  # naive timestamps in payloads are UTC
        cur.execute("SET LOCAL work_mem = %s", (LOAD_WORK_MEM,))  # hash joins of a large batch stay in memory
        _delete_previous_load(cur, batch_id)
        cur.execute("SELECT nextval('etl.batch_load_seq') * %s", (q.RAW_ID_RANGE,))
        params = {"batch_id": batch_id, "raw_id_base": cur.fetchone()[0]}
        staged = stage_file(cur, path, params)
        cur.execute(q.collect_valid_batch_created_at())
        cur.execute(q.insert_raw_events(), params)
        report = BatchLoadReport(
            batch_id=batch_id,
            filename=path.name,
            checksum_sha256=staged.checksum_sha256,
            size_bytes=staged.size_bytes,
            rows_read=staged.rows_read,
            raw_events=cur.rowcount,
            raw_id_base=params["raw_id_base"],
            file_mtime_ns=staged.mtime_ns,
            parsed_by=staged.parsed_by,
            ignored_columns=staged.ignored_columns,
        )
        cur.execute(q.count_staged_rows())
        if cur.fetchone()[0] > report.raw_events:
            cur.execute(q.reject_envelopes(), params)
        cur.execute(q.analyze_staged_rows())  # row counts for the planner's joins below
        for schema in EVENT_SCHEMAS:
            report.loaded[schema.table] = _load_and_drop(cur, schema, params)
            report.preview[schema.table] = _preview(cur, schema.table, params)
        report.rejected = _rejections_by_table(cur, batch_id)
        _check_every_row_accounted_for(report)
        _record_file(cur, report, status="loaded", error=None)
    return report


def load_event_table(
    cur: psycopg2.extensions.cursor,
    schema: EventSchema,
    events: sql.Composable,
    params: dict,
    record_rejections: bool = True,
) -> int:
    """Validate `events` of one type; insert the valid ones, reject the others; return rows inserted.

    A replay passes `record_rejections=False`: its rows are already recorded and only their reason changes.
    """
    cur.execute(q.validate_events(schema, events), params)
    loaded = 0
    for explicit_ids in (True, False) if schema.is_entity else (False,):
        cur.execute(q.insert_valid_events(schema, explicit_ids), params)
        loaded += cur.rowcount
        if explicit_ids:
            cur.execute(q.advance_id_sequence(schema))
    if record_rejections:
        cur.execute(q.reject_invalid_events(schema), params)
    return loaded


def _load_and_drop(cur: psycopg2.extensions.cursor, schema: EventSchema, params: dict) -> int:
    loaded = load_event_table(cur, schema, q.staged_events(schema), params)
    cur.execute(q.drop_validated())
    return loaded


def _check_every_row_accounted_for(report: BatchLoadReport) -> None:
    accounted = report.rows_loaded + report.rows_rejected
    if accounted != report.rows_read:
        raise AssertionError(
            f"{report.filename}: {report.rows_read} rows read but {report.rows_loaded} loaded and "
            f"{report.rows_rejected} rejected; rolling back"
        )


def _record_file(
    cur: psycopg2.extensions.cursor, report: BatchLoadReport, status: str, error: str | None
) -> None:
    cur.execute(
        """
        INSERT INTO utilities.processed_files
            (filename, batch_id, status, checksum_sha256, size_bytes, file_mtime_ns,
             rows_read, rows_loaded, rows_rejected, error, raw_id_base)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (filename) DO UPDATE SET
            loaded_at = now(), batch_id = EXCLUDED.batch_id, status = EXCLUDED.status,
            checksum_sha256 = EXCLUDED.checksum_sha256, size_bytes = EXCLUDED.size_bytes,
            file_mtime_ns = EXCLUDED.file_mtime_ns,
            -- a quarantined version leaves the previous load's rows, and so its range, in place
            raw_id_base = coalesce(EXCLUDED.raw_id_base, processed_files.raw_id_base),
            rows_read = EXCLUDED.rows_read, rows_loaded = EXCLUDED.rows_loaded,
            rows_rejected = EXCLUDED.rows_rejected, error = EXCLUDED.error
        """,
        (
            report.filename,
            report.batch_id,
            status,
            report.checksum_sha256 or None,
            report.size_bytes,
            report.file_mtime_ns,
            report.rows_read,
            report.rows_loaded,
            report.rows_rejected,
            error,
            report.raw_id_base,
        ),
    )


def is_loaded(conn: psycopg2.extensions.connection, batch_id: str, path: Path) -> bool:
    """Whether this version of the file (same size and modification time) is already loaded as the batch."""
    stat = path.stat()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM utilities.processed_files WHERE batch_id = %s AND status = 'loaded' "
            "AND size_bytes = %s AND file_mtime_ns = %s",
            (batch_id, stat.st_size, stat.st_mtime_ns),
        )
        return cur.fetchone() is not None


def record_quarantined(conn: psycopg2.extensions.connection, batch_id: str, path: Path, problem: str) -> None:
    """Record a file that could not be read, with the reason, so people and the sensor can see it."""
    stat = path.lstat() if path.is_file() else None
    report = BatchLoadReport(
        batch_id,
        path.name,
        "",
        stat.st_size if stat else 0,
        0,
        0,
        file_mtime_ns=stat.st_mtime_ns if stat else None,
    )
    with conn, conn.cursor() as cur:
        lock_batch(cur, batch_id)
        _record_file(cur, report, status="quarantined", error=problem)

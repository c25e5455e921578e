"""Loads one batch file into every event table in a single transaction, on two cores.

Two connections share the work. The *writer* (the caller's connection) holds the one transaction that commits
everything: it locks the batch, deletes whatever an earlier load of it left (so a re-run replaces, never
duplicates), COPYs the file straight into etl.raw_events, then COPYs in what the validator sends. The
*validator* (a second connection to the same database, temporary tables only) stages the same file, rejects
bad envelopes and validates each event type with the SQL generated from the event schemas, sending each
table's valid rows and, last, every rejected row with its reason. The two run at the same time on two server
processes, and the validator sends the largest table in slices so that the writer inserts one slice while the
next is validated; when its own COPY of the file stands, the writer validates slices too (from raw_events),
taking them from the other end of the same queue. A crash anywhere rolls the writer's transaction back:
nothing of the batch is left.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading import validation_sql as q
from etl_project.loading.staging import RawEventsCopy, StagedFile, copy_file_into_raw_events, stage_file
from etl_project.schemas import EVENT_SCHEMAS, EventSchema

#: Advisory-lock class of "loading a batch"; the second key is the hash of the batch id.
BATCH_LOCK_CLASS = 7_301_002
#: Rows shown in the materialisation's preview.
PREVIEW_ROWS = 5
#: Memory for the joins that check a batch's references (PostgreSQL's default, 4MB, spills to disk at ~100k rows).
LOAD_WORK_MEM = "64MB"
#: Rows of the staged file per slice of a non-entity table (sales), sent to the writer while the next is checked.
SLICE_ROWS = 200_000


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
    validator = _open_validator(conn)
    try:
        with conn, conn.cursor() as cur, validator.cursor() as vcur:
            lock_batch(cur, batch_id)
            cur.execute("SET LOCAL TimeZone = 'UTC'")
            _delete_previous_load(cur, batch_id)
            cur.execute("SELECT nextval('etl.batch_load_seq') * %s", (q.RAW_ID_RANGE,))
            params = {"batch_id": batch_id, "raw_id_base": cur.fetchone()[0]}
            cur.execute("SET LOCAL work_mem = %s", (LOAD_WORK_MEM,))
            cur.execute("SET LOCAL enable_mergejoin = off")  # as on the validator (see `_stage`)
            writer = _Writer(conn, cur)
            try:
                raw_copy = writer.submit(copy_file_into_raw_events, path, params["raw_id_base"])
                staged, envelope_rejects = _stage(vcur, path, params)
                raw_stands: bool | None = None  # known once the writer's COPY has ended
                for schema in EVENT_SCHEMAS:
                    if schema.is_entity:
                        _validate_entities(vcur, writer, schema, params)
                        continue
                    if raw_stands is None:
                        raw_stands = _raw_copy_stands(raw_copy.result(), staged, envelope_rejects)
                    _validate_in_slices(vcur, writer, schema, staged, params, writer_helps=raw_stands)
                writer.send(vcur, q.copy_rejections_out(), "rejected_events", q.REJECTION_COLUMNS, params)
                if raw_stands is None:
                    raw_stands = _raw_copy_stands(raw_copy.result(), staged, envelope_rejects)
                if raw_stands:
                    raw_events = raw_copy.result().rows
                else:
                    raw_events = _replace_raw_events(vcur, writer, raw_copy.result(), params)
                loaded = writer.finish()
            except BaseException:
                writer.abort()
                raise
            report = BatchLoadReport(
                batch_id=batch_id,
                filename=path.name,
                checksum_sha256=staged.checksum_sha256,
                size_bytes=staged.size_bytes,
                rows_read=staged.rows_read,
                raw_events=raw_events,
                loaded={schema.table: loaded[schema.table] for schema in EVENT_SCHEMAS},
                raw_id_base=params["raw_id_base"],
                file_mtime_ns=staged.mtime_ns,
                parsed_by=staged.parsed_by,
                ignored_columns=staged.ignored_columns,
            )
            for schema in EVENT_SCHEMAS:
                report.preview[schema.table] = _preview(cur, schema.table, params)
            report.rejected = _rejections_by_table(cur, batch_id)
            _check_every_row_accounted_for(report)
            _record_file(cur, report, status="loaded", error=None)
    finally:
        validator.close()
    return report


def _open_validator(conn: psycopg2.extensions.connection) -> psycopg2.extensions.connection:
    """A second connection to the writer's database, with the same settings and credentials."""
    return psycopg2.connect(conn.dsn, password=conn.info.password)


class _Writer:
    """Runs the writer's steps in order on a thread of its own, while the caller drives the validator.

    psycopg2 releases the GIL while PostgreSQL works, so the two connections' server processes run at once.
    """

    def __init__(self, conn: psycopg2.extensions.connection, cur: psycopg2.extensions.cursor):
        self._conn = conn
        self._cur = cur
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer")
        self._copies: list[tuple[str, Future[int]]] = []

    def submit(self, step: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue `step(writer_cursor, *args)`."""
        return self._thread.submit(step, self._cur, *args)

    def send(
        self,
        vcur: psycopg2.extensions.cursor,
        copy_out: sql.Composable,
        table: str,
        columns: tuple[str, ...],
        params: dict,
    ) -> None:
        """Rows the validator selects (`copy_out`), spooled to a temporary file, then COPYed in by the writer."""
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the writer's step
        try:
            vcur.copy_expert(vcur.mogrify(copy_out, params).decode(), spool, size=1 << 20)
        except BaseException:
            spool.close()
            raise
        self._copies.append((table, self.submit(_copy_spool_into, spool, table, columns)))

    def validate_slices(self, schema: EventSchema, slices: deque[_Slice], params: dict) -> None:
        """Have the writer validate slices of `schema` too (see `_validate_slices_on_writer`)."""
        self._copies.append((schema.table, self.submit(_validate_slices_on_writer, schema, slices, params)))

    def finish(self) -> Counter[str]:
        """Wait for every step; rows COPYed in per table. The first failed step's error is raised."""
        self._thread.shutdown(wait=True)
        loaded: Counter[str] = Counter()
        for table, copied in self._copies:
            loaded[table] += copied.result()
        return loaded

    def abort(self) -> None:
        """Stop the writer's current statement and drop its queued steps; the transaction then rolls back."""
        self._conn.cancel()
        self._thread.shutdown(wait=True, cancel_futures=True)


def _copy_spool_into(
    cur: psycopg2.extensions.cursor, spool: IO[bytes], table: str, columns: tuple[str, ...]
) -> int:
    with spool:
        spool.seek(0)
        cur.copy_expert(q.copy_into(table, columns).as_string(cur), spool, size=1 << 20)
        return cur.rowcount


def _stage(vcur: psycopg2.extensions.cursor, path: Path, params: dict) -> tuple[StagedFile, int]:
    """The validator's first steps: stage the file and reject bad envelopes; return it and how many were."""
    vcur.execute("SET LOCAL TimeZone = 'UTC'")  # naive timestamps in payloads are UTC
    vcur.execute("SET LOCAL work_mem = %s", (LOAD_WORK_MEM,))  # hash joins of a large batch stay in memory
    # The planner sorts a slice three times to merge-join it with the ids it references; hashing the referenced
    # ids instead validates a 200k-row slice in 0.70 s instead of 1.0 s.
    vcur.execute("SET LOCAL enable_mergejoin = off")
    vcur.execute(q.create_batch_rejections())
    for schema in EVENT_SCHEMAS:
        if schema.is_entity:
            vcur.execute(q.create_batch_table(schema.table))
    staged = stage_file(vcur, path, params)
    vcur.execute(q.collect_valid_batch_created_at())
    vcur.execute(q.reject_envelopes(), params)
    envelope_rejects = vcur.rowcount
    vcur.execute(q.analyze_staged_rows())  # row counts for the planner's joins below
    return staged, envelope_rejects


def _validate_entities(
    vcur: psycopg2.extensions.cursor, writer: _Writer, schema: EventSchema, params: dict
) -> None:
    """Validate an entity type at once (duplicate ids are looked for across the batch), give the valid rows
    their ids in file order, and send them to the writer."""
    vcur.execute(q.validate_events(schema, q.staged_events(schema), q.rows_visible_to_batch), params)
    vcur.execute(q.advance_id_sequence(schema))
    vcur.execute(q.id_sequence_of(schema))
    vcur.execute(q.keep_valid_entities(schema, vcur.fetchone()[0]), params)
    vcur.execute(q.analyze_batch_table(schema.table))  # sizes for the planner of later references to it
    vcur.execute(q.reject_invalid_events(schema), params)
    writer.send(vcur, q.copy_valid_events_out(schema), schema.table, q.event_columns(schema), params)
    vcur.execute(q.drop_validated())


@dataclass
class _Slice:
    """Pages `[first_page, end_page)` of the staging table; with `writer_helps`, also its file rows."""

    first_page: int
    end_page: int
    first_row: int = 0
    end_row: int = 0


def _validate_in_slices(
    vcur: psycopg2.extensions.cursor,
    writer: _Writer,
    schema: EventSchema,
    staged: StagedFile,
    params: dict,
    writer_helps: bool,
) -> None:
    """Validate a non-entity type slice by slice, sending each slice's valid rows to the writer.

    With `writer_helps`, the writer validates slices from the other end of the queue (from its raw_events).
    """
    slices = deque(_slices(vcur, staged, with_rows=writer_helps))
    if writer_helps:
        writer.validate_slices(schema, slices, params)
    columns = q.event_columns(schema)
    events = q.staged_events(schema, page_range=True)
    while slices:
        try:
            part = slices.popleft()
        except IndexError:  # the writer took the last one
            break
        slice_params = {**params, "first_tid": f"({part.first_page},0)", "end_tid": f"({part.end_page},0)"}
        vcur.execute(q.validate_events(schema, events, q.rows_visible_to_batch), slice_params)
        vcur.execute(q.reject_invalid_events(schema), slice_params)
        writer.send(vcur, q.copy_valid_events_out(schema), schema.table, columns, slice_params)
        vcur.execute(q.drop_validated())


def _slices(vcur: psycopg2.extensions.cursor, staged: StagedFile, with_rows: bool) -> list[_Slice]:
    """About SLICE_ROWS staged rows each, by pages; `with_rows` also finds their file rows (the staging table
    then holds the file in order, every row, as the writer's raw_events do)."""
    vcur.execute(q.staged_pages())
    pages = vcur.fetchone()[0]
    step = max(1, math.ceil(pages / max(1, math.ceil(staged.rows_read / SLICE_ROWS))))
    slices = [_Slice(first, first + step) for first in range(0, max(pages, 1), step)]
    slices[-1].end_page = pages + 1
    if with_rows:
        for part in slices:
            vcur.execute(
                q.first_staged_row_on_page(),
                {"first_tid": f"({part.first_page},0)", "end_tid": f"({part.first_page + 1},0)"},
            )
            first_row = vcur.fetchone()[0]  # None: an empty page, past the end of the file's rows
            part.first_row = staged.rows_read + 1 if first_row is None else first_row
        for part, following in zip(slices, slices[1:], strict=False):
            part.end_row = following.first_row
        slices[-1].end_row = staged.rows_read + 1
    return slices


def _validate_slices_on_writer(
    cur: psycopg2.extensions.cursor, schema: EventSchema, slices: deque[_Slice], params: dict
) -> int:
    """The writer's share: slices taken from the end of the queue, validated from its own raw_events with the
    same SQL, inserted and rejected directly. Returns rows inserted."""
    loaded = 0
    while True:
        try:
            part = slices.pop()
        except IndexError:
            return loaded
        slice_params = {**params, "first_row": part.first_row, "end_row": part.end_row}
        cur.execute(q.validate_events(schema, q.raw_events_of_rows(schema)), slice_params)
        cur.execute(q.insert_valid_events(schema, explicit_ids=False), slice_params)
        loaded += cur.rowcount
        cur.execute(q.reject_invalid_events(schema, into=q.REJECTED_EVENTS), slice_params)
        cur.execute(q.drop_validated())


def _raw_copy_stands(raw_copy: RawEventsCopy | None, staged: StagedFile, envelope_rejects: int) -> bool:
    """The writer's direct COPY is the batch's raw events when PostgreSQL staged the same file version with as
    many rows and no envelope was rejected."""
    return (
        raw_copy is not None
        and staged.file_identity == raw_copy.file_identity
        and raw_copy.rows == staged.rows_read
        and envelope_rejects == 0
    )


def _replace_raw_events(
    vcur: psycopg2.extensions.cursor, writer: _Writer, raw_copy: RawEventsCopy | None, params: dict
) -> int:
    """The staged rows with a valid envelope become the raw events (after removing the writer's own COPY)."""
    if raw_copy is not None:
        writer.submit(_delete_load, "raw_events", params["raw_id_base"])
    vcur.execute(q.count_staged_rows())
    rows = vcur.fetchone()[0]
    writer.send(vcur, q.copy_staged_raw_events_out(), "raw_events", q.RAW_EVENT_COLUMNS, params)
    return rows


def _delete_load(cur: psycopg2.extensions.cursor, table: str, raw_id_base: int) -> None:
    cur.execute(q.delete_previous_load(table), {"previous_base": raw_id_base})


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

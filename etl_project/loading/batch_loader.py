"""Loads one batch file into every event table in a single transaction, on two cores.

Two connections share the work. First both stage the file (`staging`: a large file in two parts, one per
connection, into unlogged tables both can read) and move rows with a bad envelope aside. Then the *writer*
(the caller's connection) opens the one transaction that commits everything: it locks the batch, deletes
whatever an earlier load of it left (so a re-run replaces, never duplicates), inserts the staged rows into
etl.raw_events, then inserts what the *validator* (the second connection) sends: each event type validated
with the SQL generated from the event schemas, entities whole, sales in slices so that the writer inserts one
slice while the next is validated. Whenever it has nothing else to do, the writer validates slices itself, with
the same SQL, taking them from the other end of the same queue. Last come the validator's rejections. A crash
anywhere rolls the writer's transaction back: nothing of the batch is left.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading import validation_sql as q
from etl_project.loading.staging import StagedFile, stage_file
from etl_project.loading.staging_tables import (
    StagedPart,
    StagingTables,
    autocommit,
    claim_staging,
    release_staging,
)
from etl_project.loading.writer import LoadWriter
from etl_project.schemas import EVENT_SCHEMAS, EventSchema

logger = logging.getLogger(__name__)

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

    Raises `BatchFileError` (nothing loaded) when the file cannot be read at all.
    """
    validator = _open_validator(conn)
    tables: StagingTables | None = None
    try:
        with autocommit(validator) as vcur:
            vcur.execute("SELECT nextval('etl.batch_load_seq')")
            load_number = vcur.fetchone()[0]
            tables = claim_staging(vcur, load_number)
        params = {"batch_id": batch_id, "raw_id_base": load_number * q.RAW_ID_RANGE}
        staged = stage_file([validator, conn], path, tables, params)
        params["usual_batch_created_at"] = staged.usual_batch_created_at
        with conn, conn.cursor() as cur, autocommit(validator) as vcur:
            lock_batch(cur, batch_id)
            _delete_previous_load(cur, batch_id)
            _apply_load_settings(cur, local=True)
            writer = LoadWriter(conn, cur)
            try:
                raw_events = writer.submit(_insert_raw_events, staged, params)
                _validate(vcur, writer, staged, tables, params)
                writer.insert(None, q.insert_rejections(tables.rejections), params)
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
                raw_events=raw_events.result(),
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
        # Dropping the staging tables of a large file can take a second (the kernel freeing their pages): it
        # happens after the load returns, on a thread of its own. Should the process end first, the next load
        # drops them.
        threading.Thread(
            target=_close_validator, args=(validator, tables), name="staging-cleanup", daemon=True
        ).start()
    return report


def _close_validator(validator: psycopg2.extensions.connection, tables: StagingTables | None) -> None:
    """Drop the load's staging tables and close the validating connection, whatever happened before."""
    try:
        if tables is not None:
            with autocommit(validator) as vcur:
                release_staging(vcur, tables)
    except psycopg2.Error as err:  # the next load drops them (the lock went with the connection)
        logger.warning("could not drop the staging tables of load %s: %s", tables.load_number, err)
    finally:
        validator.close()


def _open_validator(conn: psycopg2.extensions.connection) -> psycopg2.extensions.connection:
    """A second connection to the writer's database, with the same settings and credentials."""
    return psycopg2.connect(conn.dsn, password=conn.info.password)


def _insert_raw_events(cur: psycopg2.extensions.cursor, staged: StagedFile, params: dict) -> int:
    """The writer's first step: the staged rows with a valid envelope become the batch's raw events."""
    rows = 0
    for part in staged.parts:
        cur.execute(q.insert_raw_events(part.table), params)
        rows += cur.rowcount
    return rows


#: Settings of both of a load's connections (which share the connection's TimeZone, ETL_TIMEZONE, in which
#: naive timestamps are read): the hash joins of a large batch stay in memory; and the planner, which would
#: sort a slice three times to merge-join it with the ids it references, hashes them instead (a 200k-row
#: slice: 0.70 s instead of 1.0 s).
_LOAD_SETTINGS = (("work_mem", LOAD_WORK_MEM), ("enable_mergejoin", "off"))


def _apply_load_settings(cur: psycopg2.extensions.cursor, local: bool) -> None:
    for name, value in _LOAD_SETTINGS:
        cur.execute(
            sql.SQL("SET {} {} = %s").format(sql.SQL("LOCAL" if local else ""), sql.SQL(name)), (value,)
        )


def _validate(
    vcur: psycopg2.extensions.cursor,
    writer: LoadWriter,
    staged: StagedFile,
    tables: StagingTables,
    params: dict,
) -> None:
    """The validator's part: every event type in load order, entities whole, the others in slices. Each step
    commits at once (staging tables only), so the writer can insert its results while the next is validated."""
    _apply_load_settings(vcur, local=False)  # its own session: set for good
    vcur.execute("SET synchronous_commit = off")  # scratch tables: nothing to wait for
    entity_schemas = [schema for schema in EVENT_SCHEMAS if schema.is_entity]
    vcur.execute(q.copy_events_of_types(tables.entity_events, q.all_parts(staged.tables), entity_schemas))
    for schema in entity_schemas:  # empty at first: duplicate ids are looked for there too
        vcur.execute(q.create_entity_table(tables.entities(schema.table), schema.table))
    for schema in EVENT_SCHEMAS:
        if schema.is_entity:
            _validate_entities(vcur, writer, schema, staged, tables, params)
        else:
            _validate_in_slices(vcur, writer, schema, staged, tables, params)


def _validate_entities(
    vcur: psycopg2.extensions.cursor,
    writer: LoadWriter,
    schema: EventSchema,
    staged: StagedFile,
    tables: StagingTables,
    params: dict,
) -> None:
    """Validate an entity type at once (duplicate ids are looked for across the batch), give the valid rows
    their ids in file order in the load's entity table, and have the writer insert them."""
    validated = tables.validated(schema.table)
    events = q.staged_events(schema, tables.entity_events)
    vcur.execute(q.validate_events(schema, events, tables.rows_visible_to_batch, into=validated), params)
    vcur.execute(q.advance_id_sequence(schema, validated))
    vcur.execute(q.id_sequence_of(schema))
    id_sequence = vcur.fetchone()[0]
    vcur.execute(q.keep_valid_entities(schema, id_sequence, tables.entities(schema.table), validated), params)
    vcur.execute(q.analyze(tables.entities(schema.table)))  # sizes for the planner of later references to it
    vcur.execute(q.reject_invalid_events(schema, tables.rejections, validated), params)
    writer.insert(schema.table, q.insert_entities(schema, tables.entities(schema.table)), params)


@dataclass
class _Slice:
    """Pages `[first_page, end_page)` of a staging part."""

    part: StagedPart
    first_page: int
    end_page: int

    def params(self, params: dict) -> dict:
        return {**params, "first_tid": f"({self.first_page},0)", "end_tid": f"({self.end_page},0)"}


def _validate_in_slices(
    vcur: psycopg2.extensions.cursor,
    writer: LoadWriter,
    schema: EventSchema,
    staged: StagedFile,
    tables: StagingTables,
    params: dict,
) -> None:
    """Validate a non-entity type slice by slice, the writer inserting each slice's valid rows while the next
    is validated; the writer validates slices too, from the other end of the queue, when it has nothing else
    to do."""
    slices = _SliceQueue(_slices(vcur, staged))
    writer.work_when_idle(
        schema.table, lambda cur: _validate_slice_on_writer(cur, schema, slices, tables, params)
    )
    number = 0
    while (part := slices.take()) is not None:
        number += 1
        slice_params = part.params(params)
        validated = tables.validated(f"{schema.table}_{number}")
        events = q.staged_events(schema, part.part.table, page_range=True)
        vcur.execute(
            q.validate_events(schema, events, tables.rows_visible_to_batch, into=validated), slice_params
        )
        vcur.execute(q.reject_invalid_events(schema, tables.rejections, validated), slice_params)
        writer.insert(schema.table, q.insert_valid_events(schema, False, validated), slice_params)


class _SliceQueue:
    """The slices of a table left to validate: the validator takes them from the front, the writer from the
    back. The last one is halved while it is large, so that neither connection finishes long after the other."""

    def __init__(self, slices: list[_Slice]):
        self._slices = deque(slices)
        self._lock = threading.Lock()
        self._min_pages = max(1, max((s.end_page - s.first_page for s in slices), default=1) // 4)

    def take(self, from_back: bool = False) -> _Slice | None:
        with self._lock:
            if not self._slices:
                return None
            part = self._slices.pop() if from_back else self._slices.popleft()
            if not self._slices and part.end_page - part.first_page >= 2 * self._min_pages:
                middle = (part.first_page + part.end_page) // 2
                self._slices.append(_Slice(part.part, middle, part.end_page))
                part = _Slice(part.part, part.first_page, middle)
            return part


def _slices(vcur: psycopg2.extensions.cursor, staged: StagedFile) -> list[_Slice]:
    """About SLICE_ROWS staged rows each, by pages of each part."""
    slices = []
    for part in staged.parts:
        vcur.execute(q.relation_pages(part.regclass))
        pages = vcur.fetchone()[0]
        step = max(1, math.ceil(pages / max(1, math.ceil(part.rows / SLICE_ROWS))))
        slices += [_Slice(part, first, min(first + step, pages)) for first in range(0, pages, step)]
    return slices


def _validate_slice_on_writer(
    cur: psycopg2.extensions.cursor,
    schema: EventSchema,
    slices: _SliceQueue,
    tables: StagingTables,
    params: dict,
) -> int | None:
    """The writer's share, a slice from the back of the queue: the same SQL, references resolved against the
    tables it has filled, valid rows inserted and rejections recorded directly. Rows inserted; None when no
    slice is left."""
    part = slices.take(from_back=True)
    if part is None:
        return None
    slice_params = part.params(params)
    events = q.staged_events(schema, part.part.table, page_range=True)
    cur.execute(q.validate_events(schema, events, tables.rows_known_to_writer), slice_params)
    cur.execute(q.insert_valid_events(schema, explicit_ids=False), slice_params)
    loaded = cur.rowcount
    cur.execute(q.reject_invalid_events(schema, into=q.REJECTED_EVENTS), slice_params)
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

"""Loads one batch file into every event table in a single transaction, on two cores.

Two connections share the work. First both stage the file (`staging`: a large file in two parts, one per
connection, into unlogged tables both can read) and move rows with a bad envelope aside. Then the *writer*
(the caller's connection) opens the one transaction that commits everything: it locks the batch, deletes
whatever an earlier load of it left (so a re-run replaces, never duplicates; entities keep the ids their
positions had, `statements.ids`, and a version that would orphan other batches' rows is refused before commit,
`reload_guard`), inserts the staged rows into etl.raw_events, then inserts what the *validator* (the second
connection) sends: each event type validated with the SQL generated from the event schemas, entities whole,
sales in slices so that the writer inserts one slice while the next is validated. Whenever it has nothing else to do, the writer validates slices itself, with
the same SQL, taking them from the other end of the same queue. Last come the validator's rejections. A crash
anywhere rolls the writer's transaction back: nothing of the batch is left.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePath

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading.batch_object import BatchObject, batch_object_of
from etl_project.loading.params import (
    BATCH_ID,
    PREVIOUS_BASE,
    RAW_ID_BASE,
    BatchParams,
    LoadParams,
    PreviousIdsParams,
    PreviousLoadParams,
    SliceParams,
    StagingParams,
)
from etl_project.loading.reload_guard import refuse_orphaning_reload, removed_entity_ids
from etl_project.loading.report import (
    BatchLoadReport,
    check_every_row_accounted_for,
    preview,
    rejections_by_table,
)
from etl_project.loading.staging import StagedFile, stage_file
from etl_project.loading.staging_tables import (
    StagedPart,
    StagingTables,
    autocommit,
    claim_staging,
    release_staging,
)
from etl_project.loading.statements import envelope, ids, replace, validate
from etl_project.loading.statements import staging as staging_sql
from etl_project.loading.statements.common import RAW_ID_RANGE, REJECTED_EVENTS, analyze, relation_pages
from etl_project.loading.writer import LoadWriter
from etl_project.schemas import EVENT_SCHEMAS, EventSchema
from etl_project.store import processed_files, sales_changes
from etl_project.store.rows import one_row

logger = logging.getLogger(__name__)

#: Memory for the joins that check a batch's references (PostgreSQL's default, 4MB, spills to disk at ~100k rows).
LOAD_WORK_MEM = "64MB"
#: Rows of the staged file per slice of a non-entity table (sales), sent to the writer while the next is checked.
SLICE_ROWS = 200_000


def _delete_previous_load(cur: psycopg2.extensions.cursor, batch_id: str) -> PreviousIdsParams | None:
    """Remove what earlier loads of the batch left, so that this load replaces them; return where those rows
    were (None: there were none), so that their ids can be kept and their references checked."""
    previous = processed_files.previous_load(cur, batch_id)
    kept = None
    if previous is not None and (previous[0] is not None or previous[1] == processed_files.LOADED):
        kept = PreviousIdsParams(batch_id, previous[0])
    if previous is not None and previous[0] is not None:
        for statement in [
            *sales_changes.record_removed(replace.in_load(PREVIOUS_BASE), PREVIOUS_BASE),
            *map(replace.delete_previous_load, replace.RAW_ID_TABLES),
        ]:
            cur.execute(statement, PreviousLoadParams(previous[0]).as_params())
    elif (
        previous is not None and previous[1] == processed_files.LOADED
    ):  # loaded before raw_id ranges existed
        legacy_rows = sql.SQL("batch_id = {}").format(BATCH_ID)
        for statement in sales_changes.record_removed(legacy_rows, sql.SQL("NULL::bigint")):
            cur.execute(statement, BatchParams(batch_id).as_params())
        for table in replace.RAW_ID_TABLES:
            cur.execute(replace.delete_by_batch_id(table), BatchParams(batch_id).as_params())
    cur.execute(replace.delete_rejections(), BatchParams(batch_id).as_params())
    return kept


def load_batch(
    conn: psycopg2.extensions.connection, batch_id: str, source: Path | BatchObject
) -> BatchLoadReport:
    """Load `source` (a file, or a bucket's object) as batch `batch_id`, replacing any earlier load of it; all
    or nothing.

    Raises `BatchFileError` (nothing loaded) when the file cannot be read at all.
    """
    batch_object = batch_object_of(source)
    validator = _open_validator(conn)
    tables: StagingTables | None = None
    try:
        with autocommit(validator) as vcur:
            vcur.execute("SELECT nextval('etl.batch_load_seq')")
            load_number = one_row(vcur)[0]
            tables = claim_staging(vcur, load_number)
        staging_params = StagingParams(batch_id, load_number * RAW_ID_RANGE)
        staged = stage_file([validator, conn], batch_object, tables, staging_params)
        params = staging_params.staged(staged.usual_batch_created_at)
        with conn, conn.cursor() as cur, autocommit(validator) as vcur:
            processed_files.lock_batch(cur, batch_id)
            previous = _delete_previous_load(cur, batch_id)
            _apply_load_settings(cur, local=True)
            writer = LoadWriter(conn, cur)
            try:
                raw_events = writer.submit(_insert_raw_events, staged, params)
                _validate(vcur, writer, staged, tables, params, previous)
                writer.insert(None, staging_sql.insert_rejections(tables.rejections), params)
                loaded = writer.finish()
            except BaseException:
                writer.abort()
                raise
            removed = removed_entity_ids(cur, tables, params) if previous else {}
            refuse_orphaning_reload(cur, PurePath(batch_object.name), removed, params)
            report = BatchLoadReport(
                batch_id=batch_id,
                filename=batch_object.name,
                checksum_sha256=staged.checksum_sha256,
                size_bytes=staged.size_bytes,
                rows_read=staged.rows_read,
                raw_events=raw_events.result(),
                loaded={schema.table: loaded[schema.table] for schema in EVENT_SCHEMAS},
                raw_id_base=params.raw_id_base,
                file_mtime_ns=staged.mtime_ns,
                source_etag=staged.etag,
                parsed_by=staged.parsed_by,
                ignored_columns=staged.ignored_columns,
                removed_ids=removed,
            )
            for schema in EVENT_SCHEMAS:
                report.preview[schema.table] = preview(cur, schema.table, params)
            report.rejected = rejections_by_table(cur, batch_id)
            check_every_row_accounted_for(report)
            cur.execute(sales_changes.record_load(RAW_ID_BASE), params.as_params())
            processed_files.record_file(cur, report, status=processed_files.LOADED, error=None)
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
        number = tables.load_number if tables is not None else None
        logger.warning("could not drop the staging tables of load %s: %s", number, err)
    finally:
        validator.close()


def _open_validator(conn: psycopg2.extensions.connection) -> psycopg2.extensions.connection:
    """A second connection to the writer's database, with the same settings and credentials."""
    return psycopg2.connect(conn.dsn, password=conn.info.password)


def _insert_raw_events(cur: psycopg2.extensions.cursor, staged: StagedFile, params: LoadParams) -> int:
    """The writer's first step: the staged rows with a valid envelope become the batch's raw events."""
    rows = 0
    for part in staged.parts:
        cur.execute(envelope.insert_raw_events(part.table), params.as_params())
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
    params: LoadParams,
    previous: PreviousIdsParams | None,
) -> None:
    """The validator's part: every event type in load order, entities whole, the others in slices. Each step
    commits at once (staging tables only), so the writer can insert its results while the next is validated.
    With `previous`, entities keep the ids the batch's previous load gave their positions."""
    _apply_load_settings(vcur, local=False)  # its own session: set for good
    vcur.execute("SET synchronous_commit = off")  # scratch tables: nothing to wait for
    entity_schemas = [schema for schema in EVENT_SCHEMAS if schema.is_entity]
    vcur.execute(
        staging_sql.copy_events_of_types(
            tables.entity_events, staging_sql.all_parts(staged.tables), entity_schemas
        )
    )
    for schema in entity_schemas:  # empty at first: duplicate ids are looked for there too
        vcur.execute(ids.create_entity_table(tables.entities(schema.table), schema.table))
    for schema in EVENT_SCHEMAS:
        if schema.is_entity:
            _validate_entities(vcur, writer, schema, tables, params, previous)
        else:
            _validate_in_slices(vcur, writer, schema, staged, tables, params)


def _validate_entities(
    vcur: psycopg2.extensions.cursor,
    writer: LoadWriter,
    schema: EventSchema,
    tables: StagingTables,
    params: LoadParams,
    previous: PreviousIdsParams | None,
) -> None:
    """Validate an entity type at once (duplicate ids are looked for across the batch), give the valid rows
    their ids in file order in the load's entity table (those of the previous load's same positions kept), and
    have the writer insert them."""
    validated = tables.validated(schema.table)
    entities = tables.entities(schema.table)
    events = validate.staged_events(schema, tables.entity_events)
    vcur.execute(
        validate.validate_events(
            schema, events, tables.rows_visible_to_batch, into=validated, temporary=False
        ),
        params.as_params(),
    )
    vcur.execute(ids.advance_id_sequence(schema, validated))
    vcur.execute(ids.id_sequence_of(schema))
    id_sequence = one_row(vcur)[0]
    kept = None
    if previous is not None:  # read before the writer's deletion commits: the validator sees the old rows
        kept = tables.previous_ids(schema.table)
        vcur.execute(
            ids.create_previous_ids(schema, kept, by_range=previous.previous_base is not None),
            previous.as_params(),
        )
    vcur.execute(ids.keep_valid_entities(schema, id_sequence, entities, validated, kept), params.as_params())
    vcur.execute(analyze(entities))  # sizes for the planner of later references to it
    vcur.execute(validate.reject_invalid_events(schema, tables.rejections, validated), params.as_params())
    writer.insert(schema.table, ids.insert_entities(schema, entities), params)


@dataclass
class _Slice:
    """Pages `[first_page, end_page)` of a staging part."""

    part: StagedPart
    first_page: int
    end_page: int

    def params(self, params: LoadParams) -> SliceParams:
        return params.slice(self.first_page, self.end_page)


def _validate_in_slices(
    vcur: psycopg2.extensions.cursor,
    writer: LoadWriter,
    schema: EventSchema,
    staged: StagedFile,
    tables: StagingTables,
    params: LoadParams,
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
        events = validate.staged_events(schema, part.part.table, page_range=True)
        vcur.execute(
            validate.validate_events(
                schema, events, tables.rows_visible_to_batch, into=validated, temporary=False
            ),
            slice_params.as_params(),
        )
        vcur.execute(
            validate.reject_invalid_events(schema, tables.rejections, validated), slice_params.as_params()
        )
        writer.insert(schema.table, validate.insert_valid_events(schema, False, validated), slice_params)


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
        vcur.execute(relation_pages(part.regclass))
        pages = one_row(vcur)[0]
        step = max(1, math.ceil(pages / max(1, math.ceil(part.rows / SLICE_ROWS))))
        slices += [_Slice(part, first, min(first + step, pages)) for first in range(0, pages, step)]
    return slices


def _validate_slice_on_writer(
    cur: psycopg2.extensions.cursor,
    schema: EventSchema,
    slices: _SliceQueue,
    tables: StagingTables,
    params: LoadParams,
) -> int | None:
    """The writer's share, a slice from the back of the queue: the same SQL, references resolved against the
    tables it has filled, valid rows inserted and rejections recorded directly. Rows inserted; None when no
    slice is left."""
    part = slices.take(from_back=True)
    if part is None:
        return None
    slice_params = part.params(params).as_params()
    validated = validate.TEMP_VALIDATED
    events = validate.staged_events(schema, part.part.table, page_range=True)
    cur.execute(
        validate.validate_events(schema, events, tables.rows_known_to_writer, into=validated, temporary=True),
        slice_params,
    )
    cur.execute(validate.insert_valid_events(schema, explicit_ids=False, validated=validated), slice_params)
    loaded = cur.rowcount
    cur.execute(validate.reject_invalid_events(schema, REJECTED_EVENTS, validated), slice_params)
    cur.execute(validate.drop_validated(validated))
    return loaded

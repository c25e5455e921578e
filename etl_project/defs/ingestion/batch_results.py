"""Loading one batch and what it tells Dagster: a materialisation per table with its rejected rows, then the checks.

Shared by batch_event_tables (every batch of a run), quarantined_batch_job (a retry) and the replay of late
rows (which changes a batch's counts), so a batch reports the same way whichever changed it. A file that cannot be read is quarantined and reported as a failed
`batch_file_readable` check on its own partition, not as an error: the run goes on and succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from typing import Any

import dagster as dg
import psycopg2
import psycopg2.extensions

from etl_project.defs.ingestion.checks import (
    JudgedMaterializations,
    accounts_by_asset,
    data_quality_evaluations,
    readable_evaluation,
)
from etl_project.defs.ingestion.integrity import references_evaluation
from etl_project.defs.ingestion.quarantine_notice import quarantine_notice, quarantined_row_checks
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.defs.ingestion.row_accounting import ROW_ACCOUNTING, file_accounting, table_accounting
from etl_project.event_log_writes import events_stored_together
from etl_project.loading import (
    BatchAccounting,
    BatchFileError,
    BatchLoadReport,
    BatchObject,
    RejectedRow,
    RowsAccount,
    UnsafeBatchFileError,
    count_batch_rows,
    dangling_references_after_load,
    database_refusal,
    first_rejected_rows,
    is_loaded,
    load_batch,
    quarantined_files,
    record_quarantined_version,
    seen_again_unchanged,
    still_quarantined,
)
from etl_project.resources import SharedDirectory
from etl_project.schemas import EVENT_SCHEMAS

RAW_EVENTS = dg.AssetKey("raw_events")
_EVENT_TYPES = {schema.table: schema.event_type for schema in EVENT_SCHEMAS}

BatchEvent = dg.AssetMaterialization | dg.AssetCheckEvaluation | dg.AssetObservation

_REJECTED_ROWS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("file_row", "integer", description="line of the data in the file (1 = first row)"),
        dg.TableColumn("event_type", "text"),
        dg.TableColumn("reason", "text", description="why the row was rejected, with the offending value"),
        dg.TableColumn("payload_excerpt", "text", description="the start of the row's payload, as it came"),
    ]
)


def rejected_rows_table(rows: list[RejectedRow]) -> dg.TableMetadataValue:
    """The `rejected_rows` metadata entry: the first rejected rows, shown inline in the UI."""
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "file_row": row.file_row,
                    "event_type": row.event_type or "",
                    "reason": row.reason,
                    "payload_excerpt": row.payload_excerpt,
                }
            )
            for row in rows
        ],
        schema=_REJECTED_ROWS_SCHEMA,
    )


def _rejections_metadata(account: RowsAccount, rejected: list[RejectedRow]) -> dict[str, Any]:
    return {
        "rows_rejected": account.rows_rejected,
        "rejected_by_reason": account.rejected_by_reason,
        "rejected_rows": rejected_rows_table(rejected),
    }


def _materializations(
    batch_id: str,
    report: BatchLoadReport,
    accounting: BatchAccounting,
    rejected: dict[str, list[RejectedRow]],
) -> list[dg.AssetMaterialization]:
    events = [
        dg.AssetMaterialization(
            RAW_EVENTS,
            partition=batch_id,
            metadata={
                ROW_ACCOUNTING: file_accounting(accounting.file, report.raw_events),
                "file": report.filename,
                "checksum_sha256": report.checksum_sha256,
                "size_bytes": report.size_bytes,
                "rows_in_file": report.rows_read,
                "dagster/row_count": report.raw_events,
                # the batch's total, whichever table rejected them (envelope_rejects never reached raw_events)
                **_rejections_metadata(accounting.file, rejected["raw_events"]),
                "envelope_rejects": report.rows_read - report.raw_events,
                "ignored_columns": report.ignored_columns,
                "parsed_by": report.parsed_by,  # postgresql (COPY) or python (the careful reader)
                "raw_id_range": f"{(report.raw_id_base or 0) + 1}..{(report.raw_id_base or 0) + max(report.rows_read, 1)}",
            },
        )
    ]
    for schema in EVENT_SCHEMAS:
        events.append(
            dg.AssetMaterialization(
                schema.table,
                partition=batch_id,
                metadata={
                    ROW_ACCOUNTING: table_accounting(accounting.tables[schema.table], schema.event_type),
                    "file": report.filename,
                    "dagster/row_count": report.loaded[schema.table],
                    **_rejections_metadata(accounting.tables[schema.table], rejected[schema.table]),
                    "preview": dg.MetadataValue.json(report.preview.get(schema.table, [])),
                },
            )
        )
    return events


def _unchanged_observation(batch_id: str, filename: str) -> dg.AssetObservation:
    """What Materialize (or a retry) of a batch whose file holds exactly the loaded content leaves: no new
    materialisation (no row changed, so nothing downstream refreshes), and this note on the partition."""
    return dg.AssetObservation(
        RAW_EVENTS,
        partition=batch_id,
        description="The file holds exactly the content already loaded (same SHA-256): not loaded again.",
        metadata={"file": filename, "unchanged_content": True},
    )


def _quarantine(
    instance: dg.DagsterInstance,
    log: logging.Logger,
    conn: psycopg2.extensions.connection,
    batch_id: str,
    batch_object: BatchObject,
    problem: str,
) -> Generator[BatchEvent, None, None]:
    """Record the file as quarantined and fail its own partition's batch_file_readable check; the run goes on."""
    log.error(f"Batch {batch_id!r} quarantined, not loaded: {problem}")
    name = batch_object.name
    record_quarantined_version(conn, batch_id, name, batch_object.version(), problem)
    [record] = [f for f in quarantined_files(conn) if f.batch_id == batch_id]
    yield quarantine_notice(RAW_EVENTS, batch_id, name, problem, record.earlier_version_loaded)
    targets = JudgedMaterializations(instance, batch_id, [RAW_EVENTS])
    yield readable_evaluation(targets, RAW_EVENTS, batch_id, name, problem)
    if not record.earlier_version_loaded:  # else the loaded version's row checks still hold
        yield from quarantined_row_checks(RAW_EVENTS, batch_id, name)


def load_and_report(
    instance: dg.DagsterInstance,
    log: logging.Logger,
    conn: psycopg2.extensions.connection,
    shared_directory: SharedDirectory,
    limits: DataQualityLimits,
    batch_id: str,
    skip_if_loaded: bool = False,
) -> Generator[BatchEvent, None, BatchLoadReport | None]:
    """Load one batch file and yield its events; returns the load's report (None: quarantined or skipped).

    Materialisations are yielded before the checks are built: each check names the materialisation it judged,
    which Dagster has stored by the time this generator resumes.
    """
    batch_object = shared_directory.source().batch_object(batch_id)
    name = batch_object.name
    try:
        batch_object.require()  # there, and safe to read (a FIFO, say, is refused when opened)
        version = batch_object.version()
        if skip_if_loaded and version is not None and is_loaded(conn, batch_id, version):
            return None  # loaded (and reported) by an earlier attempt of this run
        if seen_again_unchanged(conn, batch_id, batch_object):
            log.info(f"Batch {batch_id!r}: {name} holds the loaded content (same SHA-256); not reloaded")
            yield _unchanged_observation(batch_id, name)
            return None
        report = load_batch(conn, batch_id, batch_object)
    except (BatchFileError, UnsafeBatchFileError) as err:
        yield from _quarantine(instance, log, conn, batch_id, batch_object, str(err))
        return None
    except psycopg2.Error as err:
        refusal = database_refusal(err)
        if refusal is None:
            raise  # a lost connection or a restarting server: the step's retry policy handles it
        problem = f"{name}: {refusal}"
        yield from _quarantine(instance, log, conn, batch_id, batch_object, problem)
        return None
    accounting = count_batch_rows(conn, batch_id)
    if accounting is None:  # recorded by the load's own transaction: cannot happen after a successful load
        raise RuntimeError(f"batch {batch_id!r} loaded but not recorded in utilities.processed_files")
    rejected = first_rejected_rows(conn, batch_id)
    # The batch's events are stored in two writes (event_log_writes): its materialisations, then the checks
    # judging them, which name the materialisations by the storage ids the first write returned.
    with events_stored_together(instance) as stored:
        yield from _materializations(batch_id, report, accounting, rejected)
    accounts = accounts_by_asset(RAW_EVENTS, accounting)
    targets = JudgedMaterializations(instance, batch_id, accounts, stored.materializations)
    others_quarantined = still_quarantined(conn)
    dangling = dangling_references_after_load(conn, batch_id, report.raw_id_base or 0, report.removed_ids)
    with events_stored_together(instance):
        yield readable_evaluation(targets, RAW_EVENTS, batch_id, report.filename, None, others_quarantined)
        yield from data_quality_evaluations(targets, accounts, batch_id, report.filename, limits)
        yield references_evaluation(dangling, scope=f"the load of batch {batch_id}")
    log.info(
        f"Batch {batch_id!r}: {report.rows_read} rows read, {report.rows_loaded} loaded, "
        f"{report.rows_rejected} rejected {report.rejected_by_reason() or ''}"
    )
    return report


def replay_results(
    instance: dg.DagsterInstance,
    conn: psycopg2.extensions.connection,
    limits: DataQualityLimits,
    batch_id: str,
    moved: dict[str, int],
) -> Iterator[BatchEvent]:
    """After a replay moved rows of the batch into `moved`'s tables: a materialisation of each (so
    store_daily_sales refreshes), then the checks of raw_events and those tables evaluated again."""
    changed = {table: rows for table, rows in moved.items() if rows}
    accounting = count_batch_rows(conn, batch_id)
    if accounting is None:  # a legacy pipeline's batch: no raw_id range to count by
        for table, rows in changed.items():
            yield dg.AssetMaterialization(
                table, partition=batch_id, metadata={"late_rows_loaded": rows, "source": "replay"}
            )
        return
    rejected = first_rejected_rows(conn, batch_id)
    for table, rows in changed.items():
        account = accounting.tables[table]
        yield dg.AssetMaterialization(
            table,
            partition=batch_id,
            metadata={
                ROW_ACCOUNTING: table_accounting(account, _EVENT_TYPES[table]),
                "late_rows_loaded": rows,
                "source": "replay",
                "file": accounting.filename,
                "dagster/row_count": account.rows_loaded,
                **_rejections_metadata(account, rejected[table]),
            },
        )
    accounts = accounts_by_asset(RAW_EVENTS, accounting)
    rechecked = {
        key: account for key, account in accounts.items() if key == RAW_EVENTS or key.path[-1] in changed
    }
    targets = JudgedMaterializations(instance, batch_id, rechecked)
    yield from data_quality_evaluations(targets, rechecked, batch_id, accounting.filename, limits)

"""quarantined_batch_job: retry or drop a quarantined batch file from the UI, as `etl quarantine` does in a shell.

Retry loads the file again (fixed or replaced since) and reports it like any load: materialisations and checks,
so its `batch_file_readable` passes. Drop gives up on the file: its partition is deleted and its record says
'dropped', so the file sensor never loads that version again (a changed file is loaded as new).
"""

from collections.abc import Iterator
from typing import Literal

import dagster as dg
from pydantic import Field

from etl_project.defs.alerting.freshness import freshness_after_load
from etl_project.defs.ingestion.batch_results import BatchEvent, load_and_report
from etl_project.defs.ingestion.partitions import BATCH_PARTITIONS_NAME
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.loading import quarantined_files, record_dropped
from etl_project.resources import EtlDatabase, SharedDirectory


class QuarantinedBatch(dg.Config):
    """Which quarantined batch, and what to do with it."""

    batch_id: str = Field(
        description="The quarantined batch (its partition key; `etl quarantine list` lists them)."
    )
    action: Literal["retry", "drop"] = Field(
        description="retry: load the file again (after fixing it); drop: give up on this version of the file."
    )


def _retry(
    context: dg.OpExecutionContext,
    etl_database: EtlDatabase,
    shared_directory: SharedDirectory,
    limits: DataQualityLimits,
    batch_id: str,
) -> Iterator[BatchEvent]:
    with etl_database.connect() as conn:
        report = yield from load_and_report(
            context.instance, context.log, conn, shared_directory, limits, batch_id
        )
        yield from freshness_after_load(context.instance, context.run.run_id)
        if report is None:
            [still] = [f for f in quarantined_files(conn) if f.batch_id == batch_id]
            raise dg.Failure(f"Batch {batch_id!r} is still unreadable: {still.reason}", allow_retries=False)
    context.log.info(f"Batch {batch_id!r} loaded: {report.rows_loaded} rows, {report.rows_rejected} rejected")


def _drop(context: dg.OpExecutionContext, etl_database: EtlDatabase, batch_id: str) -> None:
    with etl_database.connect() as conn:
        dropped = record_dropped(conn, batch_id)
    if dropped is not None and dropped.earlier_version_loaded:
        raise dg.Failure(
            f"Batch {batch_id!r} still holds the rows of an earlier, readable version of {dropped.filename}: put "
            "that version (or a fixed one) back and retry; dropping would leave rows without their partition.",
            allow_retries=False,
        )
    if context.instance.has_dynamic_partition(BATCH_PARTITIONS_NAME, batch_id):
        context.instance.delete_dynamic_partition(BATCH_PARTITIONS_NAME, batch_id)
    context.log.info(
        f"Batch {batch_id!r} dropped: its partition is deleted and that file version is never loaded"
    )


@dg.op(out={}, description="Retries or drops one quarantined batch file (see quarantined_batch_job).")
def handle_quarantined_batch(
    context: dg.OpExecutionContext,
    config: QuarantinedBatch,
    etl_database: EtlDatabase,
    shared_directory: SharedDirectory,
    data_quality_limits: DataQualityLimits,
):
    with etl_database.connect() as conn:
        quarantined = {f.batch_id for f in quarantined_files(conn)}
    if config.batch_id not in quarantined:
        raise dg.Failure(
            f"Batch {config.batch_id!r} is not quarantined (quarantined now: {sorted(quarantined) or 'none'})",
            allow_retries=False,
        )
    if config.action == "retry":
        yield from _retry(context, etl_database, shared_directory, data_quality_limits, config.batch_id)
    else:
        _drop(context, etl_database, config.batch_id)


@dg.job(
    description=(
        "Deals with a file that could not be read (a failed batch_file_readable check): `retry` loads it again "
        "once it is fixed, `drop` gives up on it and deletes its partition. Launch it with run config "
        "`ops: {handle_quarantined_batch: {config: {batch_id: ..., action: retry}}}`; the same as "
        "`etl quarantine retry|drop BATCH`."
    ),
    executor_def=dg.in_process_executor,
)
def quarantined_batch_job() -> None:
    handle_quarantined_batch()

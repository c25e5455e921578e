"""The event tables as partitioned assets: one partition per batch file, loaded in one transaction.

One multi-asset materialises `raw_events` and the four event tables together because a batch must land in all
of them or in none. Its specs come from `etl_project.schemas`, so a new event type is a new declaration there,
not new code here. A run may cover many partitions (a backlog found in one sensor tick): each batch is its own
transaction and its own materialisation, and a file that cannot be read fails the run only after the others
have loaded.
"""

import dagster as dg

from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.loading import BatchFileError, BatchLoadReport, is_loaded, load_batch, record_quarantined
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project.resources.shared_directory import UnsafeBatchFileError
from etl_project.schemas import BATCH_FILE_COLUMNS, EVENT_SCHEMAS, EventSchema

INGESTION_GROUP = "ingestion"
RAW_EVENTS = dg.AssetKey("raw_events")
#: Largest number of batches one run loads; a UI backfill is split into runs of this size too.
MAX_BATCHES_PER_RUN = 100
#: A lost connection or a restarting database is retried with growing delays (2, 4, 8 s, with jitter);
#: re-running a batch replaces it, so a retry never duplicates. Unreadable files are not retried.
TRANSIENT_FAILURE_RETRIES = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def _column_schema(schema: EventSchema) -> dg.TableSchema:
    lineage = [
        dg.TableColumn("raw_id", "bigint", description="row of etl.raw_events it came from"),
        dg.TableColumn("batch_id", "text", description="batch (partition) that loaded it"),
        dg.TableColumn("batch_created_at", "timestamp"),
    ]
    ident = [dg.TableColumn("id", "bigint", description="payload id, or the table's next id")]
    fields = [dg.TableColumn(f.name, f.type.value, description=f.description) for f in schema.fields]
    return dg.TableSchema(columns=lineage + ident + fields)


# The specs are built by functions, not kept at module level: load_from_defs_folder would load a module-level
# AssetSpec as an asset of its own, next to the multi-asset that materialises it.


def _raw_events_spec() -> dg.AssetSpec:
    return dg.AssetSpec(
        RAW_EVENTS,
        description=(
            "Landing table: every row of a batch file whose envelope is valid (known event type, JSON object "
            "payload, matching batch id), payload kept as jsonb. Rows that fail here are in etl.rejected_events."
        ),
        group_name=INGESTION_GROUP,
        kinds={"postgres", "csv"},
        skippable=True,
        metadata={
            "dagster/table_name": "etl.raw_events",
            "batch_file_columns": ",".join(BATCH_FILE_COLUMNS),
        },
    )


def _event_table_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            schema.table,
            deps=[RAW_EVENTS, *schema.references],
            description=f"{schema.description} Invalid `{schema.event_type}` rows go to etl.rejected_events.",
            group_name=INGESTION_GROUP,
            kinds={"postgres"},
            skippable=True,
            metadata={
                "dagster/table_name": f"etl.{schema.table}",
                "dagster/column_schema": _column_schema(schema),
                "event_type": schema.event_type,
            },
        )
        for schema in EVENT_SCHEMAS
    ]


def _materializations(partition: str, report: BatchLoadReport) -> list[dg.AssetMaterialization]:
    envelope_rejects = report.rejected_by_reason("raw_events")
    events = [
        dg.AssetMaterialization(
            RAW_EVENTS,
            partition=partition,
            metadata={
                "file": report.filename,
                "checksum_sha256": report.checksum_sha256,
                "size_bytes": report.size_bytes,
                "rows_in_file": report.rows_read,
                "dagster/row_count": report.raw_events,
                "rows_rejected": sum(envelope_rejects.values()),
                "rejected_by_reason": envelope_rejects,
                "ignored_columns": report.ignored_columns,
                "parsed_by": report.parsed_by,  # postgresql (COPY) or python (the careful reader)
                "raw_id_range": f"{report.raw_id_base + 1}..{report.raw_id_base + max(report.rows_read, 1)}",
            },
        )
    ]
    for schema in EVENT_SCHEMAS:
        rejects = report.rejected_by_reason(schema.table)
        preview = report.preview.get(schema.table, [])
        events.append(
            dg.AssetMaterialization(
                schema.table,
                partition=partition,
                metadata={
                    "file": report.filename,
                    "dagster/row_count": report.loaded[schema.table],
                    "rows_rejected": sum(rejects.values()),
                    "rejected_by_reason": rejects,
                    "preview": dg.MetadataValue.json(preview),
                },
            )
        )
    return events


@dg.multi_asset(
    name="batch_event_tables",
    specs=[_raw_events_spec(), *_event_table_specs()],
    partitions_def=batch_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_BATCHES_PER_RUN),
    can_subset=False,
    retry_policy=TRANSIENT_FAILURE_RETRIES,
)
def batch_event_tables(
    context: dg.AssetExecutionContext, etl_database: EtlDatabase, shared_directory: SharedDirectory
):  # a generator of one materialisation per asset and batch; no outputs (the specs are skippable)
    """Load each batch file of the run's partitions into raw_events and the four event tables."""
    unreadable: dict[str, str] = {}
    totals = {"batches": 0, "rows_loaded": 0, "rows_rejected": 0}
    with etl_database.connect() as conn:
        for batch_id in context.partition_keys:
            try:
                path = shared_directory.file_for_batch(batch_id)
                if not path.is_file():
                    raise BatchFileError(path, f"no such file in {shared_directory.root}")
                if context.retry_number > 0 and is_loaded(conn, batch_id, path):
                    continue  # loaded (and reported) by an earlier attempt of this run
                report = load_batch(conn, batch_id, path)
            except (BatchFileError, UnsafeBatchFileError) as err:
                context.log.error(f"Batch {batch_id!r} not loaded: {err}")
                unreadable[batch_id] = str(err)
                record_quarantined(conn, batch_id, shared_directory.root / f"{batch_id}.csv", str(err))
                continue
            yield from _materializations(batch_id, report)
            totals["batches"] += 1
            totals["rows_loaded"] += report.rows_loaded
            totals["rows_rejected"] += report.rows_rejected
            context.log.info(
                f"Batch {batch_id!r}: {report.rows_read} rows read, {report.rows_loaded} loaded, "
                f"{report.rows_rejected} rejected {report.rejected_by_reason() or ''}"
            )
    context.log.info(f"Loaded {totals['batches']} of {len(context.partition_keys)} batches: {totals}")
    if unreadable:
        raise dg.Failure(
            description=(
                f"{len(unreadable)} of {len(context.partition_keys)} batch files could not be read "
                f"and were quarantined (the others loaded): " + "; ".join(unreadable.values())
            ),
            metadata={"quarantined": unreadable, **totals},
            allow_retries=False,  # the same bytes would fail the same way; a replaced file is reloaded
        )

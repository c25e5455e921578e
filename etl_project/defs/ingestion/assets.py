"""The event tables as partitioned assets: one partition per batch file, loaded in one transaction.

One multi-asset materialises `raw_events` and the four event tables together because a batch must land in all
of them or in none. Its specs come from `etl_project.schemas`, so a new event type is a new declaration there,
not new code here. A run may cover many partitions (a backlog found in one sensor tick): each batch is its own
transaction and its own materialisation. A file that cannot be read is contained: it is quarantined and fails
its own partition's `batch_file_readable` check, and the run, and every other batch of it, stay green.
"""

import dagster as dg

from etl_project.defs.alerting.freshness import freshness_after_load
from etl_project.defs.ingestion.batch_results import RAW_EVENTS, load_and_report
from etl_project.defs.ingestion.checks import batch_check_specs
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.defs.ingestion.storage_connections import hold_storage_connections
from etl_project.defs.sales_analytics.refresh_result import refresh_materialization, refreshes_after_work
from etl_project.loading import is_transient
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project.schemas import BATCH_FILE_COLUMNS, EVENT_SCHEMAS, EventSchema

INGESTION_GROUP = "ingestion"
#: Largest number of batches one run loads; a UI backfill is split into runs of this size too. Large enough that
#: a backlog of 500 files fills the 3 load slots in one wave (3 runs of about 167: sensors.plan_runs), small
#: enough that a run of large files ends well within LOAD_RUN_MAX_RUNTIME_SECONDS.
MAX_BATCHES_PER_RUN = 200
#: A transient failure (a lost connection, a restarting database, a serialization failure or deadlock:
#: `etl_project.loading.is_transient`) is retried with growing delays (2, 4, 8 s, with jitter); re-running a batch
#: replaces it, so a retry never duplicates. Any other error fails the step at once (`dg.Failure` with
#: allow_retries=False): a bug or a data problem fails the same way every time. Unreadable files are quarantined.
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


@dg.multi_asset(
    name="batch_event_tables",
    specs=[_raw_events_spec(), *_event_table_specs()],
    check_specs=batch_check_specs(RAW_EVENTS, [dg.AssetKey(schema.table) for schema in EVENT_SCHEMAS]),
    partitions_def=batch_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_BATCHES_PER_RUN),
    can_subset=False,
    retry_policy=TRANSIENT_FAILURE_RETRIES,
)
def batch_event_tables(
    context: dg.AssetExecutionContext,
    etl_database: EtlDatabase,
    shared_directory: SharedDirectory,
    data_quality_limits: DataQualityLimits,
):  # a generator of materialisations and check evaluations per batch; no outputs (the specs are skippable)
    """Loads each batch file of the run into raw_events and the four event tables (one transaction per batch)
    and checks it: batch_file_readable, rows_accounted_for, rejected_share. A file that cannot be read is
    quarantined and fails only its own partition's batch_file_readable check; the run goes on.
    """
    hold_storage_connections(context.instance)  # 17 events per batch: one connection, not one per event
    totals = {"batches": 0, "rows_loaded": 0, "rows_rejected": 0}
    with etl_database.connect() as conn:
        for batch_id in context.partition_keys:
            try:
                report = yield from load_and_report(
                    context.instance,
                    context.log,
                    conn,
                    shared_directory,
                    data_quality_limits,
                    batch_id,
                    skip_if_loaded=context.retry_number > 0,
                )
            except Exception as err:
                if is_transient(err):
                    raise  # TRANSIENT_FAILURE_RETRIES tries the step again
                raise dg.Failure(
                    description=f"batch {batch_id!r}: {type(err).__name__}: {err} (not retried: not transient)",
                    allow_retries=False,
                ) from err
            if report is None:  # quarantined (logged, and its check failed), or loaded by an earlier attempt
                continue
            totals["batches"] += 1
            totals["rows_loaded"] += report.rows_loaded
            totals["rows_rejected"] += report.rows_rejected
    context.log.info(f"Loaded {totals['batches']} of {len(context.partition_keys)} batches: {totals}")
    # What this run materialised is fresh: say so, or the UI lists its freshness check as not evaluated.
    yield from freshness_after_load(context.instance, context.run.run_id)
    if totals["batches"] and refreshes_after_work(context.run.tags):
        yield from _refresh_after_loading(context, etl_database)
    # The checks were evaluated per partition above; these outputs only close the step's declared check outputs.
    for output_name in context.assets_def.check_specs_by_output_name:
        yield dg.Output(None, output_name=output_name)


def _refresh_after_loading(context: dg.AssetExecutionContext, etl_database: EtlDatabase):
    """A load run (tagged REFRESHES_TAG) refreshes store_daily_sales for what it loaded, and whatever else is
    pending, in place of a refresh run. If that fails, the loads stand and stay pending in the change log:
    pending_sales_refresh_sensor refreshes them once this run has ended."""
    try:
        with etl_database.connect() as conn:
            materialization = refresh_materialization(conn, context.instance, context.run, context.log)
    except Exception as err:  # the loads are committed; the sensor refreshes what stays pending
        context.log.warning(f"store_daily_sales not refreshed by this run, left to the sensor: {err}")
        return
    yield materialization

"""Small helpers shared by the tests: materialising batches, counting rows, reading checks (the batch files
themselves are written by etl_testkit.batch_files, which the benchmarks and scripts use too)."""

import dagster as dg
import psycopg2.extensions

from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_testkit.batch_files import (
    CREATED_AT,
    TABLES,
    entity_rows,
    quote,
    write_generated_batch,
    write_raw_batch,
)

__all__ = ["CREATED_AT", "TABLES", "entity_rows", "quote", "write_generated_batch", "write_raw_batch"]


def count_rows(conn: psycopg2.extensions.connection, batch_id: str) -> dict[str, int]:
    counts = {}
    with conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM etl.{table} WHERE batch_id = %s", (batch_id,))  # noqa: S608
            counts[table] = cur.fetchone()[0]
    return counts


def materialize_batches(
    instance: dg.DagsterInstance, resources: dict, batch_ids: list[str], raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    """Register the partitions and materialise them in one run, as the sensor's run would.

    The data-quality limits default to the platform's when the test does not give its own.
    """
    resources = {"data_quality_limits": DataQualityLimits(), **resources}
    new = [b for b in batch_ids if not instance.has_dynamic_partition(batch_partitions.name, b)]
    instance.add_dynamic_partitions(batch_partitions.name, new)
    if len(batch_ids) == 1:
        return dg.materialize(
            [batch_event_tables],
            instance=instance,
            resources=resources,
            partition_key=batch_ids[0],
            raise_on_error=raise_on_error,
        )
    return dg.materialize(
        [batch_event_tables],
        instance=instance,
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": batch_ids[0],
            "dagster/asset_partition_range_end": batch_ids[-1],
        },
        raise_on_error=raise_on_error,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """Every message in the failed step's error chain (Dagster wraps user errors)."""
    error = result.failure_data_for_node("batch_event_tables").error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def check_evaluations(
    instance: dg.DagsterInstance, asset: str, check_name: str
) -> dict[str, dg.AssetCheckEvaluation]:
    """The latest evaluation of the check per partition, as the Dagster instance recorded them."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(asset), check_name), limit=1000
    )
    latest: dict[str, dg.AssetCheckEvaluation] = {}
    for (
        record
    ) in history:  # newest first; a check planned for a partition but not evaluated has no evaluation
        evaluated = (
            record.event and record.event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
        if evaluated and record.partition is not None:
            latest.setdefault(record.partition, record.event.dagster_event.asset_check_evaluation_data)
    return latest


def quarantine_reason(instance: dg.DagsterInstance, batch_id: str) -> str:
    """The reason `batch_file_readable` gives on the batch's partition ('' when the file was read)."""
    evaluation = check_evaluations(instance, "raw_events", "batch_file_readable")[batch_id]
    return evaluation.metadata["reason"].value


def then_deliver(summary: str, instance: dg.DagsterInstance, resources: dict) -> str:
    """A producer's tick text followed by one tick of alert_delivery_sensor (the one sender of the outbox), as
    `<producer's text>; <what was delivered>`."""
    from etl_project.defs.alerting.delivery_sensor import alert_delivery_sensor

    context = dg.build_sensor_context(
        instance=instance,
        resources={"etl_database": resources["etl_database"], "alert_channel": resources["alert_channel"]},
    )
    return f"{summary}; {alert_delivery_sensor(context).skip_message}"

"""Keeps the number of batch partitions healthy: the UI slows down past ~100k dynamic partitions per asset."""

import dagster as dg
from pydantic import Field

from etl_project.loading import batches_loaded_before
from etl_project.partitions import batch_partitions
from etl_project.resources import EtlDatabase


class PartitionRetention(dg.ConfigurableResource):
    """How long a loaded batch keeps its partition in the Dagster instance (ETL_PARTITION_RETENTION_DAYS).

    Only the partition goes: the batch's rows stay in PostgreSQL and its file stays recorded in
    utilities.processed_files, so the file sensor never loads it again. 0 keeps partitions forever.
    """

    retention_days: int = Field(default=90, ge=0)
    max_deletes_per_tick: int = Field(default=10_000, gt=0)


@dg.sensor(
    name="batch_partition_retention_sensor",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def batch_partition_retention_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, partition_retention: PartitionRetention
) -> dg.SensorResult | dg.SkipReason:
    """Drops the partitions of batches loaded successfully longer ago than the retention period."""
    if partition_retention.retention_days == 0:
        return dg.SkipReason("Partition retention is disabled (retention_days = 0)")
    with etl_database.connect() as conn:
        expired = batches_loaded_before(conn, partition_retention.retention_days)
    registered = set(context.instance.get_dynamic_partitions(batch_partitions.name))
    to_delete = [b for b in expired if b in registered][: partition_retention.max_deletes_per_tick]
    if not to_delete:
        return dg.SkipReason(f"{len(registered)} batch partitions, none older than the retention period")
    context.log.info(
        f"Dropping {len(to_delete)} partitions of batches loaded over {partition_retention.retention_days} days ago"
    )
    return dg.SensorResult(dynamic_partitions_requests=[batch_partitions.build_delete_request(to_delete)])

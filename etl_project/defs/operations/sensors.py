"""batch_partition_retention_sensor: keeps the number of batch partitions healthy (the UI slows down past
~100k dynamic partitions per asset) by dropping those of batches loaded longer ago than PartitionRetention says.
"""

import os

import dagster as dg

from etl_project.defs.ingestion.partitions import BATCH_PARTITIONS_NAME, batch_partitions
from etl_project.defs.operations.resources import PartitionRetention
from etl_project.loading import batches_loaded_before
from etl_project.resources import EtlDatabase

#: Hourly; ETL_PARTITION_RETENTION_TICK_SECONDS shortens it for `make bench`'s soak (partitions kept minutes).
RETENTION_TICK_SECONDS = int(os.getenv("ETL_PARTITION_RETENTION_TICK_SECONDS") or 3600)


@dg.sensor(
    name="batch_partition_retention_sensor",
    minimum_interval_seconds=RETENTION_TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Hourly (ETL_PARTITION_RETENTION_TICK_SECONDS): drops the partitions of batches loaded longer ago than ETL_PARTITION_RETENTION_DAYS "
    "(default 60: 86,400 partitions at one batch a minute, under Dagster's 100,000), so the UI stays fast. The rows stay in PostgreSQL.",
)
def batch_partition_retention_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, partition_retention: PartitionRetention
) -> dg.SensorResult | dg.SkipReason:
    """Drops the partitions of batches loaded successfully longer ago than the retention period."""
    if partition_retention.retention_days == 0:
        return dg.SkipReason("Partition retention is disabled (retention_days = 0)")
    with etl_database.connect() as conn:
        expired = batches_loaded_before(conn, partition_retention.retention_days)
    registered = set(context.instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME))
    to_delete = [b for b in expired if b in registered][: partition_retention.max_deletes_per_tick]
    if not to_delete:
        return dg.SkipReason(f"{len(registered)} batch partitions, none older than the retention period")
    context.log.info(
        f"Dropping {len(to_delete)} partitions of batches loaded over {partition_retention.retention_days} days ago"
    )
    return dg.SensorResult(dynamic_partitions_requests=[batch_partitions.build_delete_request(to_delete)])

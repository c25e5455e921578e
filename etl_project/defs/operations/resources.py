"""How long batch partitions are kept (PartitionRetention), configured from ETL_PARTITION_RETENTION_DAYS."""

import dagster as dg
from pydantic import Field

from etl_project.resources.environment import env_numbers

#: Dagster recommends at most 100,000 partitions per asset; at one batch a minute 60 days keep 86,400.
DEFAULT_PARTITION_RETENTION_DAYS = 60


class PartitionRetention(dg.ConfigurableResource):
    """How long a loaded batch keeps its partition in the Dagster instance (ETL_PARTITION_RETENTION_DAYS).

    Only the partition goes: the batch's rows stay in PostgreSQL and its file stays recorded in
    utilities.processed_files, so the file sensor never loads it again. 0 keeps partitions forever.
    """

    #: Fractions of a day are allowed (0.002 is about 3 minutes): tests and `make bench`'s soak use them.
    retention_days: float = Field(default=DEFAULT_PARTITION_RETENTION_DAYS, ge=0)
    max_deletes_per_tick: int = Field(default=10_000, gt=0)


@dg.definitions
def operations_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "partition_retention": PartitionRetention(
                **env_numbers(retention_days="ETL_PARTITION_RETENTION_DAYS")
            ),
        }
    )

"""The limits of the per-batch data-quality checks (DataQualityLimits), configured from ETL_MAX_REJECTED_PERCENT."""

import dagster as dg
from pydantic import Field

from etl_project.resources.environment import env_numbers


class DataQualityLimits(dg.ConfigurableResource):
    """When a batch's rejected rows deserve a warning (ETL_MAX_REJECTED_PERCENT)."""

    max_rejected_percent: float = Field(
        default=5.0,
        ge=0,
        le=100,
        description="`rejected_share` warns when more than this percentage of a table's rows in a batch is rejected.",
    )


@dg.definitions
def ingestion_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "data_quality_limits": DataQualityLimits(
                **env_numbers(max_rejected_percent="ETL_MAX_REJECTED_PERCENT")
            ),
        }
    )

"""How long finished runs are kept (RunRetention), configured from ETL_RUN_RETENTION_DAYS and
ETL_FAILED_RUN_RETENTION_DAYS, and tick logs (ETL_TICK_LOG_RETENTION_DAYS). Dagster OSS never deletes runs or
event logs by itself."""

import dagster as dg
from pydantic import Field

from etl_project.resources.environment import env_numbers

#: Successful and cancelled runs: a month of history to look back at in the UI.
DEFAULT_RUN_RETENTION_DAYS = 30
#: Failed runs: kept three times longer, for the post-mortem of a problem noticed late.
DEFAULT_FAILED_RUN_RETENTION_DAYS = 90


class RunRetention(dg.ConfigurableResource):
    """How long dagster_housekeeping_job keeps finished runs with their event logs and compute logs.

    A run holding the latest materialisation of a registered partition (or of an unpartitioned asset, or a
    check's latest evaluation) is kept whatever its age. 0 keeps runs forever.
    """

    #: Fractions of a day are allowed (0.002 is about 3 minutes): tests and `make bench`'s soak use them.
    retention_days: float = Field(default=DEFAULT_RUN_RETENTION_DAYS, ge=0)
    failed_retention_days: float = Field(default=DEFAULT_FAILED_RUN_RETENTION_DAYS, ge=0)
    #: Tick log files older than this go whatever the tick retention says (None: they follow the ticks).
    tick_log_retention_days: float | None = Field(default=None, ge=0)
    #: One pass deletes at most this many runs (about 25 a second); the next pass goes on.
    max_runs_per_pass: int = Field(default=20_000, gt=0)
    max_seconds_per_pass: int = Field(default=900, gt=0)


@dg.definitions
def run_retention_resources() -> dg.Definitions:
    days = env_numbers(
        retention_days="ETL_RUN_RETENTION_DAYS",
        failed_retention_days="ETL_FAILED_RUN_RETENTION_DAYS",
        tick_log_retention_days="ETL_TICK_LOG_RETENTION_DAYS",
    )
    return dg.Definitions(resources={"run_retention": RunRetention(**days)})

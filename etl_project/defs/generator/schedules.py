"""generate_batch_schedule: a new generated batch every minute (ETL_GENERATOR_ENABLED=false starts it stopped)."""

import os
from datetime import timezone

import dagster as dg

from etl_project.defs.generator.jobs import generate_batch_job
from etl_project.generator.batch_ids import SCHEDULED_PREFIX, readable_batch_id

BATCH_ID_TAG = "etl/batch_id"


def _schedule_status() -> dg.DefaultScheduleStatus:
    enabled = os.getenv("ETL_GENERATOR_ENABLED", "true").lower() not in {"0", "false", "no"}
    return dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED


@dg.schedule(
    name="generate_batch_every_minute",
    job=generate_batch_job,
    cron_schedule="* * * * *",
    default_status=_schedule_status(),
    description="A new sample batch every minute, named generated__<tick time, UTC>, so that data flows as "
    "soon as the platform runs (ETL_GENERATOR_ENABLED=false starts it stopped). Each tick logs the batch id.",
)
def generate_batch_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """The batch is named after the tick's time, which also makes the run key: a tick evaluated twice writes
    one batch."""
    batch_id = readable_batch_id(SCHEDULED_PREFIX, context.scheduled_execution_time.astimezone(timezone.utc))
    context.log.info(f"Requested batch {batch_id}")
    return dg.RunRequest(
        run_key=batch_id,
        run_config=dg.RunConfig(ops={"write_generated_batch": {"config": {"batch_id": batch_id}}}),
        tags={BATCH_ID_TAG: batch_id},
    )

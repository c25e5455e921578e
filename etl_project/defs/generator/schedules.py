"""generate_batch_schedule: a new generated batch every minute; not defined at all with ETL_GENERATOR_ENABLED=false."""

from datetime import timezone

import dagster as dg

from etl_project.defs.generator.jobs import generate_batch_job, generator_enabled
from etl_project.generator.batch_ids import SCHEDULED_PREFIX, readable_batch_id

BATCH_ID_TAG = "etl/batch_id"


@dg.schedule(
    name="generate_batch_every_minute",
    job=generate_batch_job,
    cron_schedule="* * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A new sample batch every minute, named generated__<tick time, UTC>, so that data flows as "
    "soon as the platform runs (with ETL_GENERATOR_ENABLED=false neither it nor its job exists). Each tick logs the batch id.",
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


@dg.definitions
def generator_schedule_definitions() -> dg.Definitions:
    """The schedule only where the generator is enabled (see generator_job_definitions)."""
    return dg.Definitions(schedules=[generate_batch_schedule] if generator_enabled() else [])

"""generate_batch_schedule: a new generated batch every minute (ETL_GENERATOR_ENABLED=false starts it stopped)."""

import os

import dagster as dg

from etl_project.defs.generator.jobs import generate_batch_job


def _schedule_status() -> dg.DefaultScheduleStatus:
    enabled = os.getenv("ETL_GENERATOR_ENABLED", "true").lower() not in {"0", "false", "no"}
    return dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED


generate_batch_schedule = dg.ScheduleDefinition(
    name="generate_batch_every_minute",
    job=generate_batch_job,
    cron_schedule="* * * * *",
    default_status=_schedule_status(),
    description="A new batch every minute so that data flows as soon as the platform runs "
    "(ETL_GENERATOR_ENABLED=false starts it stopped).",
)

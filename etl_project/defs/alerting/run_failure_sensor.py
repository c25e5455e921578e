"""run_failure_slack_sensor: a failed run is announced once, with its job, the error's first line and a link."""

import dagster as dg

from etl_project.alerting.producers import queue_run_failure
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.resources import EtlDatabase

DAGSTER_FAILURE = f"{dg.Failure.__module__}.{dg.Failure.__name__}"
#: Dagster wraps a user error in one of its own errors, whose class path starts so (a string, not an import).
_DAGSTER_ERROR_PREFIX = "dagster._core.errors."


def first_error_line(instance: dg.DagsterInstance, run_id: str, fallback: str) -> str:
    """The first line of the run's first step error (what went wrong), or `fallback` (the run's own message)."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        if record.dagster_event is None:
            continue
        error = record.dagster_event.step_failure_data.error
        if error is not None:
            # A user error is wrapped by Dagster; the innermost cause says what happened.
            while error.cause is not None and error.message.startswith(_DAGSTER_ERROR_PREFIX):
                error = error.cause
            line = (error.message.strip().splitlines() or [fallback])[0]
            # dg.Failure is the code saying what went wrong in its own words: its class name adds nothing.
            return line.removeprefix(f"{DAGSTER_FAILURE}: ")
    return (fallback.strip().splitlines() or ["(no message)"])[0]


@dg.run_failure_sensor(
    name="run_failure_slack_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Queues a Slack alert for each failed run, once: the job, the error's first line, a link to it.",
    # Runs made in another process (`etl quarantine retry|drop`, `dagster job execute`) carry no code-location
    # origin and would be missed otherwise; the instance serves this one code location.
    monitor_all_code_locations=True,
)
def run_failure_slack_sensor(
    context: dg.RunFailureSensorContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Queues one message per failed run (keyed by run id)."""
    run = context.dagster_run
    error_line = first_error_line(context.instance, run.run_id, context.failure_event.message or "")
    link = alert_channel.link(f"/runs/{run.run_id}")
    with etl_database.connect() as conn, conn, conn.cursor() as cur:
        queued = queue_run_failure(
            cur, run.job_name, run.run_id, error_line, link, alert_channel.destinations()
        )
    return dg.SkipReason(
        f"run {run.run_id} of {run.job_name} failed, {'queued' if queued else 'already announced'}"
    )
